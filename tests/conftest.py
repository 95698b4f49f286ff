"""Shared fixtures: a small synthetic cohort (always) and the real IXI-HH data (when present)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from brainage.data.ingest_bids import ingest_bids
from brainage.data.manifest import make_manifest, write_manifest
from brainage.layout import FINAL_FOLD, PreprocessedDir
from brainage.models.network import ModelConfig
from brainage.parallel import Executor
from brainage.preprocess.cache import read_cache_index, write_cache_index, write_volume
from brainage.preprocess.grids import GridSpec
from brainage.preprocess.pipeline import PreprocessConfig, preprocess_manifest
from brainage.training.config import RunOptions, TrainConfig
from brainage.training.splits import SplitConfig, write_splits

os.environ.setdefault("BRAINAGE_NO_PROGRESS", "1")

SHARED_IXI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ixi-hh"


@pytest.fixture(scope="session", autouse=True)
def _ants_on_one_thread():
    """ANTs pinned to one thread before any test starts it, as in every preprocessing worker, so
    a single scan is preprocessed in the test process itself, as `brainage predict` does it."""
    from brainage.preprocess.pipeline import prepare_process

    prepare_process(PreprocessConfig())


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """A headless Chromium at 1400 px (tests/browser.py); skips where Playwright or Chromium is missing."""
    from tests.browser import ARGS, CHROMIUM, WIDTH

    playwright = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install brainage[test])"
    )
    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (.ci/run installs Debian's chromium)")
    with playwright.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": WIDTH, "height": 820},
        )
        yield context
        context.close()


@pytest.fixture(scope="session")
def ixi_dir() -> Path:
    """The real IXI-HH folder; tests using it skip where ../shared is absent (e.g. a user's machine)."""
    if not (SHARED_IXI / "IXI.xls").is_file():
        pytest.skip(f"real IXI-HH data not found at {SHARED_IXI} (only present in CI and dev machines)")
    return SHARED_IXI


@pytest.fixture(scope="session")
def synth_cohort(tmp_path_factory) -> Path:
    """Eight synthetic heads (BIDS), no injected failures."""
    from brainage.data.synth import SynthConfig, make_cohort

    out = tmp_path_factory.mktemp("synth")
    make_cohort(out, SynthConfig(n_subjects=8, seed=3))
    return out


def write_nifti(path: Path, data: np.ndarray, zooms=(2.0, 2.0, 2.0), affine: np.ndarray | None = None) -> Path:
    """Save ``data`` as NIfTI (helper for bad-input tests)."""
    aff = np.diag(list(zooms) + [1.0]) if affine is None else affine
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, aff), str(path))
    return path


def head_like(shape=(60, 70, 60)) -> np.ndarray:
    """A bright ellipsoid in a dark field: passes image validation."""
    idx = np.indices(shape).astype(float)
    c = (np.array(shape) - 1)[:, None, None, None] / 2
    r = (((idx - c) / (np.array(shape)[:, None, None, None] / 3)) ** 2).sum(0)
    return (np.where(r < 1, 100.0, 0.0) + np.random.default_rng(0).normal(0, 1, shape)).astype(np.float32)


FAST = PreprocessConfig(registration="AffineFast")


def _degenerate_header(path: Path, data: np.ndarray, affine: np.ndarray) -> Path:
    """A file whose sform maps every voxel to one plane (nibabel refuses to write such an affine
    directly, but scanners and broken converters do produce them)."""
    header = nib.Nifti1Header()
    header.set_data_shape(data.shape)
    header.set_data_dtype(np.float32)
    header["sform_code"], header["qform_code"] = 1, 0
    header["srow_x"], header["srow_y"], header["srow_z"] = affine[0], affine[1], [0, 0, 0, 0]
    header["pixdim"][1:4] = 2.0
    nib.save(nib.Nifti1Image(data, None, header=header), str(path))
    return path


@pytest.fixture(scope="session")
def preprocessed_synth(synth_cohort, tmp_path_factory):
    """4 synthetic heads, one already-stripped head, 4 injected QC failures and 4 unusable inputs,
    preprocessed once."""
    root = tmp_path_factory.mktemp("pre")
    good = ingest_bids(synth_cohort).head(4)
    bad_dir = root / "bad"
    head = nib.load(good.t1_path[0])
    data = head.get_fdata(dtype=np.float32)
    truth = nib.load(str(synth_cohort / "derivatives" / "synth" / "sub-001_desc-brain_mask.nii.gz")).get_fdata() > 0
    corrupt = bad_dir / "corrupt.nii.gz"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(Path(good.t1_path[1]).read_bytes()[:5000])
    bad = {
        "bad-corrupt": corrupt,
        "bad-4d": write_nifti(bad_dir / "four_d.nii.gz", np.stack([data, data], -1), affine=head.affine),
        "bad-zeros": write_nifti(bad_dir / "zeros.nii.gz", np.zeros_like(data), affine=head.affine),
        "bad-header": _degenerate_header(bad_dir / "header.nii.gz", data, head.affine),
        "stripped": write_nifti(
            bad_dir / "stripped.nii.gz", np.where(truth, data, 0).astype(np.float32), affine=head.affine
        ),
    }
    # Known QC failures (the synthetic heads are stored in RAS order, as the injectors expect).
    from brainage.data import inject

    for kind in ("cut_fov", "upside_down"):
        bad[f"inj-{kind}"] = write_nifti(
            bad_dir / f"{kind}.nii.gz", inject.HEAD_FAILURES[kind](data, head.affine)[0], affine=head.affine
        )
    for kind in ("stripped_with_neck", "stripped_with_skull"):
        injected = inject.STRIPPED_FAILURES[kind](data, head.affine, brain_mask=truth)[0]
        bad[f"inj-{kind}"] = write_nifti(bad_dir / f"{kind}.nii.gz", injected, affine=head.affine)
    records = good.to_dict("records") + [
        {"subject_id": k, "age": 50.0, "sex": "F", "site": "synth", "t1_path": str(v), "source": "test"}
        for k, v in bad.items()
    ]
    manifest = make_manifest(records)
    write_manifest(manifest, root / "manifest.csv")
    report = preprocess_manifest(root / "manifest.csv", root / "out", FAST, Executor(workers=2))
    return root / "out", report, synth_cohort


@pytest.fixture(scope="session")
def preprocessed_real(ixi_dir, tmp_path_factory):
    """Two real IXI-HH scans, preprocessed with the default (accurate) settings."""
    root = tmp_path_factory.mktemp("real")
    rows = [
        {
            "subject_id": "IXI012",
            "age": 38.8,
            "sex": "M",
            "site": "HH",
            "t1_path": str(ixi_dir / "T1" / "IXI012-HH-1211-T1.nii.gz"),
        },
        {
            "subject_id": "IXI013",
            "age": 46.7,
            "sex": "M",
            "site": "HH",
            "t1_path": str(ixi_dir / "T1" / "IXI013-HH-1212-T1.nii.gz"),
        },
    ]
    write_manifest(make_manifest(rows), root / "manifest.csv")
    report = preprocess_manifest(root / "manifest.csv", root / "out", PreprocessConfig(), Executor(workers=2))
    return root / "out", report


def _doubled(source: PreprocessedDir, target: PreprocessedDir) -> PreprocessedDir:
    """A copy of a preprocessed folder whose cache lists every subject twice (``<id>`` and ``<id>-b``):
    cross-validated training needs at least 10 subjects."""
    for path in (source.config, source.manifest, source.report):
        target.root.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target.root / path.name)
    src, dst = source.cache("2mm"), target.cache("2mm")
    shutil.copytree(src.root, dst.root)
    index = pd.read_csv(src.index, dtype={"subject_id": str})
    twin = index.assign(subject_id=index.subject_id + "-b", source_subject=index.subject_id + "-b")
    for row, new in zip(index.itertuples(), twin.itertuples()):
        shutil.copy(src.root / row.path, dst.volume(new.subject_id))
        shutil.copy(src.root / row.tissue_path, dst.tissue(new.subject_id))
    twin["path"] = [dst.volume(s).name for s in twin.subject_id]
    twin["tissue_path"] = [dst.tissue(s).name for s in twin.subject_id]
    pd.concat([index, twin]).to_csv(dst.index, index=False)
    return target


@pytest.fixture(scope="session")
def tiny_bundle(preprocessed_synth, tmp_path_factory):
    """A 1-epoch SFCN trained on every preprocessed synthetic head (``train --final``), exported."""
    source, _, _ = preprocessed_synth
    root = tmp_path_factory.mktemp("bundle")
    out = _doubled(PreprocessedDir(source), PreprocessedDir(root / "pre"))
    index = read_cache_index(out.cache("2mm").root)
    write_splits(index.assign(included=True), root / "splits", SplitConfig(n_folds=2, age_bins=1))
    config = TrainConfig(
        model=ModelConfig(name="sfcn", width=0.25, dropout=0.0),
        max_epochs=1,
        batch_size=4,
        val_fraction=0.3,
        downsample=2,
    )
    from brainage.bundle.export import export_bundle
    from brainage.training.cv import train_cv

    train_cv(out.root, root / "splits", root / "run", config, RunOptions(folds=(FINAL_FOLD,), num_workers=0))
    path = root / "tiny.brainage"
    export_bundle(root / "run", path, licence="test", attribution="synthetic heads")
    return path, root / "run", out.cache("2mm").root


@pytest.fixture(scope="session")
def tiny_bundle_with_intervals(tiny_bundle, tmp_path_factory):
    """The tiny bundle carrying an interval calibration (from made-up out-of-fold residuals)."""
    from brainage.bundle.bundle import load_bundle
    from brainage.bundle.export import age_interval_record

    rng = np.random.default_rng(0)
    age = rng.uniform(20, 80, 120)
    oof = pd.DataFrame(
        {"subject_id": [f"s{i}" for i in range(120)], "age": age, "predicted_age": age + rng.normal(0, 6, 120)}
    )
    bundle = load_bundle(tiny_bundle[0])
    bundle.meta = bundle.meta.replace(age_interval=age_interval_record(oof, "made-up residuals"))
    return bundle.save(tmp_path_factory.mktemp("intervals") / "with_intervals.brainage")


@pytest.fixture(scope="session")
def predicted_synth(tiny_bundle, synth_cohort, tmp_path_factory):
    """Two synthetic heads (with ages) run through `brainage predict` with the tiny bundle."""
    from brainage.predict.run import predict_files

    root = tmp_path_factory.mktemp("predicted")
    t1 = sorted(synth_cohort.glob("sub-*/anat/*_T1w.nii.gz"))[:2]
    pd.DataFrame({"subject_id": ["a", "b"], "path": [str(p) for p in t1], "age": [30, 70], "sex": ["F", "M"]}).to_csv(
        root / "scans.csv", index=False
    )
    predict_files(root / "scans.csv", root / "out", tiny_bundle[0], Executor(workers=2))
    return root / "out"


@pytest.fixture(scope="session")
def predicted_shipped(synth_cohort, tmp_path_factory):
    """One synthetic head (with an age) run through `brainage predict` with the model that ships."""
    from brainage.predict.run import predict_files

    root = tmp_path_factory.mktemp("predicted_shipped")
    t1 = sorted(synth_cohort.glob("sub-*/anat/*_T1w.nii.gz"))[0]
    pd.DataFrame({"subject_id": ["a"], "path": [str(t1)], "age": [45], "sex": ["F"]}).to_csv(
        root / "scans.csv", index=False
    )
    table = predict_files(root / "scans.csv", root / "out", None, Executor(workers=2))
    return root / "out", table


@pytest.fixture(scope="session")
def qc_result(preprocessed_synth, tmp_path_factory):
    """QC (with pictures) of :func:`preprocessed_synth`: verdicts by subject, the QC folder, the preprocessed folder."""
    from brainage.qc.run import run_qc

    out, _, _ = preprocessed_synth
    qc_dir = tmp_path_factory.mktemp("qc")
    return run_qc(out, qc_dir, Executor(workers=2)).set_index("subject_id"), qc_dir, out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """30 volumes whose bright-blob size grows with age (and is larger for men); 3 folds."""
    root = tmp_path_factory.mktemp("train")
    cache = PreprocessedDir(root).cache("2mm")
    rng = np.random.default_rng(0)
    rows = []
    idx = np.indices((32, 40, 32)).astype(float)
    r = np.sqrt(((idx - np.array([15.5, 19.5, 15.5])[:, None, None, None]) ** 2).sum(0))
    for i in range(30):
        age, sex = float(rng.uniform(20, 80)), "FM"[i % 2]
        radius = 4 + age / 12 + (1.5 if sex == "M" else 0)
        write_volume(cache.volume(f"s{i:02d}"), np.clip((r < radius) * 0.8 + rng.normal(0, 0.05, r.shape), 0, 1))
        rows.append({"subject_id": f"s{i:02d}", "age": age, "sex": sex, "site": "x", "t1_path": ""})
    manifest = make_manifest(rows)
    write_cache_index(cache, GridSpec("2mm", 2.0, (32, 40, 32)), manifest)
    write_splits(manifest, root / "splits", SplitConfig(n_folds=3, age_bins=2))
    return root

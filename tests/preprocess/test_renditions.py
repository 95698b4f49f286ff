"""Training renditions: planned in turn, rendered from the subject's own segmentation, preprocessed
like subjects, listed in the cache with their source, and kept between runs."""

import json
import shutil
from dataclasses import replace

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from brainage.bundle.bundle import recipe
from brainage.data.manifest import read_manifest, write_manifest
from brainage.data.variants import CSF, WM
from brainage.errors import InputError
from brainage.layout import PreprocessedDir
from brainage.parallel import Executor
from brainage.preprocess.cache import read_cache_index
from brainage.preprocess.pipeline import preprocess_manifest
from brainage.preprocess.recipes import RENDITION_KINDS
from brainage.preprocess.renditions import plan_renditions, tissue_labels
from tests.conftest import FAST


def _manifest(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"subject_id": [f"s{i}" for i in range(n)], "t1_path": [f"s{i}.nii.gz" for i in range(n)], "included": True}
    )


def test_kinds_are_dealt_in_turn_and_distinct_per_subject():
    plan = plan_renditions(_manifest(27), 2)
    assert len(plan) == 54
    by_subject = pd.DataFrame([(r.source_subject, r.kind) for r in plan], columns=["s", "k"])
    assert (by_subject.groupby("s").k.nunique() == 2).all()
    assert set(by_subject.k.value_counts()) == {6}  # every kind equally often
    assert len({r.seed for r in plan}) == 54
    assert plan_renditions(_manifest(27), 2) == plan  # the same plan every run
    with pytest.raises(InputError, match="between 0 and 9"):
        plan_renditions(_manifest(3), len(RENDITION_KINDS) + 1)


def test_a_recipe_deals_its_own_kinds_and_an_unknown_one_is_named():
    kinds = ("int16", "wider_fov", "skull_stripped")
    plan = plan_renditions(_manifest(6), 2, kinds)
    assert [r.kind for r in plan] == list(kinds) * 4
    with pytest.raises(InputError, match="unknown rendition kind.*'blurred'"):
        plan_renditions(_manifest(3), 1, ("int16", "blurred"))


def test_tissue_labels_land_on_the_source_grid(tmp_path):
    """Probabilities on a 2 mm RAS grid, source stored 1 mm in another axis order: the labels follow the world."""
    probs = np.zeros((10, 10, 10, 3), np.float32)
    probs[..., 0] = 0.3  # CSF everywhere, except
    probs[:5, ..., 2] = 0.9  # white matter on the left half (x < 10 mm)
    probs[:, :, :2] = 0  # and nothing at the bottom
    folder = PreprocessedDir(tmp_path).subject("a")
    folder.root.mkdir(parents=True)
    nib.save(nib.Nifti1Image(probs, np.diag([2.0, 2, 2, 1])), str(folder.tissue))
    flip = np.array([[0, -1, 0, 19], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], float)  # voxel i runs along y
    source = nib.Nifti1Image(np.zeros((20, 20, 20), np.float32), flip)
    labels = tissue_labels(source, folder)
    assert labels.shape == (20, 20, 20)
    world_x = nib.affines.apply_affine(flip, np.indices((20, 20, 20)).reshape(3, -1).T)[:, 0].reshape(20, 20, 20)
    inside = labels > 0
    assert (labels[inside & (world_x < 9)] == WM).all() and (labels[inside & (world_x > 11)] == CSF).all()
    assert not labels[:, :, :3].any()


def test_renditions_are_preprocessed_listed_with_their_source_and_kept(preprocessed_synth, tmp_path):
    out, _, _ = preprocessed_synth
    work = PreprocessedDir(tmp_path / "pre")
    shutil.copytree(out, work.root)
    manifest = read_manifest(out / "manifest.csv")
    manifest = manifest[manifest.subject_id.isin(["sub-001", "sub-002"])]
    write_manifest(manifest, tmp_path / "two.csv")
    # as the scanner-robust recipe does: every scan on 2 mm voxels (the 1 mm renditions cost what a 2 mm scan does)
    config = replace(FAST, renditions=1, working_voxel_mm=2.0)
    preprocess_manifest(tmp_path / "two.csv", work.root, config, Executor(workers=2))
    index = read_cache_index(work.cache("2mm").root).set_index("subject_id")
    renditions = index[index.rendition != ""]
    assert sorted(renditions.source_subject) == ["sub-001", "sub-002"]
    assert set(renditions.rendition) == {"restored_1mm", "thick_slices_left-right"}
    for sid, row in renditions.iterrows():
        assert sid == f"{row.source_subject}~{row.rendition}"
        assert row.age == index.at[row.source_subject, "age"] and row.sex == index.at[row.source_subject, "sex"]
        assert np.isfinite(row.affine_det) and row.brain_volume_ml > 500
        volume, original = np.load(row.path), np.load(index.at[row.source_subject, "path"])
        assert volume.shape == original.shape and not np.array_equal(volume, original)
    assert len(pd.read_csv(work.renditions_table)) == 2
    # a re-run renders and preprocesses nothing again
    scans = {p: p.stat().st_mtime_ns for p in work.renditions.iterdir()}
    steps = {sid: work.subject(sid).steps.read_text() for sid in renditions.index}
    preprocess_manifest(tmp_path / "two.csv", work.root, config, Executor(workers=2))
    assert {p: p.stat().st_mtime_ns for p in work.renditions.iterdir()} == scans
    assert {sid: work.subject(sid).steps.read_text() for sid in renditions.index} == steps
    # a model trained on them expects new scans preprocessed, never rendered
    assert json.loads(json.dumps(recipe(config)))["config"]["renditions"] == 0


def test_renditions_need_the_tissue_segmentation(tmp_path):
    config = replace(FAST, renditions=1, tissue=False)
    with pytest.raises(InputError, match="tissue segmentation"):
        preprocess_manifest(tmp_path / "none.csv", tmp_path / "out", config)

"""QC end to end on preprocessed synthetic heads (with injected failures) and on real scans."""

import pandas as pd
import pytest

from brainage.data.manifest import read_manifest
from brainage.parallel import Executor
from brainage.qc.run import run_qc
from brainage.training.splits import exclude_qc_failed


@pytest.mark.parametrize(
    "sid, check, words",
    [
        ("inj-cut_fov", "field_of_view", "cut off by the field of view"),
        ("inj-stripped_with_neck", "below_brainstem", "below the brainstem"),
        ("inj-stripped_with_skull", "skull_left_in", "skull, scalp or eyes"),
    ],
)
def test_injected_failures_are_flagged_with_the_right_reason_first(qc_result, sid, check, words):
    verdicts, _, _ = qc_result
    assert verdicts.at[sid, "verdict"] != "pass"
    assert verdicts.at[sid, "check"] == check, verdicts.at[sid, "reasons"]
    assert words in verdicts.at[sid, "reasons"].split(";")[0]


def test_synthetic_upside_down_head_fails(qc_result):
    # Synthetic heads are too unlike real ones for the orientation test's mean head to be sure;
    # the flipped head still fails (its mask and registration go wrong). Real heads: below.
    verdicts, _, _ = qc_result
    assert verdicts.at["inj-upside_down", "verdict"] == "fail"


def test_clean_and_unusable_subjects(qc_result):
    verdicts, _, _ = qc_result
    for sid in ("sub-001", "sub-002", "sub-003", "sub-004", "stripped"):
        assert verdicts.at[sid, "verdict"] != "fail", verdicts.at[sid, "reasons"]
    for sid in ("bad-4d", "bad-zeros", "bad-corrupt", "bad-header"):
        assert verdicts.at[sid, "verdict"] == "fail" and "preprocessing failed" in verdicts.at[sid, "reasons"]
    # worst first
    assert verdicts.outlier_score.is_monotonic_decreasing


def test_report_files(qc_result):
    import json

    from PIL import Image

    verdicts, qc_dir, _ = qc_result
    html = (qc_dir / "index.html").read_text()
    counts = verdicts.final_verdict.value_counts()
    assert f"{len(verdicts)} scans:" in html and f"{counts.get('fail', 0)} fail" in html
    assert f"Excluded from training (final verdict fail): {counts.get('fail', 0)}" in html
    assert "inj-cut_fov (field of view)" in html  # each exclusion named with its cause
    # the thumbnail (mid-sagittal + axial tile) links to the full montage
    assert '<a href="montages/sub-001.png"><img class="thumb" src="montages/sub-001_tile.png"' in html
    assert Image.open(qc_dir / "montages" / "sub-001.png").size[0] >= 1200
    assert Image.open(qc_dir / "contact_sheet.png").size[0] >= 1200
    assert "What the columns mean" in html and "flagged when" in html
    assert "e+0" not in html  # plain numbers
    metrics = pd.read_csv(qc_dir / "qc_metrics.csv")
    for column in (
        "snr_total",
        "cnr",
        "cjv",
        "efc",
        "fber",
        "wm2max",
        "noise_ratio",
        "ghost_ratio",
        "fov_contact_mm2",
        "upside_down_gain",
        "left_right_score",
        "below_brainstem_ml",
        "outlier_score",
        "z_cjv",
    ):
        assert column in metrics.columns
    info = json.loads((qc_dir / "qc_info.json").read_text())
    assert info["reference"]["n_subjects"] > 50


def test_override_is_read_back_and_used_downstream(qc_result, tmp_path):
    verdicts, qc_dir, pre = qc_result
    overrides = qc_dir / "qc_overrides.csv"
    overrides.write_text(
        "subject_id,verdict,note\ninj-cut_fov,pass,top slice missing but usable\nsub-003,fail,motion seen by eye\n"
    )
    again = run_qc(pre, qc_dir, Executor(workers=1, isolate=False), pictures=False).set_index("subject_id")
    assert again.at["inj-cut_fov", "final_verdict"] == "pass" and again.at["sub-003", "final_verdict"] == "fail"
    assert "motion seen by eye" in again.at["sub-003", "final_reasons"]
    assert "top slice missing" in overrides.read_text()  # the reviewer's file survives re-runs
    manifest = exclude_qc_failed(read_manifest(pre / "manifest.csv"), qc_dir / "qc_verdicts.csv").set_index(
        "subject_id"
    )
    assert not manifest.at["sub-003", "included"] and "QC fail" in manifest.at["sub-003", "exclusion_reason"]
    assert manifest.at["inj-cut_fov", "included"]


@pytest.mark.realdata
def test_real_scans_pass_qc(preprocessed_real, tmp_path):
    out, _ = preprocessed_real
    verdicts = run_qc(out, tmp_path, Executor(workers=1, isolate=False), pictures=False)
    assert (verdicts.verdict != "fail").all(), verdicts.reasons.tolist()


@pytest.fixture(scope="module")
def flipped_real(ixi_dir, tmp_path_factory):
    """A real IXI-HH head (odd ID: not used to build the orientation model) stored upside down and
    back to front, preprocessed with the default settings."""
    import nibabel as nib
    import numpy as np

    from brainage.data import inject
    from brainage.data.manifest import make_manifest, write_manifest
    from brainage.preprocess.ops import reorient
    from brainage.preprocess.pipeline import PreprocessConfig, preprocess_manifest

    root = tmp_path_factory.mktemp("flipped")
    img = reorient(ixi_dir / "T1" / "IXI013-HH-1212-T1.nii.gz")[0]
    rows = []
    for kind in ("upside_down", "front_back_swapped"):
        data, affine = inject.HEAD_FAILURES[kind](img.get_fdata(dtype=np.float32), img.affine)
        nib.save(nib.Nifti1Image(data, affine), str(root / f"{kind}.nii.gz"))
        rows.append(
            {"subject_id": kind, "age": 46.7, "sex": "M", "site": "HH", "t1_path": str(root / f"{kind}.nii.gz")}
        )
    write_manifest(make_manifest(rows), root / "manifest.csv")
    preprocess_manifest(root / "manifest.csv", root / "out", PreprocessConfig(), Executor(workers=2))
    return run_qc(root / "out", root / "qc", Executor(workers=1, isolate=False), pictures=False).set_index("subject_id")


@pytest.mark.realdata
@pytest.mark.parametrize(
    "sid, words", [("upside_down", "upside down"), ("front_back_swapped", "front and back swapped")]
)
def test_flipped_real_heads_are_named_as_wrong_orientation(flipped_real, sid, words):
    assert flipped_real.at[sid, "verdict"] == "fail"
    assert flipped_real.at[sid, "check"] == "orientation", flipped_real.at[sid, "reasons"]
    assert words in flipped_real.at[sid, "reasons"].split(";")[0]

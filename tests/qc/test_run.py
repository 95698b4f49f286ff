"""QC end to end on preprocessed synthetic heads (with injected failures) and on real scans."""

import pandas as pd
import pytest

from brainage.data.manifest import read_manifest
from brainage.parallel import Executor
from brainage.qc.run import run_qc
from brainage.training.splits import exclude_qc_failed


@pytest.fixture(scope="module")
def qc_result(preprocessed_synth, tmp_path_factory):
    out, _, _ = preprocessed_synth
    qc_dir = tmp_path_factory.mktemp("qc")
    return run_qc(out, qc_dir, Executor(workers=2)).set_index("subject_id"), qc_dir, out


@pytest.mark.parametrize("sid, expected", [
    ("inj-cut_fov", "field of view"),
    ("inj-wrong_orientation", "registration"),
    ("inj-stripped_with_neck", "below the brainstem"),
    ("inj-stripped_with_skull", "outside the brain"),
])
def test_injected_failures_are_flagged_with_reason(qc_result, sid, expected):
    verdicts, _, _ = qc_result
    assert verdicts.at[sid, "verdict"] != "pass"
    assert expected in verdicts.at[sid, "reasons"], verdicts.at[sid, "reasons"]


def test_clean_and_unusable_subjects(qc_result):
    verdicts, _, _ = qc_result
    for sid in ("sub-001", "sub-002", "sub-003", "sub-004", "stripped"):
        assert verdicts.at[sid, "verdict"] != "fail", verdicts.at[sid, "reasons"]
    for sid in ("bad-4d", "bad-zeros", "bad-corrupt", "bad-header"):
        assert verdicts.at[sid, "verdict"] == "fail" and "preprocessing failed" in verdicts.at[sid, "reasons"]
    # worst first
    assert verdicts.outlier_score.is_monotonic_decreasing


def test_report_files(qc_result):
    verdicts, qc_dir, _ = qc_result
    html = (qc_dir / "index.html").read_text()
    assert "inj-cut_fov" in html and 'src="montages/sub-001.png"' in html
    assert (qc_dir / "montages" / "sub-001.png").stat().st_size > 5000
    assert (qc_dir / "contact_sheet.png").exists()
    metrics = pd.read_csv(qc_dir / "qc_metrics.csv")
    for column in ("snr_total", "cnr", "cjv", "efc", "fber", "wm2max", "inu_range", "below_brainstem_ml", "outlier_score"):
        assert column in metrics.columns


def test_override_is_read_back_and_used_downstream(qc_result, tmp_path):
    verdicts, qc_dir, pre = qc_result
    overrides = qc_dir / "qc_overrides.csv"
    overrides.write_text("subject_id,verdict,note\ninj-cut_fov,pass,top slice missing but usable\nsub-003,fail,motion seen by eye\n")
    again = run_qc(pre, qc_dir, Executor(workers=1, isolate=False), pictures=False).set_index("subject_id")
    assert again.at["inj-cut_fov", "final_verdict"] == "pass" and again.at["sub-003", "final_verdict"] == "fail"
    assert "motion seen by eye" in again.at["sub-003", "final_reasons"]
    assert "top slice missing" in overrides.read_text()  # the reviewer's file survives re-runs
    manifest = exclude_qc_failed(read_manifest(pre / "manifest.csv"), qc_dir / "qc_verdicts.csv").set_index("subject_id")
    assert not manifest.at["sub-003", "included"] and "QC fail" in manifest.at["sub-003", "exclusion_reason"]
    assert manifest.at["inj-cut_fov", "included"]


@pytest.mark.realdata
def test_real_scans_pass_qc(preprocessed_real, tmp_path):
    out, _ = preprocessed_real
    verdicts = run_qc(out, tmp_path, Executor(workers=1, isolate=False), pictures=False)
    assert (verdicts.verdict != "fail").all(), verdicts.reasons.tolist()

"""A small QC'd dataset for the viewer: three synthetic heads with masks, verdicts and metrics."""

import shutil

import pandas as pd
import pytest

from brainage.files import write_csv
from brainage.layout import CohortDir, PreprocessedDir
from brainage.qc.overrides import apply_overrides, read_overrides


@pytest.fixture
def qc_dataset(synth_cohort, tmp_path):
    pre = PreprocessedDir(tmp_path / "pre")
    cohort = CohortDir(synth_cohort)
    rows = []
    for i, sid in enumerate(["sub-001", "sub-002", "sub-003"]):
        folder = pre.subject(sid)
        folder.root.mkdir(parents=True)
        shutil.copy(next(synth_cohort.glob(f"{sid}/anat/*_T1w.nii.gz")), folder.t1_ras)
        shutil.copy(cohort.true_brain_mask(sid), folder.brain_mask)
        rows.append(
            {
                "subject_id": sid,
                "site": "synth",
                "verdict": ["fail", "warn", "pass"][i],
                "reasons": ["fail: brain cut off", "warn: cnr low", ""][i],
                "outlier_score": [25.0, 14.0, 1.0][i],
                "cnr": 2.5 + i,
                "efc": 0.5,
                "brain_volume_ml": 1200.0 + 10 * i,
            }
        )
    table = pd.DataFrame(rows)
    verdicts = apply_overrides(
        table[["subject_id", "site", "verdict", "reasons", "outlier_score"]], read_overrides(pre.qc.overrides)
    )
    write_csv(verdicts, pre.qc.verdicts)
    write_csv(table.drop(columns=["verdict", "reasons", "outlier_score"]), pre.qc.metrics)
    return pre

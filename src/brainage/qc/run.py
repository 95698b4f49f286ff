"""``brainage qc``: metrics, verdicts, pictures and an HTML report for a preprocessed cohort."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from brainage.data.manifest import read_manifest, read_table
from brainage.files import DoneRecord, write_csv
from brainage.layout import PreprocessedDir, QCDir, SubjectDir
from brainage.parallel import Executor, map_subjects
from brainage.qc.anatomy import anatomy_metrics
from brainage.qc.metrics import compute_iqms
from brainage.qc.overrides import apply_overrides, ensure_overrides_file, read_overrides
from brainage.qc.rules import judge

STEP_INFO_KEYS = ("brain_volume_ml", "ncc_template", "dice_template", "input_skull_stripped", "original_orientation")


def subject_metrics(subject_dir: str | Path, montage_path: str | Path | None = None) -> dict:
    """Every QC metric of one preprocessed subject (and its montage, when a path is given)."""
    folder = SubjectDir(subject_dir)
    row: dict = {}
    for step in DoneRecord(folder.steps).entries.values():
        row.update({k: v for k, v in step["info"].items() if k in STEP_INFO_KEYS})
    img = nib.load(str(folder.t1_ras))
    t1 = img.get_fdata(dtype=np.float32)
    brain = nib.load(str(folder.brain_mask)).get_fdata() > 0
    field = nib.load(str(folder.bias_field)).get_fdata(dtype=np.float32)
    row.update(compute_iqms(t1, brain, field, img, stripped=bool(row.get("input_skull_stripped"))))
    row.update(anatomy_metrics(folder.root))
    if montage_path:
        from brainage.qc.pictures import montage

        montage(t1, brain, montage_path, title=folder.subject_id)
    return row


def _safe_subject_metrics(subject_id: str, subject_dir: str, montage_path: str | None) -> dict:
    os.environ.setdefault("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "1")  # before ANTs is first used here
    try:
        return {"subject_id": subject_id, "qc_error": "", **subject_metrics(subject_dir, montage_path)}
    except Exception as exc:  # a broken subject is reported, never fatal to the cohort
        return {"subject_id": subject_id, "qc_error": f"{type(exc).__name__}: {exc}"}


def run_qc(preprocessed: str | Path, out_dir: str | Path | None = None, executor: Executor = Executor(isolate=False),
           overrides: str | Path | None = None, pictures: bool = True) -> pd.DataFrame:
    """QC every subject of a ``brainage preprocess`` output folder.

    Writes to ``out_dir`` (default ``PREPROCESSED/qc``): ``qc_metrics.csv`` (every metric and
    robust z), ``qc_verdicts.csv`` (automatic verdict + reasons, reviewer override, final
    verdict), ``qc_overrides.csv`` (created empty if absent; yours to edit), ``montages/``,
    ``contact_sheet.png`` and ``index.html``.

    Example:
        >>> run_qc("results/ixi/preprocessed")  # doctest: +SKIP
    """
    pre = PreprocessedDir(preprocessed).require()
    out = QCDir(out_dir) if out_dir else pre.qc
    out.root.mkdir(parents=True, exist_ok=True)
    report = read_table(pre.report, "preprocessing report", dtype={"subject_id": str}).fillna({"error": ""})
    site = read_manifest(pre.manifest).set_index("subject_id")["site"]
    ok = report[report.status == "ok"].subject_id.tolist()
    jobs = [(sid, str(pre.subject(sid).root), str(out.montage(sid)) if pictures else None) for sid in ok]
    rows = map_subjects(_safe_subject_metrics, jobs, "quality control", executor)
    metrics = pd.DataFrame(rows, columns=["subject_id", "qc_error"] if not rows else None)
    metrics["site"] = metrics["subject_id"].map(site).fillna("unknown")
    good = metrics[metrics["qc_error"] == ""].drop(columns="qc_error")
    judged = judge(good) if len(good) else good.assign(verdict=[], reasons=[], outlier_score=[])
    failed_pre = report[report.status != "ok"]
    broken = pd.DataFrame({
        "subject_id": list(failed_pre.subject_id) + list(metrics.loc[metrics.qc_error != "", "subject_id"]),
        "verdict": "fail",
        "reasons": [f"fail: preprocessing failed: {e}" for e in failed_pre.error]
                   + [f"fail: QC metrics failed: {e}" for e in metrics.loc[metrics.qc_error != "", "qc_error"]],
        "outlier_score": 30.0,
    })
    broken["site"] = broken["subject_id"].map(site).fillna("unknown")
    allm = pd.concat([judged, broken], ignore_index=True)
    write_csv(allm, out.metrics)
    overrides_path = Path(overrides) if overrides else out.overrides
    ensure_overrides_file(overrides_path)
    verdicts = apply_overrides(allm[["subject_id", "site", "verdict", "reasons", "outlier_score"]],
                               read_overrides(overrides_path))
    verdicts = verdicts.sort_values("outlier_score", ascending=False, kind="stable").reset_index(drop=True)
    write_csv(verdicts, out.verdicts)
    if pictures:
        from brainage.qc.report import write_report

        write_report(verdicts, allm, out)
    return verdicts

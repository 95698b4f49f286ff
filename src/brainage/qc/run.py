"""``brainage qc``: metrics, verdicts, pictures and an HTML report for a preprocessed cohort."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from brainage.data.manifest import read_manifest
from brainage.errors import StageError
from brainage.progress import make_progress
from brainage.qc.anatomy import anatomy_metrics
from brainage.qc.metrics import compute_iqms
from brainage.qc.overrides import apply_overrides, ensure_overrides_file, read_overrides
from brainage.qc.rules import judge

STEP_INFO_KEYS = ("brain_volume_ml", "ncc_template", "dice_template", "input_skull_stripped", "original_orientation")


def subject_metrics(subject_dir: str, montage_path: str | None = None) -> dict:
    """Every QC metric of one preprocessed subject (and its montage, when a path is given)."""
    sdir = Path(subject_dir)
    state = json.loads((sdir / "steps.json").read_text())
    row: dict = {}
    for step in state.values():
        row.update({k: v for k, v in step["info"].items() if k in STEP_INFO_KEYS})
    img = nib.load(str(sdir / "t1_ras.nii.gz"))
    t1 = img.get_fdata(dtype=np.float32)
    brain = nib.load(str(sdir / "brain_mask.nii.gz")).get_fdata() > 0
    field = nib.load(str(sdir / "bias_field.nii.gz")).get_fdata(dtype=np.float32)
    row.update(compute_iqms(t1, brain, field, img, stripped=bool(row.get("input_skull_stripped"))))
    row.update(anatomy_metrics(sdir))
    if montage_path:
        from brainage.qc.pictures import montage

        montage(t1, brain, montage_path, title=sdir.name)
    return row


def _safe_subject_metrics(subject_id: str, subject_dir: str, montage_path: str | None) -> dict:
    os.environ.setdefault("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "1")
    try:
        return {"subject_id": subject_id, "qc_error": "", **subject_metrics(subject_dir, montage_path)}
    except Exception as exc:  # a broken subject is reported, never fatal to the cohort
        return {"subject_id": subject_id, "qc_error": f"{type(exc).__name__}: {exc}"}


def run_qc(preprocessed: str | Path, out_dir: str | Path | None = None, workers: int = 2,
           overrides: str | Path | None = None, pictures: bool = True) -> pd.DataFrame:
    """QC every subject of a ``brainage preprocess`` output folder.

    Writes to ``out_dir`` (default ``PREPROCESSED/qc``): ``qc_metrics.csv`` (every metric and
    robust z), ``qc_verdicts.csv`` (automatic verdict + reasons, reviewer override, final
    verdict), ``qc_overrides.csv`` (created empty if absent; yours to edit), ``montages/``,
    ``contact_sheet.png`` and ``index.html``.

    Example:
        >>> run_qc("results/ixi/preprocessed")  # doctest: +SKIP
    """
    pre = Path(preprocessed)
    report_path = pre / "preprocess_report.csv"
    if not report_path.is_file():
        raise StageError(f"{pre}: not a `brainage preprocess` output folder (no preprocess_report.csv)")
    out = Path(out_dir) if out_dir else pre / "qc"
    out.mkdir(parents=True, exist_ok=True)
    report = pd.read_csv(report_path, dtype={"subject_id": str}).fillna({"error": ""})
    manifest = read_manifest(pre / "manifest.csv")
    site = manifest.set_index("subject_id")["site"]
    ok = report[report.status == "ok"].subject_id.tolist()
    jobs = [(sid, str(pre / "subjects" / sid), str(out / "montages" / f"{sid}.png") if pictures else None) for sid in ok]
    rows = []
    with make_progress() as progress:
        task = progress.add_task("quality control", total=len(jobs))
        if workers <= 1:
            for job in jobs:
                rows.append(_safe_subject_metrics(*job))
                progress.advance(task)
        else:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
                for row in pool.map(_safe_subject_metrics, *zip(*jobs)) if jobs else []:
                    rows.append(row)
                    progress.advance(task)
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
    allm.to_csv(out / "qc_metrics.csv", index=False)
    overrides_path = Path(overrides) if overrides else out / "qc_overrides.csv"
    ensure_overrides_file(overrides_path)
    verdicts = apply_overrides(allm[["subject_id", "site", "verdict", "reasons", "outlier_score"]],
                               read_overrides(overrides_path))
    verdicts = verdicts.sort_values("outlier_score", ascending=False, kind="stable").reset_index(drop=True)
    verdicts.to_csv(out / "qc_verdicts.csv", index=False)
    if pictures:
        from brainage.qc.report import write_report

        write_report(verdicts, allm, out)
    return verdicts

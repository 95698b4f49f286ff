"""``brainage qc``: metrics, verdicts, pictures and an HTML report for a preprocessed cohort."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from brainage.data.manifest import read_manifest, read_table
from brainage.files import DoneRecord, write_csv, write_json
from brainage.layout import PreprocessedDir, QCDir, SubjectDir
from brainage.parallel import Executor, map_subjects
from brainage.qc.anatomy import anatomy_metrics, unmeasured_region
from brainage.qc.metrics import compute_iqms
from brainage.qc.orientation import orientation_metrics
from brainage.qc.overrides import apply_overrides, ensure_overrides_file, read_overrides
from brainage.qc.reference import Reference, measured
from brainage.qc.rules import fail_score, judge

STEP_INFO_KEYS = ("brain_volume_ml", "ncc_template", "dice_template", "input_skull_stripped", "original_orientation")


def subject_metrics(
    subject_dir: str | Path, montage_path: str | Path | None = None, tile_path: str | Path | None = None
) -> dict:
    """Every QC metric of one preprocessed subject (and its montage and contact-sheet tile, when
    paths are given)."""
    folder = SubjectDir(subject_dir)
    row: dict = {}
    for step in DoneRecord(folder.steps).entries.values():
        row.update({k: v for k, v in step["info"].items() if k in STEP_INFO_KEYS})
    img = nib.load(str(folder.t1_ras))
    t1 = img.get_fdata(dtype=np.float32)
    brain = nib.load(str(folder.brain_mask)).get_fdata() > 0
    field = nib.load(str(folder.bias_field)).get_fdata(dtype=np.float32)
    stripped = bool(row.get("input_skull_stripped"))
    # Computed once for the field-of-view check and the pictures, which shade what the check used.
    unmeasured = None if stripped else unmeasured_region(t1, voxel_ml=float(np.prod(img.header.get_zooms()[:3])) / 1000)
    row.update(compute_iqms(t1, brain, field, img, stripped=stripped))
    row.update(anatomy_metrics(folder.root, unmeasured))
    row.update(orientation_metrics(folder.root, stripped=stripped))
    if montage_path or tile_path:
        from brainage.qc.pictures import montage, tile

        if montage_path:
            montage(t1, brain, unmeasured, montage_path, title=folder.subject_id)
        if tile_path:
            tile(t1, brain, unmeasured, tile_path)
    return row


def _safe_subject_metrics(subject_id: str, subject_dir: str, montage_path: str | None, tile_path: str | None) -> dict:
    os.environ.setdefault("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "1")  # before ANTs is first used here
    try:
        return {"subject_id": subject_id, "qc_error": "", **subject_metrics(subject_dir, montage_path, tile_path)}
    except Exception as exc:  # a broken subject is reported, never fatal to the cohort
        return {"subject_id": subject_id, "qc_error": f"{type(exc).__name__}: {exc}"}


def _measurable(folder: SubjectDir) -> bool:
    """Whether the files QC reads exist: a subject whose preprocessing failed after registration
    (e.g. in tissue segmentation) is still measured, so the cause gets named."""
    return all(
        p.is_file()
        for p in (
            folder.t1_ras,
            folder.brain_mask,
            folder.bias_field,
            folder.t1_n4,
            folder.brain_n4,
            folder.to_mni_affine,
            folder.steps,
        )
    )


def measure(
    preprocessed: str | Path,
    executor: Executor = Executor(isolate=False),
    montages: QCDir | None = None,
    subjects: list[str] | None = None,
) -> pd.DataFrame:
    """Every QC metric of every subject whose preprocessing got far enough (or of ``subjects``
    only), with its site and ``preprocess_error``; ``qc_error`` says why a subject's metrics could
    not be computed. Montages too when ``montages``."""
    pre = PreprocessedDir(preprocessed).require()
    report = read_table(pre.report, "preprocessing report", dtype={"subject_id": str}).fillna({"error": ""})
    site = read_manifest(pre.manifest).set_index("subject_id")["site"]
    usable = report[(report.status == "ok") | report.subject_id.map(lambda sid: _measurable(pre.subject(sid)))]
    ok = [sid for sid in usable.subject_id if subjects is None or sid in set(subjects)]
    jobs = [
        (
            sid,
            str(pre.subject(sid).root),
            str(montages.montage(sid)) if montages else None,
            str(montages.tile(sid)) if montages else None,
        )
        for sid in ok
    ]
    rows = map_subjects(_safe_subject_metrics, jobs, "quality control", executor)
    metrics = pd.DataFrame(rows, columns=["subject_id", "qc_error"] if not rows else None)
    metrics["site"] = metrics["subject_id"].map(site).fillna("unknown")
    metrics["preprocess_error"] = metrics["subject_id"].map(report.set_index("subject_id")["error"]).fillna("")
    return metrics


def judge_subjects(
    metrics: pd.DataFrame, preprocess_report: pd.DataFrame, sites: pd.Series, yardstick: Reference
) -> pd.DataFrame:
    """Every subject's metrics and automatic verdict, in memory: the measured ones judged
    (:func:`~brainage.qc.rules.judge`: absolute checks, the yardstick, their site's own scans),
    those whose preprocessing failed late (after their metrics) made fails with the reason, and
    those with no metrics at all (preprocessing or measuring failed) one fail row each.

    Parameters
    ----------
    metrics
        :func:`measure`'s table (one row per subject, ``qc_error`` where measuring failed).
    preprocess_report
        The preprocessing report (``status``, ``error`` per subject).
    sites
        Each subject's site, indexed by subject id.
    yardstick
        The reference scanner-dependent metrics are compared with.

    Returns
    -------
    pandas.DataFrame
        ``qc_metrics.csv``: one row per subject, metrics and robust z, ``verdict``, ``check``,
        ``checks``, ``reasons``, ``scanner_differs``, ``outlier_score``.
    """
    good = measured(metrics)
    judged = (
        judge(good, yardstick)
        if len(good)
        else good.assign(
            verdict=[], check=[], checks=[], reasons=[], scanner_differs=[], yardstick=[], outlier_score=[]
        )
    )
    late = judged["preprocess_error"].astype(str) != "" if len(judged) else pd.Series(dtype=bool)
    judged.loc[late, "reasons"] = [
        ("; ".join(x for x in (r, f"fail: preprocessing failed: {e}") if x))
        for r, e in zip(judged.loc[late, "reasons"], judged.loc[late, "preprocess_error"])
    ]
    judged.loc[late & (judged["check"] == ""), "check"] = "preprocessing"
    judged.loc[late, "verdict"] = "fail"
    judged.loc[late, "scanner_differs"] = ""
    judged.loc[late, "outlier_score"] = judged.loc[late, "outlier_score"].clip(lower=fail_score())
    failed = (preprocess_report.status != "ok") & ~preprocess_report.subject_id.isin(judged.subject_id)
    failed_pre = preprocess_report[failed]
    broken = pd.DataFrame(
        {
            "subject_id": list(failed_pre.subject_id) + list(metrics.loc[metrics.qc_error != "", "subject_id"]),
            "verdict": "fail",
            "check": ["preprocessing"] * len(failed_pre) + ["metrics"] * int((metrics.qc_error != "").sum()),
            "reasons": [f"fail: preprocessing failed: {e}" for e in failed_pre.error]
            + [f"fail: QC metrics failed: {e}" for e in metrics.loc[metrics.qc_error != "", "qc_error"]],
            "outlier_score": fail_score(measured=False),
        }
    )
    broken["checks"] = broken["check"]
    broken["scanner_differs"] = ""
    broken["site"] = broken["subject_id"].map(sites).fillna("unknown")
    return pd.concat([judged, broken], ignore_index=True)


def run_qc(
    preprocessed: str | Path,
    out_dir: str | Path | None = None,
    executor: Executor = Executor(isolate=False),
    overrides: str | Path | None = None,
    pictures: bool = True,
    reference: str | Path | None = None,
) -> pd.DataFrame:
    """QC every subject of a ``brainage preprocess`` output folder.

    Absolute checks judge every scan alike; scanner-dependent metrics are compared with
    ``reference`` (a ``brainage qc-reference`` file; default the one that ships, built from clean
    IXI-HH heads), which only names a scanner that differs, and from ten scans of a site on with
    the site's own scans, against which an unusual scan warns (:mod:`brainage.qc.rules`).

    Writes to ``out_dir`` (default ``PREPROCESSED/qc``): ``qc_metrics.csv`` (every metric and
    robust z), ``qc_verdicts.csv`` (automatic verdict, headline check and reasons, reviewer
    override, final verdict), ``qc_info.json`` (the yardstick used), ``qc_overrides.csv``
    (created empty if absent; yours to edit), ``montages/``, ``contact_sheet.png`` and ``index.html``.

    Parameters
    ----------
    preprocessed
        A ``brainage preprocess`` output folder.
    out_dir
        Where to write metrics, verdicts, pictures and the report; default ``PREPROCESSED/qc``.
    executor
        Where subjects run: local worker processes or a Dask cluster.
    overrides
        A ``qc_overrides.csv`` of human decisions, applied on top of the automatic verdicts.
    pictures
        Draw the montages and the contact sheet (off for a quick metrics-only run).
    reference
        A ``brainage qc-reference`` file to judge scanner-dependent metrics against; default the
        shipped IXI-HH one.

    Returns
    -------
    pandas.DataFrame
        One row per subject: metrics, automatic verdict and reasons, final verdict.

    Example:
        >>> run_qc("results/ixi/pre")  # doctest: +SKIP
    """
    pre = PreprocessedDir(preprocessed).require()
    out = QCDir(out_dir) if out_dir else pre.qc
    out.root.mkdir(parents=True, exist_ok=True)
    yardstick = Reference.load(reference)
    report = read_table(pre.report, "preprocessing report", dtype={"subject_id": str}).fillna({"error": ""})
    site = read_manifest(pre.manifest).set_index("subject_id")["site"]
    metrics = measure(pre.root, executor, out if pictures else None)
    allm = judge_subjects(metrics, report, site, yardstick)
    good = measured(metrics)
    write_csv(allm, out.metrics)
    joined = sorted(set(allm.loc[allm["yardstick"] == "site", "site"].astype(str))) if len(good) else []
    write_json(
        out.info,
        {
            "reference": {
                "name": yardstick.name,
                "description": yardstick.description,
                "n_subjects": len(yardstick.subjects),
                "path": str(reference or "shipped"),
            },
            "sites_with_own_yardstick": joined,
        },
    )
    overrides_path = Path(overrides) if overrides else out.overrides
    ensure_overrides_file(overrides_path)
    verdicts = apply_overrides(
        allm[["subject_id", "site", "verdict", "check", "checks", "reasons", "scanner_differs", "outlier_score"]],
        read_overrides(overrides_path),
    )
    verdicts = verdicts.sort_values("outlier_score", ascending=False, kind="stable").reset_index(drop=True)
    write_csv(verdicts, out.verdicts)
    if pictures:
        from brainage.qc.report import write_report

        write_report(verdicts, allm, out, yardstick, joined)
    return verdicts

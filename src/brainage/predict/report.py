"""The HTML page of a ``brainage predict`` run: what model, how many scans, how far to trust each."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainage.bundle.meta import BundleMeta
from brainage.evaluation import plots
from brainage.html import file_links, image_links, trusted, write_template
from brainage.layout import PredictDir
from brainage.predict.warnings import site_notes
from brainage.qc.reference import SITE_MIN_SIZE

#: Column headings of the page's table (the CSV keeps the short names).
HEADINGS = {
    "subject_id": "subject",
    "age": "age (y)",
    "predicted_age": "predicted age (y) and interval",
    "brain_age_gap": "brain-age gap (y)",
    "corrected_age": "bias-corrected age (y) and interval",
    "corrected_gap": "bias-corrected gap (y)",
    "p_male": "P(male)",
    "predicted_sex": "predicted sex",
    "qc_verdict": "QC",
    "warnings": "warnings",
}


def _figures(table: pd.DataFrame, out: PredictDir) -> list[Path]:
    known = table.dropna(subset=["age", "predicted_age"])
    if len(known) < 3:
        return []
    gaps = {"raw": known.brain_age_gap}
    if known.corrected_gap.notna().any():
        gaps["bias-corrected"] = known.corrected_gap
    return [
        plots.gap_histogram(gaps, out.gap_histogram, "brain-age gap"),
        plots.predicted_vs_true(
            known.age,
            known.predicted_age,
            out.age_scatter,
            "uncorrected",
            interval=(known.predicted_age_low, known.predicted_age_high),
        ),
    ]


def _rows(table: pd.DataFrame, out: PredictDir) -> list[dict]:
    """The table's rows for the template: the subject (linked to its QC picture where there is one),
    then each column of :data:`HEADINGS` as text, an age with its interval."""
    rows = []
    for record in table.to_dict("records"):
        montage = out.preprocessed.qc.montage(record["subject_id"])
        cells = []
        for column in list(HEADINGS)[1:]:
            if column in ("predicted_age", "corrected_age"):
                cells.append(_with_interval(record[column], record[f"{column}_low"], record[f"{column}_high"]))
            else:
                cells.append({"value": _text(record[column]), "interval": ""})
        rows.append(
            {
                "subject_id": record["subject_id"],
                "montage": montage.relative_to(out.root).as_posix() if montage.is_file() else "",
                "cells": cells,
            }
        )
    return rows


def _text(value) -> str:
    """A cell as the page shows it: numbers to two decimals, nothing for a missing value."""
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.2f}"
    return "" if value is None else str(value)


def _with_interval(value: float, low: float, high: float) -> dict:
    """An age and its interval ("" where there is no age, or no interval)."""
    if pd.isna(value):
        return {"value": "", "interval": ""}
    interval = "" if pd.isna(low) or pd.isna(high) else f"{low:.0f} to {high:.0f}"
    return {"value": f"{value:.1f}", "interval": interval}


def write_report(table: pd.DataFrame, meta: BundleMeta, out: PredictDir, coverage: float = 0.9) -> Path:
    """The page of a ``brainage predict`` run (``templates/predict.html``)."""
    qc = table.qc_verdict.replace("", "not run").value_counts().to_dict()
    csvs = [
        (out.predictions, "predictions (one row per scan)"),
        (out.preprocessed.qc.verdicts, "QC verdicts and reasons"),
        (out.preprocessed.qc.metrics, "QC metrics"),
        (out.preprocessed.report, "preprocessing report"),
    ]
    has_interval = table.predicted_age_low.notna().any()
    return write_template(
        out.report,
        "predict",
        "predictions",
        n_scans=len(table),
        n_predicted=int(table.predicted_age.notna().sum()),
        n_warned=int((table.warnings != "").sum()),
        qc_counts=", ".join(f"{n} {v}" for v, n in qc.items()),
        qc_link=trusted(file_links([(out.preprocessed.qc.report, "QC report")], out.root)),
        links=trusted(file_links(csvs, out.root)),
        site_notes=site_notes(table),
        site_min_size=SITE_MIN_SIZE,
        model=meta.describe(),
        attribution=meta.attribution,
        coverage=f"{coverage:.0%}" if has_interval else "(no interval: this model carries no calibration)",
        figures=trusted(image_links(_figures(table, out), out.root)),
        headings=list(HEADINGS.values()),
        rows=_rows(table, out),
    )


def write_site_report(metrics: pd.DataFrame, n_calibrate: int, n_holdout: int, chosen: str, out) -> Path:
    """The page of ``brainage finetune`` (``templates/site.html``): held-out error of the bundle as
    shipped and adapted."""
    table = metrics.rename(columns={"mae": "MAE (y)", "pearson_r": "r", "mean_signed_error": "mean gap (y)"})
    shown = table[[c for c in ("model", "n", "MAE (y)", "r", "mean gap (y)") if c in table]]
    return write_template(
        out.report,
        "site",
        "new site",
        n_calibrate=n_calibrate,
        n_holdout=n_holdout,
        chosen=chosen,
        bundle=out.bundle.name,
        metrics=out.metrics.name,
        predictions=out.predictions.name,
        split=out.split.name,
        held_out=trusted(shown.to_html(index=False, float_format=lambda v: f"{v:.2f}")) if len(shown) else "",
    )

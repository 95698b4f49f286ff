"""The HTML page of a ``brainage predict`` run: what model, how many scans, how far to trust each."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from brainage.bundle.meta import BundleMeta
from brainage.evaluation import plots
from brainage.html import file_links, image_links, write_page
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


def _rows(table: pd.DataFrame, out: PredictDir) -> str:
    shown = table.assign(
        subject_id=[
            f'<a href="{html.escape(out.preprocessed.qc.montage(s).relative_to(out.root).as_posix())}">'
            f"{html.escape(s)}</a>"
            if out.preprocessed.qc.montage(s).is_file()
            else html.escape(s)
            for s in table.subject_id
        ]
    )
    shown["warnings"] = shown.warnings.map(html.escape)
    for column in ("predicted_age", "corrected_age"):
        bounds = zip(table[column], table[f"{column}_low"], table[f"{column}_high"])
        shown[column] = [_with_interval(*v) for v in bounds]
    return (
        shown[list(HEADINGS)]
        .rename(columns=HEADINGS)
        .to_html(index=False, escape=False, na_rep="", float_format=lambda v: f"{v:.2f}")
    )


def _with_interval(value: float, low: float, high: float) -> str:
    """An age and, in brackets, its interval ("" where there is no age)."""
    if pd.isna(value):
        return ""
    if pd.isna(low) or pd.isna(high):
        return f"{value:.1f}"
    return f'{value:.1f} <span class="note">({low:.0f} to {high:.0f})</span>'


def write_report(table: pd.DataFrame, meta: BundleMeta, out: PredictDir, coverage: float = 0.9) -> Path:
    qc = table.qc_verdict.replace("", "not run").value_counts().to_dict()
    counts = ", ".join(f"{n} {v}" for v, n in qc.items())
    n_pred, n_warn = int(table.predicted_age.notna().sum()), int((table.warnings != "").sum())
    csvs = [
        (out.predictions, "predictions (one row per scan)"),
        (out.preprocessed.qc.verdicts, "QC verdicts and reasons"),
        (out.preprocessed.qc.metrics, "QC metrics"),
        (out.preprocessed.report, "preprocessing report"),
    ]
    links = file_links(csvs, out.root)
    qc_link = file_links([(out.preprocessed.qc.report, "QC report")], out.root)
    qc_link = f" ({qc_link})" if qc_link else ""
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in site_notes(table))
    scanner = (
        (
            f'<h2>This scanner</h2><ul>{notes}</ul><p class="note">Judged against the training scanner\'s clean '
            f"scans: a property of the scanner, not a warning on any scan (their QC verdict is pass where nothing "
            f"else was found). From {SITE_MIN_SIZE} scans of a site on, each scan is also judged against the other "
            "scans of its site, and one unusual there warns.</p>"
        )
        if notes
        else ""
    )
    has_interval = table.predicted_age_low.notna().any()
    coverage = f"{coverage:.0%}" if has_interval else "(no interval: this model carries no calibration)"
    body = f"""<h1>Brain age and sex predictions</h1>
<p><b>{len(table)} scans</b>: {n_pred} predicted; QC {html.escape(counts)}{qc_link}; {n_warn} with warnings.
Files: {links}.</p>
{scanner}
<h2>Model</h2><pre>{html.escape(meta.describe())}</pre>
<p class="note">{html.escape(meta.attribution)}</p>
<p class="note"><b>Reading the numbers.</b> The brain-age gap is predicted minus chronological age. Brain-age models
regress to the mean (the young predicted older, the old younger); the bias-corrected age removes the training cohort's
age-dependent bias (Beheshti et al. 2019) and needs the chronological age: it is blank where age is unknown, and
everywhere when the model carries no correction. Compare groups on corrected gaps, and with age as a covariate.
Predictions with warnings deserve a look at the QC picture (click the subject).</p>
<p class="note"><b>The interval</b> beside each age (in brackets) is where a healthy person's chronological age lies
{coverage} of the time, given this prediction: the model's own cross-validated errors at that predicted age
(split-conformal), widened where the scan is unlike the training scans (another scanner, a QC warning, an age outside
the training range; the <code>interval_widened</code> column says which). A brain-age gap inside it is within what the
model gets wrong on healthy people: compare a patient's gap with the interval, not with zero.</p>
{image_links(_figures(table, out), out.root)}
<h2>Per scan</h2>
{_rows(table, out)}"""
    return write_page(out.report, "predictions", body)


def write_site_report(metrics: pd.DataFrame, n_calibrate: int, n_holdout: int, chosen: str, out) -> Path:
    """The page of ``brainage finetune``: held-out error of the bundle as shipped and adapted."""
    table = metrics.rename(columns={"mae": "MAE (y)", "pearson_r": "r", "mean_signed_error": "mean gap (y)"})
    shown = table[[c for c in ("model", "n", "MAE (y)", "r", "mean gap (y)") if c in table]]
    held_out = shown.to_html(index=False, float_format=lambda v: f"{v:.2f}") if len(shown) else ""
    body = f"""<h1>Adapting the model to a new site</h1>
<p>{n_calibrate} labelled scans calibrate (or fine-tune); {n_holdout} are held out and score each model below. The
bundle written, <a href="{out.bundle.name}">{out.bundle.name}</a>, is the <b>{html.escape(chosen)}</b> model
fitted on the calibration scans, so its held-out row is an honest estimate for it. Files:
<a href="{out.metrics.name}">metrics</a> · <a href="{out.predictions.name}">held-out predictions</a> ·
<a href="{out.split.name}">which scan did what</a> · <a href="predict/index.html">predictions as shipped</a>.</p>
{held_out or "<p>nothing held out (holdout 0)</p>"}"""
    return write_page(out.report, "new site", body)

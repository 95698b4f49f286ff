"""The offline QC report: counts and exclusions at the top, a contact sheet, one row per subject
(worst first) with a thumbnail linking its montage, and a legend of every metric shown."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainage.html import write_template
from brainage.layout import QCDir
from brainage.qc.checks import limits_text
from brainage.qc.legend import LEGEND, show
from brainage.qc.pictures import VERDICT_COLOURS, contact_sheet
from brainage.qc.reference import SITE_MIN_SIZE, Reference

SHOWN_METRICS = (
    "brain_volume_ml",
    "snr_total",
    "snrd_total",
    "cnr",
    "cjv",
    "ghost_ratio",
    "wm_bias_range",
    "fov_contact_mm2",
    "below_brainstem_ml",
    "outside_template_ml",
    "dice_template",
    "ncc_template",
    "upside_down_gain",
    "front_back_gain",
    "left_right_score",
)


def write_report(
    verdicts: pd.DataFrame,
    metrics: pd.DataFrame,
    out: QCDir,
    reference: Reference,
    sites_joined: list[str] | None = None,
) -> Path:
    """Write the contact sheet and ``index.html`` (``templates/qc.html``) into the QC folder (links
    are relative)."""
    contact_sheet(verdicts, out.tile, out.contact_sheet)
    m = metrics.set_index("subject_id")
    shown = [c for c in SHOWN_METRICS if c in m.columns]
    excluded = verdicts[verdicts.final_verdict == "fail"]
    return write_template(
        out.report,
        "qc",
        "quality control",
        n_scans=len(verdicts),
        counts=[(v, int((verdicts.final_verdict == v).sum()), VERDICT_COLOURS[v]) for v in ("pass", "warn", "fail")],
        excluded=[
            (r.subject_id, str(r.get("check", "") or "reviewer").replace("_", " ")) for _, r in excluded.iterrows()
        ],
        reference_name=reference.name,
        reference_size=len(reference.subjects),
        sites_joined=sites_joined or [],
        site_min_size=SITE_MIN_SIZE,
        overrides=out.overrides.name,
        contact_sheet=out.contact_sheet.name,
        metrics=legend_rows(shown, reference),
        rows=[_row(r, m, shown, out) for _, r in verdicts.iterrows()],
    )


def legend_rows(shown: list[str], reference: Reference) -> list[dict]:
    """The legend of each metric shown: its name, what it measures, when the checks flag it (from the
    checks themselves, so the legend cannot contradict a verdict) and its range on clean scans."""
    return [
        {
            "label": LEGEND[c].label,
            "meaning": LEGEND[c].meaning,
            "limits": limits_text(c),
            "clean": reference.clean_range(c),
        }
        for c in shown
    ]


def _row(r: pd.Series, metrics: pd.DataFrame, shown: list[str], out: QCDir) -> dict:
    """One subject's row: verdicts, reasons, its thumbnail and the shown metrics as text."""
    montage, thumb = out.montage(r.subject_id), out.tile(r.subject_id)
    pictured = montage.exists() and thumb.exists()
    values = [
        show(c, float(metrics.at[r.subject_id, c]))
        if r.subject_id in metrics.index and pd.notna(metrics.at[r.subject_id, c])
        else ""
        for c in shown
    ]
    return {
        "subject_id": r.subject_id,
        "site": str(r.site),
        "final": r.final_verdict,
        "auto": r.verdict,
        "colour": VERDICT_COLOURS.get(r.final_verdict, "grey"),
        "reasons": [x for x in str(r.final_reasons or "").split("; ") if x],
        "montage": montage.relative_to(out.root).as_posix() if pictured else "",
        "thumb": thumb.relative_to(out.root).as_posix() if pictured else "",
        "cells": values,
    }

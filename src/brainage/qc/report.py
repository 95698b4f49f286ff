"""The offline QC report: counts and exclusions at the top, a contact sheet, one row per subject
(worst first) with a thumbnail linking its montage, and a legend of every metric shown."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from brainage.html import write_page
from brainage.layout import QCDir
from brainage.qc.checks import limits_text
from brainage.qc.legend import LEGEND, show
from brainage.qc.pictures import VERDICT_COLOURS, contact_sheet
from brainage.qc.reference import Reference

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

STYLE = """<style>
td.reasons { min-width: 22em; max-width: 34em; } div.wide { overflow-x: auto; max-width: 100%; }
img.thumb { width: 300px; } th abbr { text-decoration: none; cursor: help; }
table.legend td { vertical-align: top; } .summary { font-size: 1.15em; }
</style>"""


def _summary(verdicts: pd.DataFrame, out: QCDir, reference: Reference, sites_joined: list[str]) -> str:
    counts = {v: int((verdicts.final_verdict == v).sum()) for v in ("pass", "warn", "fail")}
    badges = " ".join(
        f'<span class="v" style="background:{VERDICT_COLOURS[v]}">{n} {v}</span>' for v, n in counts.items()
    )
    excluded = verdicts[verdicts.final_verdict == "fail"]
    listing = ", ".join(
        f"{html.escape(r.subject_id)} ({html.escape(str(r.get('check', '') or 'reviewer').replace('_', ' '))})"
        for _, r in excluded.iterrows()
    )
    joined = (
        f" Sites with enough scans (10 or more) to be their own yardstick, against which an unusual scan warns: "
        f"{html.escape(', '.join(sites_joined))}."
        if sites_joined
        else " No site has the 10 scans to be its own yardstick: scanner-dependent metrics only say whether the "
        "scanner differs from the reference's, never warn."
    )
    return f"""<h1>Quality control</h1>
<p class="summary">{len(verdicts)} scans: {badges}</p>
<p><b>Excluded from training (final verdict fail): {len(excluded)}</b>{": " + listing if listing else ""}.
Warned scans stay in; look at them.</p>
<p>Yardstick: {html.escape(reference.name)} ({len(reference.subjects)} clean scans).{joined}</p>
<p>Sorted worst first. Click a thumbnail for the full montage (side, back and top; brain mask red,
edge of the image yellow, zero-filled regions blue). To overrule a verdict, rate it in
<code>brainage serve</code> or add a row <code>subject_id,verdict,note</code> to
<code>{out.overrides.name}</code> and re-run <code>brainage qc</code>; split and training use the final verdict.</p>
<p><a href="{out.contact_sheet.name}"><img src="{out.contact_sheet.name}" style="max-width:100%"></a></p>"""


def _legend(shown: list[str], reference: Reference) -> str:
    rows = []
    for metric in shown:
        meta = LEGEND[metric]
        clean = reference.clean_range(metric)
        rows.append(
            f"<tr><td>{html.escape(meta.label)}</td><td>{html.escape(meta.meaning)}</td>"
            f"<td>{html.escape(limits_text(metric))}</td><td>{clean}</td></tr>"
        )
    return (
        '<h2>What the columns mean</h2><table class="legend"><tr><th>metric</th><th>measures</th>'
        "<th>flagged when</th><th>clean IXI-HH scans (1st to 99th percentile)</th></tr>" + "".join(rows) + "</table>"
    )


def write_report(
    verdicts: pd.DataFrame,
    metrics: pd.DataFrame,
    out: QCDir,
    reference: Reference,
    sites_joined: list[str] | None = None,
) -> Path:
    """Write the contact sheet and ``index.html`` into the QC folder (links are relative)."""
    contact_sheet(verdicts, out.tile, out.contact_sheet)
    m = metrics.set_index("subject_id")
    shown = [c for c in SHOWN_METRICS if c in m.columns]
    rows = []
    for _, r in verdicts.iterrows():
        montage, thumb_png = out.montage(r.subject_id), out.tile(r.subject_id)
        thumb = (
            f'<a href="{montage.relative_to(out.root).as_posix()}"><img class="thumb" '
            f'src="{thumb_png.relative_to(out.root).as_posix()}" alt="{html.escape(r.subject_id)}"></a>'
            if montage.exists() and thumb_png.exists()
            else "-"
        )
        cells = (
            "".join(
                f"<td>{show(c, float(m.at[r.subject_id, c])) if pd.notna(m.at[r.subject_id, c]) else ''}</td>"
                for c in shown
            )
            if r.subject_id in m.index
            else "<td></td>" * len(shown)
        )
        colour = VERDICT_COLOURS.get(r.final_verdict, "grey")
        reasons = "<br>".join(html.escape(x) for x in str(r.final_reasons or "").split("; ") if x)
        rows.append(
            f"<tr><td>{html.escape(r.subject_id)}</td><td>{html.escape(str(r.site))}</td>"
            f'<td><span class="v" style="background:{colour}">{r.final_verdict}</span></td>'
            f'<td>{r.verdict}</td><td class="reasons">{reasons}</td><td>{thumb}</td>{cells}</tr>'
        )
    heads = "".join(
        f'<th><abbr title="{html.escape(LEGEND[c].meaning)}">{html.escape(LEGEND[c].label)}</abbr></th>' for c in shown
    )
    body = (
        STYLE
        + _summary(verdicts, out, reference, sites_joined or [])
        + '<div class="wide"><table><tr><th>subject</th><th>site</th><th>final</th><th>auto</th><th>reasons</th>'
        f"<th>mid-sagittal and axial (click: montage)</th>{heads}</tr>\n"
        + "\n".join(rows)
        + "</table></div>"
        + _legend(shown, reference)
    )
    return write_page(out.report, "quality control", body)

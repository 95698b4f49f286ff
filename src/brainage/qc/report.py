"""The offline QC report: one HTML page linking every montage, worst subjects first."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from brainage.html import write_page
from brainage.layout import QCDir
from brainage.qc.pictures import VERDICT_COLOURS, contact_sheet

SHOWN_METRICS = ("brain_volume_ml", "snr_total", "cnr", "cjv", "efc", "fber", "inu_range", "wm_bias_range",
                 "border_contact_mm2", "below_brainstem_ml", "outside_template_ml", "dice_template", "rotation_deg")

INTRO = """<h1>Quality control</h1>
<p>{n} subjects: {counts}. Sorted worst first. Click a thumbnail for the full montage
(side, back and top views, brain mask in red). To overrule a verdict, add a row
<code>subject_id,verdict,note</code> to <code>{overrides}</code> and re-run <code>brainage qc</code>;
the split and training stages use the final verdict.</p>
<p><a href="{sheet}"><img src="{sheet}" style="max-width:100%"></a></p>"""


def write_report(verdicts: pd.DataFrame, metrics: pd.DataFrame, out: QCDir) -> Path:
    """Write the contact sheet and ``index.html`` into the QC folder (links are relative)."""
    contact_sheet(verdicts, out.montage, out.contact_sheet)
    m = metrics.set_index("subject_id")
    shown = [c for c in SHOWN_METRICS if c in m.columns]
    rows = []
    for _, r in verdicts.iterrows():
        png = out.montage(r.subject_id)
        rel = png.relative_to(out.root).as_posix()
        thumb = f'<a href="{rel}"><img class="thumb" src="{rel}"></a>' if png.exists() else "-"
        cells = "".join(f"<td>{m.at[r.subject_id, c]:.3g}</td>" if pd.notna(m.at[r.subject_id, c]) else "<td></td>"
                        for c in shown) if r.subject_id in m.index else "<td></td>" * len(shown)
        colour = VERDICT_COLOURS.get(r.final_verdict, "grey")
        reasons = "<br>".join(html.escape(x) for x in str(r.final_reasons or "").split("; ") if x)
        rows.append(f'<tr><td>{html.escape(r.subject_id)}</td><td>{html.escape(str(r.site))}</td>'
                    f'<td><span class="v" style="background:{colour}">{r.final_verdict}</span></td>'
                    f"<td>{r.verdict}</td><td>{reasons}</td><td>{thumb}</td>{cells}</tr>")
    counts = ", ".join(f"{(verdicts.final_verdict == v).sum()} {v}" for v in ("pass", "warn", "fail"))
    heads = "".join(f"<th>{c}</th>" for c in shown)
    body = (INTRO.format(n=len(verdicts), counts=counts, overrides=out.overrides.name, sheet=out.contact_sheet.name)
            + f"<table><tr><th>subject</th><th>site</th><th>final</th><th>auto</th><th>reasons</th><th>montage</th>{heads}</tr>\n"
            + "\n".join(rows) + "</table>")
    return write_page(out.report, "quality control", body)

"""The offline QC report: one HTML page linking every montage, worst subjects first."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from brainage.qc.pictures import VERDICT_COLOURS, contact_sheet

SHOWN_METRICS = ("brain_volume_ml", "snr_total", "cnr", "cjv", "efc", "fber", "inu_range", "wm_bias_range",
                 "border_contact_mm2", "below_brainstem_ml", "outside_template_ml", "dice_template", "rotation_deg")

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>brainage QC</title>
<style>body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:3px 6px;vertical-align:top}} th{{background:#eee;position:sticky;top:0}}
img.thumb{{height:90px}} .v{{font-weight:bold;color:white;padding:2px 6px;border-radius:3px}}</style></head><body>
<h1>Quality control</h1>
<p>{n} subjects: {counts}. Sorted worst first. Click a thumbnail for the full montage
(side, back and top views, brain mask in red). To overrule a verdict, add a row
<code>subject_id,verdict,note</code> to <code>{overrides}</code> and re-run <code>brainage qc</code>;
the split and training stages use the final verdict.</p>
<p><a href="contact_sheet.png"><img src="contact_sheet.png" style="max-width:100%"></a></p>
<table><tr><th>subject</th><th>site</th><th>final</th><th>auto</th><th>reasons</th><th>montage</th>{metric_heads}</tr>
{rows}</table></body></html>"""


def write_report(verdicts: pd.DataFrame, metrics: pd.DataFrame, out_dir: str | Path) -> Path:
    """Write ``contact_sheet.png`` and ``index.html`` into ``out_dir`` (links are relative)."""
    out_dir = Path(out_dir)
    contact_sheet(verdicts, out_dir / "montages", out_dir / "contact_sheet.png")
    m = metrics.set_index("subject_id")
    shown = [c for c in SHOWN_METRICS if c in m.columns]
    rows = []
    for _, r in verdicts.iterrows():
        png = Path("montages") / f"{r.subject_id}.png"
        thumb = f'<a href="{png}"><img class="thumb" src="{png}"></a>' if (out_dir / png).exists() else "-"
        cells = "".join(f"<td>{m.at[r.subject_id, c]:.3g}</td>" if pd.notna(m.at[r.subject_id, c]) else "<td></td>"
                        for c in shown) if r.subject_id in m.index else "<td></td>" * len(shown)
        colour = VERDICT_COLOURS.get(r.final_verdict, "grey")
        reasons = "<br>".join(html.escape(x) for x in str(r.final_reasons or "").split("; ") if x)
        rows.append(f'<tr><td>{html.escape(r.subject_id)}</td><td>{html.escape(str(r.site))}</td>'
                    f'<td><span class="v" style="background:{colour}">{r.final_verdict}</span></td>'
                    f"<td>{r.verdict}</td><td>{reasons}</td><td>{thumb}</td>{cells}</tr>")
    counts = ", ".join(f"{(verdicts.final_verdict == v).sum()} {v}" for v in ("pass", "warn", "fail"))
    page = PAGE.format(n=len(verdicts), counts=counts, overrides="qc_overrides.csv",
                       metric_heads="".join(f"<th>{c}</th>" for c in shown), rows="\n".join(rows))
    path = out_dir / "index.html"
    path.write_text(page)
    return path

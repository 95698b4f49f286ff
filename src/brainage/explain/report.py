"""The HTML page of ``brainage explain``."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from brainage.html import file_links, image_links, write_page
from brainage.layout import ExplainDir


def write_report(
    out: ExplainDir,
    table: pd.DataFrame,
    population: dict,
    regions: pd.DataFrame,
    differences: pd.DataFrame,
    pruning: pd.DataFrame,
    sanity: pd.DataFrame,
    seconds: float,
    caveats: list[str] = (),
    parts: tuple = ("maps", "se", "sanity"),
) -> Path:
    """The page (``parts``: what was run; the others are said not to have been)."""
    from brainage.explain.plots import se_effects

    pop_figures = [out.population_figure(name) for name in population if out.population_figure(name).is_file()]
    subject_figures = sorted((out.root / "figures").glob("*.png")) if (out.root / "figures").is_dir() else []
    regions_html = ""
    if len(regions):
        regions_html = "".join(
            f"<h3>ranked by {ranking}</h3>"
            + part[part["rank"] <= 8].pivot(index="rank", columns="map", values="name").to_html()
            for ranking, part in regions.groupby("ranked_by", sort=False)
        )
    se_html = "<h2>Squeeze-and-excitation channels</h2><p>None: this network has no squeeze-and-excitation blocks.</p>"
    if "se" not in parts:
        se_html = "<h2>Squeeze-and-excitation channels</h2><p>Not run (<code>--only</code>).</p>"
    if len(differences):
        se_effects(differences, out.se_figure)
        strongest = differences.groupby("contrast", sort=False).head(8)
        se_html = (
            "<h2>Squeeze-and-excitation channels</h2><p>Cohen's d of each channel's excitation between groups "
            "(first model shown; all models in the CSV).</p>"
            + image_links([out.se_figure], out.root, height=420)
            + strongest.to_html(index=False, float_format=lambda v: f"{v:.3f}")
        )
    if len(pruning):
        se_html += (
            "<h3>Pruning the least-excited channels</h3><p>Channels with the lowest mean excitation switched off "
            "in every SE block, scored on the explained subjects.</p>"
            + pruning.to_html(index=False, float_format=lambda v: f"{v:.3f}")
        )
    sanity_mean = sanity.groupby("task").spearman_trained_vs_random.mean() if len(sanity) else pd.Series(dtype=float)
    sanity_text = ", ".join(f"{task}: mean rank correlation {v:.2f}" for task, v in sanity_mean.items())
    sanity_text = sanity_text if "sanity" in parts else "not run"
    maps_note = "" if "maps" in parts else "<p>Not run (<code>--only</code>).</p>"
    links = file_links(
        [
            (out.regions, "regions"),
            (out.se_differences, "SE channel differences"),
            (out.se_pruning, "SE pruning"),
            (out.sanity, "sanity check"),
        ],
        out.root,
    )
    warning = "".join(f'<p class="warning">Caveat: {html.escape(c)}.</p>' for c in caveats)
    body = f"""<h1>Where the network looks</h1>
{warning}
<p>{len(table)} subjects explained in {seconds:.0f} s. Grad-CAM (Selvaraju et al. 2017, MONAI's implementation):
for age, the evidence for an <em>older</em> prediction; for sex, the evidence for the subject's own sex. Each map sums
to one, so maps average and compare as distributions. In a cross-validation run every subject is explained by the fold
model that never trained on it. Files: {links}.</p>
<h2>Population maps (MNI space)</h2>{maps_note}{image_links(pop_figures, out.root, height=230)}
<h2>Regions of each map (consensus IXI-HH DLMUSE atlas)</h2>
<p class="note">By mass: the share of the map in the region (large regions dominate). By density: the map's mean in the
region relative to a uniform map (regions of at least 0.8 ml). Difference maps: their positive part.</p>
{image_links([out.regions_figure], out.root, height=None) if out.regions_figure.is_file() else ""}{regions_html}
{se_html}
<h2>Sanity check (Adebayo et al. 2018)</h2>
<p>Rank correlation between the trained model's maps and those of the same network with random weights
({sanity_text}); near zero means the maps depend on what the model learned.</p>
<h2>Subjects</h2>{image_links(subject_figures, out.root, height=200)}"""
    return write_page(out.report, "explain", body)

"""The HTML page of ``brainage explain``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainage.html import file_links, image_links, trusted, write_template
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
    caveats: list[str],
    parts: tuple,
) -> Path:
    """The page (``templates/explain.html``; ``parts``: what was run, the others said not to be)."""
    from brainage.explain.plots import se_effects

    pop_figures = [out.population_figure(name) for name in population if out.population_figure(name).is_file()]
    subject_figures = sorted((out.root / "figures").glob("*.png")) if (out.root / "figures").is_dir() else []
    ranked = (
        [
            (ranking, trusted(part[part["rank"] <= 8].pivot(index="rank", columns="map", values="name").to_html()))
            for ranking, part in regions.groupby("ranked_by", sort=False)
        ]
        if len(regions)
        else []
    )
    se_figure = se_table = ""
    if len(differences):
        se_effects(differences, out.se_figure)
        se_figure = trusted(image_links([out.se_figure], out.root, height=420))
        strongest = differences.groupby("contrast", sort=False).head(8)
        se_table = trusted(strongest.to_html(index=False, float_format=lambda v: f"{v:.3f}"))
    shown_regions = out.regions_figure.is_file() and len(regions) > 0  # this run's, not an earlier one's
    sanity_mean = sanity.groupby("task").spearman_trained_vs_random.mean() if len(sanity) else pd.Series(dtype=float)
    links = file_links(
        [
            (out.regions, "regions"),
            (out.se_differences, "SE channel differences"),
            (out.se_pruning, "SE pruning"),
            (out.sanity, "sanity check"),
        ],
        out.root,
    )
    return write_template(
        out.report,
        "explain",
        "explain",
        caveats=list(caveats),
        n_subjects=len(table),
        seconds=f"{seconds:.0f}",
        links=trusted(links),
        parts=parts,
        population_figures=trusted(image_links(pop_figures, out.root, height=230)),
        regions_figure=trusted(image_links([out.regions_figure], out.root, height=None) if shown_regions else ""),
        regions=ranked,
        se_figure=se_figure,
        se_table=se_table,
        pruning=trusted(pruning.to_html(index=False, float_format=lambda v: f"{v:.3f}")) if len(pruning) else "",
        sanity=[f"{task}: mean rank correlation {v:.2f}" for task, v in sanity_mean.items()],
        subject_figures=trusted(image_links(subject_figures, out.root, height=200)),
    )

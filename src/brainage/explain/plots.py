"""Figures of ``brainage explain``: map overlays (nilearn), region bars and SE channel effects."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from brainage.plotting import plt, save_figure


def overlay(
    image: nib.Nifti1Image, background: nib.Nifti1Image | None, path: Path, title: str, difference: bool = False
) -> Path:
    """Tri-planar slices of a map over a brain (the MNI template brain when ``background`` is None),
    through its strongest part, showing its upper half (a quarter for differences, in a diverging
    colour map) so the anatomy underneath stays visible."""
    from nilearn import plotting

    from brainage.preprocess.template import template_brain

    data = image.get_fdata()
    vmax = float(np.abs(data).max()) or 1.0
    # Cut through the centre of the strongest part of the map, not its single brightest voxel.
    strong = np.argwhere(np.abs(data) >= 0.7 * vmax)
    cut = nib.affines.apply_affine(image.affine, strong.mean(0) if len(strong) else np.array(data.shape) / 2)
    fig = plt.figure(figsize=(9, 3.2))
    plotting.plot_stat_map(
        image,
        bg_img=background if background is not None else template_brain(2),
        cut_coords=cut,
        display_mode="ortho",
        title=title,
        figure=fig,
        colorbar=True,
        vmax=vmax,
        threshold=(0.25 if difference else 0.5) * vmax,
        cmap="RdBu_r" if difference else "hot",
        symmetric_cbar=difference,
        draw_cross=False,
        annotate=True,
        black_bg=False,
        dim=-0.3,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def region_bars(regions: pd.DataFrame, path: Path, top: int = 10) -> Path:
    """The regions where each population map is densest (1 = a uniform map), one panel per map.

    Two panels a row, 1300 px wide at its own size (the page shows it unscaled): region names in
    10 pt stay readable, where four a row shrunk to a thumbnail made them ~5 px."""
    maps = list(dict.fromkeys(regions["map"]))
    cols = min(2, len(maps))
    rows = -(-len(maps) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, (0.32 * top + 1.3) * rows), squeeze=False)
    for ax in axes.ravel()[len(maps) :]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), maps):
        part = regions[regions["map"] == name].head(top).iloc[::-1]
        ax.barh(part["name"], part["mean_density"], color="C3")
        ax.axvline(1, color="k", lw=0.8)
        ax.set(title=name.replace("_", " "), xlabel="map density / uniform")
        ax.tick_params(axis="y", labelsize=10)
    return save_figure(fig, path, dpi=100)


def se_effects(differences: pd.DataFrame, path: Path) -> Path:
    """Cohen's d of every SE channel, per block and contrast (one model: the first)."""
    first = differences[differences["model"] == differences["model"].iloc[0]]
    contrasts = list(dict.fromkeys(first["contrast"]))
    fig, axes = plt.subplots(len(contrasts), 1, figsize=(9, 2.8 * len(contrasts)), squeeze=False)
    for ax, contrast in zip(axes[:, 0], contrasts):
        part = first[first["contrast"] == contrast]
        for i, (block, rows) in enumerate(part.groupby("block", sort=False)):
            rows = rows.sort_values("channel")
            ax.bar(
                rows["channel"] + 0.8 * i / max(part["block"].nunique(), 1),
                rows["cohens_d"],
                width=0.8 / part["block"].nunique(),
                label=block.replace("net.backbone.", "").replace(".se", ""),
            )
        ax.axhline(0, color="k", lw=0.8)
        ax.set(
            title=f"{first['model'].iloc[0]}: SE excitation, {contrast} (Cohen's d per channel)",
            xlabel="channel",
            ylabel="d",
        )
        ax.legend(fontsize=8, ncol=4)
    return save_figure(fig, path, dpi=100)

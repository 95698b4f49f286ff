"""QC pictures a rater can judge from: a montage per subject and a cohort contact sheet.

The montage shows the head from the side, the back and the top (like MRIcroGL), five slices
each including the middle one, the brain mask outlined in red, the array's edge drawn in yellow
(so a brain cut by the field of view is plain to see) and zero-filled regions inside the array
shaded blue. It is 1,300 pixels wide. The contact-sheet tile of a subject is its mid-sagittal
slice, where tissue left below the brainstem shows, next to an axial slice through the ventricles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib.patches import Rectangle

from brainage.plotting import plt, save_figure

VIEWS = (("side (sagittal)", 0, "x"), ("back (coronal)", 1, "y"), ("top (axial)", 2, "z"))
VERDICT_COLOURS = {"pass": "#1a9850", "warn": "#f08c00", "fail": "#d73027"}
EDGE_COLOUR, MASK_COLOUR, UNMEASURED_COLOUR = "#ffd400", "#ff3030", "#3399ff"
POSITIONS = (0.25, 0.4, 0.5, 0.6, 0.75)
#: Where the contact-sheet tile cuts: the middle (sagittal) and 60% up the array (axial).
TILE_CUTS = ((0, 0.5), (2, 0.6))


def _slice(volume: np.ndarray, axis: int, fraction: float) -> tuple[np.ndarray, int]:
    index = int(round(fraction * (volume.shape[axis] - 1)))
    return np.take(volume, index, axis=axis).T, index


def _draw(
    ax, t1: np.ndarray, mask: np.ndarray, unmeasured: np.ndarray | None, axis: int, fraction: float, vmax: float
) -> int:
    image, index = _slice(t1, axis, fraction)
    ax.imshow(image, cmap="gray", origin="lower", vmin=0, vmax=vmax, interpolation="nearest")
    flat = _slice(unmeasured.astype(np.float32), axis, fraction)[0] if unmeasured is not None else None
    if flat is not None and flat.any():
        ax.imshow(
            np.ma.masked_where(flat < 0.5, flat),
            cmap="Blues",
            origin="lower",
            vmin=0,
            vmax=1.5,
            alpha=0.45,
            interpolation="nearest",
        )
    outline = _slice(mask.astype(np.float32), axis, fraction)[0]
    if outline.any():
        ax.contour(outline, levels=[0.5], colors=MASK_COLOUR, linewidths=1.0)
    h, w = image.shape
    ax.add_patch(Rectangle((-0.5, -0.5), w, h, fill=False, edgecolor=EDGE_COLOUR, linewidth=1.5))
    ax.set_xlim(-2, w + 1)
    ax.set_ylim(-2, h + 1)
    ax.axis("off")
    return index


def montage(
    t1: np.ndarray, mask: np.ndarray, unmeasured: np.ndarray | None, png_path: str | Path, title: str = ""
) -> Path:
    """Side, back and top rows of five RAS slices each: mask in red, array edge in yellow,
    zero-filled regions (``unmeasured``, see ``brainage.qc.anatomy.unmeasured_region``) in blue."""
    vmax = float(np.percentile(t1, 99.5)) or 1.0
    fig, axes = plt.subplots(3, len(POSITIONS), figsize=(13, 8.4), facecolor="#202020")
    for row, (name, axis, letter) in enumerate(VIEWS):
        for ax, fraction in zip(axes[row], POSITIONS):
            index = _draw(ax, t1, mask, unmeasured, axis, fraction, vmax)
            ax.set_title(
                f"{letter} slice {index}" + (" (middle)" if fraction == 0.5 else ""), color="white", fontsize=11
            )
        axes[row, 0].text(
            -0.08,
            0.5,
            name,
            transform=axes[row, 0].transAxes,
            rotation=90,
            color="white",
            fontsize=13,
            va="center",
            ha="right",
        )
    fig.suptitle(
        f"{title}    red: brain mask   yellow: edge of the image   blue: zero-filled", color="white", fontsize=14
    )
    fig.subplots_adjust(left=0.04, right=0.99, top=0.92, bottom=0.01, wspace=0.04, hspace=0.12)
    return save_figure(fig, png_path, dpi=100, facecolor="#202020")


def tile(t1: np.ndarray, mask: np.ndarray, unmeasured: np.ndarray | None, png_path: str | Path) -> Path:
    """The subject's contact-sheet tile: mid-sagittal and one axial slice, 400 x 200 pixels."""
    vmax = float(np.percentile(t1, 99.5)) or 1.0
    fig, axes = plt.subplots(1, 2, figsize=(4, 2), facecolor="#202020")
    for ax, (axis, fraction) in zip(axes, TILE_CUTS):
        _draw(ax, t1, mask, unmeasured, axis, fraction, vmax)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01, wspace=0.03)
    return save_figure(fig, png_path, dpi=100, facecolor="#202020")


def contact_sheet(
    verdicts, tile_of: Callable[[str], Path], png_path: str | Path, columns: int = 4, max_subjects: int = 60
) -> Path:
    """Every subject's tile (``tile_of(subject_id)``), worst first, framed and labelled by verdict
    and headline check; 1,600 pixels wide."""
    rows = [r for _, r in verdicts.iterrows() if tile_of(r.subject_id).exists()][:max_subjects]
    n_rows = max(1, int(np.ceil(len(rows) / columns)))
    fig, axes = plt.subplots(n_rows, columns, figsize=(4 * columns, 2.45 * n_rows), squeeze=False, facecolor="white")
    for ax in axes.ravel():
        ax.axis("off")
    for ax, r in zip(axes.ravel(), rows):
        ax.imshow(plt.imread(tile_of(r.subject_id)))
        colour = VERDICT_COLOURS.get(r.final_verdict, "grey")
        check = str(r.get("check", "") or "")
        ax.set_title(
            f"{r.subject_id}: {r.final_verdict}" + (f" ({check.replace('_', ' ')})" if check else ""),
            color=colour,
            fontsize=11,
            fontweight="bold",
        )
        for spine in ax.spines.values():
            spine.set_visible(True)
            spine.set_edgecolor(colour)
            spine.set_linewidth(4)
        ax.axis("on")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return save_figure(fig, png_path, dpi=100)

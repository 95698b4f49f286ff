"""QC pictures: per-subject montages (back, side, top, like MRIcroGL) and a cohort contact sheet."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from brainage.plotting import plt, save_figure

VIEWS = (("side (sagittal)", 0), ("back (coronal)", 1), ("top (axial)", 2))
VERDICT_COLOURS = {"pass": "#1a9850", "warn": "#fdae61", "fail": "#d73027"}


def _slices(volume: np.ndarray, axis: int, n: int) -> list[np.ndarray]:
    positions = np.linspace(0.2, 0.8, n) * (volume.shape[axis] - 1)
    return [np.take(volume, int(round(p)), axis=axis).T for p in positions]


def montage(t1: np.ndarray, mask: np.ndarray, png_path: str | Path, title: str = "", n_slices: int = 5) -> Path:
    """Three rows (side, back, top) of ``n_slices`` RAS slices each, brain mask outlined in red."""
    vmax = float(np.percentile(t1, 99.5)) or 1.0
    fig, axes = plt.subplots(3, n_slices, figsize=(2 * n_slices, 6.3), facecolor="black")
    for row, (name, axis) in enumerate(VIEWS):
        for ax, img, m in zip(axes[row], _slices(t1, axis, n_slices), _slices(mask.astype(np.float32), axis, n_slices)):
            ax.imshow(img, cmap="gray", origin="lower", vmin=0, vmax=vmax, interpolation="nearest")
            if m.any():
                ax.contour(m, levels=[0.5], colors="#ff3030", linewidths=0.6)
            ax.axis("off")
        axes[row, 0].set_title(name, color="white", fontsize=8, loc="left")
    fig.suptitle(title, color="white")
    return save_figure(fig, png_path, dpi=60, facecolor="black")


def contact_sheet(verdicts, montage_of: Callable[[str], Path], png_path: str | Path, columns: int = 6,
                  max_subjects: int = 60) -> Path:
    """Mid-sagittal crops of each subject's montage (``montage_of(subject_id)``), worst first,
    framed by verdict colour."""
    rows = [r for _, r in verdicts.iterrows() if montage_of(r.subject_id).exists()][:max_subjects]
    n_rows = max(1, int(np.ceil(len(rows) / columns)))
    fig, axes = plt.subplots(n_rows, columns, figsize=(2.6 * columns, 2.0 * n_rows), squeeze=False, facecolor="white")
    for ax in axes.ravel():
        ax.axis("off")
    for ax, r in zip(axes.ravel(), rows):
        img = plt.imread(montage_of(r.subject_id))
        h, w = img.shape[:2]
        ax.imshow(img[: h // 3 + 10, : 2 * w // 5])  # the first two side views
        colour = VERDICT_COLOURS.get(r.final_verdict, "grey")
        ax.set_title(f"{r.subject_id}: {r.final_verdict}", color=colour, fontsize=8)
        for spine in ax.spines.values():
            spine.set_visible(True)
            spine.set_edgecolor(colour)
            spine.set_linewidth(3)
        ax.axis("on")
        ax.set_xticks([])
        ax.set_yticks([])
    return save_figure(fig, png_path, dpi=70)

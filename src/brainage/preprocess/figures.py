"""Before/after pictures of preprocessing: raw head vs brain-extracted, MNI-aligned volume."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from brainage.layout import SubjectDir
from brainage.plotting import plt, save_figure


def _mid_slices(data: np.ndarray) -> list[np.ndarray]:
    c = np.array(data.shape) // 2
    return [data[c[0]].T, data[:, c[1]].T, data[:, :, c[2]].T]


def before_after(subject_dir: str | Path, grid: str, png_path: str | Path) -> Path:
    """Three mid-slices of the raw RAS head (mask outline in red) above the model-ready volume."""
    folder = SubjectDir(subject_dir)
    raw = nib.load(str(folder.t1_ras)).get_fdata()
    mask = nib.load(str(folder.brain_mask)).get_fdata() > 0
    out = nib.load(str(folder.t1_mni(grid))).get_fdata()
    fig, axes = plt.subplots(2, 3, figsize=(9, 6))
    for ax, img, m in zip(axes[0], _mid_slices(raw), _mid_slices(mask.astype(float))):
        ax.imshow(img, cmap="gray", origin="lower", vmax=np.percentile(raw, 99.5))
        ax.contour(m, levels=[0.5], colors="r", linewidths=0.7)
    for ax, img in zip(axes[1], _mid_slices(out)):
        ax.imshow(img, cmap="gray", origin="lower", vmin=0, vmax=1)
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].set_title("raw head + brain mask", loc="left")
    axes[1, 0].set_title(f"model input (MNI, {grid})", loc="left")
    fig.suptitle(folder.subject_id)
    return save_figure(fig, png_path, dpi=80)

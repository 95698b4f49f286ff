"""Matplotlib set-up shared by every stage that draws: headless backend, one way to save."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # stages run on servers without a display
import matplotlib.pyplot as plt  # noqa: E402

from brainage.files import atomic_path  # noqa: E402


def save_figure(fig, path: str | Path, dpi: int = 90, **kwargs) -> Path:
    """Lay out, save atomically (creating the folder) and close ``fig``; returns the path."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, **kwargs)
    plt.close(fig)
    return Path(path)

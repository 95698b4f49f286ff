"""Training logs across attempts: Lightning's CSV log of a fold, kept whole through resumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainage.layout import FoldDir


def archive_log(fold: FoldDir) -> None:
    """Lightning's CSV logger replaces metrics.csv on resume; keep the earlier epochs beside it."""
    if fold.log.exists():
        fold.log.replace(fold.next_archived_log())


def read_training_log(fold_dir: str | Path) -> pd.DataFrame:
    """Every epoch's logged metrics of one fold, across interrupted and resumed attempts."""
    fold = FoldDir(fold_dir)
    parts = fold.archived_logs() + [fold.log]
    frames = [pd.read_csv(p) for p in parts if p.exists()]
    if not frames:
        return pd.DataFrame()
    log = pd.concat(frames, ignore_index=True)
    # A resumed attempt re-logs the epoch it restarted from: keep the latest rows of each epoch.
    latest_attempt = {}
    for i, frame in enumerate(frames):
        for epoch in frame.epoch.unique():
            latest_attempt[epoch] = i
    attempt = np.concatenate([[i] * len(f) for i, f in enumerate(frames)])
    keep = [latest_attempt[e] == a for e, a in zip(log.epoch, attempt)]
    return log[keep].reset_index(drop=True)

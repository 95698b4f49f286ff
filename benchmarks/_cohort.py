"""Which subjects a benchmark takes: a few spread evenly over a sorted table (e.g. over the ages)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def evenly_spaced(rows: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` rows (fewer where ``rows`` has fewer) spread evenly over ``rows`` in their order, first
    and last included: sorted by age, the youngest, the oldest and the ages between.

    Example:
        >>> evenly_spaced(pd.DataFrame({"age": [20, 30, 40, 50, 60]}), 3).age.tolist()
        [20, 40, 60]
    """
    return rows.iloc[np.unique(np.round(np.linspace(0, len(rows) - 1, n)).astype(int))]

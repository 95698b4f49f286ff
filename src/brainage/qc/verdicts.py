"""Reading QC verdicts, and the one rule every later stage applies: a final ``fail`` is left out.

``qc_verdicts.csv`` (written by ``brainage qc``) holds the automatic verdict and reasons, a
reviewer's override, and the ``final_verdict`` that split and training use; ratings made in the
web viewer (``qc_ratings.sqlite`` beside it) are applied on reading.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainage.errors import InputError
from brainage.layout import QCDir
from brainage.qc.ratings import apply_ratings


def read_verdicts(path: str | Path) -> pd.DataFrame:
    """``qc_verdicts.csv`` written by ``brainage qc`` (a folder holding it is accepted too)."""
    path = Path(path)
    if path.is_dir():
        path = QCDir(path).verdicts
    if not path.is_file():
        raise InputError(path, "QC verdicts not found (run `brainage qc` first)")
    table = pd.read_csv(path, dtype={"subject_id": str}).fillna({"final_reasons": "", "reasons": "", "override": ""})
    if "final_verdict" not in table.columns:
        raise InputError(path, "not a brainage QC verdict table (no final_verdict column)")
    return apply_ratings(table, QCDir(path.parent).ratings)


def qc_failed(verdicts_path: str | Path) -> pd.Series:
    """Subjects whose final QC verdict is ``fail``: ``subject_id -> "QC fail: <reasons>"``.

    This is the only place that decides who QC removes from training.
    """
    verdicts = read_verdicts(verdicts_path)
    failed = verdicts[verdicts["final_verdict"] == "fail"]
    return pd.Series("QC fail: " + failed["final_reasons"].to_numpy(), index=failed["subject_id"].to_numpy(), dtype=str)

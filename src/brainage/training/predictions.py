"""The one vocabulary of prediction columns, and the reader of every table of predictions.

A fold's ``predictions.csv``, a run's ``all_predictions.csv`` and ``oof_predictions.csv``, and
``brainage predict``'s ``predictions.csv`` all name a model's outputs the same way:
``predicted_age``, ``p_male`` (the probability of male) and, where an age-bias correction was
applied, ``corrected_age``; a member of an ensemble adds its name (``predicted_age_cnn``).

Runs written before brainage 0.8 called them ``age_pred``, ``sex_prob_male`` and
``age_pred_corrected``. :func:`read_predictions` renames those on read, so an old run can still
be evaluated, stacked and exported without retraining.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainage.data.manifest import read_table
from brainage.errors import InputError

PREDICTED_AGE = "predicted_age"
P_MALE = "p_male"
CORRECTED_AGE = "corrected_age"
#: What every model predicts, in this order.
VALUES = (PREDICTED_AGE, P_MALE)

#: Roles of held-out predictions of training subjects: a CNN's validation subjects, a classical
#: model's inner cross-validation.
HELD_OUT_TRAINING = ("val", "inner")

#: Names of runs written before 0.8 -> today's (the longest first: one is a prefix of another).
LEGACY_NAMES = {"age_pred_corrected": CORRECTED_AGE, "age_pred": PREDICTED_AGE, "sex_prob_male": P_MALE}


def current_name(column: str) -> str:
    """Today's name of a prediction column, also of a member's (``age_pred_cnn``).

    Parameters
    ----------
    column : str
        A column name, old or new.

    Returns
    -------
    str
        The name in today's vocabulary; any other column unchanged.

    Example:
        >>> [current_name(c) for c in ("age_pred", "sex_prob_male_ridge", "age_pred_corrected", "age")]
        ['predicted_age', 'p_male_ridge', 'corrected_age', 'age']
    """
    for old, new in LEGACY_NAMES.items():
        if column == old or column.startswith(old + "_"):
            return new + column[len(old) :]
    return column


def read_predictions(path: str | Path, required: tuple[str, ...] = ("subject_id",)) -> pd.DataFrame:
    """A table of predictions written by any stage of any brainage version, in today's vocabulary.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    required : tuple of str
        Columns the caller needs; a table without one is refused in one line naming the file.

    Returns
    -------
    pandas.DataFrame
        The table, ``subject_id`` read as text, old column names renamed.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such predictions table")
    table = read_table(path, "predictions table", dtype={"subject_id": str}).rename(columns=current_name)
    missing = [c for c in required if c not in table]
    if missing:
        raise InputError(path, f"not a predictions table: no column {', '.join(missing)}")
    return table

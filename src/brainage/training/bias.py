"""Age-bias correction of brain-age predictions (Beheshti et al., NeuroImage: Clinical 2019).

Brain-age models regress towards the mean: the young are predicted older and the old younger.
The correction fits ``gap = alpha * age + beta`` (gap = predicted - chronological age) on
*training* subjects and subtracts it. It must never be fitted on the test set: that would use
test labels twice and flatter the result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainage.progress import console
from brainage.training.predictions import HELD_OUT_TRAINING, VALUES

#: Fewest held-out predictions of training subjects a bias correction is fitted on.
MIN_SUBJECTS = 20


class TooFewSubjects(ValueError):
    """Not enough subjects to fit a bias correction that means anything."""


class AgeBiasCorrector:
    """scikit-learn-style ``fit`` / ``transform`` for the linear age bias.

    A line fitted on a handful of subjects is noise (intercepts of 11 years appeared from 4), so
    fitting needs ``min_subjects`` held-out predictions of training subjects; fewer is refused.

    Example:
        >>> ages = np.linspace(20, 80, 20)
        >>> c = AgeBiasCorrector().fit(ages, 0.5 * ages + 25)
        >>> c.transform(np.array([20., 60.]), np.array([35., 55.])).round(6).tolist()
        [20.0, 60.0]
    """

    def __init__(self, min_subjects: int = MIN_SUBJECTS):
        self.min_subjects = min_subjects

    def fit(self, age: np.ndarray, predicted: np.ndarray) -> "AgeBiasCorrector":
        age, predicted = np.asarray(age, float), np.asarray(predicted, float)
        if age.shape != predicted.shape:
            raise ValueError("age and predicted must have the same shape")
        if age.size < max(3, self.min_subjects):
            raise TooFewSubjects(
                f"the age bias needs at least {self.min_subjects} held-out training predictions to fit, got {age.size}"
            )
        self.alpha_, self.beta_ = np.polyfit(age, predicted - age, 1)
        self.n_fit_ = int(age.size)
        return self

    def to_dict(self, fitted_on: str) -> dict:
        """The fitted line as a bundle stores it, with what it was fitted on.

        Example:
            >>> c = AgeBiasCorrector().fit(np.linspace(20, 80, 20), np.linspace(35, 65, 20))
            >>> d = c.to_dict("held-out predictions of training subjects")
            >>> round(d["alpha"], 6), d["n"], AgeBiasCorrector.from_dict(d).transform([40.0], [45.0]).round(6).tolist()
            (-0.5, 20, [40.0])
        """
        if not hasattr(self, "alpha_"):
            raise RuntimeError("AgeBiasCorrector must be fitted before it is stored")
        return {"alpha": float(self.alpha_), "beta": float(self.beta_), "n": int(self.n_fit_), "fitted_on": fitted_on}

    @classmethod
    def from_dict(cls, stored: dict) -> "AgeBiasCorrector":
        """A fitted corrector from :meth:`to_dict`'s form."""
        corrector = cls()
        corrector.alpha_, corrector.beta_, corrector.n_fit_ = stored["alpha"], stored["beta"], stored["n"]
        return corrector

    def transform(self, age: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        if not hasattr(self, "alpha_"):
            raise RuntimeError("AgeBiasCorrector must be fitted before transform")
        age = np.asarray(age, float)
        return np.asarray(predicted, float) - (self.alpha_ * age + self.beta_)


def average_seeds_and_correct(preds: pd.DataFrame) -> pd.DataFrame:
    """Average seeds per subject and fold, then fit each fold's age-bias correction on that fold's
    held-out training predictions (never its test subjects) and apply it to its test subjects.

    Where a fold has fewer than :data:`~brainage.training.bias.MIN_SUBJECTS` of them, the
    correction is refused with a warning and ``corrected_age`` stays empty.
    """
    value_cols = [c for c in VALUES if c in preds]
    mean = preds.groupby(["fold", "role", "subject_id", "age", "sex", "site"], as_index=False)[value_cols].mean()
    out = []
    for fold, part in mean.groupby("fold"):
        test = part[part.role == "test"].copy()
        if "predicted_age" in part:
            held_out = part[part.role.isin(HELD_OUT_TRAINING)]
            try:
                corrector = AgeBiasCorrector().fit(held_out.age.to_numpy(), held_out.predicted_age.to_numpy())
            except TooFewSubjects as exc:
                console.print(f"[yellow]fold {fold}: no age-bias correction: {exc}")
                test["corrected_age"], test["bias_alpha"], test["bias_beta"] = np.nan, np.nan, np.nan
            else:
                test["corrected_age"] = corrector.transform(test.age.to_numpy(), test.predicted_age.to_numpy())
                test["bias_alpha"], test["bias_beta"] = corrector.alpha_, corrector.beta_
        out.append(test)
    return pd.concat(out, ignore_index=True).sort_values("subject_id").reset_index(drop=True)

"""Age-bias correction of brain-age predictions (Beheshti et al., NeuroImage: Clinical 2019).

Brain-age models regress towards the mean: the young are predicted older and the old younger.
The correction fits ``gap = alpha * age + beta`` (gap = predicted - chronological age) on
*training* subjects and subtracts it. It must never be fitted on the test set: that would use
test labels twice and flatter the result.
"""

from __future__ import annotations

import numpy as np

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
            raise TooFewSubjects(f"the age bias needs at least {self.min_subjects} held-out training predictions "
                                 f"to fit, got {age.size}")
        self.alpha_, self.beta_ = np.polyfit(age, predicted - age, 1)
        self.n_fit_ = int(age.size)
        return self

    def transform(self, age: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        if not hasattr(self, "alpha_"):
            raise RuntimeError("AgeBiasCorrector must be fitted before transform")
        age = np.asarray(age, float)
        return np.asarray(predicted, float) - (self.alpha_ * age + self.beta_)

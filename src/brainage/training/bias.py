"""Age-bias correction of brain-age predictions (Beheshti et al., NeuroImage: Clinical 2019).

Brain-age models regress towards the mean: the young are predicted older and the old younger.
The correction fits ``gap = alpha * age + beta`` (gap = predicted - chronological age) on
*training* subjects and subtracts it. It must never be fitted on the test set: that would use
test labels twice and flatter the result.
"""

from __future__ import annotations

import numpy as np


class AgeBiasCorrector:
    """scikit-learn-style ``fit`` / ``transform`` for the linear age bias.

    Example:
        >>> c = AgeBiasCorrector().fit(np.array([20., 40., 60.]), np.array([30., 40., 50.]))
        >>> c.transform(np.array([20., 60.]), np.array([30., 50.])).round(6).tolist()
        [20.0, 60.0]
    """

    def fit(self, age: np.ndarray, predicted: np.ndarray) -> "AgeBiasCorrector":
        age, predicted = np.asarray(age, float), np.asarray(predicted, float)
        if age.shape != predicted.shape or age.size < 3:
            raise ValueError("need at least 3 matching (age, predicted) pairs to fit the age bias")
        self.alpha_, self.beta_ = np.polyfit(age, predicted - age, 1)
        self.n_fit_ = int(age.size)
        return self

    def transform(self, age: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        if not hasattr(self, "alpha_"):
            raise RuntimeError("AgeBiasCorrector must be fitted before transform")
        age = np.asarray(age, float)
        return np.asarray(predicted, float) - (self.alpha_ * age + self.beta_)

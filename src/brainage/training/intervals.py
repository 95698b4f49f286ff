"""An interval on every predicted age: split-conformal, conditioned on the predicted age.

A brain age without its uncertainty cannot be compared with a threshold. The interval here is
the range in which a healthy person's chronological age lies with the asked probability
(``coverage``, 90 % by default), given what the model predicted for them. It is built from the
model's own **out-of-fold** residuals (``age - predicted``, from cross-validation: predictions of
scans the model had not been trained on) by Mondrian split-conformal prediction (Vovk et al.
2005; Angelopoulos & Bates 2021): the residuals are grouped by predicted-age band, and a scan's
interval is its prediction plus the band's lower and upper conformal quantiles. Bands matter:
brain-age models regress to the mean, so the residuals of a young prediction are not those of an
old one (a prediction of 75 is more often a person of 80 than of 70).

No maintained library does this on stored residuals (MAPIE and crepes wrap an estimator they
fit themselves; here the residuals come from a finished cross-validation and must travel inside
the model file), so the few lines of quantile arithmetic are written here.

Example:
    >>> rng = np.random.default_rng(0)
    >>> age = rng.uniform(20, 80, 400)
    >>> predicted = age + rng.normal(0, 5, 400)
    >>> model = ConformalAgeInterval.fit(age, predicted)
    >>> low, high = model.bounds(np.array([50.0]), coverage=0.9)
    >>> bool(low[0] < 50 < high[0]), bool(12 < (high - low)[0] < 22)
    (True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Fewest residuals in a predicted-age band: with fewer, a 90 % interval's tails rest on a
#: handful of scans. 180 subjects give four bands.
MIN_BAND = 40
#: Coverage asked for when none is given.
DEFAULT_COVERAGE = 0.9


class TooFewResiduals(ValueError):
    """Not enough out-of-fold predictions to calibrate an interval."""


def conformal_quantile(sorted_values: np.ndarray, level: float) -> float:
    """The split-conformal quantile of ``sorted_values`` at ``level``: the ``ceil((n + 1) level)``-th
    smallest value, which makes the probability that a new value lies at or below it at least
    ``level`` (infinite where ``n`` is too small for that level).

    Example:
        >>> conformal_quantile(np.arange(1.0, 20.0), 0.9)
        18.0
        >>> conformal_quantile(np.arange(1.0, 5.0), 0.95)
        inf
    """
    n = len(sorted_values)
    rank = int(np.ceil((n + 1) * level))
    if rank > n:
        return float("inf")
    return float(sorted_values[max(rank, 1) - 1])


@dataclass(frozen=True)
class ConformalAgeInterval:
    """Residuals ``age - predicted`` of out-of-fold predictions, sorted, per predicted-age band.

    ``edges``: the inner band edges (predicted age); ``residuals``: one sorted list per band.
    """

    edges: tuple[float, ...]
    residuals: tuple[tuple[float, ...], ...]

    @classmethod
    def fit(cls, age, predicted, min_band: int = MIN_BAND) -> "ConformalAgeInterval":
        """Bands of at least ``min_band`` predictions, cut at quantiles of the predicted age."""
        age, predicted = np.asarray(age, float), np.asarray(predicted, float)
        keep = np.isfinite(age) & np.isfinite(predicted)
        age, predicted = age[keep], predicted[keep]
        if age.size < min_band:
            raise TooFewResiduals(f"an age interval needs at least {min_band} out-of-fold predictions, got {age.size}")
        n_bands = max(1, age.size // min_band)
        edges = tuple(float(e) for e in np.quantile(predicted, np.linspace(0, 1, n_bands + 1)[1:-1]))
        band = np.searchsorted(edges, predicted, side="right")
        residuals = tuple(tuple(np.sort(age[band == b] - predicted[band == b]).tolist()) for b in range(n_bands))
        return cls(edges, residuals)

    @property
    def n(self) -> int:
        return sum(len(r) for r in self.residuals)

    def offsets(self, predicted, coverage: float = DEFAULT_COVERAGE) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper offsets from each prediction (``low = predicted + lower``), equal tails."""
        if not 0 < coverage < 1:
            raise ValueError(f"coverage must lie between 0 and 1, got {coverage}")
        predicted = np.asarray(predicted, float)
        tail = (1 - coverage) / 2
        per_band = np.array(
            [
                # the lower bound is the negated upper quantile of the negated residuals
                (-conformal_quantile(-np.asarray(r)[::-1], 1 - tail), conformal_quantile(np.asarray(r), 1 - tail))
                for r in self.residuals
            ]
        )
        band = np.searchsorted(self.edges, np.nan_to_num(predicted), side="right")
        return per_band[band, 0], per_band[band, 1]

    def bounds(self, predicted, coverage: float = DEFAULT_COVERAGE) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)`` of the age interval around each prediction (NaN where it is NaN)."""
        predicted = np.asarray(predicted, float)
        lower, upper = self.offsets(predicted, coverage)
        return predicted + lower, predicted + upper

    def to_dict(self) -> dict:
        return {"edges": list(self.edges), "residuals": [list(r) for r in self.residuals]}

    @classmethod
    def from_dict(cls, stored: dict) -> "ConformalAgeInterval":
        return cls(tuple(stored["edges"]), tuple(tuple(r) for r in stored["residuals"]))


@dataclass(frozen=True)
class AgeIntervals:
    """What a model file carries to put an interval on every age: one calibration for the
    predicted age and, where the run had a bias correction, one for the corrected age; where they
    came from (``fitted_on``)."""

    predicted: ConformalAgeInterval
    corrected: ConformalAgeInterval | None
    fitted_on: str

    @classmethod
    def fit(cls, oof, fitted_on: str) -> "AgeIntervals":
        """From an out-of-fold predictions table (``age``, ``predicted_age``, ``corrected_age``)."""
        predicted = ConformalAgeInterval.fit(oof["age"], oof["predicted_age"])
        corrected = None
        if "corrected_age" in oof and np.isfinite(np.asarray(oof["corrected_age"], float)).sum() >= MIN_BAND:
            corrected = ConformalAgeInterval.fit(oof["age"], oof["corrected_age"])
        return cls(predicted, corrected, fitted_on)

    def to_dict(self) -> dict:
        return {
            "method": "Mondrian split-conformal on out-of-fold residuals, bands of predicted age",
            "fitted_on": self.fitted_on,
            "n": self.predicted.n,
            "predicted_age": self.predicted.to_dict(),
            "corrected_age": self.corrected.to_dict() if self.corrected else None,
        }

    @classmethod
    def from_dict(cls, stored: dict) -> "AgeIntervals":
        corrected = stored.get("corrected_age")
        return cls(
            ConformalAgeInterval.from_dict(stored["predicted_age"]),
            ConformalAgeInterval.from_dict(corrected) if corrected else None,
            stored.get("fitted_on", ""),
        )


def coverage_table(age, low, high, bands=(0, 40, 60, 70, 200)) -> list[dict]:
    """Share of ``age`` inside ``[low, high]``, over all and per age band (for the benchmarks).

    Example:
        >>> coverage_table([30, 50, 80], [25, 55, 70], [35, 60, 90])[0]
        {'band': 'all', 'n': 3, 'coverage': 0.667, 'mean_width': 11.67}
    """
    age, low, high = (np.asarray(x, float) for x in (age, low, high))
    rows = []
    masks = [("all", np.ones(age.shape, bool))]
    masks += [(f"{a}-{b}" if b < 200 else f"over {a}", (age >= a) & (age < b)) for a, b in zip(bands[:-1], bands[1:])]
    for name, mask in masks:
        if not mask.any():
            continue
        inside = (age[mask] >= low[mask]) & (age[mask] <= high[mask])
        rows.append(
            {
                "band": name,
                "n": int(mask.sum()),
                "coverage": round(float(inside.mean()), 3),
                "mean_width": round(float(np.mean(high[mask] - low[mask])), 2),
            }
        )
    return rows


def cross_conformal(oof, column: str = "predicted_age", coverage: float = DEFAULT_COVERAGE):
    """Honest intervals for cross-validated predictions: each fold's from the residuals of the
    other folds only (a subject never calibrates its own interval). ``(low, high)`` arrays."""
    low, high = np.full(len(oof), np.nan), np.full(len(oof), np.nan)
    values = oof[column].to_numpy(float)
    for fold in oof["fold"].unique():
        mine = (oof["fold"] == fold).to_numpy()
        others = oof[~mine]
        calibration = ConformalAgeInterval.fit(others["age"], others[column])
        low[mine], high[mine] = calibration.bounds(values[mine], coverage)
    return low, high


def interval_coverage(oof, coverage: float = DEFAULT_COVERAGE) -> dict | None:
    """Coverage of cross-conformal ``coverage`` intervals (:func:`cross_conformal`) over a run's
    out-of-fold predictions, over all and per age band, for the predicted and the corrected age;
    None where the run is too small to calibrate on (fewer than :data:`MIN_BAND` per fold's rest)."""
    result = {"coverage_asked": coverage}
    for column in ("predicted_age", "corrected_age"):
        if column not in oof:
            continue
        rows = oof.dropna(subset=["age", column])
        try:
            low, high = cross_conformal(rows, column, coverage)
        except TooFewResiduals:
            return None
        result[column] = coverage_table(rows["age"], low, high)
    return result

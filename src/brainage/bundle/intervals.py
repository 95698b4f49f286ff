"""The interval beside every predicted age, widened where a scan is outside what the model knows.

The base interval is the model's own: split-conformal on its out-of-fold residuals
(:mod:`brainage.training.intervals`), valid for scans like its training scans. Where a scan is
not like them, the interval is widened by amounts the model file carries as measured, never
guessed:

* **age outside the training range** (a known or predicted age below the youngest or above the
  oldest training subject): by ``years_per_year`` for every year beyond, on the side the model errs to (it reads
  the old young and the young old), from the extrapolation benchmark
  (``benchmarks/extrapolation.py``: trained up to 65, predicting the older ones);
* **a scanner unlike the training one** (QC's scanner-dependent metrics differ): the invariance
  benchmark's within-brain SD (the same brain stored and acquired other ways) times the normal
  quantile of the coverage, added in quadrature;
* **a QC warning**: the same, plus the largest mean shift of an acquisition rendition on that
  benchmark, added to both sides.

Example:
    >>> from brainage.training.intervals import AgeIntervals
    >>> rng = np.random.default_rng(0)
    >>> age = rng.uniform(20, 80, 200)
    >>> oof = pd.DataFrame({"age": age, "predicted_age": age + rng.normal(0, 5, 200)})
    >>> record = {"calibration": AgeIntervals.fit(oof, "toy").to_dict()}
    >>> out = interval_columns(pd.DataFrame({"predicted_age": [50.0]}), pd.Series([np.nan]), record, {})
    >>> bool(out.predicted_age_low[0] < 50 < out.predicted_age_high[0])
    True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from brainage.training.intervals import DEFAULT_COVERAGE, AgeIntervals

#: Interval columns of a predictions table, in order.
INTERVAL_COLUMNS = ("predicted_age_low", "predicted_age_high", "corrected_age_low", "corrected_age_high")


def _nan_series(index) -> pd.Series:
    return pd.Series(np.nan, index=index, dtype=float)


def interval_columns(
    predictions: pd.DataFrame,
    age: pd.Series,
    record: dict | None,
    cohort: dict,
    invariance: dict | None = None,
    coverage: float = DEFAULT_COVERAGE,
    scanner_differs: pd.Series | None = None,
    qc_warned: pd.Series | None = None,
) -> pd.DataFrame:
    """``predicted_age_low/high`` and ``corrected_age_low/high`` for every row of ``predictions``
    (``predicted_age``, ``corrected_age``), plus ``interval_widened`` saying why an interval is
    wider than the model's base one. All NaN where the bundle carries no calibration (``record``).
    """
    index = predictions.index
    out = pd.DataFrame({c: _nan_series(index) for c in INTERVAL_COLUMNS})
    out["interval_widened"] = ""
    if not record or "predicted_age" not in predictions:
        return out
    calibration = AgeIntervals.from_dict(record["calibration"])
    z = float(stats.norm.ppf(1 - (1 - coverage) / 2))
    spread = np.zeros(len(index))  # added in quadrature
    shift = np.zeros(len(index))  # added to both sides
    why = [[] for _ in index]
    sd = float((invariance or {}).get("within_brain_sd_years", 0.0))
    worst_shift = max(
        (
            abs(v["mean_shift_years"])
            for v in (invariance or {}).get("variants", {}).values()
            if v.get("family") == "acquisition"
        ),
        default=0.0,
    )
    for mask, extra, extra_shift, reason in (
        (scanner_differs, z * sd, 0.0, "scanner unlike the training scanner"),
        (qc_warned, z * sd, worst_shift, "QC warning"),
    ):
        if mask is None or not (extra or extra_shift):
            continue
        flags = np.asarray(mask.reindex(index).fillna(False), bool)
        spread[flags] = np.sqrt(spread[flags] ** 2 + extra**2)
        shift[flags] += extra_shift
        for i in np.flatnonzero(flags):
            why[i].append(reason)
    beyond_low, beyond_high = np.zeros(len(index)), np.zeros(len(index))
    known = np.asarray(age.reindex(index), float)
    predicted = np.asarray(predictions["predicted_age"], float)
    lo, hi = cohort.get("age_min"), cohort.get("age_max")
    if lo is not None and hi is not None:
        # how far the known age, or else the prediction, lies beyond the ages the model was trained on
        beyond_high = np.nan_to_num(np.clip(np.fmax(known, predicted) - hi, 0, None))
        beyond_low = np.nan_to_num(np.clip(lo - np.fmin(known, predicted), 0, None))
        for i in np.flatnonzero((beyond_high > 0) | (beyond_low > 0)):
            which = "age" if np.isfinite(known[i]) and not lo <= known[i] <= hi else "predicted age"
            why[i].append(f"{which} outside the training range {lo:.0f}-{hi:.0f}")
    outside = record.get("outside_range") or {}
    for column, fitted, rate_key in (
        ("predicted_age", calibration.predicted, "years_per_year_uncorrected"),
        ("corrected_age", calibration.corrected, "years_per_year_corrected"),
    ):
        if fitted is None or column not in predictions:
            continue
        values = np.asarray(predictions[column], float)
        lower, upper = fitted.offsets(values, coverage)
        rate = float(outside.get(rate_key, 0.0))
        centre, half = (upper + lower) / 2, (upper - lower) / 2
        half = np.sqrt(half**2 + spread**2) + shift
        # The model reads the old younger than they are, the young older: the true age lies on that side.
        upper = centre + half + rate * beyond_high
        lower = centre - half - rate * beyond_low
        out[f"{column}_low"] = values + lower
        out[f"{column}_high"] = values + upper
    out["interval_widened"] = ["; ".join(w) for w in why]
    return out


def outside_range_rates(extrapolation: dict, ages_beyond: np.ndarray) -> dict:
    """How much wider an interval gets per year beyond the training range, from an extrapolation
    benchmark result (``benchmarks/extrapolation.py`` JSON) and the ages of its older group minus
    its training maximum: the whole mean gap of that group counted as the cost of extrapolating.

    Example:
        >>> outside_range_rates({"old_group": {"mean_gap_years": -10.0, "mean_gap_corrected_years": -1.0}},
        ...                     np.array([2.0, 8.0]))["years_per_year_uncorrected"]
        2.0
    """
    old = extrapolation["old_group"]
    distance = float(np.mean(ages_beyond))
    return {
        "years_per_year_uncorrected": round(abs(float(old["mean_gap_years"])) / distance, 3),
        "years_per_year_corrected": round(abs(float(old["mean_gap_corrected_years"])) / distance, 3),
        "measured_on": (
            f"the extrapolation benchmark: trained up to {extrapolation.get('max_train_age', '?')} y, "
            f"{old.get('n', len(ages_beyond))} older subjects on average {distance:.1f} y beyond"
        ),
    }

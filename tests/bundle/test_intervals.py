"""The interval beside every predicted age, widened by measured amounts where a scan is unlike
the training scans."""

import numpy as np
import pandas as pd

from brainage.bundle.intervals import interval_columns, outside_range_rates
from brainage.training.intervals import AgeIntervals

COHORT = {"age_min": 20.0, "age_max": 82.0}
INVARIANCE = {
    "within_brain_sd_years": 1.5,
    "variants": {"gamma_1.4": {"family": "acquisition", "mean_shift_years": 1.3}, "int16": {"family": "storage"}},
}


def _record():
    rng = np.random.default_rng(0)
    age = rng.uniform(20, 82, 200)
    oof = pd.DataFrame({"age": age, "predicted_age": age + rng.normal(0, 5, 200)})
    oof["corrected_age"] = oof.predicted_age
    return {
        "calibration": AgeIntervals.fit(oof, "toy").to_dict(),
        "outside_range": {"years_per_year_uncorrected": 1.4, "years_per_year_corrected": 0.2},
    }


def _columns(age, **found):
    predictions = pd.DataFrame({"predicted_age": [60.0] * len(age), "corrected_age": [60.0] * len(age)})
    return interval_columns(predictions, pd.Series(age, dtype=float), _record(), COHORT, INVARIANCE, 0.9, **found)


def test_every_age_gets_an_interval_and_none_without_a_calibration():
    out = _columns([60.0, np.nan])
    assert (out.predicted_age_low < 60).all() and (out.predicted_age_high > 60).all()
    assert (out.corrected_age_low < 60).all() and (out.interval_widened == "").all()
    blank = interval_columns(pd.DataFrame({"predicted_age": [60.0]}), pd.Series([60.0]), None, COHORT)
    assert blank.predicted_age_low.isna().all()


def test_an_age_beyond_the_training_range_widens_the_side_the_model_errs_to():
    inside, beyond = _columns([80.0, 92.0]).iloc[0], _columns([80.0, 92.0]).iloc[1]
    assert beyond.predicted_age_high - inside.predicted_age_high == np.float64(1.4 * 10)
    assert beyond.predicted_age_low == inside.predicted_age_low
    assert np.isclose(beyond.corrected_age_high - inside.corrected_age_high, 0.2 * 10)
    assert "outside the training range" in beyond.interval_widened


def test_another_scanner_and_a_qc_warning_widen_by_the_invariance_benchmarks_figures():
    flags = pd.Series([False, True, False])
    warned = pd.Series([False, False, True])
    out = _columns([50.0, 50.0, 50.0], scanner_differs=flags, qc_warned=warned)
    width = out.predicted_age_high - out.predicted_age_low
    half = width[0] / 2
    z = 1.6448536269514722
    assert np.isclose(width[1] / 2, np.sqrt(half**2 + (z * 1.5) ** 2))
    assert np.isclose(width[2] / 2, np.sqrt(half**2 + (z * 1.5) ** 2) + 1.3)
    assert out.interval_widened.tolist() == ["", "scanner unlike the training scanner", "QC warning"]


def test_the_outside_range_rate_is_the_extrapolation_gap_per_year_beyond():
    result = {"max_train_age": 65, "old_group": {"mean_gap_years": -10.6, "mean_gap_corrected_years": -1.0, "n": 3}}
    rates = outside_range_rates(result, np.array([2.0, 6.0, 10.0]))
    assert rates["years_per_year_uncorrected"] == round(10.6 / 6, 3)
    assert "trained up to 65 y" in rates["measured_on"]


def test_a_prediction_beyond_the_training_range_widens_even_without_an_age():
    predictions = pd.DataFrame({"predicted_age": [70.0, 86.0]})
    out = interval_columns(predictions, pd.Series([np.nan, np.nan]), _record(), COHORT, INVARIANCE)
    wider_range = {"age_min": 20.0, "age_max": 100.0}
    base = interval_columns(predictions, pd.Series([np.nan, np.nan]), _record(), wider_range, INVARIANCE)
    assert np.isclose(out.predicted_age_high[1], base.predicted_age_high[1] + 1.4 * 4)
    assert out.predicted_age_low[1] == base.predicted_age_low[1]
    assert out.interval_widened.tolist() == ["", "predicted age outside the training range 20-82"]

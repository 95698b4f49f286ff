"""Split-conformal age intervals: coverage as asked on new data, conditional on the predicted age."""

import numpy as np
import pandas as pd
import pytest

from brainage.training.intervals import (
    AgeIntervals,
    ConformalAgeInterval,
    TooFewResiduals,
    conformal_quantile,
    coverage_table,
)


def _regressing_model(n, seed):
    """Predictions that regress to the mean, with errors that grow with age: the shape of a real
    brain-age model's errors."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(20, 82, n)
    predicted = 47 + 0.75 * (age - 47) + rng.normal(0, 2 + 0.08 * (age - 20), n)
    return age, predicted


@pytest.mark.parametrize("coverage", [0.8, 0.9, 0.95])
def test_coverage_on_new_subjects_is_what_was_asked(coverage):
    age, predicted = _regressing_model(180, seed=0)
    model = ConformalAgeInterval.fit(age, predicted)
    new_age, new_predicted = _regressing_model(20000, seed=1)
    low, high = model.bounds(new_predicted, coverage)
    inside = (new_age >= low) & (new_age <= high)
    # a conformal interval over 180 residuals covers at least the asked share, and not much more
    assert coverage - 0.02 <= inside.mean() <= coverage + 0.05


def test_the_interval_follows_the_predicted_age_band():
    age, predicted = _regressing_model(400, seed=0)
    model = ConformalAgeInterval.fit(age, predicted)
    assert len(model.residuals) == 10 and all(len(r) >= 40 for r in model.residuals)
    low, high = model.bounds(np.array([35.0, 70.0]))
    # regression to the mean: a young prediction's person is younger, an old one's older
    assert low[0] - 35 < -(high[0] - 35) * 0.5 and high[1] - 70 > -(low[1] - 70) * 0.5
    # errors grow with age: the old band's interval is wider
    assert (high - low)[1] > (high - low)[0]
    new_age, new_predicted = _regressing_model(20000, seed=2)
    lo, hi = model.bounds(new_predicted)
    for band in coverage_table(new_age, lo, hi, bands=(20, 40, 60, 83))[1:]:
        assert 0.85 <= band["coverage"] <= 0.96, band


def test_too_few_residuals_are_refused_and_a_tiny_band_has_an_unbounded_interval():
    with pytest.raises(TooFewResiduals):
        ConformalAgeInterval.fit(np.arange(10.0), np.arange(10.0))
    assert conformal_quantile(np.arange(5.0), 0.99) == float("inf")


def test_the_record_round_trips_and_carries_the_corrected_age_too():
    age, predicted = _regressing_model(180, seed=0)
    corrected = age + np.random.default_rng(3).normal(0, 5, 180)
    record = AgeIntervals.fit(pd.DataFrame({"age": age, "predicted_age": predicted, "corrected_age": corrected}), "x")
    again = AgeIntervals.from_dict(record.to_dict())
    assert again.predicted == record.predicted and again.corrected == record.corrected
    assert again.to_dict()["n"] == 180
    no_correction = AgeIntervals.fit(pd.DataFrame({"age": age, "predicted_age": predicted}), "x")
    assert no_correction.corrected is None


def test_cross_conformal_coverage_of_a_cross_validation_is_honest():
    from brainage.training.intervals import interval_coverage

    age, predicted = _regressing_model(600, seed=4)
    oof = pd.DataFrame({"age": age, "predicted_age": predicted, "fold": np.arange(600) % 5})
    result = interval_coverage(oof)
    overall = result["predicted_age"][0]
    assert overall["band"] == "all" and 0.87 <= overall["coverage"] <= 0.94
    assert interval_coverage(oof.head(45)) is None  # 36 residuals to calibrate each fold on: fewer than 40

"""A site's recalibration: the offset or line fitted on its own controls, and its refusals."""

import numpy as np
import pytest

from brainage.errors import InputError
from brainage.training.finetune import site_calibration


def test_the_linear_calibration_recovers_a_site_line_and_inverts_to_age():
    ages = np.linspace(25, 75, 12)
    predicted = 12 + 0.75 * ages + np.random.default_rng(0).normal(0, 0.1, ages.size)
    line = site_calibration(ages, predicted, "linear")
    assert line["slope"] == pytest.approx(0.75, abs=0.01) and line["offset"] == pytest.approx(12, abs=0.5)
    assert np.allclose((predicted - line["offset"]) / line["slope"], ages, atol=0.3)


def test_a_line_too_flat_to_invert_and_an_unknown_method_are_refused():
    ages = np.linspace(25, 75, 12)
    with pytest.raises(InputError, match="too flat"):
        site_calibration(ages, 50 + 0.1 * ages, "linear")
    with pytest.raises(InputError, match="unknown recalibration method"):
        site_calibration(ages, ages, "quadratic")

import numpy as np
import pandas as pd
import pytest

from brainage.evaluation.baselines import baseline_predictions
from brainage.evaluation.metrics import age_metrics, sex_metrics, signed_error_by_decile


def test_age_metrics_by_hand():
    m = age_metrics(np.array([20.0, 40.0, 60.0]), np.array([22.0, 40.0, 57.0]))
    assert m["mae"] == pytest.approx(5 / 3) and m["rmse"] == pytest.approx(np.sqrt(13 / 3))
    assert m["mean_signed_error"] == pytest.approx(-1 / 3) and m["pearson_r"] > 0.99


def test_regression_to_mean_shows_in_deciles():
    age = np.linspace(20, 80, 100)
    table = signed_error_by_decile(age, 0.5 * age + 25)
    assert table.mean_signed_error.iloc[0] > 0 > table.mean_signed_error.iloc[-1]


def test_sex_metrics_confusion():
    m = sex_metrics(np.array(["F", "F", "M", "M"]), np.array([0.2, 0.7, 0.9, 0.4]))
    assert (m["tn_FF"], m["fp_FM"], m["fn_MF"], m["tp_MM"]) == (1, 1, 1, 1)
    assert m["accuracy"] == 0.5 and m["roc_auc"] == 0.75


def test_baselines_train_on_other_folds_only():
    table = pd.DataFrame(
        {
            "subject_id": list("abcdef"),
            "fold": [0, 0, 1, 1, 2, 2],
            "age": [20.0, 30, 40, 50, 60, 70],
            "sex": ["F", "M"] * 3,
            "brain_volume_ml": [1200.0, 1500, 1210, 1490, 1190, 1520],
        }
    )
    preds = baseline_predictions(table).set_index("subject_id")
    assert preds.at["a", "predicted_age_mean"] == pytest.approx(np.mean([40, 50, 60, 70]))
    assert preds.at["b", "p_male_volume"] > 0.5 > preds.at["a", "p_male_volume"]


def test_p_male_calibration_is_measured_by_brier_and_ece():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 4000)
    sex = np.where(rng.uniform(0, 1, 4000) < p, "M", "F")  # calibrated: P(male) is the share of males
    calibrated = sex_metrics(sex, p)
    overconfident = sex_metrics(sex, np.where(p > 0.5, 0.999, 0.001))
    assert calibrated["ece"] < 0.03 and overconfident["ece"] > 0.2
    assert calibrated["brier"] < overconfident["brier"]

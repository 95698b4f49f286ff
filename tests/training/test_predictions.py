"""The prediction-column vocabulary: old runs read in today's names; a broken table is one line."""

import numpy as np
import pandas as pd
import pytest

from brainage.errors import InputError
from brainage.training.predictions import read_predictions
from brainage.training.stack import Stacker


def test_a_run_written_before_0_8_reads_in_todays_names(tmp_path):
    old = pd.DataFrame(
        {
            "subject_id": ["007", "012"],
            "age": [30.0, 60.0],
            "age_pred": [33.0, 58.0],
            "age_pred_corrected": [31.0, 59.0],
            "sex_prob_male": [0.2, 0.9],
            "age_pred_cnn": [32.0, 57.0],
            "sex_prob_male_ridge": [0.3, 0.8],
        }
    )
    old.to_csv(tmp_path / "oof_predictions.csv", index=False)
    table = read_predictions(tmp_path / "oof_predictions.csv")
    assert list(table.columns) == [
        "subject_id",
        "age",
        "predicted_age",
        "corrected_age",
        "p_male",
        "predicted_age_cnn",
        "p_male_ridge",
    ]
    assert table.subject_id.tolist() == ["007", "012"]  # identifiers stay text
    assert table.predicted_age.tolist() == [33.0, 58.0]


def test_a_table_without_a_needed_column_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "predictions.csv"
    pd.DataFrame({"age": [30.0]}).to_csv(path, index=False)
    with pytest.raises(InputError, match="predictions.csv.*no column subject_id"):
        read_predictions(path)
    with pytest.raises(InputError, match="no such predictions table"):
        read_predictions(tmp_path / "missing.csv")


def test_a_stack_stored_with_old_column_names_predicts_from_todays_columns():
    ages = np.linspace(20, 80, 20)
    table = pd.DataFrame(
        {
            "age": ages,
            "sex": ["F", "M"] * 10,
            "predicted_age_cnn": ages + 2,
            "predicted_age_ridge": ages - 2,
            "p_male_cnn": [0.3, 0.7] * 10,
            "p_male_ridge": [0.4, 0.6] * 10,
        }
    )
    fitted = Stacker(["predicted_age_cnn", "predicted_age_ridge"], ["p_male_cnn", "p_male_ridge"]).fit(table)
    stored = fitted.to_dict()
    stored["age_cols"] = ["age_pred_cnn", "age_pred_ridge"]  # as a 0.7 bundle stores them
    stored["sex_cols"] = ["sex_prob_male_cnn", "sex_prob_male_ridge"]
    again = Stacker.from_dict(stored).predict(table)
    assert np.allclose(again["predicted_age"], fitted.predict(table)["predicted_age"])
    assert np.allclose(again["p_male"], fitted.predict(table)["p_male"])

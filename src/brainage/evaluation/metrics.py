"""Age and sex metrics on out-of-fold predictions (scikit-learn / scipy underneath)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import metrics as skm

from brainage.training.dataset import MALE_THRESHOLD


def age_metrics(age: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, Pearson r, R^2, mean signed error (predicted - true) and the gap-age correlation."""
    age, predicted = np.asarray(age, float), np.asarray(predicted, float)
    return {
        "n": int(age.size),
        "mae": float(skm.mean_absolute_error(age, predicted)),
        "rmse": float(np.sqrt(skm.mean_squared_error(age, predicted))),
        "pearson_r": float(stats.pearsonr(age, predicted)[0]) if age.size > 2 else float("nan"),
        "r2": float(skm.r2_score(age, predicted)),
        "mean_signed_error": float(np.mean(predicted - age)),
        # Regression to the mean shows as a negative correlation of the gap with age.
        "gap_age_r": float(stats.pearsonr(age, predicted - age)[0]) if age.size > 2 else float("nan"),
    }


def signed_error_by_decile(age: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """Mean signed error in each age decile (the regression-to-the-mean pattern)."""
    df = pd.DataFrame({"age": age, "error": np.asarray(predicted) - np.asarray(age)})
    df["decile"] = pd.qcut(df.age, 10, labels=False, duplicates="drop")
    return (
        df.groupby("decile")
        .agg(age_min=("age", "min"), age_max=("age", "max"), n=("age", "size"), mean_signed_error=("error", "mean"))
        .reset_index()
    )


#: Equal-width bins of P(male) for the expected calibration error and the reliability diagram.
CALIBRATION_BINS = 10


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Mean |observed share of males - mean P(male)| over equal-width bins of P(male), weighted by
    each bin's share of subjects (Naeini et al. 2015). 0 for a perfectly calibrated model.

    Example:
        >>> round(expected_calibration_error(np.array([0, 1, 1, 1]), np.array([0.1, 0.9, 0.9, 0.9])), 3)
        0.1
    """
    y, p = np.asarray(y, float), np.asarray(p, float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(y[which == b].mean() - p[which == b].mean()) * np.mean(which == b) for b in np.unique(which)))


def sex_metrics(sex: np.ndarray, prob_male: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy, ROC AUC, the confusion matrix (rows true F/M, cols predicted), and
    how well P(male) is calibrated: the Brier score and the expected calibration error."""
    y = (np.asarray(sex) == "M").astype(int)
    p = np.asarray(prob_male, float)
    pred = (p > MALE_THRESHOLD).astype(int)
    cm = skm.confusion_matrix(y, pred, labels=[0, 1])
    return {
        "n": int(y.size),
        "accuracy": float(skm.accuracy_score(y, pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)),
        "roc_auc": float(skm.roc_auc_score(y, p)) if len(set(y)) == 2 else float("nan"),
        "brier": float(skm.brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "tn_FF": int(cm[0, 0]),
        "fp_FM": int(cm[0, 1]),
        "fn_MF": int(cm[1, 0]),
        "tp_MM": int(cm[1, 1]),
    }


#: What :func:`subject_columns` can give, in order.
SUBJECT_COLUMNS = ("predicted_age", "brain_age_gap", "corrected_age", "corrected_gap", "p_male", "predicted_sex")


def subject_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Per-subject columns a person reads, from model outputs (``predicted_age``, ``corrected_age``,
    ``p_male``; those present) and the chronological ``age`` (unknown gives an empty gap).

    Example:
        >>> oof = pd.DataFrame({"age": [40.0, np.nan], "predicted_age": [45.0, 50.0], "p_male": [0.8, 0.1]})
        >>> table = subject_columns(oof)
        >>> table[["brain_age_gap", "predicted_sex"]].values.tolist()
        [[5.0, 'M'], [nan, 'F']]
    """
    out = pd.DataFrame(index=table.index)
    if "predicted_age" in table:
        out["predicted_age"] = table.predicted_age
        out["brain_age_gap"] = table.predicted_age - table.age
        out["corrected_age"] = table.get("corrected_age", np.nan)
        out["corrected_gap"] = out.corrected_age - table.age
    if "p_male" in table:
        p = table.p_male
        out["p_male"] = p
        out["predicted_sex"] = np.where(p.isna(), "", np.where(p > MALE_THRESHOLD, "M", "F"))
    return out

"""Baselines every CNN result is reported beside, on the same folds.

* age: predict the training folds' mean age (what "no information" scores);
* sex: logistic regression on intracranial/brain volume alone. Men have larger heads, so a sex
  classifier that does not clearly beat this one has learned head size, not anatomy.
"""

from __future__ import annotations

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from brainage.evaluation.metrics import age_metrics, sex_metrics


def baseline_predictions(table: pd.DataFrame, folds: list[int] | None = None) -> pd.DataFrame:
    """Out-of-fold baseline predictions for ``folds`` (default all); ``table`` has subject_id,
    fold, age, sex, brain_volume_ml for every subject of the split."""
    out = []
    for fold in folds if folds is not None else sorted(table.fold.unique()):
        train, test = table[table.fold != fold], table[table.fold == fold].copy()
        test["predicted_age_mean"] = train.age.mean()
        if "brain_volume_ml" in table and train.brain_volume_ml.notna().all():
            clf = make_pipeline(StandardScaler(), LogisticRegression())
            clf.fit(train[["brain_volume_ml"]], (train.sex == "M").astype(int))
            test["p_male_volume"] = clf.predict_proba(test[["brain_volume_ml"]])[:, 1]
        out.append(test)
    return pd.concat(out, ignore_index=True)


def baseline_metrics(preds: pd.DataFrame) -> dict[str, dict]:
    """Metrics of :func:`baseline_predictions` output."""
    result = {"age_mean_predictor": age_metrics(preds.age, preds.predicted_age_mean)}
    if "p_male_volume" in preds:
        result["sex_volume_only"] = sex_metrics(preds.sex, preds.p_male_volume)
    return result

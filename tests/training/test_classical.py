"""The classical model: a learnable signal in tissue maps and a head-size covariate is found, and
nothing but the training folds is used."""

import numpy as np
import pandas as pd

from brainage.evaluation.report import evaluate
from brainage.models.network import model_config
from brainage.training.classical import RidgeBrainAge
from brainage.training.config import RunOptions, TrainConfig
from brainage.training.cv import train_cv


def test_ridge_cross_validation_learns_age_and_sex(tissue_cache, tmp_path):
    config = TrainConfig(model=model_config("ridge"))
    assert config.model.inputs == ("tissue",) and "affine_det" in config.model.covariates
    oof = train_cv(tissue_cache, tissue_cache / "splits", tmp_path / "ridge", config, RunOptions())
    assert len(oof) == 60
    assert np.mean(np.abs(oof.predicted_age - oof.age)) < 6  # mean predictor: ~15
    assert ((oof.p_male > 0.5) == (oof.sex == "M")).mean() > 0.85
    assert oof.corrected_age.notna().all()  # 40 inner held-out predictions per fold: enough to fit
    preds = pd.read_csv(tmp_path / "ridge" / "all_predictions.csv")
    assert set(preds.role) == {"inner", "test"}
    for fold, part in preds.groupby("fold"):  # inner rows are the other folds' subjects only
        assert set(part[part.role == "inner"].subject_id).isdisjoint(part[part.role == "test"].subject_id)
    assert (tmp_path / "ridge" / "fold0" / "seed0" / "model.joblib").exists()
    assert evaluate(tmp_path / "ridge")["age_uncorrected"]["pearson_r"] > 0.9


def test_test_subjects_never_reach_the_fit(tissue_cache, tmp_path, monkeypatch):
    """Every fold's model is fitted without that fold's test subjects (and on nearly all the others)."""
    seen = []
    original = RidgeBrainAge.fit

    def recording_fit(self, table, x=None):
        seen.append(set(table.subject_id))
        return original(self, table, x)

    monkeypatch.setattr(RidgeBrainAge, "fit", recording_fit)
    train_cv(
        tissue_cache,
        tissue_cache / "splits",
        tmp_path / "ridge",
        TrainConfig(model=model_config("ridge")),
        RunOptions(),
    )
    folds = pd.read_csv(tissue_cache / "splits" / "folds.csv", dtype={"subject_id": str})
    everyone = set(folds.subject_id)
    tests = [set(part.subject_id) for _, part in folds.groupby("fold")]
    assert len(seen) == len(tests)
    for test in tests:
        own = [fit for fit in seen if fit.isdisjoint(test)]
        assert len(own) == 1 and len(own[0]) >= 0.9 * len(everyone - test)


def test_predictions_use_images_and_covariates_not_labels(tissue_cache):
    """A test subject's age and sex cannot change its prediction."""
    from brainage.preprocess.cache import read_cache_index

    index = read_cache_index(tissue_cache / "cache" / "2mm")
    config = TrainConfig(model=model_config("ridge"))
    train, test = index.iloc[:45], index.iloc[45:]
    model = RidgeBrainAge(config).fit(train)
    a, b = model.predict(test), model.predict(test.assign(age=0.0, sex="F"))
    np.testing.assert_allclose(a["predicted_age"], b["predicted_age"])

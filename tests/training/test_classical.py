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


def test_ridge_in_the_row_space_is_the_ridge_on_voxels():
    """Fitted on the rows' coordinates in their span, the ridge picks the same penalty and predicts
    the same held-out and new rows as scikit-learn's on every voxel, with fewer rows than voxels."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict

    from brainage.training.classical import ALPHAS, RowSpace

    rng = np.random.default_rng(1)
    loadings = rng.normal(size=(20, 6000))
    latent, new_latent = rng.normal(size=(120, 20)), rng.normal(size=(30, 20))
    x = (latent @ loadings * 0.3 + rng.random((120, 6000))).astype(np.float32)
    new = (new_latent @ loadings * 0.3 + rng.random((30, 6000))).astype(np.float32)
    age = latent[:, 0] * 10 + 40 + rng.normal(0, 2, 120)
    splits = list(KFold(5, shuffle=True, random_state=0).split(x))
    space = RowSpace().fit(x)
    direct, reduced = RidgeCV(alphas=ALPHAS).fit(x, age), RidgeCV(alphas=ALPHAS).fit(space.coordinates_, age)
    model = space.to_voxels(x, reduced)
    assert ALPHAS[0] < direct.alpha_ < ALPHAS[-1] and model.alpha_ == direct.alpha_  # a penalty inside the grid
    np.testing.assert_allclose(model.predict(new), direct.predict(new), atol=1e-3)
    np.testing.assert_allclose(
        cross_val_predict(RidgeCV(alphas=ALPHAS), space.coordinates_, age, cv=splits),
        cross_val_predict(RidgeCV(alphas=ALPHAS), x, age, cv=splits),
        atol=1e-3,
    )
    assert np.corrcoef(model.predict(new), new_latent[:, 0])[0, 1] > 0.8  # it learnt the signal

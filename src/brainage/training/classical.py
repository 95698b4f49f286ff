"""A classical model on the same inputs as the CNNs: ridge regression on voxels, then covariates.

The baseline every CNN result is reported beside (``brainage train --model ridge``), and half of
the stacked ensemble. Two stages, both fitted on the training folds only:

1. **Image scores**: ridge regressions of age and of sex (coded -1/+1) on the voxels of the
   model inputs (tissue maps by default, modulated, average-pooled by ``downsample``). The
   penalty is chosen by efficient leave-one-out cross-validation inside the training folds
   (``RidgeCV``), as brainageR-style models on tissue maps do with a linear kernel.
2. **Covariates**: a linear regression of age and a logistic regression of sex on the image
   scores plus the covariates (head size: native brain volume, the registration determinant),
   fitted on *held-out* image scores from an inner cross-validation, so stage 2 learns how much
   to trust scores it has not seen fitted.

The inner held-out predictions of every training subject (role ``inner``) are written beside
the test predictions; the age-bias correction is fitted on them.
"""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeCV
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from brainage.preprocess.cache import is_original
from brainage.training.config import TrainConfig
from brainage.training.dataset import SEX_TO_LABEL, load_inputs
from brainage.training.fold_fit import Fitter, FoldFit, FoldJob
from brainage.training.seeds import FoldSeeds
from brainage.training.splits import strata

#: Ridge penalties searched by leave-one-out inside the training folds.
ALPHAS = np.logspace(-1, 6, 22)
INNER_FOLDS = 5


def image_matrix(table: pd.DataFrame, config: TrainConfig) -> np.ndarray:
    """One row of flattened model inputs per subject (float32)."""
    m = config.model
    return np.stack(
        [load_inputs(row, m.inputs, m.modulate, config.downsample).ravel() for row in table.to_dict("records")]
    )


class RidgeBrainAge:
    """The two-stage model of this module, scikit-learn style: ``fit(table)``, ``predict(table)``.

    ``table`` rows are cache-index rows (image paths, covariates, age, sex).
    """

    def __init__(self, config: TrainConfig, seed: int = 0):
        self.config, self.seed = config, seed

    def _scores(self, x: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [self.age_image_.predict(x[:, self.voxels_]), self.sex_image_.predict(x[:, self.voxels_])]
        )

    def _stage2_inputs(self, scores: np.ndarray, table: pd.DataFrame) -> np.ndarray:
        covariates = list(self.config.model.covariates)
        return np.column_stack([scores, table[covariates].to_numpy(float)]) if covariates else scores

    def fit(self, table: pd.DataFrame, x: np.ndarray | None = None) -> "RidgeBrainAge":
        x = image_matrix(table, self.config) if x is None else x
        self.voxels_ = x.std(axis=0) > 0  # voxels that vary among training subjects
        x = x[:, self.voxels_]
        age = table.age.to_numpy(float)
        sex = table.sex.map(SEX_TO_LABEL).to_numpy(float) * 2 - 1
        ridge = RidgeCV(alphas=ALPHAS)
        splits = _inner_splits(table, self.seed)
        held_out = np.column_stack(
            [cross_val_predict(ridge, x, age, cv=splits), cross_val_predict(ridge, x, sex, cv=splits)]
        )
        self.age_image_, self.sex_image_ = RidgeCV(alphas=ALPHAS).fit(x, age), RidgeCV(alphas=ALPHAS).fit(x, sex)
        z = self._stage2_inputs(held_out, table)
        self.age_final_ = make_pipeline(StandardScaler(), LinearRegression()).fit(z, age)
        self.sex_final_ = make_pipeline(StandardScaler(), LogisticRegression()).fit(z, sex > 0)
        self.inner_predictions_ = self._final(z)
        return self

    def _final(self, z: np.ndarray) -> dict[str, np.ndarray]:
        return {"predicted_age": self.age_final_.predict(z), "p_male": self.sex_final_.predict_proba(z)[:, 1]}

    def predict(self, table: pd.DataFrame, x: np.ndarray | None = None) -> dict[str, np.ndarray]:
        x = image_matrix(table, self.config) if x is None else x
        return self._final(self._stage2_inputs(self._scores(x), table))


def _inner_splits(table: pd.DataFrame, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inner cross-validation folds over the rows of ``table``: drawn among its original scans,
    stratified by sex x age tertile (rare strata merged, as the outer folds are), each training
    rendition in its source subject's inner fold."""
    originals = table[is_original(table)].reset_index(drop=True)
    inner = StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=seed)
    splits = []
    for _, held_out in inner.split(originals, strata(originals, age_bins=3, n_folds=INNER_FOLDS)):
        out = table.source_subject.isin(originals.source_subject[held_out]).to_numpy()
        splits.append((np.flatnonzero(~out), np.flatnonzero(out)))
    return splits


class RidgeFitter(Fitter):
    """The two-stage ridge model (:class:`RidgeBrainAge`)."""

    kind = "classical"

    def fit(self, job: FoldJob) -> FoldFit:
        """Fit on the training folds; predict them held-out (role ``inner``) and the test subjects."""
        rest, test = job.rest, job.test
        model = RidgeBrainAge(job.config, FoldSeeds(job.fold, job.seed).inner_folds).fit(rest)
        joblib.dump(model, job.folder.model)
        columns = ["subject_id", "age", "sex", "site"]
        parts = [rest[columns].assign(role="inner", **model.inner_predictions_)[is_original(rest)]]
        if len(test):  # the final model has no test subjects
            parts.append(test[columns].assign(role="test", **model.predict(test)))
        found = {
            "alpha_age": float(model.age_image_.alpha_),
            "alpha_sex": float(model.sex_image_.alpha_),
            "n_voxels": int(model.voxels_.sum()),
        }
        return FoldFit(pd.concat(parts, ignore_index=True), found)

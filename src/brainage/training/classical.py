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

Every stage-1 fit runs in the span of the training rows (:class:`RowSpace`): a few hundred subjects
against a few hundred thousand voxels, so the same ridge on their coordinates there gives the same
penalty and the same predictions for a fraction of the arithmetic.
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
#: Voxel columns centred and multiplied at a time when the Gram matrix is built (float64 blocks of
#: a few tens of MB whatever the number of subjects).
GRAM_BLOCK = 16_384


class RowSpace:
    """Coordinates of the training rows in their own span: ``n`` numbers a row instead of ``p``.

    A ridge regression's coefficients lie in the span of its (centred) training rows, and its
    penalty is a length, which an orthonormal change of basis keeps. So a ridge fitted on the
    coordinates of the rows in that span, ``z = (x - mean) @ V``, makes the same leave-one-out
    choice of penalty and the same predictions as one fitted on ``x``, for any subset of the rows
    (an inner cross-validation's folds) and any targets: its coefficients map back by
    ``V @ coef``. Why hand-written: scikit-learn's ``RidgeCV`` builds the ``n x n`` Gram matrix of
    its ``x`` on every fit (twice a target and once more per inner fold here, 12 times a fold for
    the same rows); this builds it once, in float64.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.normal(size=(30, 500)).astype(np.float32), rng.normal(size=30)
        >>> space = RowSpace().fit(x)
        >>> space.coordinates_.shape
        (30, 29)
        >>> direct, reduced = RidgeCV(alphas=ALPHAS).fit(x, y), RidgeCV(alphas=ALPHAS).fit(space.coordinates_, y)
        >>> model = space.to_voxels(x, reduced)
        >>> bool(direct.alpha_ == model.alpha_), bool(np.allclose(direct.predict(x), model.predict(x), atol=1e-4))
        (True, True)
    """

    def fit(self, x: np.ndarray) -> "RowSpace":
        self.mean_ = x.mean(axis=0, dtype=np.float64)
        gram = np.zeros((len(x), len(x)))
        for _, block in self._centred_blocks(x):
            gram += block @ block.T
        values, vectors = np.linalg.eigh(gram)
        # the centred rows span at most n - 1 dimensions; directions with no length are not in the span
        keep = values > max(values.max(), 0.0) * len(values) * np.finfo(float).eps
        self.scale_, self.vectors_ = np.sqrt(values[keep]), vectors[:, keep]
        self.coordinates_ = self.vectors_ * self.scale_
        return self

    def _centred_blocks(self, x: np.ndarray):
        """``(columns, x[:, columns] - mean)`` in float64, :data:`GRAM_BLOCK` voxels at a time."""
        for start in range(0, x.shape[1], GRAM_BLOCK):
            columns = slice(start, start + GRAM_BLOCK)
            yield columns, x[:, columns] - self.mean_[columns]

    def to_voxels(self, x: np.ndarray, fitted) -> "VoxelRidge":
        """The ridge ``fitted`` on :attr:`coordinates_` as coefficients of the voxels of ``x`` (the
        rows this space was fitted on)."""
        weights = self.vectors_ @ (np.asarray(fitted.coef_, float) / self.scale_)
        coef = np.zeros(x.shape[1])
        for columns, block in self._centred_blocks(x):
            coef[columns] = block.T @ weights
        intercept = float(fitted.intercept_) - float(self.mean_ @ coef)
        return VoxelRidge(coef.astype(x.dtype), intercept, float(fitted.alpha_))


class VoxelRidge:
    """A fitted ridge on voxels: ``x @ coef_ + intercept_``, with the penalty ``alpha_`` it chose."""

    def __init__(self, coef: np.ndarray, intercept: float, alpha: float):
        self.coef_, self.intercept_, self.alpha_ = coef, intercept, alpha

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.coef_ + self.intercept_


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
        age, sex = image_targets(table)
        space = RowSpace().fit(x)
        coords = space.coordinates_
        ridge = RidgeCV(alphas=ALPHAS)
        splits = inner_splits(table, self.seed)
        held_out = np.column_stack(
            [cross_val_predict(ridge, coords, age, cv=splits), cross_val_predict(ridge, coords, sex, cv=splits)]
        )
        self.age_image_ = space.to_voxels(x, RidgeCV(alphas=ALPHAS).fit(coords, age))
        self.sex_image_ = space.to_voxels(x, RidgeCV(alphas=ALPHAS).fit(coords, sex))
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


def image_targets(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """What the first stage regresses: age in years, and sex coded -1 (F) / +1 (M)."""
    return table.age.to_numpy(float), table.sex.map(SEX_TO_LABEL).to_numpy(float) * 2 - 1


def inner_splits(table: pd.DataFrame, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
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

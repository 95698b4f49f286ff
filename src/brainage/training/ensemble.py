"""A CNN and the ridge model trained on the same fold, stacked on the CNN's validation subjects.

The CNN member is the spec's network (:mod:`brainage.training.cnn`); the classical member is
the registry's ``ridge`` on the same grid (:mod:`brainage.training.classical`). The stack
(:class:`~brainage.training.stack.Stacker`) is fitted on the CNN's validation subjects, which
the ridge predicts from its inner cross-validation: held-out training predictions of both, so
the fold's test subjects never touch it. Each member's own predictions are kept beside the
stack's (``predicted_age_cnn``, ``predicted_age_ridge``, ...), so one run reports all three.

Training a fold (:func:`fit`) stores the members' predictions; the stack is fitted from them
afterwards (:func:`combine`), so a change to the stacking never retrains a member.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from brainage.models.network import model_config
from brainage.training import classical, cnn
from brainage.training.config import TrainConfig
from brainage.training.fold_fit import OTHER_PROCESS, Fitter, FoldFit, FoldJob
from brainage.training.predictions import VALUES
from brainage.training.stack import Stacker

KEYS = ["subject_id", "age", "sex", "site"]
MEMBERS = ("cnn", "ridge")


def ridge_member_config(config: TrainConfig) -> TrainConfig:
    """The ridge member's config: the registry's ridge, on the tissue maps where the CNN reads them,
    else on the CNN's own inputs (a T1-only ensemble stays T1-only: a ridge on tissue maps would
    bring back the segmentation's dependence on the scanner that the T1-only CNN avoids).

    Example:
        >>> from brainage.models.network import model_config
        >>> ridge_member_config(TrainConfig(model=model_config("ensemble"))).model.inputs
        ('tissue',)
        >>> ridge_member_config(TrainConfig(model=model_config("ensemble", inputs=("t1",)))).model.inputs
        ('t1',)
    """
    inputs = None if "tissue" in config.model.inputs else tuple(config.model.inputs)
    return replace(config, model=model_config("ridge", inputs=inputs))


class EnsembleFitter(Fitter):
    """The CNN and the ridge on the same fold, stacked once every fold is trained."""

    kind = "ensemble"

    def fit(self, job: FoldJob) -> FoldFit | None:
        network = cnn.CNNFitter().fit(job)
        if network is OTHER_PROCESS:
            return OTHER_PROCESS
        ridge = classical.RidgeFitter().fit(job.with_config(ridge_member_config(job.config)))
        values = [c for c in VALUES if c in network.predictions]
        merged = network.predictions.merge(ridge.predictions[[*KEYS, *values]], on=KEYS, suffixes=("_cnn", "_ridge"))
        return FoldFit(merged, {**network.info, **{f"ridge_{k}": v for k, v in ridge.info.items()}})

    def combine(self, predictions: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
        return combine(predictions)


def fit_stack(preds: pd.DataFrame) -> Stacker:
    """The stack of one (fold, seed): fitted on its validation rows of the members' predictions."""
    stacker = Stacker(
        [f"predicted_age_{m}" for m in MEMBERS if f"predicted_age_{m}" in preds],
        [f"p_male_{m}" for m in MEMBERS if f"p_male_{m}" in preds],
    )
    return stacker.fit(preds[preds.role == "val"])


def combine(preds: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Fit each fold's (and seed's) stack on its validation rows; add ``predicted_age`` and
    ``p_male``; return them with the weights per fold."""
    out, weights = [], {}
    for (fold, seed), part in preds.groupby(["fold", "seed"]):
        stacker = fit_stack(part)
        out.append(part.assign(**stacker.predict(part)))
        weights[f"fold{fold}/seed{seed}"] = stacker.weights()
    return pd.concat(out, ignore_index=True), weights

"""A CNN and the ridge model trained on the same fold, stacked on the CNN's validation subjects.

The CNN member is the spec's network (:mod:`brainage.training.cnn`); the classical member is
the registry's ``ridge`` on the same grid (:mod:`brainage.training.classical`). The stack
(:class:`~brainage.training.stack.Stacker`) is fitted on the CNN's validation subjects, which
the ridge predicts from its inner cross-validation: held-out training predictions of both, so
the fold's test subjects never touch it. Each member's own predictions are kept beside the
stack's (``age_pred_cnn``, ``age_pred_ridge``, ...), so one run reports all three.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from brainage.layout import FoldDir
from brainage.models.network import model_config
from brainage.training import classical, cnn
from brainage.training.config import RunOptions, TrainConfig
from brainage.training.stack import Stacker

KEYS = ["subject_id", "age", "sex", "site"]
MEMBERS = ("cnn", "ridge")


def fit(rest: pd.DataFrame, test: pd.DataFrame, fold: int, seed: int, config: TrainConfig, options: RunOptions,
        folder: FoldDir, data_identity: dict) -> tuple[pd.DataFrame, dict]:
    cnn_preds, cnn_info = cnn.fit(rest, test, fold, seed, config, options, folder, data_identity)
    if cnn_preds.empty:  # non-zero DDP ranks
        return cnn_preds, {}
    ridge_config = replace(config, model=model_config("ridge"))
    ridge_preds, ridge_info = classical.fit(rest, test, fold, seed, ridge_config, options, folder, data_identity)
    values = [c for c in ("age_pred", "sex_prob_male") if c in cnn_preds]
    merged = cnn_preds.merge(ridge_preds[[*KEYS, *values]], on=KEYS, suffixes=("_cnn", "_ridge"))
    stacker = Stacker([f"age_pred_{m}" for m in MEMBERS] if "age_pred" in values else [],
                      [f"sex_prob_male_{m}" for m in MEMBERS] if "sex_prob_male" in values else [])
    stacker.fit(merged[merged.role == "val"])
    out = merged.assign(**stacker.predict(merged))
    return out, {**cnn_info, **{f"ridge_{k}": v for k, v in ridge_info.items()}, **stacker.weights()}

"""Training one (fold, seed): the job every kind of model is given (:class:`FoldJob`), what it
gives back (:class:`FoldFit`) and the protocol every kind implements (:class:`Fitter`).

Under DDP every process trains, and only rank 0 predicts and reports; the others return ``None``
(:data:`OTHER_PROCESS`), which the caller passes up instead of decoding an empty table.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # only for the annotations: the records below are plain data
    from brainage.layout import FoldDir
    from brainage.preprocess.grids import CacheInfo
    from brainage.training.config import RunOptions, TrainConfig


@dataclass(frozen=True)
class FoldJob:
    """One (fold, seed) to train: the training folds ``rest`` (with their renditions), the fold's
    ``test`` subjects (none for the final model), the model's ``config``, how to run
    (``options``), the fold's ``folder`` and the ``cache`` the volumes come from."""

    rest: pd.DataFrame
    test: pd.DataFrame
    fold: int
    seed: int
    config: "TrainConfig"
    options: "RunOptions"
    folder: "FoldDir"
    cache: "CacheInfo"

    def with_config(self, config: "TrainConfig") -> "FoldJob":
        """The same job for another model (an ensemble's member)."""
        return replace(self, config=config)


@dataclass
class FoldFit:
    """Predictions of one trained (fold, seed) and what the fitter found.

    ``predictions``: one row per subject with ``role`` ``val`` or ``inner`` (held-out training
    subjects: the age-bias correction and the ensemble's stack are fitted on them) or ``test``;
    ``info``: numbers worth keeping beside them (the chosen checkpoint, epochs run, ridge alphas),
    recorded in the fold's ``done.json``.

    Example:
        >>> fit = FoldFit(pd.DataFrame({"subject_id": ["a"], "role": ["test"]}), {"epochs_run": 3})
        >>> fit.predictions.role.tolist(), fit.info
        (['test'], {'epochs_run': 3})
    """

    predictions: pd.DataFrame
    info: dict = field(default_factory=dict)


#: What a fitter returns in a DDP process other than rank 0: it trained, and reports nothing.
OTHER_PROCESS = None


class Fitter:
    """A kind of model (the registry's ``kind``): trains a :class:`FoldJob` and, where its members'
    predictions are combined after every fold is trained (an ensemble's stack), combines them."""

    kind = ""

    def fit(self, job: FoldJob) -> FoldFit | None:
        """Train one (fold, seed); :data:`OTHER_PROCESS` in a DDP process other than rank 0."""
        raise NotImplementedError

    def combine(self, predictions: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
        """Every (fold, seed)'s predictions made final, and what was fitted to do it (nothing here)."""
        return predictions, {}

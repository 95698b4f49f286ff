"""The random seeds of one (fold, seed) of a run, derived in one place.

A run's ``--seeds`` are small numbers (0, 1, 2); each fold needs its own streams so that fold 3
of seed 0 does not draw what fold 0 of seed 3 draws. The arithmetic is kept exactly as the
shipped models were trained with it, so re-running a fold reproduces it.
"""

from __future__ import annotations

from dataclasses import dataclass

from brainage.layout import FINAL_FOLD

#: The number the final model (fold :data:`~brainage.layout.FINAL_FOLD`, trained on every
#: subject) takes in place of its fold number where a seed must not be negative; CV folds are
#: numbered from 0 and never reach it.
FINAL_MODEL_NUMBER = 100


@dataclass(frozen=True)
class FoldSeeds:
    """Seeds of the fold ``fold`` of run seed ``seed``.

    Example:
        >>> FoldSeeds(fold=2, seed=1).training, FoldSeeds(fold=2, seed=1).validation_split
        (2001, 3)
        >>> FoldSeeds(fold=FINAL_FOLD, seed=0).training  # the final model: never negative
        100000
    """

    fold: int
    seed: int

    @property
    def _number(self) -> int:
        return FINAL_MODEL_NUMBER if self.fold == FINAL_FOLD else self.fold

    @property
    def training(self) -> int:
        """Weights, augmentation and loader order of a network (Lightning's ``seed_everything``)."""
        return self.seed + 1000 * self._number

    @property
    def validation_split(self) -> int:
        """Which training subjects a network holds out for checkpoint selection."""
        return self.seed + self._number

    @property
    def inner_folds(self) -> int:
        """The classical model's inner cross-validation folds."""
        return self.seed + abs(self.fold)

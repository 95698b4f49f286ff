"""What defines a training result, and how a run is carried out: two configs, one fingerprint.

:class:`TrainConfig` is everything that changes the trained model (network, optimiser,
augmentation, epochs, ...). It is saved as ``train_config.yaml`` and, with the data and the
(fold, seed), fingerprints each fold: a fold is retrained only when one of these changes.

:class:`RunOptions` is how and what to run now (workers, devices, precision, logging, which
folds and seeds). Changing it never retrains a finished fold: ``--workers 1`` after
``--workers 2``, or ``--folds 0,1`` after ``--folds 0``, reuses fold 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from brainage.config import added_later
from brainage.models.network import ModelConfig, model_config
from brainage.models.registry import CHECKPOINTS, TRAIN_DEFAULTS, model_spec
from brainage.training.augment import AugmentConfig


@dataclass
class OptimConfig:
    """AdamW with a cosine schedule over ``max_epochs`` after a linear warm-up. ``lr``: ``None`` is
    the model's registered learning rate (set by :class:`TrainConfig`)."""

    lr: float | None = None
    weight_decay: float = 1e-3
    warmup_epochs: int = 1


@dataclass
class TrainConfig:
    """Everything a trained model depends on, besides its data, fold and seed.

    A setting left out (``None``) is the model's own, from its registry entry
    (:data:`~brainage.models.registry.MODELS`: its learning rate, its tuned ``train`` settings and
    augmentation, else :data:`~brainage.models.registry.TRAIN_DEFAULTS`): the registry is the one
    place a model's settings are declared, and ``TrainConfig(model=model_config(name))`` is what
    ``brainage train --model name`` trains.

    Example:
        >>> TrainConfig().model.name, TrainConfig().max_epochs, TrainConfig().optim.lr
        ('sfcn', 60, 0.005)
        >>> robust = TrainConfig(model=model_config("scanner_robust"))
        >>> robust.max_epochs, robust.renditions, robust.augment.log_gamma, robust.checkpoint
        (30, True, 0.35, 'last')
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    augment: AugmentConfig | None = None
    downsample: int | None = None  # average-pool the cached grid by this factor (CPU-scale runs)
    max_epochs: int | None = None
    patience: int | None = None
    batch_size: int | None = None
    val_fraction: float = 0.15
    #: Train also on the cache's training renditions (``brainage preprocess --renditions``), each
    #: in its source subject's fold: invariance to resolution, slices, gamma, noise and contrast.
    renditions: bool | None = field(default=None, metadata=added_later(False))
    #: Which checkpoint predicts (:data:`CHECKPOINTS`): ``best``, the epoch of lowest validation age
    #: MAE, or ``last``, the end of the schedule (the validation subjects then choose nothing, so their
    #: predictions are as held out as the test subjects' for the stack and the age-bias correction).
    checkpoint: str | None = field(default=None, metadata=added_later("best"))

    def __post_init__(self):
        spec = model_spec(self.model.name)
        for key, default in TRAIN_DEFAULTS.items():
            if getattr(self, key) is None:
                setattr(self, key, spec.train.get(key, default))
        if self.renditions is None:
            self.renditions = bool(spec.train.get("renditions", False))
        if self.checkpoint is None:
            self.checkpoint = spec.train.get("checkpoint", "best")
        if self.checkpoint not in CHECKPOINTS:
            raise ValueError(f"unknown checkpoint {self.checkpoint!r}; choose from {', '.join(CHECKPOINTS)}")
        if self.optim.lr is None:
            self.optim = replace(self.optim, lr=spec.lr)
        if self.augment is None:
            self.augment = AugmentConfig(**spec.train.get("augment", {}))


def train_config_for(name: str, base: TrainConfig | None = None) -> TrainConfig:
    """``base``'s settings that are not a model's own (validation share, weight decay, warm-up)
    with model ``name`` and every setting of its registry entry. Without ``base``, the same as
    ``TrainConfig(model=model_config(name))``.

    Example:
        >>> c = train_config_for("ensemble")
        >>> c.model.inputs, c.downsample, c.max_epochs
        (('t1', 'tissue'), 2, 30)
        >>> train_config_for("sfcn", TrainConfig(val_fraction=0.2)).val_fraction
        0.2
    """
    base = base or TrainConfig()
    return TrainConfig(
        model=model_config(name),
        optim=replace(base.optim, lr=None),
        val_fraction=base.val_fraction,
    )


@dataclass
class RunOptions:
    """How to run: never part of a fingerprint. ``precision`` ``auto`` = bf16-mixed on a GPU,
    32-bit on a CPU; ``strategy`` ``ddp`` for several GPUs or nodes."""

    folds: tuple = ()  # which folds to run now; empty = all; (FINAL_FOLD,) = only the final model
    final: bool = False  # after the folds, train on every subject (what ``brainage export`` ships)
    seeds: tuple = (0,)  # more than one: the seeds are trained alike and their predictions averaged per fold
    num_workers: int = 2
    start_method: str = "spawn"
    accelerator: str = "auto"
    devices: int = 1
    strategy: str = "auto"
    precision: str = "auto"
    channels_last: bool = False
    tensorboard: bool = False

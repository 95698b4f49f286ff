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

from brainage.config import ADDED_LATER
from brainage.models.network import ModelConfig, model_config
from brainage.models.registry import TRAIN_DEFAULTS, model_spec
from brainage.training.augment import AugmentConfig


@dataclass
class OptimConfig:
    """AdamW with a cosine schedule over ``max_epochs`` after a linear warm-up."""

    lr: float = 1e-3
    weight_decay: float = 1e-3
    warmup_epochs: int = 1


@dataclass
class TrainConfig:
    """Everything a trained model depends on, besides its data, fold and seed.

    Example:
        >>> TrainConfig().model.name, TrainConfig().max_epochs
        ('sfcn', 60)
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    downsample: int = TRAIN_DEFAULTS["downsample"]  # average-pool the cached grid by this factor (CPU-scale runs)
    max_epochs: int = TRAIN_DEFAULTS["max_epochs"]
    patience: int = TRAIN_DEFAULTS["patience"]
    batch_size: int = TRAIN_DEFAULTS["batch_size"]
    val_fraction: float = 0.15
    #: Train also on the cache's training renditions (``brainage preprocess --renditions``), each
    #: in its source subject's fold: invariance to resolution, slices, gamma, noise and contrast.
    renditions: bool = field(default=False, metadata=ADDED_LATER)


def train_config_for(name: str, base: TrainConfig | None = None) -> TrainConfig:
    """``base`` (default: ``TrainConfig()``) set up for model ``name`` from its registry entry: its
    network defaults, learning rate, tuned training settings and augmentation. The one place a
    model's defaults turn into a training config (``brainage train`` and the demo both use it).

    Example:
        >>> c = train_config_for("ensemble")
        >>> c.model.inputs, c.downsample, c.max_epochs
        (('t1', 'tissue'), 2, 30)
    """
    spec, base = model_spec(name), base or TrainConfig()
    settings = {k: v for k, v in spec.train.items() if k != "augment"}
    return replace(
        base,
        model=model_config(name),
        optim=replace(base.optim, lr=spec.lr),
        augment=replace(base.augment, **spec.train.get("augment", {})),
        **settings,
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

"""Training a trained network further on a new site's scans, and the site's recalibration.

The job ``brainage finetune`` (:mod:`brainage.predict.site`) runs on each CNN member of a bundle:
the same Lightning module and :func:`~brainage.training.cnn.make_trainer` as a training fold,
at a low learning rate, for a fixed number of epochs (a site's 20-50 scans leave none to spare
for early stopping). The cheaper adaptations, an offset or a line fitted on the site's own
controls, are :func:`site_calibration`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from torch import nn
from torch.utils.data import Dataset

from brainage.errors import InputError
from brainage.models.network import ModelConfig
from brainage.training.cnn import make_trainer, quiet_lightning
from brainage.training.config import RunOptions, TrainConfig


@dataclass
class FinetuneConfig:
    """How a bundle is adapted to a site; ``method`` is what ``site.brainage`` carries."""

    method: str = "offset"  # offset | linear | finetune
    holdout: float = 0.5  # fraction of labelled scans kept apart to score the adaptation
    epochs: int = 15
    lr: float = 1e-4
    batch_size: int = 4
    seed: int = 0


def site_calibration(age: np.ndarray, predicted: np.ndarray, method: str) -> dict:
    """Offset (and slope) of a site's predictions on its own controls.

    Example:
        >>> ages = np.array([30.0, 50.0, 70.0])
        >>> site_calibration(ages, ages + 4, "offset")["offset"]
        4.0
        >>> round(site_calibration(ages, 10 + 0.8 * ages, "linear")["slope"], 6)
        0.8
    """
    age, predicted = np.asarray(age, float), np.asarray(predicted, float)
    if method == "offset":
        return {"method": "offset", "offset": float(np.mean(predicted - age)), "slope": 1.0, "n": int(age.size)}
    if method == "linear":
        slope, offset = np.polyfit(age, predicted, 1)
        if slope < 0.3:  # a line through a handful of controls can be nearly flat; inverting it explodes
            raise InputError(None, f"site slope {slope:.2f} is too flat to invert; use the offset method")
        return {"method": "linear", "offset": float(offset), "slope": float(slope), "n": int(age.size)}
    raise InputError(None, f"unknown recalibration method {method!r} (offset or linear)")


def finetune_network(
    net: nn.Module,
    model_config: ModelConfig,
    hparams: dict,
    dataset: Dataset,
    train_config: TrainConfig,
    config: FinetuneConfig,
    voxel_mm: float,
    seed: int,
) -> nn.Module:
    """A copy of ``net`` trained further on ``dataset`` (the site's calibration scans).

    Parameters
    ----------
    net
        The trained network (left as it is).
    model_config
        Its architecture.
    hparams
        What it was trained with: ``age_mean``, ``age_std``, ``covariate_stats``.
    dataset
        The site's scans as the network reads them (with the training augmentation).
    train_config
        The run's training settings (its weight decay is kept).
    config
        Epochs, learning rate and batch size of the fine-tuning.
    voxel_mm
        Voxel size of the volumes the network reads.
    seed
        Seed of the shuffling, the augmentation and dropout.

    Returns
    -------
    torch.nn.Module
        The fine-tuned network, on the CPU, in evaluation mode.
    """
    import lightning as L

    from brainage.training.dataset import make_loader
    from brainage.training.module import BrainAgeModule

    L.seed_everything(seed, workers=True, verbose=False)
    module = BrainAgeModule(
        asdict(model_config),
        {"lr": config.lr, "weight_decay": train_config.optim.weight_decay, "warmup_epochs": 0},
        hparams["age_mean"],
        hparams["age_std"],
        config.epochs,
        voxel_mm=voxel_mm,
        covariate_stats=hparams["covariate_stats"],
    )
    module.net.load_state_dict(net.state_dict())
    loader = make_loader(
        dataset, config.batch_size, shuffle=True, seed=config.seed, drop_last=len(dataset) > config.batch_size
    )
    with quiet_lightning():
        trainer = make_trainer(config.epochs, RunOptions(), logger=False, devices=1, checkpointing=False)
        trainer.fit(module, loader)
    return module.net.cpu().eval()

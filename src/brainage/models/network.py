"""Backbone + heads, built from a typed config: the one place that knows every model."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from brainage.models.heads import RegressionAgeHead, SexHead, SoftLabelAgeHead
from brainage.models.registry import model_spec

#: Image inputs a model can take, and their channels: the intensity-normalised T1, and the CSF,
#: grey- and white-matter probabilities (optionally modulated: times the registration's
#: determinant, so they measure native tissue volume per template voxel).
INPUT_CHANNELS = {"t1": 1, "tissue": 3}


def n_channels(inputs: tuple) -> int:
    unknown = [name for name in inputs if name not in INPUT_CHANNELS]
    if unknown:
        raise ValueError(f"unknown model inputs {unknown}; choose from {sorted(INPUT_CHANNELS)}")
    return sum(INPUT_CHANNELS[name] for name in inputs)


#: ModelConfig fields whose default is the model's own (its :class:`~brainage.models.registry.ModelSpec`).
FROM_REGISTRY = ("width", "age_head", "dropout", "inputs", "modulate", "covariates")


@dataclass
class ModelConfig:
    """Which network and heads. ``name``: a key of :data:`brainage.models.registry.MODELS`.
    ``tasks``: ``("age",)``, ``("sex",)`` or both (multitask). ``age_head``: ``softlabel``
    (SFCN's KL over 1-year bins) or ``regression``. ``inputs``: image channels
    (:data:`INPUT_CHANNELS`); ``modulate``: tissue maps times the registration's determinant;
    ``covariates``: cache-index columns given to the heads beside the pooled image features
    (e.g. ``affine_det``, ``brain_volume_ml``: head size, which affine registration removes).

    Settings left out (``None``) are the named model's registered defaults (:data:`FROM_REGISTRY`),
    so the registry is the one place they are declared.

    Example:
        >>> ModelConfig(name="seresnet").age_head, ModelConfig(name="sfcn").age_head
        ('regression', 'softlabel')
        >>> ModelConfig(name="ensemble", width=0.25).inputs
        ('t1', 'tissue')
    """

    name: str = "sfcn"
    width: float | None = None
    tasks: tuple = ("age", "sex")
    age_head: str | None = None
    age_min: float = 10.0
    age_max: float = 95.0
    dropout: float | None = None
    sex_loss_weight: float = 1.0
    inputs: tuple | None = None
    modulate: bool | None = None
    covariates: tuple | None = None

    def __post_init__(self):
        spec = model_spec(self.name)
        for key in FROM_REGISTRY:
            if getattr(self, key) is None:
                setattr(self, key, getattr(spec, key))
        self.inputs, self.covariates, self.tasks = tuple(self.inputs), tuple(self.covariates), tuple(self.tasks)


def model_config(name: str, **overrides) -> ModelConfig:
    """A :class:`ModelConfig` with the registered defaults of ``name``, overridden by any keyword
    given (``None`` keeps the default).

    Parameters
    ----------
    name
        A model of the registry (:data:`MODELS`): ``sfcn``, ``seresnet``, ``resnet``, ``ridge``,
        ``ensemble``.
    **overrides
        Fields of :class:`ModelConfig` to set; ``None`` keeps the registered default.

    Returns
    -------
    ModelConfig
        The network's settings.

    Example:
        >>> model_config("seresnet", width=0.5).age_head
        'regression'
    """
    return ModelConfig(name=name, **overrides)


class BrainAgeNet(nn.Module):
    """A backbone with an age head and/or a sex head; ``forward`` returns a dict of raw outputs.

    Example:
        >>> net = BrainAgeNet(ModelConfig(name="sfcn", width=0.25), age_mean=50, age_std=15)
        >>> out = net(torch.zeros(2, 1, 40, 48, 40))
        >>> sorted(out)
        ['age', 'sex']
    """

    def __init__(self, config: ModelConfig, age_mean: float = 50.0, age_std: float = 15.0):
        super().__init__()
        self.backbone = model_spec(config.name).build_backbone(
            width=config.width, dropout=config.dropout, in_channels=n_channels(config.inputs)
        )
        self.heads = nn.ModuleDict()
        # Covariates (e.g. head size, which affine registration removes) join the pooled image features.
        feats = self.backbone.out_channels + len(config.covariates)
        if "age" in config.tasks:
            self.heads["age"] = (
                SoftLabelAgeHead(feats, config.age_min, config.age_max)
                if config.age_head == "softlabel"
                else RegressionAgeHead(feats, age_mean, age_std)
            )
        if "sex" in config.tasks:
            self.heads["sex"] = SexHead(feats)
        self.config = config

    def forward(self, x: torch.Tensor, covariates: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        features = self.backbone(x)
        if self.config.covariates:
            features = torch.cat([features, covariates.to(features.dtype)], dim=1)
        return {task: head(features) for task, head in self.heads.items()}

    def losses(
        self, outputs: dict[str, torch.Tensor], ages: torch.Tensor, sexes: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        out = {}
        if "age" in self.heads:
            out["age"] = self.heads["age"].loss(outputs["age"], ages)
        if "sex" in self.heads:
            out["sex"] = self.config.sex_loss_weight * self.heads["sex"].loss(outputs["sex"], sexes)
        return out

    def predict(self, outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {task: self.heads[task].predict(o) for task, o in outputs.items()}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

"""3D Grad-CAM (Selvaraju et al., ICCV 2017) for the age and sex heads, through MONAI's implementation.

MONAI's :class:`monai.visualize.GradCAM` handles 3D feature maps; what is ours is the adapter
that turns a brain-age network's dict of head outputs into the per-class scores a CAM explains:

* ``sex``: two scores, ``-logit`` (female) and ``+logit`` (male), so class 0 / 1 explain
  "female" / "male";
* ``age``: one score, the predicted age (a regression head's standardised output, or a
  soft-label head's expected age): the map shows what makes the network predict *older*.

Maps are ReLU'd Grad-CAM upsampled to the model input, then to the cache grid (the MNI 2 mm grid
before the model's pooling), and normalised to unit mass so maps of different subjects and
models average and compare as spatial distributions.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from brainage.models.network import BrainAgeNet
from brainage.training.dataset import BrainAgeDataset, make_loader

#: The deepest backbone layer whose maps keep at least this many voxels along every axis is the
#: default CAM layer: at 4 mm the last two stages of the SE-ResNet are 3 and 5 voxels wide, too coarse to localise.
MIN_CAM_SIZE = 8


class TaskScores(nn.Module):
    """``net(x, covariates)[task]`` as a (batch, classes) tensor of scores a CAM can explain."""

    def __init__(self, net: BrainAgeNet, task: str):
        super().__init__()
        if task not in net.heads:
            raise ValueError(f"the network has no {task} head (it has {', '.join(net.heads)})")
        self.net, self.task = net, task

    def forward(self, x: torch.Tensor, covariates: torch.Tensor | None = None) -> torch.Tensor:
        out = self.net(x, covariates)[self.task]
        if self.task == "sex":
            return torch.stack([-out, out], dim=1)
        if out.ndim == 2:  # soft-label head: logits over age bins -> expected age
            return self.net.heads["age"].predict(out)[:, None]
        return out[:, None]


def feature_layers(net: BrainAgeNet) -> list[str]:
    """Names (inside :class:`TaskScores`) of the backbone's feature-producing layers, shallow to deep."""
    backbone = net.backbone
    container = getattr(backbone, "stages", None) or getattr(backbone, "features", None)
    if container is None:
        raise ValueError(f"{type(backbone).__name__} exposes no stages/features to explain")
    prefix = "net.backbone." + ("stages" if hasattr(backbone, "stages") else "features")
    return [f"{prefix}.{name}" for name, _ in container.named_children()]


def default_layer(net: BrainAgeNet, input_shape: tuple) -> str:
    """The deepest of :func:`feature_layers` whose maps are at least :data:`MIN_CAM_SIZE` wide."""
    model, sizes = TaskScores(net, next(iter(net.heads))), {}
    hooks = [
        dict(model.named_modules())[name].register_forward_hook(
            lambda m, i, o, name=name: sizes.__setitem__(name, tuple(o.shape[2:]))
        )
        for name in feature_layers(net)
    ]
    try:
        with torch.no_grad():
            covariates = torch.zeros(1, len(net.config.covariates))
            model.eval()(torch.zeros(1, *input_shape), covariates)
    finally:
        for hook in hooks:
            hook.remove()
    fine = [name for name in feature_layers(net) if min(sizes.get(name, (0,))) >= MIN_CAM_SIZE]
    return fine[-1] if fine else feature_layers(net)[0]


def _unit_mass(maps: torch.Tensor) -> torch.Tensor:
    return maps / maps.flatten(1).sum(1).clamp_min(1e-12)[:, None, None, None]


def grad_cam(
    net: BrainAgeNet,
    dataset: BrainAgeDataset,
    task: str,
    class_index: int = 0,
    layer: str | None = None,
    upsample: int = 1,
    batch_size: int = 4,
) -> np.ndarray:
    """Grad-CAM of every item of ``dataset`` for ``task`` (``class_index`` 1 = male for sex), shape
    ``(N, X, Y, Z)`` on the input grid times ``upsample``, each map summing to one."""
    from monai.visualize import GradCAM

    net = net.eval()
    model = TaskScores(net, task)
    layer = layer or default_layer(net, tuple(dataset[0][0].shape))
    cam = GradCAM(nn_module=model, target_layers=layer, postprocessing=lambda x: x)
    maps = []
    for x, covariates, _, _ in make_loader(dataset, batch_size, shuffle=False):
        out = cam(x, class_idx=class_index, covariates=covariates)[:, 0].detach()
        if upsample > 1:
            out = nn.functional.interpolate(out[:, None], scale_factor=upsample, mode="trilinear", align_corners=False)[
                :, 0
            ]
        maps.append(_unit_mass(out.clamp_min(0)))
    return torch.cat(maps).numpy()


def randomised_copy(net: BrainAgeNet, seed: int = 0) -> BrainAgeNet:
    """The same architecture with freshly initialised weights (the model-randomisation test of
    Adebayo et al., NeurIPS 2018): a saliency method worth trusting gives different maps."""
    torch.manual_seed(seed)
    fresh = BrainAgeNet(net.config)
    for name in ("age", "sex"):
        if name in net.heads and hasattr(net.heads[name], "mean"):
            fresh.heads[name].mean, fresh.heads[name].std = net.heads[name].mean, net.heads[name].std
    return fresh.eval()


def rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation between matching maps of two ``(N, ...)`` stacks."""
    from scipy.stats import spearmanr

    return np.array([spearmanr(x.ravel(), y.ravel())[0] for x, y in zip(a, b)])

"""Batched augmentation on the training device, for when CPU workers cannot keep up.

At 1 mm (160x192x160) a torchio RandomAffine costs a few hundred ms per volume on one CPU core,
so CPU workers cap a GPU at tens of volumes/s. The same augmentation family (small random
affine, gamma, noise; no left-right flip) applied to the whole batch on the GPU with
``affine_grid``/``grid_sample`` costs milliseconds. torchio has no batched GPU transforms, hence
this small module; the CPU path keeps using torchio (:func:`build_augmentation`).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from brainage.models.network import n_channels
from brainage.training.augment import AugmentConfig


def _rotation_matrices(angles: torch.Tensor) -> torch.Tensor:
    """(B, 3) radians -> (B, 3, 3) rotation matrices R = Rz Ry Rx."""
    cx, cy, cz = torch.cos(angles).unbind(1)
    sx, sy, sz = torch.sin(angles).unbind(1)
    one, zero = torch.ones_like(cx), torch.zeros_like(cx)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], 1).view(-1, 3, 3)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], 1).view(-1, 3, 3)
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], 1).view(-1, 3, 3)
    return rz @ ry @ rx


def _channels(inputs: tuple, n: int) -> dict[str, slice]:
    """Where each input's channels lie in the batch (all of them ``"all"`` when inputs are unknown)."""
    if not inputs:
        return {"all": slice(0, n)}
    out, start = {}, 0
    for name in inputs:
        width = n_channels((name,))
        out[name] = slice(start, start + width)
        start += width
    return out


def augment_batch(
    x: torch.Tensor,
    config: AugmentConfig,
    voxel_mm: float = 2.0,
    generator: torch.Generator | None = None,
    inputs: tuple = (),
) -> torch.Tensor:
    """Randomly augment a batch ``(B, C, X, Y, Z)`` in [0, 1], on whatever device it lives.

    ``inputs``: the model's input names in channel order (``t1``, ``tissue``), needed for
    ``config.intensity_inputs`` and ``config.tissue_contrast``, as in the CPU path.

    Example:
        >>> config = AugmentConfig(intensity_inputs=("t1",), tissue_contrast=0.1)
        >>> out = augment_batch(torch.rand(2, 4, 16, 16, 16), config,
        ...                     inputs=("t1", "tissue"))
        >>> out.shape
        torch.Size([2, 4, 16, 16, 16])
    """
    b, device = x.shape[0], x.device

    def uniform(*shape, low=-1.0, high=1.0):
        return torch.rand(*shape, device=device, generator=generator) * (high - low) + low

    angles = uniform(b, 3) * math.radians(config.degrees)
    scales = 1 + uniform(b, 1) * config.scale
    # grid_sample works in normalised [-1, 1] coordinates: translation in mm -> fraction of the extent
    extent = torch.tensor(x.shape[2:][::-1], device=device, dtype=x.dtype) * voxel_mm / 2
    shift = uniform(b, 3) * config.translation_mm / extent
    theta = torch.cat([_rotation_matrices(angles) / scales[:, :, None], shift[:, :, None]], dim=2)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    where = _channels(inputs, x.shape[1])
    if config.tissue_contrast and {"t1", "tissue"} <= set(where):
        tissue = out[:, where["tissue"]]
        factors = 1 + uniform(b, tissue.shape[1], 1, 1, 1) * config.tissue_contrast
        out[:, where["t1"]] = (out[:, where["t1"]] * (1 + (tissue * (factors - 1)).sum(1, keepdim=True))).clamp(0, 1)
    names = [n for n in where if not config.intensity_inputs or n in config.intensity_inputs]
    for name in names:
        part = out[:, where[name]]
        gamma = torch.exp(uniform(b, 1, 1, 1, 1) * config.log_gamma)
        part = part.clamp_min(0) ** gamma
        noise = torch.randn(part.shape, device=device, generator=generator, dtype=part.dtype)
        out[:, where[name]] = part + noise * uniform(b, 1, 1, 1, 1, low=0.0, high=config.noise_std)
    return out

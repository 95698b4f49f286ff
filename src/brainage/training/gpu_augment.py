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


def augment_batch(x: torch.Tensor, config: AugmentConfig, voxel_mm: float = 2.0,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Randomly augment a batch ``(B, 1, X, Y, Z)`` in [0, 1], on whatever device it lives.

    Example:
        >>> out = augment_batch(torch.rand(2, 1, 16, 16, 16), AugmentConfig())
        >>> out.shape
        torch.Size([2, 1, 16, 16, 16])
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
    gamma = torch.exp(uniform(b, 1, 1, 1, 1) * config.log_gamma)
    out = out.clamp_min(0) ** gamma
    out = out + torch.randn(out.shape, device=device, generator=generator, dtype=out.dtype) * uniform(b, 1, 1, 1, 1, low=0.0, high=config.noise_std)
    return out

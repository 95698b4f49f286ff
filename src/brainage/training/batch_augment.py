"""Batched augmentation on the training device: the torchio pipeline's family, a whole batch at once.

:func:`~brainage.training.augment.build_augmentation` runs torchio per volume in DataLoader
workers. That costs: at 1 mm a torchio RandomAffine takes a few hundred ms a volume, so workers cap
a GPU at tens of volumes/s; at the CPU's 4 mm grid torchio's per-volume overhead (about 20 ms for
the five transforms) was three times the network's own step on 2 cores, and workers compete with
the network for the same cores. torchio has no batched transforms, hence this module: the same
transforms with the same ranges and probabilities (affine, tissue contrast, bias field, gamma,
blur, noise), each drawn per volume, applied to the batch with ``affine_grid``/``grid_sample`` and
separable convolutions on whatever device the batch lives on.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from brainage.models.network import n_channels
from brainage.training.augment import (
    BIAS_ORDER,
    P_AFFINE,
    P_BIAS,
    P_BLUR,
    P_GAMMA,
    P_NOISE,
    P_TISSUE_CONTRAST,
    AugmentConfig,
)


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


class _Draws:
    """Per-volume random draws from one generator on the batch's device."""

    def __init__(self, batch: int, device, generator: torch.Generator | None):
        self.batch, self.device, self.generator = batch, device, generator

    def uniform(self, *shape, low: float = -1.0, high: float = 1.0) -> torch.Tensor:
        return torch.rand(self.batch, *shape, device=self.device, generator=self.generator) * (high - low) + low

    def happens(self, p: float) -> torch.Tensor:
        """(B,) bool: which volumes get a transform of probability ``p``."""
        return torch.rand(self.batch, device=self.device, generator=self.generator) < p


def _where(mask: torch.Tensor, changed: torch.Tensor, unchanged: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, *([1] * (changed.ndim - 1))), changed, unchanged)


def _affine(x: torch.Tensor, config: AugmentConfig, voxel_mm: float, draw: _Draws) -> torch.Tensor:
    """torchio's RandomAffine: per-axis scale, rotation about the centre and translation in mm,
    linear interpolation, zeros outside. Built in millimetres and only then put in
    ``grid_sample``'s [-1, 1] coordinates, so a rotation stays rigid on a box that is not a cube."""
    half = torch.tensor(x.shape[2:][::-1], device=x.device, dtype=torch.float32) * voxel_mm / 2  # x, y, z = W, H, D
    scales = 1 + draw.uniform(3) * config.scale
    rotation = _rotation_matrices(draw.uniform(3) * math.radians(config.degrees))
    linear = rotation / scales[:, None, :]  # output mm -> input mm
    linear = linear * half[None, None, :] / half[None, :, None]  # D^-1 A D in normalised coordinates
    shift = draw.uniform(3) * config.translation_mm / half
    theta = torch.cat([linear, shift[:, :, None]], dim=2)
    identity = torch.eye(3, 4, device=x.device).expand_as(theta)
    theta = _where(draw.happens(P_AFFINE), theta, identity)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _bias_field(shape, draw: _Draws, amount: float, dtype) -> torch.Tensor:
    """(B, 1, X, Y, Z) multiplicative fields: exp of a polynomial of order :data:`BIAS_ORDER` in
    coordinates in [-1, 1] (voxel centres), every coefficient U(-amount, amount), as torchio's."""
    axes = [(torch.arange(n, device=draw.device, dtype=dtype) - (n - 1) / 2) / ((n - 1) / 2 or 1) for n in shape]
    x, y, z = torch.meshgrid(*axes, indexing="ij")
    terms = [
        x**i * y**j * z**k
        for i in range(BIAS_ORDER + 1)
        for j in range(BIAS_ORDER + 1 - i)
        for k in range(BIAS_ORDER + 1 - i - j)
    ]
    coefficients = draw.uniform(len(terms)) * amount
    return torch.exp(torch.einsum("bt,txyz->bxyz", coefficients.to(dtype), torch.stack(terms)))[:, None]


def _blur(part: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Each volume of ``part`` (B, C, X, Y, Z) blurred with its own Gaussian, ``sigmas`` (B, 3) in
    voxels per axis, as three 1-D convolutions (a volume is a group of the grouped convolution)."""
    b, c = part.shape[:2]
    radius = max(1, math.ceil(3 * float(sigmas.max())))
    offsets = torch.arange(-radius, radius + 1, device=part.device, dtype=part.dtype)
    out = part.reshape(1, b * c, *part.shape[2:])
    for axis in range(3):
        sigma = sigmas[:, axis].clamp_min(1e-3).to(part.dtype)
        kernel = torch.exp(-0.5 * (offsets[None] / sigma[:, None]) ** 2)
        kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (B*C, K)
        shape = [b * c, 1, 1, 1, 1]
        shape[2 + axis] = kernel.shape[1]
        padding = [0, 0, 0]
        padding[axis] = radius
        out = F.conv3d(out, kernel.view(shape), padding=tuple(padding), groups=b * c)
    return out.view_as(part)


def augment_batch(
    x: torch.Tensor,
    config: AugmentConfig,
    voxel_mm: float = 2.0,
    generator: torch.Generator | None = None,
    inputs: tuple = (),
) -> torch.Tensor:
    """Randomly augment a batch ``(B, C, X, Y, Z)`` in [0, 1], on whatever device it lives, as
    :func:`~brainage.training.augment.build_augmentation` would each volume.

    ``inputs``: the model's input names in channel order (``t1``, ``tissue``), needed for
    ``config.intensity_inputs`` and ``config.tissue_contrast``, as in the torchio path. ``voxel_mm``:
    the volumes' voxel size (translations are in mm, the blur in voxels).

    Example:
        >>> config = AugmentConfig(intensity_inputs=("t1",), tissue_contrast=0.1, blur_std_voxels=0.5)
        >>> out = augment_batch(torch.rand(2, 4, 16, 16, 16), config, inputs=("t1", "tissue"))
        >>> out.shape
        torch.Size([2, 4, 16, 16, 16])
    """
    draw = _Draws(x.shape[0], x.device, generator)
    out = _affine(x, config, voxel_mm, draw)
    where = _channels(inputs, x.shape[1])
    if config.tissue_contrast and {"t1", "tissue"} <= set(where):
        # brainage.data.corruptions.RandomTissueContrast, batched
        tissue = out[:, where["tissue"]]
        factors = 1 + draw.uniform(tissue.shape[1], 1, 1, 1) * config.tissue_contrast
        gain = 1 + (tissue * (factors - 1)).sum(1, keepdim=True)
        t1 = out[:, where["t1"]]
        out[:, where["t1"]] = _where(draw.happens(P_TISSUE_CONTRAST), (t1 * gain).clamp(0, 1), t1)
    names = [n for n in where if not config.intensity_inputs or n in config.intensity_inputs]
    for name in names:
        part = out[:, where[name]]
        if config.bias_coefficients:
            field = _bias_field(part.shape[2:], draw, config.bias_coefficients, part.dtype)
            part = _where(draw.happens(P_BIAS), part * field, part)
        gamma = torch.exp(draw.uniform(1, 1, 1, 1) * config.log_gamma)
        part = _where(draw.happens(P_GAMMA), part.sign() * part.abs() ** gamma, part)
        if config.blur_std_voxels:
            sigmas = draw.uniform(3, low=0.0, high=config.blur_std_voxels)
            part = _where(draw.happens(P_BLUR), _blur(part, sigmas), part)
        noise = torch.randn(part.shape, device=part.device, generator=generator, dtype=part.dtype)
        scale = draw.uniform(1, 1, 1, 1, low=0.0, high=config.noise_std)
        part = _where(draw.happens(P_NOISE), part + noise * scale, part)
        out[:, where[name]] = part
    return out

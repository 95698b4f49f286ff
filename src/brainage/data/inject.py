"""Known failures injected into good scans: the QC benchmark and the synthetic cohort use these.

Each function takes a head volume (RAS voxel order: axis 2 runs inferior -> superior) and its
affine, and returns a new ``(data, affine)``; inputs are never modified. They mimic the
failures people find when they eyeball a cohort; the acquisition effects among them (noise,
bias, ghost) come from :mod:`brainage.data.corruptions`. Every injector accepts ``rng`` and
``brain_mask`` keywords (used where it needs them), so callers can treat them alike.

Example:
    >>> import numpy as np
    >>> head = np.zeros((20, 24, 22), np.float32); head[5:15, 6:18, 4:18] = 100
    >>> data, affine = upside_down(head, np.eye(4))
    >>> bool((data[:, :, ::-1] == head).all())
    True
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import ndimage

from brainage.data import corruptions

Injector = Callable[..., tuple[np.ndarray, np.ndarray]]


def _head_extent(data: np.ndarray, axis: int) -> tuple[int, int]:
    profile = (data > np.percentile(data, 98) * 0.15).sum(axis=tuple(i for i in range(3) if i != axis))
    idx = np.nonzero(profile > 0.02 * profile.max())[0]
    return int(idx[0]), int(idx[-1])


def cut_fov(data, affine, fraction: float = 0.22, rng=None, brain_mask=None):
    """Field of view that cuts off the top of the head (the superior ``fraction`` of it)."""
    lo, hi = _head_extent(data, 2)
    keep = hi - int(round(fraction * (hi - lo)))
    return data[:, :, :keep].copy(), affine.copy()


def zero_filled_fov(data, affine, fraction: float = 0.22, fill: float | None = 0.0, rng=None, brain_mask=None):
    """The top of the head replaced by a constant *inside* the array (the array keeps its size),
    as scanners and converters write slabs outside the excited slab. ``fill=None`` uses the
    image's median air value instead of zero."""
    lo, hi = _head_extent(data, 2)
    keep = hi - int(round(fraction * (hi - lo)))
    out = data.copy()
    out[:, :, keep:] = np.median(data[:, :, -2:]) if fill is None else fill
    return out, affine.copy()


def ghosting(data, affine, strength: float = 0.35, rng=None, brain_mask=None):
    """Nyquist (N/2) ghost along the anterior-posterior phase-encoding axis, ``strength`` times
    the image's own amplitude."""
    return corruptions.apply(corruptions.NyquistGhost(strength, axis=1), data, affine), affine.copy()


def low_snr(data, affine, noise_fraction: float = 0.12, rng=None, brain_mask=None):
    """Heavy Rician noise: standard deviation ``noise_fraction`` of the bright-tissue intensity."""
    noise = corruptions.RicianNoise(noise_fraction * np.percentile(data, 99), rng)
    return corruptions.apply(noise, data, affine), affine.copy()


def upside_down(data, affine, rng=None, brain_mask=None):
    """Header orientation wrong: data flipped inferior<->superior while the affine stays."""
    return data[:, :, ::-1].copy(), affine.copy()


def left_right_swapped(data, affine, rng=None, brain_mask=None):
    """Header orientation wrong: data flipped left<->right while the affine stays."""
    return data[::-1].copy(), affine.copy()


def front_back_swapped(data, affine, rng=None, brain_mask=None):
    """Header orientation wrong: data flipped anterior<->posterior while the affine stays."""
    return data[:, ::-1].copy(), affine.copy()


def strong_bias(data, affine, factor: float = 2.2, rng=None, brain_mask=None):
    """Smooth multiplicative intensity non-uniformity along a random axis: intensity changes by
    ``factor`` from one end of the brain to the other (of the head when no ``brain_mask``)."""
    rng = np.random.default_rng(rng)
    axis = int(rng.integers(0, 3))
    if brain_mask is not None and brain_mask.any():
        region = brain_mask.astype(bool)
    else:
        lo, hi = _head_extent(data, axis)
        region = np.zeros(data.shape, bool)
        region[(slice(None),) * axis + (slice(lo, hi + 1),)] = True
    sign = 1.0 if rng.random() < 0.5 else -1.0
    # along the voxel axis itself: its own column of the affine, in world mm
    field = corruptions.LogLinearBiasField(factor, direction=sign * affine[:3, axis], region=region)
    return corruptions.apply(field, data, affine), affine.copy()


def stripped(data, affine, brain_mask: np.ndarray, rng=None):
    """A correctly skull-stripped image (the clean reference for the two failures below)."""
    return np.where(brain_mask, data, 0).astype(np.float32), affine.copy()


def stripped_with_neck(data, affine, brain_mask: np.ndarray, length_mm: float = 30.0, rng=None):
    """Already-stripped image with tissue left hanging below the brainstem (the seed's common failure).

    Keeps the brain plus the tissue in a column under the lowest part of the mask, ``length_mm``
    further down: what a stripper leaves when it does not cut the medulla.
    """
    zooms = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    zs = np.nonzero(brain_mask.any(axis=(0, 1)))[0]
    bottom = zs[0]
    seed = brain_mask[:, :, bottom : bottom + 3].any(axis=2)
    column = ndimage.binary_dilation(seed, iterations=max(1, int(round(8 / zooms[0]))))
    extra = np.zeros_like(brain_mask)
    depth = int(round(length_mm / zooms[2]))
    extra[:, :, max(0, bottom - depth) : bottom + 3] = column[:, :, None]
    tissue = data > 0.2 * np.percentile(data[brain_mask], 50)
    keep = brain_mask | (extra & tissue)
    return np.where(keep, data, 0).astype(np.float32), affine.copy()


def stripped_with_skull(data, affine, brain_mask: np.ndarray, margin_mm: float = 12.0, rng=None):
    """Already-"stripped" image whose mask was far too generous: skull and scalp left on."""
    zooms = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    grown = ndimage.binary_dilation(brain_mask, iterations=max(1, int(round(margin_mm / zooms.mean()))))
    return np.where(grown, data, 0).astype(np.float32), affine.copy()


#: Failures that apply to a raw head image.
HEAD_FAILURES: dict[str, Injector] = {
    "cut_fov": cut_fov,
    "zero_filled_fov": zero_filled_fov,
    "ghosting": ghosting,
    "low_snr": low_snr,
    "upside_down": upside_down,
    "left_right_swapped": left_right_swapped,
    "front_back_swapped": front_back_swapped,
    "strong_bias": strong_bias,
}
#: Failures of an already-skull-stripped image; these need the true brain mask.
STRIPPED_FAILURES: dict[str, Injector] = {
    "stripped_with_neck": stripped_with_neck,
    "stripped_with_skull": stripped_with_skull,
}

"""Known failures injected into good scans: the QC benchmark and the synthetic cohort use these.

Each function takes a head volume (RAS voxel order: axis 2 runs inferior -> superior) and its
affine, and returns a new ``(data, affine)``; inputs are never modified. They mimic the
failures people find when they eyeball a cohort.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import ndimage

Injector = Callable[..., tuple[np.ndarray, np.ndarray]]


def _head_extent(data: np.ndarray, axis: int) -> tuple[int, int]:
    profile = (data > np.percentile(data, 98) * 0.15).sum(axis=tuple(i for i in range(3) if i != axis))
    idx = np.nonzero(profile > 0.02 * profile.max())[0]
    return int(idx[0]), int(idx[-1])


def cut_fov(data, affine, fraction: float = 0.22, rng=None):
    """Field of view that cuts off the top of the head (the superior ``fraction`` of it)."""
    lo, hi = _head_extent(data, 2)
    keep = hi - int(round(fraction * (hi - lo)))
    return data[:, :, :keep].copy(), affine.copy()


def ghosting(data, affine, strength: float = 0.35, rng=None):
    """Nyquist (N/2) ghost along the anterior-posterior phase-encoding axis."""
    return data + strength * np.roll(data, data.shape[1] // 2, axis=1), affine.copy()


def low_snr(data, affine, noise_fraction: float = 0.12, rng=None):
    """Heavy Rician noise: standard deviation ``noise_fraction`` of the bright-tissue intensity."""
    rng = np.random.default_rng(rng)
    sd = noise_fraction * np.percentile(data, 99)
    real = data + rng.normal(0, sd, data.shape)
    imag = rng.normal(0, sd, data.shape)
    return np.sqrt(real ** 2 + imag ** 2).astype(np.float32), affine.copy()


def wrong_orientation(data, affine, rng=None):
    """Header orientation wrong: data flipped inferior<->superior while the affine stays."""
    return data[:, :, ::-1].copy(), affine.copy()


def strong_bias(data, affine, strength: float = 0.9, rng=None):
    """Strong smooth intensity non-uniformity: a multiplicative ramp over the whole volume."""
    rng = np.random.default_rng(rng)
    axis = int(rng.integers(0, 3))
    ramp = np.linspace(-strength / 2, strength / 2, data.shape[axis])
    field = np.exp(ramp.reshape([-1 if i == axis else 1 for i in range(3)]))
    return (data * field).astype(np.float32), affine.copy()


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
    seed = brain_mask[:, :, bottom: bottom + 3].any(axis=2)
    column = ndimage.binary_dilation(seed, iterations=max(1, int(round(8 / zooms[0]))))
    extra = np.zeros_like(brain_mask)
    depth = int(round(length_mm / zooms[2]))
    extra[:, :, max(0, bottom - depth): bottom + 3] = column[:, :, None]
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
    "cut_fov": cut_fov, "ghosting": ghosting, "low_snr": low_snr,
    "wrong_orientation": wrong_orientation, "strong_bias": strong_bias,
}
#: Failures of an already-skull-stripped image; these need the true brain mask.
STRIPPED_FAILURES: dict[str, Injector] = {
    "stripped_with_neck": stripped_with_neck, "stripped_with_skull": stripped_with_skull,
}

"""Acquisition effects, as torchio transforms: the one home of every corruption brainage makes.

The synthetic cohort (:mod:`~brainage.data.synth`), the QC benchmark's injected failures
(:mod:`~brainage.data.inject`), the invariance benchmark's and the training renditions
(:mod:`~brainage.data.variants`) and training augmentation (:mod:`~brainage.training.augment`)
all take their noise, bias fields, gamma and ghosts from here, applied to images with their real
affines (:func:`apply`). Where torchio has the effect it is used as it is: the synthetic
cohort's polynomial bias field is :class:`torchio.BiasField`, gamma is :class:`torchio.Gamma`,
augmentation draws torchio's ``Random*`` transforms. Written here only what torchio does not do:

* :class:`RicianNoise`: torchio's ``Noise`` adds Gaussian noise. An MR magnitude image has
  Rician noise (the magnitude of complex Gaussian noise), whose floor in the air is what QC's
  SNR and background checks read.
* :class:`LogLinearBiasField`: a field ``factor`` times brighter at one end of a *region* (the
  brain, the head) than at the other, along a direction in millimetres. torchio's polynomial
  field is scaled to the array's extent, so its strength on the brain would depend on the field
  of view.
* :class:`NyquistGhost`: the N/2 ghost as a shifted copy of known amplitude. torchio's
  ``Ghosting`` works in k-space, with an amplitude that depends on the image's spectrum; the QC
  benchmark sweeps a known amplitude.
* :class:`TissueContrast` / :class:`RandomTissueContrast`: another scanner's grey/white contrast
  through the tissue segmentation (no torchio transform reads a segmentation to change contrast).

Random draws come from a numpy ``Generator`` the caller passes (``rng``), so a rendition of a
given seed is the same image in every release (rendered scans are kept by their seed).

Example:
    >>> import numpy as np
    >>> head = np.full((10, 10, 10), 100.0, np.float32)
    >>> noisy = apply(RicianNoise(std=5.0, rng=0), head, np.eye(4))
    >>> noisy.shape, bool(noisy.min() >= 0)
    ((10, 10, 10), True)
    >>> bright = apply(LogLinearBiasField(2.0, direction=(0, 0, 1)), head, np.eye(4))
    >>> round(float(bright[0, 0, -1] / bright[0, 0, 0]), 3)
    2.0
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torchio as tio

#: Tissue label values of the segmentations the tissue-aware corruptions read.
CSF, GM, WM = 1, 2, 3


def apply(transform: tio.Transform, data: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """``transform`` applied to one 3D volume with its affine; float32 out, the input untouched.

    Parameters
    ----------
    transform
        A torchio transform (of this module or torchio's own).
    data
        The volume, ``(X, Y, Z)``.
    affine
        Its voxel-to-world (mm) affine.

    Returns
    -------
    numpy.ndarray
        The transformed volume, float32.

    Example:
        >>> apply(tio.Gamma(2.0), np.full((2, 2, 2), 3.0), np.eye(4))[0, 0, 0]
        np.float32(9.0)
    """
    # the transform works on torchio's own copy of the image (copy=True), so the caller's array is never touched;
    # torch takes no negative strides (a flipped view, as a reoriented image's data often is): those are laid out once
    image = tio.ScalarImage(tensor=torch.as_tensor(np.ascontiguousarray(data, np.float32))[None], affine=affine)
    return transform(image).data[0].numpy()


def voxel_positions(affine: np.ndarray, shape: Sequence[int], direction: Sequence[float]) -> np.ndarray:
    """World position (mm) of every voxel's centre along ``direction``, shape ``shape``.

    Example:
        >>> voxel_positions(np.diag([2.0, 2, 2, 1]), (3, 1, 1), (1, 0, 0)).ravel().tolist()
        [0.0, 2.0, 4.0]
    """
    direction = np.asarray(direction, float)
    along = affine[:3, :3].T @ direction  # mm per voxel step of each axis, along the direction
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij", sparse=True)
    return sum(g * a for g, a in zip(grids, along)) + float(affine[:3, 3] @ direction)


class RicianNoise(tio.IntensityTransform):
    """Rician noise of standard deviation ``std``: the magnitude of the image plus complex
    Gaussian noise (real part drawn first, then imaginary).

    Parameters
    ----------
    std
        Standard deviation of each of the two Gaussian components, in image units.
    rng
        A numpy ``Generator`` or a seed.
    """

    def __init__(self, std: float, rng: np.random.Generator | int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.std = float(std)
        self.rng = np.random.default_rng(rng)

    def apply_transform(self, subject: tio.Subject) -> tio.Subject:
        for image in self.get_images(subject):
            data = image.data.numpy()
            real = data + self.rng.normal(0, self.std, data.shape)
            imag = self.rng.normal(0, self.std, data.shape)
            image.set_data(torch.as_tensor(np.sqrt(real**2 + imag**2).astype(np.float32)))
        return subject


class LogLinearBiasField(tio.IntensityTransform):
    """A smooth multiplicative field, ``factor`` times brighter at one end of ``region`` than at
    the other along ``direction`` (world mm), log-linear in between (receive-coil falloff).

    Parameters
    ----------
    factor
        Brightness ratio from the region's low end to its high end along ``direction``.
    direction
        World direction the field grows along (any length; its sign says which end brightens).
    region
        Voxels whose extent along ``direction`` the field spans (the brain, the head); ``None``:
        the whole array.
    tail_percent
        The extent runs from this percentile of the region's positions to its complement (0: from
        the lowest voxel to the highest).
    clip
        Hold the field constant beyond the extent (otherwise it keeps growing outside it).
    """

    def __init__(
        self,
        factor: float,
        direction: Sequence[float],
        region: np.ndarray | None = None,
        tail_percent: float = 0.0,
        clip: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        direction = np.asarray(direction, float)
        self.factor = float(factor)
        self.direction = direction / np.linalg.norm(direction)
        self.region, self.tail_percent, self.clip = region, float(tail_percent), clip

    def field(self, affine: np.ndarray, shape: Sequence[int]) -> np.ndarray:
        """The multiplicative field on a grid of ``shape`` placed by ``affine``."""
        t = voxel_positions(affine, shape, self.direction)
        lo, hi = np.percentile(
            t if self.region is None else t[self.region], [self.tail_percent, 100 - self.tail_percent]
        )
        position = (t - (lo + hi) / 2) / max(hi - lo, 1e-6)
        if self.clip:
            position = np.clip(position, -0.5, 0.5)
        return np.exp(np.log(self.factor) * position)

    def apply_transform(self, subject: tio.Subject) -> tio.Subject:
        for image in self.get_images(subject):
            data = image.data.numpy()
            out = data * self.field(image.affine, data.shape[1:])[None]
            image.set_data(torch.as_tensor(out.astype(np.float32)))
        return subject


class NyquistGhost(tio.IntensityTransform):
    """Nyquist (N/2) ghost: the image plus ``strength`` times itself shifted by half the field of
    view along voxel ``axis`` (the phase-encoding axis).

    Example:
        >>> line = np.zeros((1, 4, 1), np.float32); line[0, 0, 0] = 1
        >>> apply(NyquistGhost(0.5, axis=1), line, np.eye(4)).ravel().tolist()
        [1.0, 0.0, 0.5, 0.0]
    """

    def __init__(self, strength: float, axis: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.strength, self.axis = float(strength), int(axis)

    def apply_transform(self, subject: tio.Subject) -> tio.Subject:
        for image in self.get_images(subject):
            data = image.data
            shifted = torch.roll(data, data.shape[1 + self.axis] // 2, dims=1 + self.axis)
            image.set_data(data + self.strength * shifted)
        return subject


def polynomial_bias_field(strength: float, rng: np.random.Generator) -> tio.BiasField:
    """torchio's order-2 polynomial bias field with random coefficients of standard deviation
    ``strength / 2`` (no constant term), as the synthetic cohort draws it.

    The nine coefficients are drawn in the order x, y, z, xx, xy, xz, yy, yz, zz (the order the
    synthetic cohort has always drawn them in), then placed where torchio expects each term.
    """
    drawn = dict(zip(("x", "y", "z", "xx", "xy", "xz", "yy", "yz", "zz"), rng.normal(0, strength / 2, 9)))
    # torchio's term order: x, y and z exponents nested, the constant first
    terms = [(i, j, k) for i in range(3) for j in range(3 - i) for k in range(3 - i - j)]
    name = {(i, j, k): "x" * i + "y" * j + "z" * k for i, j, k in terms}
    return tio.BiasField(coefficients=[float(drawn.get(name[t], 0.0)) for t in terms], order=2)


class TissueContrast(tio.IntensityTransform):
    """Grey/white contrast changed through a tissue segmentation, as between MPRAGE and SPGR or
    1.5 T and 3 T: a monotone intensity map moves grey matter's level ``shift`` of the way to
    white matter's, keeping zero, CSF, white matter and the bright end where they were.

    Parameters
    ----------
    shift
        Fraction of the grey-to-white gap grey matter moves by.
    labels
        Label image on the same grid: 1 CSF, 2 grey, 3 white matter.
    """

    def __init__(self, shift: float, labels: np.ndarray, **kwargs):
        super().__init__(**kwargs)
        self.shift, self.labels = float(shift), labels

    def apply_transform(self, subject: tio.Subject) -> tio.Subject:
        for image in self.get_images(subject):
            data = np.clip(image.data[0].numpy(), 0, None)
            csf, gm, wm = (float(np.median(data[self.labels == k])) for k in (CSF, GM, WM))
            knots = np.array([0.0, csf, gm, wm, max(float(data.max()), wm + 1)])
            if np.all(np.diff(knots) > 0):  # otherwise a contrast this map cannot describe: left be
                moved = knots.copy()
                moved[2] = gm + self.shift * (wm - gm)
                data = np.interp(data, knots, moved)
            image.set_data(torch.as_tensor(data.astype(np.float32))[None])
        return subject


class RandomTissueContrast(tio.Transform):
    """Domain randomisation through the tissue maps (in the spirit of SynthSeg/SynthBA): the T1
    intensity of each tissue (CSF, grey, white matter) times ``1 + U(-amount, amount)``, weighted
    by the voxel's tissue fractions, so every epoch shows the same anatomy under another contrast.

    Needs the subject's ``t1`` and ``tissue`` images (tissue fractions, 3 channels, in [0, 1]
    like the T1); a subject without tissue maps is returned unchanged. The tissue maps themselves
    are left alone: they carry no contrast.

    Example:
        >>> subject = tio.Subject(t1=tio.ScalarImage(tensor=torch.full((1, 4, 4, 4), 0.5)),
        ...                       tissue=tio.ScalarImage(tensor=torch.stack(
        ...                           [torch.zeros(4, 4, 4), torch.ones(4, 4, 4), torch.zeros(4, 4, 4)])))
        >>> out = RandomTissueContrast(0.2)(subject)
        >>> bool(((out["t1"].data - 0.5).abs() <= 0.1 + 1e-6).all())
        True
        >>> bool((out["tissue"].data == subject["tissue"].data).all())
        True
    """

    def __init__(self, amount: float = 0.15, **kwargs):
        super().__init__(**kwargs)
        self.amount = amount

    def apply_transform(self, subject: tio.Subject) -> tio.Subject:
        if "tissue" not in subject or "t1" not in subject:
            return subject
        t1, tissue = subject["t1"], subject["tissue"].data.float()
        factors = 1 + (torch.rand(tissue.shape[0]) * 2 - 1) * self.amount
        gain = 1 + (tissue * (factors - 1).view(-1, 1, 1, 1)).sum(0, keepdim=True)
        t1.set_data((t1.data.float() * gain).clamp(0, 1))
        return subject

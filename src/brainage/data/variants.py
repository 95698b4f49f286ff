"""The same brain stored or acquired another way: the renditions of the invariance benchmark.

A model that predicts brain age should give one brain one age, whatever scanner, protocol or
converter produced the file. Each :class:`Variant` re-renders a head image as one such change,
in the image's own voxel grid and header, and says which of three families it belongs to:

* ``storage``: the same information stored differently (header axis order, intensity scale,
  data type, a finer voxel grid). A model should not move at all.
* ``acquisition``: what another scanner or protocol changes (thick slices, lower resolution,
  gamma, bias field, noise, grey/white contrast). A model should move little.
* ``input``: another kind of input for the same brain (already skull-stripped, defaced).

``tissue`` is a label image in the head's voxel grid: 0 outside the brain, 1 CSF, 2 grey and
3 white matter (the benchmark derives it from the IXI-HH parcellations). Only the variants that
need it read it.

Example:
    >>> import nibabel as nib, numpy as np
    >>> head = nib.Nifti1Image(np.full((8, 8, 8), 100, np.float32), np.diag([2.0, 2, 2, 1]))
    >>> tissue = np.zeros((8, 8, 8), np.uint8); tissue[2:6, 2:6, 2:6] = 3
    >>> out = VARIANTS["restored_1mm"](head, tissue, np.random.default_rng(0))
    >>> out.shape, [float(z) for z in out.header.get_zooms()]
    ((16, 16, 16), [1.0, 1.0, 1.0])
    >>> float(np.asarray(VARIANTS["intensity_scale"](head, tissue, None).dataobj).max())
    830.0
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import torchio as tio
from nibabel.processing import resample_from_to, smooth_image
from scipy import ndimage

from brainage.data import corruptions
from brainage.data.corruptions import CSF, GM, WM  # the labels of the ``tissue`` image every variant receives

__all__ = ["CSF", "GM", "NEW_SITES", "VARIANTS", "WM", "Composite", "Variant"]


def _image(data: np.ndarray, affine: np.ndarray, dtype=np.float32) -> nib.Nifti1Image:
    img = nib.Nifti1Image(np.asarray(data).astype(dtype), affine)
    img.header.set_xyzt_units("mm", "sec")
    return img


def _data(img: nib.Nifti1Image) -> np.ndarray:
    return img.get_fdata(dtype=np.float32)


def _zooms(img: nib.Nifti1Image) -> np.ndarray:
    return np.sqrt((img.affine[:3, :3] ** 2).sum(axis=0))


def _regrid(img: nib.Nifti1Image, factors) -> nib.Nifti1Image:
    """Linear resampling onto voxels ``factors`` times the current ones, covering the same field
    of view (voxel centres placed as a scanner would for a coarser or finer acquisition)."""
    factors = np.asarray(factors, float)
    shape = np.maximum(np.round(np.array(img.shape[:3]) / factors).astype(int), 1)
    scale = np.eye(4)
    scale[:3, :3] = np.diag(factors)
    scale[:3, 3] = (factors - 1) / 2
    return resample_from_to(img, (tuple(shape), img.affine @ scale), order=1, mode="constant", cval=0.0)


def _at_1mm(img: nib.Nifti1Image) -> nib.Nifti1Image:
    return _regrid(img, 1.0 / _zooms(img))


def _world(img: nib.Nifti1Image) -> np.ndarray:
    """World (mm) coordinates of every voxel, shape ``(*img.shape, 3)``."""
    ijk = np.indices(img.shape[:3]).reshape(3, -1).T
    return nib.affines.apply_affine(img.affine, ijk).reshape(*img.shape[:3], 3)


def _anatomical_axis(img: nib.Nifti1Image, direction: str) -> int:
    """The stored voxel axis that runs along ``direction`` (``R``, ``A`` or ``S``)."""
    codes = nib.aff2axcodes(img.affine, labels=(("L", "R"), ("P", "A"), ("I", "S")))
    return next(i for i, c in enumerate(codes) if c in {"R": "LR", "A": "PA", "S": "IS"}[direction])


def _wm_level(data: np.ndarray, tissue: np.ndarray) -> float:
    return float(np.median(data[tissue == WM]))


class Variant:
    """One way of rendering the same brain. Subclasses set ``name``, ``family`` and ``describe``
    and implement :meth:`render`; calling the variant returns a new image, never touching the input."""

    name = ""
    family = ""
    describe = ""

    def render(self, img: nib.Nifti1Image, tissue: np.ndarray, rng: np.random.Generator) -> nib.Nifti1Image:
        raise NotImplementedError

    def __call__(
        self, img: nib.Nifti1Image, tissue: np.ndarray, rng: np.random.Generator | None = None
    ) -> nib.Nifti1Image:
        return self.render(img, tissue, np.random.default_rng(rng))


class HeaderAxes(Variant):
    """Voxel axes stored in another order, two of them flipped; the header says so (no information lost)."""

    name, family, describe = "header_axes", "storage", "other axis order and flips in the header"

    def render(self, img, tissue, rng):
        codes = nib.aff2axcodes(img.affine)
        target = ("I", "L", "A") if codes != ("I", "L", "A") else ("R", "S", "P")
        transform = nib.orientations.ornt_transform(
            nib.orientations.axcodes2ornt(codes), nib.orientations.axcodes2ornt(target)
        )
        out = img.as_reoriented(transform)
        return _image(_data(out), out.affine)


class IntensityScale(Variant):
    """Intensities scaled and offset (another scanner's or converter's units), stored as float."""

    name, family, describe = "intensity_scale", "storage", "intensities x 7.3 + 100, float32"
    scale, offset = 7.3, 100.0

    def render(self, img, tissue, rng):
        return _image(_data(img) * self.scale + self.offset, img.affine)


class Float32(Variant):
    """The same values stored as float32."""

    name, family, describe = "float32", "storage", "stored as float32"

    def render(self, img, tissue, rng):
        return _image(_data(img), img.affine)


class Int16(Variant):
    """Stored as int16 spanning most of its range, without a scale factor (another quantisation)."""

    name, family, describe = "int16", "storage", "stored as int16 (0-30000)"

    def render(self, img, tissue, rng):
        data = _data(img)
        return _image(np.round(data * (30000 / max(float(data.max()), 1e-6))), img.affine, np.int16)


class BackgroundOffset(Variant):
    """Every intensity offset by a constant, so the air is bright (``offset > 0``) or stored
    below zero (``offset < 0``), as some converters and scanners store it."""

    family = "storage"

    def __init__(self, offset: float):
        self.offset = offset
        self.name = f"background_{'bright' if offset > 0 else 'dark'}"
        self.describe = f"intensities {offset:+g} (air at {offset:g}), float32"

    def render(self, img, tissue, rng):
        return _image(_data(img) + self.offset, img.affine)


class WiderFieldOfView(Variant):
    """The same voxels inside ``margin_mm`` more air on every side: another scanner's field of view."""

    name, family, describe = "wider_fov", "storage", "field of view 24 mm wider on every side (air)"

    def __init__(self, margin_mm: float = 24.0):
        self.margin_mm = margin_mm

    def render(self, img, tissue, rng):
        pad = np.maximum(np.round(self.margin_mm / _zooms(img)).astype(int), 1)
        data = np.pad(_data(img), [(p, p) for p in pad])
        shift = np.eye(4)
        shift[:3, 3] = -pad
        return _image(data, img.affine @ shift)


class Restored1mm(Variant):
    """Re-stored on a 1 mm grid by trilinear interpolation: the same information, eight times the voxels."""

    name, family, describe = "restored_1mm", "storage", "re-stored at 1 mm isotropic (trilinear)"

    def render(self, img, tissue, rng):
        out = _at_1mm(img)
        return _image(_data(out), out.affine)


class ThickSlices(Variant):
    """1 x 1 x ``thickness`` mm: fine in-plane, each slice integrating ``thickness`` mm along one
    anatomical ``direction`` (a 2D acquisition). Built from a 1 mm rendition by averaging slabs."""

    family = "acquisition"

    def __init__(self, direction: str, thickness_mm: float = 4.0):
        self.direction, self.thickness_mm = direction, thickness_mm
        axis = {"R": "left-right", "A": "front-back", "S": "top-bottom"}[direction]
        self.name = f"thick_slices_{axis}"
        self.describe = f"1 x 1 x {thickness_mm:g} mm slices along {axis}"

    def render(self, img, tissue, rng):
        fine = _at_1mm(img)
        axis = _anatomical_axis(fine, self.direction)
        n = int(round(self.thickness_mm))
        data = _data(fine)
        keep = data.shape[axis] // n * n
        data = np.take(data, np.arange(keep), axis=axis)
        shape = list(data.shape)
        shape[axis : axis + 1] = [keep // n, n]
        slabs = data.reshape(shape).mean(axis=axis + 1)
        scale = np.eye(4)
        scale[axis, axis] = n
        scale[axis, 3] = (n - 1) / 2
        return _image(slabs, fine.affine @ scale)


class LowResolution(Variant):
    """A lower-resolution acquisition (as on many 1.5 T protocols): point spread widened and voxels
    of ``voxel_mm`` isotropic."""

    name, family = "low_resolution", "acquisition"

    def __init__(self, voxel_mm: float = 3.0):
        self.voxel_mm = voxel_mm
        self.describe = f"blurred and stored at {voxel_mm:g} mm isotropic"

    def render(self, img, tissue, rng):
        zooms = _zooms(img)
        blurred = smooth_image(img, np.sqrt(np.clip(self.voxel_mm**2 - zooms**2, 0, None)))
        out = _regrid(blurred, self.voxel_mm / zooms)
        return _image(np.clip(_data(out), 0, None), out.affine)


class Gamma(Variant):
    """Intensities raised to ``gamma`` (relative to the head's bright end), as another sequence's
    or reconstruction's intensity response would."""

    family = "acquisition"

    def __init__(self, gamma: float):
        self.gamma = gamma
        self.name, self.describe = f"gamma_{gamma:g}", f"gamma {gamma:g}"

    def render(self, img, tissue, rng):
        data = np.clip(_data(img), 0, None)
        top = float(np.percentile(data, 99.5)) or 1.0
        return _image(top * corruptions.apply(tio.Gamma(self.gamma), data / top, img.affine), img.affine)


class BiasField(Variant):
    """A smooth multiplicative field, ``factor`` times brighter at one end of the head than the
    other, along a random oblique direction (receive-coil inhomogeneity)."""

    family = "acquisition"

    def __init__(self, factor: float = 1.5):
        self.factor = factor
        self.name, self.describe = f"bias_{factor:g}x", f"smooth bias field, {factor:g}x across the head"

    def render(self, img, tissue, rng):
        data = _data(img)
        head = data > 0.1 * np.percentile(data, 99)
        field = corruptions.LogLinearBiasField(
            self.factor, direction=rng.normal(size=3), region=head, tail_percent=0.5, clip=True
        )
        return _image(corruptions.apply(field, data, img.affine), img.affine)


class RicianNoise(Variant):
    """Rician noise (magnitude of complex Gaussian noise) of ``percent`` of white matter's intensity."""

    family = "acquisition"

    def __init__(self, percent: float):
        self.percent = percent
        self.name, self.describe = f"noise_{percent:g}pct", f"Rician noise, {percent:g}% of white matter"

    def render(self, img, tissue, rng):
        data = _data(img)
        noise = corruptions.RicianNoise(self.percent / 100 * _wm_level(data, tissue), rng)
        return _image(corruptions.apply(noise, data, img.affine), img.affine)


class TissueContrast(Variant):
    """Grey/white contrast changed through the segmentation, as between MPRAGE and SPGR or 1.5 T
    and 3 T: a monotone intensity map moves grey matter's level ``shift`` of the way to white
    matter's, keeping CSF, white matter and the bright end where they were."""

    name, family = "tissue_contrast", "acquisition"

    def __init__(self, shift: float = 0.35):
        self.shift = shift
        self.describe = f"grey matter moved {shift:.0%} of the way to white matter"

    def render(self, img, tissue, rng):
        contrast = corruptions.TissueContrast(self.shift, labels=tissue)
        return _image(corruptions.apply(contrast, _data(img), img.affine), img.affine)


class SkullStripped(Variant):
    """Already skull-stripped: everything outside the brain set to zero."""

    name, family, describe = "skull_stripped", "input", "already skull-stripped (reference brain mask)"

    def render(self, img, tissue, rng):
        return _image(np.where(tissue > 0, _data(img), 0), img.affine)


class Defaced(Variant):
    """Face and ears zeroed, as de-identification tools do: the head in front of and below the
    brain's front, and beside and below its sides, at least ``margin_mm`` from the brain."""

    name, family, describe = "defaced", "input", "defaced (face and ears zeroed)"

    def __init__(self, margin_mm: float = 8.0):
        self.margin_mm = margin_mm

    def render(self, img, tissue, rng):
        data = _data(img)
        brain = tissue > 0
        near = ndimage.binary_dilation(brain, iterations=max(1, int(round(self.margin_mm / _zooms(img).min()))))
        xyz = _world(img)
        b = xyz[brain]
        (x0, y0, z0), (x1, y1, z1) = b.min(0), b.max(0)
        x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
        below_middle = z < (z0 + z1) / 2
        face = (y > y1 - 0.25 * (y1 - y0)) & below_middle
        ears = (np.abs(x - (x0 + x1) / 2) > 0.42 * (x1 - x0)) & below_middle & (y < (y0 + y1) / 2 + 0.15 * (y1 - y0))
        return _image(np.where((face | ears) & ~near, 0, data), img.affine)


class Composite(Variant):
    """Several variants at once, rendered in order on the same grid: another scanner differs from the
    training one in more than one way (contrast, coil, noise, how its air is stored).

    Example:
        >>> site = Composite("site", Gamma(0.85), BackgroundOffset(100.0))
        >>> site.family, site.describe
        ('acquisition', 'gamma 0.85; intensities +100 (air at 100), float32')
    """

    def __init__(self, name: str, *parts: Variant):
        self.name, self.parts = name, parts
        self.family = "acquisition" if any(p.family == "acquisition" for p in parts) else "storage"
        self.describe = "; ".join(p.describe for p in parts)

    def render(self, img, tissue, rng):
        for part in self.parts:
            img = part.render(img, tissue, rng)
        return img


#: Every variant of the invariance benchmark, by name, in report order.
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        HeaderAxes(),
        IntensityScale(),
        Float32(),
        Int16(),
        Restored1mm(),
        ThickSlices("R"),
        ThickSlices("A"),
        ThickSlices("S"),
        LowResolution(),
        Gamma(0.7),
        Gamma(1.4),
        BiasField(1.5),
        RicianNoise(2),
        RicianNoise(5),
        TissueContrast(),
        SkullStripped(),
        Defaced(),
        # added in 0.9, last so that every earlier variant keeps its random seed (its index)
        BackgroundOffset(100.0),
        BackgroundOffset(-100.0),
        WiderFieldOfView(),
    )
}

#: Clean scans of simulated new scanners (``benchmarks/predict_warnings.py``): each differs from the
#: training scanner in contrast, coil, SNR and stored background at once, by amounts within what
#: clean scanners differ (none is a defect a rater would fail).
NEW_SITES: dict[str, Variant] = {
    v.name: v
    for v in (
        Composite("new_site_a", Gamma(0.85), BiasField(1.3), RicianNoise(2), BackgroundOffset(100.0)),
        Composite("new_site_b", TissueContrast(0.15), BiasField(1.4), RicianNoise(3)),
        Composite("new_site_c", Gamma(1.2), BiasField(1.2), RicianNoise(2), BackgroundOffset(-100.0)),
    )
}

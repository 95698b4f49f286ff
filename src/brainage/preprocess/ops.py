"""The image operations of preprocessing, arrays and images in and out.

The steps (:mod:`brainage.preprocess.steps`) call these on a subject's files; orchestration
(fingerprints, restarts, workers) lives in :mod:`brainage.preprocess.pipeline`. This module
only knows how to do each operation once.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import nibabel as nib
import numpy as np
from scipy import ndimage

from brainage.data.images import load_t1
from brainage.errors import InputError
from brainage.files import atomic_path
from brainage.preprocess.grids import GridSpec
from brainage.preprocess.recipes import AFFINE_ITERATIONS, DOWNSAMPLINGS, N4_ITERATIONS
from brainage.preprocess.template import template_brain, template_image

#: An input whose non-zero voxels fill less than this volume, with at least
#: ``STRIPPED_ZERO_FRACTION`` of voxels exactly at the minimum, is taken to be skull-stripped.
STRIPPED_MAX_VOLUME_ML = 3500.0
STRIPPED_ZERO_FRACTION = 0.5
#: Whole-brain masks outside this volume mean brain extraction failed outright.
BRAIN_VOLUME_RANGE_ML = (300.0, 3500.0)


def reorient(path: str | Path) -> tuple[nib.Nifti1Image, dict]:
    """Load + validate a T1 and reorient it to RAS (voxel axes left->Right, ->Anterior, ->Superior)."""
    img, data = load_t1(path)
    canonical = nib.as_closest_canonical(nib.Nifti1Image(data, img.affine))
    out = nib.Nifti1Image(canonical.get_fdata(dtype=np.float32), canonical.affine)
    out.header.set_xyzt_units("mm", "sec")
    info = {
        "original_orientation": "".join(nib.aff2axcodes(img.affine)),
        "shape": list(img.shape),
        "voxel_mm": [round(float(z), 4) for z in img.header.get_zooms()[:3]],
    }
    return out, info


#: Side of the cubes in the image's eight corners that sample the air, as a share of each axis.
AIR_CORNER_SHARE = 0.06
#: The air's median counts as a stored offset (not noise) when it is this many MADs from zero.
AIR_OFFSET_MADS = 5.0


def air_offset(data: np.ndarray) -> float:
    """The constant the air was stored at: the median of the image's eight corner cubes, where a
    head scan has air, when that median is far from zero for the air's own spread (a stored
    offset, bright or below zero); 0 otherwise (air stored as zero, or only noise).

    Why: brain extraction is scale- and offset-free (deepbet scales by percentiles), but N4's
    multiplicative field, the QC metrics of the air and the white/grey ratio are not: the same
    brain stored as ``7.3 x + 100`` came out other. Rician noise in the air has a median about
    2.6 MADs from zero, so it is never taken for an offset.

    Example:
        >>> head = np.zeros((40, 40, 40), np.float32); head[10:30, 10:30, 10:30] = 500
        >>> air_offset(head), air_offset(head * 7.3 + 100)
        (0.0, 100.0)
    """
    side = [max(2, int(round(AIR_CORNER_SHARE * n))) for n in data.shape[:3]]
    corners = [
        data[sx, sy, sz]
        for sx in (slice(0, side[0]), slice(-side[0], None))
        for sy in (slice(0, side[1]), slice(-side[1], None))
        for sz in (slice(0, side[2]), slice(-side[2], None))
    ]
    air = np.concatenate([c.ravel() for c in corners]).astype(np.float64)
    median = float(np.median(air))
    spread = float(np.median(np.abs(air - median)))
    return median if abs(median) > AIR_OFFSET_MADS * spread and median != 0 else 0.0


def remove_air_offset(img: nib.Nifti1Image) -> tuple[nib.Nifti1Image, float]:
    """The image with its air at zero (:func:`air_offset` subtracted, nothing below zero), and the offset."""
    data = img.get_fdata(dtype=np.float32)
    offset = air_offset(data)
    if offset == 0:
        return img, 0.0
    out = nib.Nifti1Image(np.clip(data - np.float32(offset), 0, None).astype(np.float32), img.affine, img.header)
    return out, offset


#: Voxel edges within this fraction of the working resolution are left as stored (no resampling).
WORKING_RESOLUTION_TOLERANCE = 0.02


def to_working_resolution(
    img: nib.Nifti1Image, voxel_mm: float, downsampling: str = "gaussian"
) -> tuple[nib.Nifti1Image, bool]:
    """The image on an isotropic ``voxel_mm`` grid covering the same field of view, and whether it moved.

    Every later step (brain extraction, N4, registration, tissue segmentation) then sees one
    resolution whatever the scanner stored: tissue segmentation at the stored resolution is what
    made a 1 mm copy of a 2 mm brain come out with tens of ml more white matter. Axes finer than
    ``voxel_mm`` are first smoothed with the Gaussian that turns their point spread into the
    target's (FWHM ``sqrt(target^2 - voxel^2)``), so downsampling does not alias; coarser axes
    (thick slices) are interpolated linearly. Images already within
    :data:`WORKING_RESOLUTION_TOLERANCE` of ``voxel_mm`` on every axis are returned unchanged.
    nibabel does the smoothing and resampling; only the choice of kernel is ours.

    ``downsampling="block average"``: an axis finer by a whole factor (1 mm to 2 mm) averages each
    run of that many voxels instead, what a coarser acquisition's voxel integrates, on the voxels
    that tile the stored field of view. The same 2 mm brain re-stored at 1 mm then comes back on
    its own grid, nearly its own voxels: the Gaussian and a resampling grid a quarter of a voxel
    off blurred it, and took 2-26 ml off deepbet's brain mask of six IXI-HH brains (block
    averages: 1-20 ml). Other axes as with ``"gaussian"`` (the default, and every recipe's).

    Example:
        >>> fine = nib.Nifti1Image(np.arange(64, dtype=np.float32).reshape(4, 4, 4), np.eye(4))
        >>> out, moved = to_working_resolution(fine, 2.0, "block average")
        >>> out.shape, moved, float(out.get_fdata()[0, 0, 0]), out.affine[:3, 3].tolist()
        ((2, 2, 2), True, 10.5, [0.5, 0.5, 0.5])
    """
    from nibabel.processing import resample_to_output, smooth_image

    if downsampling not in DOWNSAMPLINGS:
        raise ValueError(f"unknown downsampling {downsampling!r}; choose from {', '.join(DOWNSAMPLINGS)}")
    if _at_resolution(img, voxel_mm):
        return img, False
    if downsampling == "block average":
        img = _block_average(img, voxel_mm)
        if _at_resolution(img, voxel_mm):
            return img, True
    zooms = np.array(img.header.get_zooms()[:3], dtype=float)
    fwhm = np.sqrt(np.clip(voxel_mm**2 - zooms**2, 0, None))
    smoothed = smooth_image(img, fwhm) if fwhm.any() else img
    out = resample_to_output(smoothed, voxel_sizes=voxel_mm, order=1, mode="constant", cval=0.0)
    data = np.clip(out.get_fdata(dtype=np.float32), 0, None)  # linear interpolation never makes negatives,
    return nib.Nifti1Image(data, out.affine), True  # but smoothing a signed input might


def _at_resolution(img: nib.Nifti1Image, voxel_mm: float) -> bool:
    """Whether every voxel edge is within :data:`WORKING_RESOLUTION_TOLERANCE` of ``voxel_mm``."""
    zooms = np.array(img.header.get_zooms()[:3], dtype=float)
    return bool(np.all(np.abs(zooms / voxel_mm - 1) <= WORKING_RESOLUTION_TOLERANCE))


def _block_average(img: nib.Nifti1Image, voxel_mm: float) -> nib.Nifti1Image:
    """``img`` with every axis finer than ``voxel_mm`` by a whole factor averaged in runs of that
    many voxels (a last, incomplete run at the edge of the field of view is left out); others as
    stored. Each new voxel sits at the centre of the voxels it averages."""
    zooms = np.array(img.header.get_zooms()[:3], dtype=float)
    ratio = voxel_mm / zooms
    nearest = np.maximum(np.round(ratio), 1)
    factors = np.where((nearest >= 2) & (np.abs(ratio / nearest - 1) <= WORKING_RESOLUTION_TOLERANCE), nearest, 1)
    factors = factors.astype(int)
    if np.all(factors == 1):
        return img
    data = img.get_fdata(dtype=np.float32)
    kept = np.array(data.shape[:3]) // factors
    data = data[: kept[0] * factors[0], : kept[1] * factors[1], : kept[2] * factors[2]]
    runs = data.reshape(kept[0], factors[0], kept[1], factors[1], kept[2], factors[2])
    scale = np.eye(4)
    scale[:3, :3] = np.diag(factors)
    scale[:3, 3] = (factors - 1) / 2
    return nib.Nifti1Image(runs.mean(axis=(1, 3, 5), dtype=np.float32), img.affine @ scale)


def looks_skull_stripped(data: np.ndarray, voxel_volume_ml: float) -> bool:
    """True when the image is mostly exact background around a brain-sized object."""
    background = data <= data.min()
    return bool(
        background.mean() >= STRIPPED_ZERO_FRACTION and (~background).sum() * voxel_volume_ml <= STRIPPED_MAX_VOLUME_ML
    )


def mask_from_stripped(data: np.ndarray) -> np.ndarray:
    """Brain mask of an already-stripped image: largest non-zero component, holes filled."""
    largest = _largest_region(data > data.min())
    if largest is None:
        raise InputError(None, "already-stripped image has no non-zero voxels")
    return ndimage.binary_fill_holes(largest)


def _largest_region(binary: np.ndarray) -> np.ndarray | None:
    """The largest connected region of ``binary`` (None where it has none)."""
    labels, n = ndimage.label(binary)
    return None if n == 0 else labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1


class BrainExtractor:
    """deepbet wrapped for brainage: explicit weight paths, arrays in and out, no 100 KB file rule.

    deepbet ships its weights in a top-level ``site-packages/data/models`` folder; we locate them
    from the installed package rather than relying on its default path logic, and call the
    model on the array directly so small (e.g. 2 mm) files are never silently skipped.
    """

    def __init__(self, threshold: float = 0.5, device: str = "cpu"):
        import deepbet
        from deepbet.bet import BrainExtraction

        models = Path(deepbet.__file__).resolve().parents[1] / "data" / "models"
        weights = models / "model.pt", models / "bbox_model.pt"
        missing = [str(p) for p in weights if not p.is_file()]
        if missing:
            raise InputError(
                missing[0], "deepbet weights not found; reinstall deepbet (`pip install --force-reinstall deepbet`)"
            )
        self._bet = BrainExtraction(no_gpu=device == "cpu", model_path=str(weights[0]), bbox_model_path=str(weights[1]))
        self.threshold = threshold

    def __call__(self, ras_data: np.ndarray) -> np.ndarray:
        """Boolean brain mask of a RAS-ordered head volume."""
        try:
            prob = self._bet.run_model(np.ascontiguousarray(ras_data, dtype=np.float32).copy())
        except AssertionError as exc:  # deepbet asserts when it finds no foreground at all
            raise InputError(None, f"brain extraction found no head in the image ({exc})") from None
        return self._bet.postprocess(prob > self.threshold).astype(bool)


#: Air kept around the head's bounding box when deepbet is given the head's box.
HEAD_BOX_MARGIN_MM = 10.0
#: Head voxels are brighter than this fraction of the 99th percentile of the non-zero voxels.
HEAD_THRESHOLD = 0.1


def head_region(data: np.ndarray) -> np.ndarray:
    """The head: the largest connected region brighter than :data:`HEAD_THRESHOLD` of the 99th
    percentile of the non-zero voxels. Exact zeros (air a converter or a wider field of view
    stored as 0) do not move the threshold, so the same head in more air gives the same region.
    (QC's head mask thresholds by Otsu over every voxel, which more air moves.)"""
    values = data[data > 0]
    if values.size == 0:
        raise InputError(None, "the image has no voxel above zero: no head to find")
    head = _largest_region(data > HEAD_THRESHOLD * np.percentile(values, 99))
    if head is None:
        raise InputError(None, "found no head in the image")
    return head


def brain_mask_on_head_box(extract, data: np.ndarray, voxel_mm: float) -> np.ndarray:
    """``extract`` (a :class:`BrainExtractor`) run on the head's bounding box plus
    :data:`HEAD_BOX_MARGIN_MM` of air (zeros where the box runs past the image), the mask put back
    on the image's grid.

    deepbet finds the brain's box itself, but on a nearest-neighbour 128^3 copy of the whole field
    of view, quantile-normalised over it: the same head inside 24 mm more air came out with brain
    masks 1-7 ml apart (six IXI-HH brains). On the head's own box its input is the same voxels
    whatever the field of view, and so is the mask (the same six: identical).

    Example:
        >>> head = np.zeros((40, 40, 40), np.float32); head[10:30, 10:30, 10:30] = 100
        >>> wider = np.pad(head, 8)
        >>> def inner_half(box): return box > 0.9 * box.max()
        >>> one = brain_mask_on_head_box(inner_half, head, 2.0)
        >>> bool((brain_mask_on_head_box(inner_half, wider, 2.0)[8:-8, 8:-8, 8:-8] == one).all()), int(one.sum())
        (True, 8000)
    """
    box, _, back = _brain_box(data, head_region(data), HEAD_BOX_MARGIN_MM / voxel_mm)
    return _to_image_grid(np.asarray(extract(box), dtype=bool), back, mode="constant")


def check_brain_volume(mask: np.ndarray, voxel_volume_ml: float) -> float:
    volume = float(mask.sum() * voxel_volume_ml)
    lo, hi = BRAIN_VOLUME_RANGE_ML
    if not lo <= volume <= hi:
        raise InputError(
            None,
            f"brain extraction gave an implausible brain volume of {volume:.0f} ml (expected {lo:.0f}-{hi:.0f} ml)",
        )
    return volume


def _to_ants(img: nib.Nifti1Image):
    import ants

    img.header.set_xyzt_units("mm", "sec")
    return ants.from_nibabel_nifti(img)


#: Where N4 can fit its field (:func:`bias_correct`): the whole image as stored, or the brain's box.
N4_DOMAINS = ("image", "brain box")
#: Air kept around the brain mask's bounding box when N4 fits on the brain's box.
N4_BOX_MARGIN_MM = 10.0


def _brain_box(data: np.ndarray, mask: np.ndarray, margin_voxels: float) -> tuple[np.ndarray, np.ndarray, list]:
    """``data`` and ``mask`` on the mask's bounding box, ``margin_voxels`` wider on every side, with
    air (zeros) where the box runs past the image, so the box is the same whatever the field of
    view; and the ``(before, after)`` voxels that take the box back to the image's grid (negative:
    cut)."""
    idx = np.argwhere(mask)
    margin = int(np.ceil(margin_voxels))
    low, high = idx.min(axis=0) - margin, idx.max(axis=0) + margin + 1
    outside = [(max(-int(lo), 0), max(int(hi) - n, 0)) for lo, hi, n in zip(low, high, mask.shape)]
    inside = tuple(slice(max(int(lo), 0), min(int(hi), n)) for lo, hi, n in zip(low, high, mask.shape))
    back = [(s.start - a, n - s.stop - b) for s, (a, b), n in zip(inside, outside, mask.shape)]
    return np.pad(data[inside], outside), np.pad(mask[inside], outside), back


def _to_image_grid(box: np.ndarray, back: list, mode: str = "edge") -> np.ndarray:
    """An array on a box (:func:`_brain_box`) back on the image's grid: cut where the box ran past
    the image; outside the box continued from its edge (``mode="edge"``: a field) or zero
    (``"constant"``: a mask)."""
    cut = tuple(slice(max(-a, 0), box.shape[k] - max(-b, 0)) for k, (a, b) in enumerate(back))
    return np.pad(box[cut], [(max(a, 0), max(b, 0)) for a, b in back], mode=mode)


def bias_correct(
    img: nib.Nifti1Image,
    mask: np.ndarray,
    shrink_factor: int = 4,
    scale: str = "as stored",
    iterations: tuple = N4_ITERATIONS,
    domain: str = "image",
) -> tuple[nib.Nifti1Image, nib.Nifti1Image]:
    """N4 bias-field correction restricted to a dilated brain mask (antspyx).

    Masking with the brain makes N4 several times faster and keeps scalp fat from driving the
    field estimate. N4 runs once, returning the field; the corrected image is the input divided by
    it (N4's own output is computed the same way, so a second N4 call would only double the cost).
    ``scale="brain median"`` runs N4 on the image divided by its median inside the brain: ANTs'
    N4 is not scale-equivariant (the same brain times 7.3 came out with a field 0.7 % different in
    shape, times 123 by 2 %: ``benchmarks/storage_probe.py``), so the same scan stored in other
    units (int16, another converter) got another correction; on one canonical scale it gets the
    same. ``"as stored"``: the recipes made before brainage 0.9. ``iterations``: at each of N4's
    B-spline fitting levels (antspyx's default). ``domain="brain box"`` fits the field on the
    image cropped to the brain mask's bounding box (plus :data:`N4_BOX_MARGIN_MM`), the field
    outside it continued from its edge: N4's B-spline lattice spans the whole image it is given,
    so the same brain inside 24 mm more air got a field of another resolution and came out up to
    18 % brighter or darker in places (5 % on average, one IXI-HH brain padded as the ``wider_fov``
    variant pads it, the same mask); on the brain's own box it is the same field. ``"image"``: the recipes made
    before brainage 0.10. Returns ``(corrected, field)``.

    Example:
        >>> head = np.zeros((24, 24, 24), np.float32); head[6:18, 6:18, 6:18] = 100
        >>> mask = head > 0
        >>> corrected, field = bias_correct(nib.Nifti1Image(head, np.eye(4)), mask, domain="brain box")
        >>> corrected.shape == field.shape == head.shape, bool(np.allclose(field.get_fdata()[mask], 1, atol=0.01))
        (True, True)
    """
    if domain not in N4_DOMAINS:
        raise ValueError(f"unknown N4 domain {domain!r}; choose from {', '.join(N4_DOMAINS)}")
    if domain == "brain box" and mask.any():
        data = img.get_fdata(dtype=np.float32)
        margin = N4_BOX_MARGIN_MM / float(np.min(img.header.get_zooms()[:3]))
        box, box_mask, back = _brain_box(data, mask, margin)
        # the box's own origin is irrelevant to N4: only its extent and spacing shape the lattice
        _, inner = bias_correct(nib.Nifti1Image(box, img.affine), box_mask, shrink_factor, scale, iterations, "image")
        f = _to_image_grid(np.asarray(inner.dataobj, dtype=np.float32), back)
        corrected = data / np.maximum(f, 1e-6)
        return nib.Nifti1Image(corrected.astype(np.float32), img.affine), nib.Nifti1Image(f, img.affine)
    import ants

    weight = ndimage.binary_dilation(mask, iterations=2).astype(np.float32)
    source = img
    if scale == "brain median":
        data = img.get_fdata(dtype=np.float32)
        reference = float(np.median(data[mask])) if mask.any() else 0.0
        if reference > 0:
            source = nib.Nifti1Image(data / np.float32(reference), img.affine)
    field = ants.n4_bias_field_correction(
        _to_ants(source),
        mask=_to_ants(nib.Nifti1Image(weight, img.affine)),
        shrink_factor=shrink_factor,
        convergence={"iters": list(iterations), "tol": 1e-7},
        return_bias_field=True,
    )
    field_img = ants.to_nibabel_nifti(field)
    f = np.asarray(field_img.dataobj, dtype=np.float32)
    corrected = img.get_fdata(dtype=np.float32) / np.maximum(f, 1e-6)
    return nib.Nifti1Image(corrected.astype(np.float32), img.affine), nib.Nifti1Image(f, img.affine)


def register_affine(
    brain: nib.Nifti1Image,
    transform_path: Path,
    kind: str = "Affine",
    template_resolution: int = 2,
    seed: int | None = 42,
    iterations: tuple = AFFINE_ITERATIONS,
) -> dict:
    """Affine registration of a skull-stripped brain to the nilearn MNI152 brain (antspyx).

    The 2 mm template gives the same mask overlap as the 1 mm one at a fraction of the time;
    the transform is applied later to any output grid. Returns registration-quality metrics.

    ``seed``: antspyx ignores ``registration(random_seed=...)``; only
    ``ants.config.set_ants_deterministic`` reaches ANTs' metric sampling, so it is called here
    (it also pins ITK to one thread and seeds numpy's global generator; brainage parallelises
    over subjects instead). ``None`` leaves ANTs random and multi-threaded.
    """
    import ants

    if seed is not None:
        ants.config.set_ants_deterministic(True, seed)

    fixed = _to_ants(template_brain(template_resolution))
    moving = _to_ants(brain)
    with tempfile.TemporaryDirectory() as tmp:
        result = ants.registration(
            fixed=fixed,
            moving=moving,
            type_of_transform=kind,
            outprefix=os.path.join(tmp, "reg_"),
            aff_iterations=tuple(iterations),
        )
        with atomic_path(transform_path) as out:
            Path(result["fwdtransforms"][0]).replace(out)
    warped = result["warpedmovout"].numpy()
    tmpl = fixed.numpy()
    inside = template_image("mask", template_resolution).get_fdata() > 0.5
    a, b = warped[inside], tmpl[inside]
    ncc = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 else 0.0
    warped_mask = warped > 0.05 * np.percentile(warped[warped > 0], 99) if (warped > 0).any() else warped > 0
    dice = float(2 * (warped_mask & inside).sum() / max(warped_mask.sum() + inside.sum(), 1))
    return {"ncc_template": round(ncc, 4), "dice_template": round(dice, 4)}


def read_affine_transform(path: str | Path) -> np.ndarray:
    """4x4 matrix of an ANTs affine ``.mat`` (maps MNI LPS points to native LPS points)."""
    import ants

    tx = ants.read_transform(str(path))
    p = np.asarray(tx.parameters, dtype=float)
    a, t, c = p[:9].reshape(3, 3), p[9:12], np.asarray(tx.fixed_parameters, dtype=float)
    m = np.eye(4)
    m[:3, :3] = a
    m[:3, 3] = t + c - a @ c
    return m


def affine_det(transform_path: Path) -> float:
    """Determinant of the registration's linear part: native mm3 per template mm3.

    Affine registration to MNI removes head size; this one number keeps it (a larger head
    needs a larger determinant), for models and modulated tissue maps.
    """
    return float(abs(np.linalg.det(read_affine_transform(transform_path)[:3, :3])))


@contextmanager
def _scratch_temp_dir() -> Iterator[None]:
    """Python's temporary folder pointed at one of ours for the length of the block, then removed.

    antspyx's Atropos writes its probability images under ``tempfile.mktemp`` names and never
    deletes them: three images a scan left in the system's temporary folder (gigabytes over a
    cohort). Our preprocessing runs one subject per worker process, so the global is not shared.
    """
    previous = tempfile.tempdir
    with tempfile.TemporaryDirectory(prefix="brainage-ants-") as scratch:
        tempfile.tempdir = scratch
        try:
            yield
        finally:
            tempfile.tempdir = previous


def segment_tissues(brain: nib.Nifti1Image, mask: np.ndarray, mrf: float = 0.1) -> nib.Nifti1Image:
    """CSF, grey- and white-matter probabilities of a skull-stripped, bias-corrected T1 (4D, in
    that order): ANTs Atropos with k-means initialisation and a Markov random field prior,
    through antspyx's ``kmeans_segmentation``. Classes are ordered by mean T1 intensity."""
    import ants

    with _scratch_temp_dir():
        result = ants.kmeans_segmentation(
            _to_ants(brain), 3, kmask=_to_ants(nib.Nifti1Image(mask.astype(np.float32), brain.affine)), mrf=mrf
        )
        probs = [p.numpy() for p in result["probabilityimages"]]
    data = brain.get_fdata(dtype=np.float32)
    order = np.argsort([float((p * data).sum() / max(p.sum(), 1e-6)) for p in probs])  # dark CSF first
    stacked = np.stack([np.where(mask, probs[i], 0) for i in order], axis=-1).astype(np.float32)
    return nib.Nifti1Image(stacked, brain.affine)


def to_grid(
    img: nib.Nifti1Image, transform_path: Path, grid: GridSpec, interpolation: str = "linear"
) -> nib.Nifti1Image:
    """Resample a native-space image onto an MNI output grid through a saved affine transform."""
    import ants

    out = ants.apply_transforms(
        fixed=_to_ants(grid.reference()),
        moving=_to_ants(img),
        transformlist=[str(transform_path)],
        interpolator=interpolation,
    )
    return ants.to_nibabel_nifti(out)


def from_grid(
    img: nib.Nifti1Image, transform_path: Path, native: nib.Nifti1Image, interpolation: str = "linear"
) -> nib.Nifti1Image:
    """Resample an image on an MNI grid back to a subject's native space (the saved affine, inverted)."""
    import ants

    out = ants.apply_transforms(
        fixed=_to_ants(native),
        moving=_to_ants(img),
        transformlist=[str(transform_path)],
        whichtoinvert=[True],
        interpolator=interpolation,
    )
    return ants.to_nibabel_nifti(out)


def save_nifti(img: nib.Nifti1Image, path: Path, dtype=np.float32) -> Path:
    """Write ``img`` with ``dtype`` data and millimetre units, atomically."""
    out = nib.Nifti1Image(np.asarray(img.dataobj).astype(dtype), img.affine)
    out.header.set_xyzt_units("mm", "sec")
    with atomic_path(path) as tmp:
        nib.save(out, str(tmp))
    return Path(path)


#: Where :func:`anchor_intensity` puts the CSF and white-matter means in the [0, 1] cache: far
#: enough inside it that neither noise nor partial volumes get clipped (clipping is not linear).
ANCHOR_CSF, ANCHOR_WM = 0.2, 0.8


def anchor_intensity(data: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, dict]:
    """Linear scaling inside the brain that puts the CSF mean at :data:`ANCHOR_CSF` and the white
    matter mean at :data:`ANCHOR_WM` (zero outside the brain), and the three tissue means.

    Why not percentiles: a blurrier, noisier or differently stored scan of the same brain has other
    percentiles, but the same tissue means. The means are the pure-class means of the partial-volume
    model (:func:`~brainage.preprocess.tissue.partial_volume_fractions`), which blur leaves in place.
    A linear map commutes with blur and averages noise out, so the same brain pooled to a coarser
    grid gives nearly the same values at any resolution or noise level (the invariance benchmark).
    """
    from brainage.preprocess.tissue import partial_volume_means

    values = data[mask]
    if values.size < 100:
        raise InputError(None, "registered brain is (almost) empty on the output grid")
    # the model orders its classes dark to bright, which is CSF < grey < white matter in a T1; that
    # the image is T1-weighted at all is QC's question (brainage.qc.anatomy.white_grey_ratio)
    csf, grey, white = partial_volume_means(values)
    scaled = ANCHOR_CSF + (ANCHOR_WM - ANCHOR_CSF) * (data - csf) / (white - csf)
    anchors = {"grey_white_contrast": round(float((white - grey) / (white - csf)), 4)}
    return np.where(mask, np.clip(scaled, 0, 1), 0).astype(np.float32), anchors


def normalise_intensity(data: np.ndarray, mask: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5) -> np.ndarray:
    """Robust min-max scaling inside the brain to [0, 1]; zero outside the brain."""
    values = data[mask]
    if values.size < 100:
        raise InputError(None, "registered brain is (almost) empty on the output grid")
    lo, hi = np.percentile(values, [low_pct, high_pct])
    scaled = np.clip((data - lo) / max(hi - lo, 1e-6), 0, 1)
    return np.where(mask, scaled, 0).astype(np.float32)

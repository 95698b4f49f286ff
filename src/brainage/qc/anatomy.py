"""Anatomy and mask checks of one preprocessed subject.

These find what a person eyeballing every scan finds: a brain cut off by the field of view,
tissue left hanging below the brainstem after skull stripping, skull/scalp/eyes left in the mask,
holes and loose pieces, failed registration, and implausible orientation. The native brain mask
is mapped into MNI space through the subject's affine transform, so "too low" and "outside the
brain" are measured against the template, whatever the scanner's orientation.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from brainage.layout import SubjectDir
from brainage.preprocess.ops import read_affine_transform
from brainage.preprocess.template import template_image


def native_to_mni(points_ras: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Native RAS mm points -> MNI RAS mm through the inverse of an ANTs (LPS) affine."""
    flip = np.array([-1.0, -1.0, 1.0])
    lps = points_ras * flip
    mni_lps = nib.affines.apply_affine(np.linalg.inv(transform), lps)
    return mni_lps * flip


def mni_to_native(points_mni: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """MNI RAS mm points -> native RAS mm through an ANTs (LPS) affine (the inverse of :func:`native_to_mni`)."""
    flip = np.array([-1.0, -1.0, 1.0])
    return nib.affines.apply_affine(transform, points_mni * flip) * flip


@lru_cache(maxsize=1)
def _template_tissue_points() -> tuple[np.ndarray, np.ndarray]:
    """MNI points (mm) that are grey matter and white matter in nearly every brain (the template's
    tissue probabilities above 0.6 and 0.9): where a T1 check samples a registered scan."""
    gm, wm = (template_image(kind, 2) for kind in ("gm", "wm"))
    g, w = gm.get_fdata(), wm.get_fdata()
    return (
        nib.affines.apply_affine(gm.affine, np.argwhere((g > 0.6) & (w < 0.1))),
        nib.affines.apply_affine(wm.affine, np.argwhere(w > 0.9)),
    )


def white_grey_ratio(brain: nib.Nifti1Image, transform: np.ndarray) -> float:
    """Median intensity of template white matter over that of template grey matter, in a
    bias-corrected native image: above 1 in a T1-weighted scan (about 1.2-1.5), below 1 in T2,
    FLAIR and proton-density scans. Sampled through the registration, so it needs no segmentation
    (which orders classes by brightness and so cannot tell)."""
    data = brain.get_fdata(dtype=np.float32)
    medians = []
    for points in _template_tissue_points():
        ijk = np.round(nib.affines.apply_affine(np.linalg.inv(brain.affine), mni_to_native(points, transform))).astype(
            int
        )
        inside = np.all((ijk >= 0) & (ijk < np.array(data.shape)), axis=1)
        values = data[tuple(ijk[inside].T)]
        values = values[values > 0]
        medians.append(float(np.median(values)) if values.size > 100 else np.nan)
    grey, white = medians
    return white / grey if grey > 0 else np.nan


def rotation_degrees(transform: np.ndarray) -> tuple[float, bool]:
    """Rotation angle of the affine's linear part (polar decomposition) and whether it mirrors."""
    u, _, vt = np.linalg.svd(transform[:3, :3])
    r = u @ vt
    mirrored = bool(np.linalg.det(transform[:3, :3]) < 0)
    if mirrored:
        r = r @ np.diag([1, 1, -1])
    angle = float(np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1, 1))))
    return angle, mirrored


def unmeasured_region(t1: np.ndarray, min_ml: float = 5.0, voxel_ml: float = 0.008) -> np.ndarray:
    """Voxels the scanner did not measure: connected regions of at least ``min_ml`` whose value
    does not change at all (zero- or constant-filled slabs). Air is noisy; a converter's fill is
    not. Real air can be exactly zero too, but it never touches the brain."""
    flat = ndimage.maximum_filter(t1, 3) == ndimage.minimum_filter(t1, 3)
    labels, n = ndimage.label(flat)
    if n == 0:
        return flat
    sizes = np.bincount(labels.ravel())[1:]
    return np.isin(labels, np.nonzero(sizes * voxel_ml >= min_ml)[0] + 1)


def edge_nonbrain_fraction(t1: np.ndarray, mask: np.ndarray, depth: int = 2) -> float:
    """Share of the mask's outer ``depth`` voxels brighter than white matter (scalp fat, marrow)
    or darker than a tenth of it (bone): a brain's edge is grey matter and CSF, a mask that kept
    the skull and scalp has them on its edge. Registration cannot hide this, as it hides a
    too-large mask by shrinking it onto the template."""
    core = ndimage.binary_erosion(mask, iterations=2 * depth)
    if not core.any():
        return float("nan")
    edge = mask & ~ndimage.binary_erosion(mask, iterations=depth)
    wm = np.percentile(t1[core], 90)
    values = t1[edge]
    return float(((values > 0.9 * wm) | (values < 0.15 * wm)).mean())


def fov_contact_mm2(mask: np.ndarray, zooms, unmeasured: np.ndarray | None = None) -> float:
    """Area of the brain mask lying on the edge of the field of view: on the array's six faces or
    next to (or inside) an unmeasured, constant-filled region of the array. Each voxel of the
    mask's surface there counts once, with the area of one voxel face."""
    zooms = np.asarray(zooms, float)
    on_edge = np.zeros(mask.shape, bool)
    for axis in range(3):
        for idx in (0, -1):
            sl = [slice(None)] * 3
            sl[axis] = idx
            on_edge[tuple(sl)] = True
    if unmeasured is not None and unmeasured.any():
        on_edge |= ndimage.binary_dilation(unmeasured, iterations=1)
    face = float(np.mean([zooms[[i for i in range(3) if i != axis]].prod() for axis in range(3)]))
    surface = mask & ~ndimage.binary_erosion(mask)
    return float((surface & on_edge).sum()) * face


@lru_cache(maxsize=1)
def _template_geometry() -> tuple[nib.Nifti1Image, np.ndarray, float, np.ndarray]:
    """The 2 mm template brain mask, its lowest point (mm) and the distance (mm) to it; the same
    for every subject, so computed once per process."""
    tmask_img = template_image("mask", 2)
    tmask = tmask_img.get_fdata() > 0.5
    bottom = float(nib.affines.apply_affine(tmask_img.affine, np.argwhere(tmask))[:, 2].min())
    dist = ndimage.distance_transform_edt(~tmask) * 2.0
    return tmask_img, tmask, bottom, dist


def anatomy_metrics(
    subject_dir: str | Path,
    unmeasured: np.ndarray | None = None,
    below_margin_mm: float = 6.0,
    outside_margin_mm: float = 8.0,
) -> dict[str, float]:
    """Mask/registration metrics of one subject folder written by ``brainage preprocess``.

    ``unmeasured``: the raw image's constant-filled region (:func:`unmeasured_region`); ``None``
    for an already-stripped input, which is constant outside the brain by design, so only the
    array's edge counts there.

    * ``fov_contact_mm2``: brain mask area on the edge of the field of view (the array's faces, or
      a zero-filled region inside it; see :func:`unmeasured_region`).
    * ``below_brainstem_ml``: mask volume more than ``below_margin_mm`` below the lowest point of
      the template brain (tissue hanging off the medulla).
    * ``outside_template_ml``: mask volume more than ``outside_margin_mm`` outside the template
      brain, above that level (skull, scalp, eyes left in the mask).
    * ``edge_nonbrain_fraction``: share of the mask's edge that is fat or bone (skull left in).
    * ``holes_ml``, ``n_components``, ``largest_component_fraction``: mask topology.
    * ``rotation_deg``: rotation the registration needed (a header rotated by a quarter turn).
    * ``template_coverage``: share of the template brain the registered mask covers.
    * ``white_grey_ratio``: is it T1-weighted? (:func:`white_grey_ratio`)
    """
    folder = SubjectDir(subject_dir)
    mask_img = nib.load(str(folder.brain_mask))
    mask = mask_img.get_fdata() > 0
    zooms = mask_img.header.get_zooms()[:3]
    voxel_ml = float(np.prod(zooms)) / 1000
    out: dict[str, float] = {"fov_contact_mm2": fov_contact_mm2(mask, zooms, unmeasured)}
    out["edge_nonbrain_fraction"] = edge_nonbrain_fraction(
        nib.load(str(folder.t1_n4)).get_fdata(dtype=np.float32), mask
    )
    filled = ndimage.binary_fill_holes(mask)
    out["holes_ml"] = float((filled & ~mask).sum() * voxel_ml)
    labels, n = ndimage.label(mask)
    sizes = np.bincount(labels.ravel())[1:] if n else np.array([0])
    out["n_components"] = float((sizes * voxel_ml >= 0.5).sum())
    out["largest_component_fraction"] = float(sizes.max() / max(sizes.sum(), 1))

    transform = read_affine_transform(folder.to_mni_affine)
    out["rotation_deg"] = rotation_degrees(transform)[0]
    out["white_grey_ratio"] = white_grey_ratio(nib.load(str(folder.brain_n4)), transform)
    points = native_to_mni(nib.affines.apply_affine(mask_img.affine, np.argwhere(mask)), transform)
    tmask_img, tmask, bottom, dist = _template_geometry()
    # Sub-voxel MNI volume per native voxel: the affine's Jacobian converts native ml to MNI ml.
    jac = abs(np.linalg.det(np.linalg.inv(transform)[:3, :3]))
    below = points[:, 2] < bottom - below_margin_mm
    out["below_brainstem_ml"] = float(below.sum() * voxel_ml * jac)
    ijk = np.round(nib.affines.apply_affine(np.linalg.inv(tmask_img.affine), points)).astype(int)
    inside_grid = np.all((ijk >= 0) & (ijk < np.array(tmask.shape)), axis=1)
    far = np.ones(len(points), bool)
    far[inside_grid] = dist[tuple(ijk[inside_grid].T)] > outside_margin_mm
    out["outside_template_ml"] = float((far & ~below).sum() * voxel_ml * jac)
    covered = np.zeros(tmask.shape, bool)
    covered[tuple(ijk[inside_grid].T)] = True
    covered = ndimage.binary_closing(covered, iterations=1)
    out["template_coverage"] = float((covered & tmask).sum() / tmask.sum())
    return out

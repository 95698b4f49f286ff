"""Is the head stored the right way up and the right way round?

A header that puts the data upside down or front to back confuses everything after it: the
brain extractor, trained on upright heads, masks the wrong tissue, and ANTs' affine registration
(started from the centres of mass, never searching half-turns) cannot turn the brain over. So
orientation is judged on the raw head itself, before any of that: the head, centred on its
centre of mass on a coarse 4 mm grid, is correlated with the mean clean head as stored, turned
upside down and turned back to front. A correctly stored head matches best as stored; a flipped
one matches its flip better (``upside_down_gain``, ``front_back_gain`` above zero). Already-
stripped inputs are compared with the mean clean brain instead.

Left and right are the hard case: head and brain are nearly symmetric, and so is the template
brainage registers to (nilearn's MNI152 2009 symmetric), so no template comparison can see a
mirrored head. What remains is the brain's own, population-wide asymmetry (frontal and
occipital petalia, the Yakovlevian torque): each registered brain's left-minus-right difference
is projected onto weights learnt from clean scans (a diagonal linear discriminant; clean brains
score about +1, mirrored ones about -1, a perfectly symmetric one 0).

The mean head, mean brain and the weights ship with brainage (``bundled/qc_orientation.npz``),
learnt from the even-numbered IXI-HH subjects only, so the odd-numbered ones score the tests
honestly in ``benchmarks/qc.py``. No maintained library does these checks (MRIQC assumes a
correct header), hence this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from brainage.layout import SubjectDir
from brainage.preprocess.template import template_brain, template_image
from brainage.resources import QC_ORIENTATION

#: Band of the asymmetry maps (Gaussian sigmas, voxels of 2 mm): petalia are centimetre-scale
#: shapes, while N4's bias correction is not mirror-symmetric (its B-spline grid is anchored to the
#: array) and leaves smooth left-right differences that a flipped scan does not flip; the band
#: keeps the first and drops the second.
ASYMMETRY_BAND = (1.5, 4.0)
#: The coarse grid heads are compared on: 64 voxels of 4 mm, centred on the head's centre of mass.
HEAD_GRID, HEAD_MM = 64, 4.0


def centred_head(data: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """A RAS head (or stripped brain) on a 4 mm grid centred on its centre of mass, scaled to its
    99th percentile and lightly smoothed: flipping the array mirrors the head about its centre."""
    inside = data > 0
    data = data / (np.percentile(data[inside], 99) if inside.any() else 1.0)
    centre = nib.affines.apply_affine(affine, ndimage.center_of_mass(data > 0.1))
    grid = np.diag([HEAD_MM, HEAD_MM, HEAD_MM, 1.0])
    grid[:3, 3] = centre - (HEAD_GRID - 1) / 2 * HEAD_MM
    to_data = np.linalg.inv(affine) @ grid
    resampled = ndimage.affine_transform(data, to_data[:3, :3], to_data[:3, 3], output_shape=(HEAD_GRID,) * 3, order=1)
    return ndimage.gaussian_filter(resampled, 1.0).astype(np.float32)


@lru_cache(maxsize=1)
def _mirrored_brain_voxels() -> np.ndarray:
    """Template voxels whose mirror image is also brain (where left-right differences are taken)."""
    mask = template_image("mask", 2).get_fdata() > 0.5
    return mask & mask[::-1]


@lru_cache(maxsize=1)
def _template_grid():
    """The 2 mm template brain as an ANTs image: the grid every registered brain is sampled on
    (loaded once per process, not once per subject)."""
    import ants

    return ants.from_nibabel_nifti(template_brain(2))


def registered_brain(subject_dir: str | Path) -> np.ndarray:
    """The subject's bias-corrected brain on the 2 mm template grid, through its own registration,
    scaled so its 99th percentile is 1."""
    import ants

    folder = SubjectDir(subject_dir)
    fixed = _template_grid()
    moving = ants.image_read(str(folder.brain_n4))
    warped = ants.apply_transforms(fixed, moving, [str(folder.to_mni_affine)]).numpy().astype(np.float32)
    inside = warped > 0
    return warped / (np.percentile(warped[inside], 99) if inside.any() else 1.0)


def asymmetry_map(brain: np.ndarray) -> np.ndarray:
    """Band-passed left-minus-right difference of a registered brain, on the mirrored-brain voxels
    (axis 0 of the template grid runs left to right)."""
    both = _mirrored_brain_voxels()
    fine, coarse = ASYMMETRY_BAND
    band = ndimage.gaussian_filter(brain, fine) - ndimage.gaussian_filter(brain, coarse)
    return (band - band[::-1])[both].astype(np.float32)


@dataclass(frozen=True)
class OrientationModel:
    """The mean clean head and brain (:func:`centred_head`), and the left-right test's weights
    with the mean clean score they are scaled by."""

    mean_head: np.ndarray
    mean_brain: np.ndarray
    weights: np.ndarray
    scale: float
    n_subjects: int

    @classmethod
    def fit(cls, heads: np.ndarray, brains: np.ndarray, asymmetries: np.ndarray) -> "OrientationModel":
        """From clean, correctly oriented subjects. The left-right weights are a diagonal linear
        discriminant between the clean asymmetry maps (rows) and their mirror images (the negated
        maps): mean / variance per voxel."""
        asymmetries = asymmetries.astype(np.float64)
        weights = asymmetries.mean(0) / (asymmetries.var(0) + 1e-6)
        weights /= np.abs(weights).max()
        return cls(
            heads.mean(0), brains.mean(0), weights.astype(np.float32), float((asymmetries @ weights).mean()), len(heads)
        )

    def left_right_score(self, asymmetry: np.ndarray) -> float:
        """About +1 for a correctly oriented brain, about -1 for a mirrored one."""
        return float(asymmetry @ self.weights / self.scale)

    def flip_gains(self, head: np.ndarray, stripped: bool) -> dict[str, float]:
        """Correlation with the mean clean head (brain) gained by turning ``head`` upside down and
        back to front."""
        mean = (self.mean_brain if stripped else self.mean_head).ravel()
        as_stored = _correlation(head.ravel(), mean)
        return {
            "upside_down_gain": _correlation(head[:, :, ::-1].ravel(), mean) - as_stored,
            "front_back_gain": _correlation(head[:, ::-1].ravel(), mean) - as_stored,
        }

    def save(self, path: str | Path) -> Path:
        np.savez_compressed(
            path,
            mean_head=self.mean_head.astype(np.float16),
            mean_brain=self.mean_brain.astype(np.float16),
            weights=self.weights.astype(np.float16),
            scale=self.scale,
            n_subjects=self.n_subjects,
        )
        return Path(path)

    @classmethod
    def load(cls, path: str | Path = QC_ORIENTATION) -> "OrientationModel":
        with np.load(path) as z:
            return cls(
                z["mean_head"].astype(np.float32),
                z["mean_brain"].astype(np.float32),
                z["weights"].astype(np.float32),
                float(z["scale"]),
                int(z["n_subjects"]),
            )


@lru_cache(maxsize=4)
def _model(path: str) -> OrientationModel:
    return OrientationModel.load(path)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 else 0.0


def orientation_metrics(
    subject_dir: str | Path, stripped: bool = False, model: str | Path = QC_ORIENTATION
) -> dict[str, float]:
    """The three orientation tests of one preprocessed subject.

    * ``upside_down_gain``: correlation with the mean clean head gained by turning the head
      upside down (clean heads about -0.09; above 0 = stored upside down).
    * ``front_back_gain``: the same for front and back (clean about -0.06).
    * ``left_right_score``: the registered brain's asymmetry against clean brains' (+1 typical,
      -1 mirrored).
    """
    folder = SubjectDir(subject_dir)
    fitted = _model(str(model))
    img = nib.load(str(folder.t1_ras))
    out = fitted.flip_gains(centred_head(img.get_fdata(dtype=np.float32), img.affine), stripped)
    out["left_right_score"] = fitted.left_right_score(asymmetry_map(registered_brain(folder.root)))
    return out


def fit_orientation(subject_dirs: list[str | Path]) -> OrientationModel:
    """Learn the orientation tests from clean, correctly oriented subjects' preprocessing folders
    (whole-head inputs; the mean brain is their head under their brain mask)."""
    heads, brains, asymmetries = [], [], []
    for d in subject_dirs:
        folder = SubjectDir(d)
        img = nib.load(str(folder.t1_ras))
        data = img.get_fdata(dtype=np.float32)
        mask = nib.load(str(folder.brain_mask)).get_fdata() > 0
        heads.append(centred_head(data, img.affine))
        brains.append(centred_head(np.where(mask, data, 0), img.affine))
        asymmetries.append(asymmetry_map(registered_brain(folder.root)))
    return OrientationModel.fit(np.stack(heads), np.stack(brains), np.stack(asymmetries))

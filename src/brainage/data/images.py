"""Loading T1 images with validation that turns every bad-input case into one clear line."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np

from brainage.errors import InputError

#: Voxel sizes outside this range (mm) are almost always a broken header.
VOXEL_SIZE_RANGE_MM = (0.2, 6.0)
#: Smallest plausible field of view along any axis (mm); a head is ~150 mm or more.
MIN_FOV_MM = 60.0
#: Largest plausible field of view (mm); whole-body scans are not T1 brain images.
MAX_FOV_MM = 500.0
#: A volume of at most this many distinct whole numbers, each filling regions (see
#: :data:`LABEL_NEIGHBOUR_SHARE`), is a label map or segmentation, not a scan.
MAX_LABELS = 1000
#: Share of foreground voxels equal to their neighbour above which a volume is piecewise constant
#: (a label map: IXI-HH's DLMUSE parcellations at 2 mm 0.76-0.78); a scan's noise makes neighbours
#: differ (IXI-HH T1s 0.13-0.16, the same stored in 8 bits the same, in 6 bits 0.21).
LABEL_NEIGHBOUR_SHARE = 0.5


def label_map_kind(data: np.ndarray) -> str:
    """``"binary mask"`` or ``"label map (N labels)"`` when ``data`` is one, else ``""``.

    Example:
        >>> labels = np.zeros((20, 20, 20)); labels[5:15, 5:15, 5:15] = 3; labels[5:10, 5:15, 5:15] = 7
        >>> noise = np.random.default_rng(0).random((20, 20, 20))
        >>> label_map_kind(labels), label_map_kind(labels > 0), label_map_kind(noise)
        ('label map (3 labels)', 'binary mask', '')
    """
    values = np.unique(data[::2, ::2, ::2])
    if values.size <= 2:
        return "binary mask"
    if values.size > MAX_LABELS or not np.all(values == np.round(values)):
        return ""
    foreground = data[1:] != 0
    same = (data[1:] == data[:-1]) & foreground
    if same.sum() > LABEL_NEIGHBOUR_SHARE * max(int(foreground.sum()), 1):
        return f"label map ({values.size} labels)"
    return ""


def load_t1(path: str | Path) -> tuple[nib.Nifti1Image, np.ndarray]:
    """Load a 3D T1 image and its float32 data, or raise :class:`InputError` saying why not.

    A trailing singleton 4th dimension (common in scanner exports) is squeezed away.

    Example:
        >>> img, data = load_t1("sub-01_T1w.nii.gz")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file does not exist")
    if not path.is_file():
        raise InputError(path, "is not a file")
    try:
        img = nib.load(str(path))
    except nib.filebasedimages.ImageFileError as exc:
        raise InputError(path, f"not a readable NIfTI/MRI image ({exc})") from None
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile, ValueError) as exc:
        raise InputError(path, f"unreadable or truncated image file ({type(exc).__name__}: {exc})") from None
    shape = img.shape
    if len(shape) == 4 and shape[3] == 1:
        img = nib.Nifti1Image(np.asanyarray(img.dataobj)[..., 0], img.affine, img.header)
        shape = img.shape
    if len(shape) != 3:
        raise InputError(path, f"expected a 3D image, got shape {tuple(shape)} ({len(shape)}D; pick one volume first)")
    linear = np.asarray(img.affine, dtype=float)[:3, :3]
    if not np.all(np.isfinite(linear)) or abs(np.linalg.det(linear)) < 1e-6:
        raise InputError(
            path,
            "header orientation matrix (sform/qform) is degenerate: the voxel-to-world "
            "mapping cannot be inverted; fix the header before use",
        )
    try:
        data = np.asarray(img.dataobj, dtype=np.float32)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile, ValueError) as exc:
        raise InputError(path, f"truncated or corrupt image data ({type(exc).__name__}: {exc})") from None
    validate_t1(data, img.header.get_zooms()[:3], path)
    return img, data


def validate_t1(data: np.ndarray, zooms, source: str | Path | None = None) -> None:
    """Raise :class:`InputError` if ``data`` cannot be a usable T1 volume."""
    n_bad = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
    if n_bad:
        raise InputError(source, f"{n_bad} voxels are NaN or infinite")
    if data.size == 0 or min(data.shape) < 8:
        raise InputError(source, f"volume is too small to be a brain image (shape {data.shape})")
    if float(data.max()) == float(data.min()):
        raise InputError(source, f"image is empty (every voxel equals {float(data.max()):g})")
    kind = label_map_kind(data)
    if kind:
        raise InputError(
            source, f"is a {kind}, not a T1-weighted scan (a segmentation or mask saved beside the scans?)"
        )
    zooms = np.asarray(zooms, dtype=float)
    lo, hi = VOXEL_SIZE_RANGE_MM
    if np.any(zooms < lo) or np.any(zooms > hi):
        raise InputError(
            source, f"implausible voxel size {tuple(np.round(zooms, 3))} mm (expected {lo}-{hi} mm; check the header)"
        )
    fov = zooms * np.asarray(data.shape)
    if np.any(fov < MIN_FOV_MM) or np.any(fov > MAX_FOV_MM):
        raise InputError(
            source,
            f"implausible field of view {tuple(np.round(fov))} mm (expected {MIN_FOV_MM:g}-{MAX_FOV_MM:g} mm per axis)",
        )


def voxel_fingerprint(path: str | Path) -> str:
    """A short hash of an image's voxel data in RAS order (float32): the same scan gives the same
    fingerprint whatever its file name, compression or stored axis order.

    Example:
        >>> import tempfile
        >>> folder, data = Path(tempfile.mkdtemp()), np.arange(24, dtype=np.int16).reshape(2, 3, 4)
        >>> nib.save(nib.Nifti1Image(data, np.eye(4)), folder / "a.nii.gz")
        >>> nib.save(nib.Nifti1Image(data[::-1].copy(), np.diag([-1.0, 1, 1, 1])), folder / "b.nii")
        >>> voxel_fingerprint(folder / "a.nii.gz") == voxel_fingerprint(folder / "b.nii")
        True
    """
    import hashlib

    img = nib.as_closest_canonical(nib.load(str(path)))
    data = np.ascontiguousarray(np.asarray(img.dataobj, dtype=np.float32))
    return hashlib.sha256(str(data.shape).encode() + data.tobytes()).hexdigest()[:20]


def check_t1_file(path: str | Path) -> str:
    """Return ``""`` when the file is a usable T1 image, else the reason it is not."""
    try:
        load_t1(path)
    except InputError as exc:
        return exc.problem
    return ""

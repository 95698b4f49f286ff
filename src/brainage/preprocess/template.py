"""The MNI152 template that ships with nilearn (no download).

The output grids are in :mod:`brainage.preprocess.grids`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np

from brainage.files import atomic_path
from brainage.layout import TemplateCacheDir


def _disk_cache() -> Path:
    """Where resampled templates are kept between processes (``BRAINAGE_CACHE`` or the user's
    cache folder), one folder per nilearn version, whose resampling made them."""
    from importlib.metadata import version

    root = Path(os.environ.get("BRAINAGE_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")))
    return root / "brainage" / f"nilearn-{version('nilearn')}"


@lru_cache(maxsize=8)
def template_image(kind: str, resolution: int) -> nib.Nifti1Image:
    """nilearn's MNI152 2009a images (shipped in the package): ``t1``, ``mask``, ``gm``, ``wm``.

    nilearn ships them at 1 mm and resamples on every load (about half a second each); the
    result is kept on disk, so a fresh worker process or a one-scan ``predict`` does not redo it.
    Where the cache cannot be written, the image is simply made again next time.
    """
    cached = TemplateCacheDir(_disk_cache()).image(kind, resolution)
    if cached.is_file():
        try:
            img = nib.load(cached)
            return nib.Nifti1Image(img.get_fdata(dtype=np.float32), img.affine, img.header)
        except Exception:  # a truncated or foreign file: make it again
            pass
    out = _from_nilearn(kind, resolution)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cached) as tmp:
            nib.save(out, tmp)
    except OSError:  # a read-only home: no cache, same result
        pass
    return out


def _from_nilearn(kind: str, resolution: int) -> nib.Nifti1Image:
    from nilearn import datasets  # slow import; only needed here

    loader = {
        "t1": datasets.load_mni152_template,
        "mask": datasets.load_mni152_brain_mask,
        "gm": datasets.load_mni152_gm_template,
        "wm": datasets.load_mni152_wm_template,
    }[kind]
    img = loader(resolution=resolution)
    out = nib.Nifti1Image(img.get_fdata(dtype=np.float32), img.affine)
    out.header.set_xyzt_units("mm", "sec")
    return out


def template_brain(resolution: int = 2) -> nib.Nifti1Image:
    """The template T1 with everything outside its brain mask set to zero."""
    t1 = template_image("t1", resolution)
    mask = template_image("mask", resolution).get_fdata() > 0.5
    out = nib.Nifti1Image(np.where(mask, t1.get_fdata(dtype=np.float32), 0).astype(np.float32), t1.affine)
    out.header.set_xyzt_units("mm", "sec")
    return out


@lru_cache(maxsize=2)  # the same three maps for every scan a worker segments
def tissue_priors(resolution: int = 2) -> nib.Nifti1Image:
    """Where CSF, grey and white matter lie in MNI space, as three probability channels (x, y, z, 3):
    nilearn's MNI152 grey- and white-matter templates, and CSF as what is left of the brain mask
    dilated by two voxels (sulcal CSF lies just outside the template's brain). The spatial prior
    of the ``partial-volume prior`` segmentation (:func:`~brainage.preprocess.tissue.partial_volume_fractions`)."""
    from scipy import ndimage

    gm = template_image("gm", resolution).get_fdata(dtype=np.float32)
    wm = template_image("wm", resolution).get_fdata(dtype=np.float32)
    mask = template_image("mask", resolution)
    brain = ndimage.binary_dilation(mask.get_fdata() > 0.5, iterations=2).astype(np.float32)
    csf = np.clip(brain - gm - wm, 0, 1)
    return nib.Nifti1Image(np.stack([csf, gm, wm], axis=-1).astype(np.float32), mask.affine)

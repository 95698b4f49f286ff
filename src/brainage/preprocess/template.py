"""The MNI152 template that ships with nilearn (no download).

The output grids are in :mod:`brainage.preprocess.grids`.
"""

from __future__ import annotations

from functools import lru_cache

import nibabel as nib
import numpy as np


@lru_cache(maxsize=8)
def template_image(kind: str, resolution: int) -> nib.Nifti1Image:
    """nilearn's MNI152 2009a images (shipped in the package): ``t1``, ``mask``, ``gm``, ``wm``."""
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

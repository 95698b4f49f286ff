"""The MNI152 template that ships with nilearn, and the fixed output grids models train on."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import nibabel as nib
import numpy as np


@dataclass(frozen=True)
class GridSpec:
    """A fixed MNI-space output grid: voxel size and shape, centred on the template brain
    left-right and front-back, with its top ``top_margin_mm`` above the top of the brain.

    Example:
        >>> GRIDS["2mm"].shape
        (80, 96, 80)
    """

    name: str
    voxel_mm: float
    shape: tuple[int, int, int]
    top_margin_mm: float = 4.0

    def affine(self) -> np.ndarray:
        """RAS voxel-to-MNI-mm affine of this grid."""
        mask = template_image("mask", 1)
        data = mask.get_fdata() > 0.5
        ijk = np.array(np.nonzero(data))
        mm = nib.affines.apply_affine(mask.affine, np.stack([ijk.min(1), ijk.max(1)]))
        centre = mm.mean(0)
        size = (np.array(self.shape) - 1) * self.voxel_mm
        origin = centre - size / 2
        origin[2] = mm[1, 2] + self.top_margin_mm - size[2]
        aff = np.diag([self.voxel_mm] * 3 + [1.0])
        aff[:3, 3] = origin
        return aff

    def reference(self) -> nib.Nifti1Image:
        """An empty image on this grid (a resampling target)."""
        img = nib.Nifti1Image(np.zeros(self.shape, np.float32), self.affine())
        img.header.set_xyzt_units("mm", "sec")
        return img


#: The grids brainage knows: 2 mm (brain-cropped, for 2 mm data such as IXI-HH, and the fast
#: default) and SFCN's 1 mm 160x192x160.
GRIDS = {
    "2mm": GridSpec("2mm", 2.0, (80, 96, 80)),
    "1mm": GridSpec("1mm", 1.0, (160, 192, 160)),
}


@lru_cache(maxsize=8)
def template_image(kind: str, resolution: int) -> nib.Nifti1Image:
    """nilearn's MNI152 2009a images (shipped in the package): ``t1``, ``mask``, ``gm``, ``wm``."""
    from nilearn import datasets  # slow import; only needed here

    loader = {"t1": datasets.load_mni152_template, "mask": datasets.load_mni152_brain_mask,
              "gm": datasets.load_mni152_gm_template, "wm": datasets.load_mni152_wm_template}[kind]
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

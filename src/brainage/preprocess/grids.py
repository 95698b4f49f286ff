"""The fixed MNI-space output grids models train on, declared once.

Preprocessing writes a cache per grid and records the grid beside it (``grid.json``); training
and every later stage read the grid from there instead of knowing it themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainage.errors import InputError
from brainage.layout import DEFAULT_GRID  # noqa: F401  (re-exported: the grid every stage uses by default)

#: The template every grid is aligned to (shipped inside nilearn, no download).
TEMPLATE = "MNI152NLin2009a (nilearn)"


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
        import nibabel as nib

        from brainage.preprocess.template import template_image

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

    def reference(self):
        """An empty image on this grid (a resampling target)."""
        import nibabel as nib

        img = nib.Nifti1Image(np.zeros(self.shape, np.float32), self.affine())
        img.header.set_xyzt_units("mm", "sec")
        return img

    @classmethod
    def from_json(cls, data: dict) -> "GridSpec":
        return cls(data["name"], float(data["voxel_mm"]), tuple(data["shape"]), float(data.get("top_margin_mm", 4.0)))

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "voxel_mm": self.voxel_mm,
            "shape": list(self.shape),
            "top_margin_mm": self.top_margin_mm,
            "template": TEMPLATE,
        }


#: The grids brainage knows: 2 mm (brain-cropped, for 2 mm data such as IXI-HH, and the fast
#: default) and SFCN's 1 mm 160x192x160.
GRIDS = {
    "2mm": GridSpec("2mm", 2.0, (80, 96, 80)),
    "1mm": GridSpec("1mm", 1.0, (160, 192, 160)),
}


def write_grid(path: str | Path, grid: GridSpec) -> Path:
    from brainage.files import write_json

    return write_json(path, grid.to_json())


def read_grid(path: str | Path) -> GridSpec:
    """The grid a cache was written on (its ``grid.json``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "cache has no grid.json (written by `brainage preprocess` since 0.2; re-run it)")
    return GridSpec.from_json(json.loads(path.read_text()))

"""The fixed MNI-space output grids models train on, declared once.

Preprocessing writes a cache per grid and records the grid beside it (``grid.json``); training
and every later stage read the grid from there instead of knowing it themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from brainage.errors import InputError

#: The model grid (and its cache folder, ``cache/2mm``) every stage uses unless told otherwise.
DEFAULT_GRID = "2mm"
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
        """RAS voxel-to-MNI-mm affine of this grid (a fresh copy; computed once per process)."""
        return _grid_affine(self).copy()

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


@lru_cache(maxsize=None)
def _grid_affine(grid: GridSpec) -> np.ndarray:
    """The affine of :meth:`GridSpec.affine`: from the template's brain box, which costs a quarter
    of a second to load, and every resampling of every step asks for it."""
    import nibabel as nib

    from brainage.preprocess.template import template_image

    mask = template_image("mask", 1)
    data = np.asarray(mask.dataobj) > 0.5
    # the box from the mask's projections on each axis: the same corners as np.nonzero, 20x faster
    ijk = [np.flatnonzero(data.any(axis=tuple(a for a in range(3) if a != axis))) for axis in range(3)]
    mm = nib.affines.apply_affine(mask.affine, np.array([[i[0] for i in ijk], [i[-1] for i in ijk]]))
    centre = mm.mean(0)
    size = (np.array(grid.shape) - 1) * grid.voxel_mm
    origin = centre - size / 2
    origin[2] = mm[1, 2] + grid.top_margin_mm - size[2]
    aff = np.diag([grid.voxel_mm] * 3 + [1.0])
    aff[:3, 3] = origin
    return aff


#: The grids brainage knows: 2 mm (brain-cropped, for 2 mm data such as IXI-HH, and the fast
#: default) and SFCN's 1 mm 160x192x160.
GRIDS = {
    "2mm": GridSpec("2mm", 2.0, (80, 96, 80)),
    "1mm": GridSpec("1mm", 1.0, (160, 192, 160)),
}


#: Version of the cache record (``grid.json``) this brainage writes; files without one are the
#: bare grids written before it (0.2 to 0.6).
CACHE_INFO_VERSION = 1


@dataclass(frozen=True)
class CacheInfo:
    """What the volumes of a cache folder are (its ``grid.json``): the MNI grid preprocessing
    resampled them onto, and the factor they were average-pooled by since (``brainage pack
    --downsample``); hence their actual voxel size and shape. Training, export and explain read
    the grid from here, never from a name.

    Example:
        >>> info = CacheInfo(GRIDS["2mm"]).pooled_by(2)
        >>> info.grid.name, info.voxel_mm, info.shape
        ('2mm', 4.0, (40, 48, 40))
        >>> info.voxel_mm_pooled(2)  # what a model that pools it by 2 again sees
        8.0
    """

    grid: GridSpec
    pooled: int = 1

    @property
    def voxel_mm(self) -> float:
        return self.grid.voxel_mm * self.pooled

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(n // self.pooled for n in self.grid.shape)

    def pooled_by(self, factor: int) -> "CacheInfo":
        return CacheInfo(self.grid, self.pooled * factor)

    def voxel_mm_pooled(self, downsample: int) -> float:
        """Voxel size of a model input read from this cache and average-pooled by ``downsample``."""
        return self.voxel_mm * downsample

    def identity(self) -> dict:
        """What a model trained on this cache depends on (part of its fingerprint); for an unpooled
        cache the same as before this record existed, so finished folds stay finished."""
        identity = {"grid": self.grid.to_json()}
        return identity if self.pooled == 1 else {**identity, "pooled": self.pooled}

    def to_json(self) -> dict:
        return {
            "version": CACHE_INFO_VERSION,
            "grid": self.grid.to_json(),
            "pooled": self.pooled,
            "voxel_mm": self.voxel_mm,
            "shape": list(self.shape),
        }

    @classmethod
    def from_json(cls, data: dict, source: str | Path | None = None) -> "CacheInfo":
        """The record, from this version's JSON or a bare grid of an older one (a pooled cache was
        then a grid named like ``2mm/2``); one line naming ``source`` when it is neither."""
        try:
            if "version" not in data:
                return cls._from_bare_grid(data)
            if int(data["version"]) > CACHE_INFO_VERSION:
                raise InputError(source, f"cache record version {data['version']} is newer than this brainage reads")
            unknown = set(data) - {"version", "grid", "pooled", "voxel_mm", "shape"}
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}")
            return cls(GridSpec.from_json(data["grid"]), int(data.get("pooled", 1)))
        except InputError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(source, f"not a brainage cache record ({type(exc).__name__}: {exc})") from None

    @classmethod
    def _from_bare_grid(cls, data: dict) -> "CacheInfo":
        name, _, factor = str(data["name"]).partition("/")
        if not factor:
            return cls(GridSpec.from_json(data))
        base = GRIDS[name] if name in GRIDS else GridSpec.from_json({**data, "name": name})
        return cls(base, int(factor))

    def write(self, path: str | Path) -> Path:
        from brainage.files import write_json

        return write_json(path, self.to_json())

    @classmethod
    def read(cls, path: str | Path) -> "CacheInfo":
        """The record of a cache folder (its ``grid.json``), or one line saying why there is none."""
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "cache has no grid.json (written by `brainage preprocess` since 0.2; re-run it)")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(path, f"not a brainage cache record (invalid JSON: {exc})") from None
        return cls.from_json(data, path)

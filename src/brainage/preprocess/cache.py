"""The model-ready cache: one uint8 ``.npy`` per subject and grid, memory-mappable.

uint8 keeps a 2 mm 80x96x80 brain at 614 KB (1 mm 160x192x160: 4.9 MB), which lets a
DataLoader memory-map the whole cohort and lets a compressed archive of all IXI-HH subjects
travel to a GPU machine under 64 MiB (:func:`pack_cache`). Each cache folder records the grid
it was written on (``grid.json``), which training reads.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from brainage.data.manifest import read_table
from brainage.errors import InputError
from brainage.files import atomic_path, write_csv
from brainage.layout import CacheDir, PreprocessedDir
from brainage.preprocess.grids import DEFAULT_GRID, CacheInfo, GridSpec

INDEX_COLUMNS = ["subject_id", "age", "sex", "site", "path", "source_subject", "rendition"]
#: Per-subject numbers preprocessing measures that models may use beside the image: native brain
#: volume, the registration's determinant (head size), native tissue volumes.
COVARIATES = ("brain_volume_ml", "affine_det", "csf_ml", "gm_ml", "wm_ml")


def find_cache(path: str | Path, grid: str | None = None) -> CacheDir:
    """The model-ready cache in ``path``: a cache folder itself, or a preprocessing folder.

    Parameters
    ----------
    path
        A cache folder (``cache/<grid>``) or a ``brainage preprocess`` output folder.
    grid
        Which cache of a preprocessing folder that holds several; by default the only one, else
        :data:`~brainage.preprocess.grids.DEFAULT_GRID`.

    Returns
    -------
    CacheDir
        The cache, or an :class:`~brainage.errors.InputError` saying what is missing.
    """
    path = Path(path)
    if CacheDir(path).index.is_file():
        return CacheDir(path)
    if path.is_file():
        raise InputError(path, "expected a `brainage preprocess` output folder or a cache folder, got a file")
    caches = PreprocessedDir(path).grids()
    if not caches:
        raise InputError(
            path,
            "no model-ready cache here (expected a `brainage preprocess` output folder "
            "with cache/<grid>/index.csv, or a cache folder)",
        )
    if grid is None:
        grid = caches[0] if len(caches) == 1 else DEFAULT_GRID if DEFAULT_GRID in caches else caches[0]
    if grid not in caches:
        raise InputError(path, f"no cache for grid {grid!r} (found {', '.join(caches)})")
    return PreprocessedDir(path).cache(grid)


def write_volume(path: str | Path, volume01: np.ndarray) -> Path:
    """Store a [0, 1] float volume as uint8, atomically."""
    return write_volume_raw(Path(path), np.round(np.clip(volume01, 0, 1) * 255).astype(np.uint8))


def read_volume(path: str | Path, mmap: bool = True) -> np.ndarray:
    """uint8 volume from the cache, memory-mapped by default."""
    return np.load(path, mmap_mode="r" if mmap else None)


def write_cache_index(
    cache: CacheDir,
    grid: GridSpec,
    manifest: pd.DataFrame,
    report: pd.DataFrame | None = None,
    renditions: pd.DataFrame | None = None,
) -> Path:
    """``index.csv`` and ``grid.json``: included subjects that have a cached volume, with labels,
    their tissue maps (``tissue_path``) where cached, and the :data:`COVARIATES` of ``report``.

    ``renditions`` (:mod:`brainage.preprocess.renditions`) adds the training renditions, with
    their covariates; every row names its ``source_subject`` (itself for an original scan) and
    its ``rendition`` kind (empty for an original scan).
    """
    subjects = manifest[manifest.included].assign(source_subject=lambda m: m.subject_id, rendition="")
    measured = report
    if renditions is not None and len(renditions):
        subjects = pd.concat([subjects, renditions], ignore_index=True)
        measured = pd.concat([report, renditions], ignore_index=True) if report is not None else renditions
    rows = []
    for _, sub in subjects.iterrows():
        if cache.volume(sub.subject_id).exists():
            tissue = cache.tissue(sub.subject_id)
            rows.append(
                {
                    "subject_id": sub.subject_id,
                    "age": sub.age,
                    "sex": sub.sex,
                    "site": sub.site,
                    "path": cache.volume(sub.subject_id).name,
                    "source_subject": sub.source_subject,
                    "rendition": sub.rendition,
                    "tissue_path": tissue.name if tissue.exists() else "",
                }
            )
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS + ["tissue_path"])
    if measured is not None:
        known = [c for c in COVARIATES if c in measured.columns]
        index = index.merge(measured[["subject_id", *known]], on="subject_id", how="left")
    if not (index["tissue_path"] != "").any():
        index = index.drop(columns="tissue_path")
    CacheInfo(grid).write(cache.grid)
    return write_csv(index, cache.index)


#: Every column ``index.csv`` may hold and what it holds: a later stage relies on nothing else.
#: ``source_subject`` and ``rendition`` are absent from caches written before 0.7 and filled on read.
INDEX_SCHEMA = {
    "subject_id": str,
    "age": float,
    "sex": str,
    "site": str,
    "path": str,
    "source_subject": str,
    "rendition": str,
    "tissue_path": str,
    **{covariate: float for covariate in COVARIATES},
}
REQUIRED_INDEX_COLUMNS = ("subject_id", "age", "sex", "site", "path")


def read_cache_index(cache_dir: str | Path) -> pd.DataFrame:
    """The index of a cache folder, checked against :data:`INDEX_SCHEMA`, with absolute volume paths.

    Parameters
    ----------
    cache_dir : str or Path
        A cache folder written by ``brainage preprocess`` (or ``brainage unpack``).

    Returns
    -------
    pandas.DataFrame
        One row per cached scan. A missing or unknown column, or a number column holding text,
        is refused in one line naming the file.
    """
    cache = CacheDir(cache_dir)
    if not cache.index.is_file():
        raise InputError(cache.index, "cache index not found (run `brainage preprocess` first)")
    text_columns = {name: str for name, kind in INDEX_SCHEMA.items() if kind is str}
    index = read_table(cache.index, "cache index", dtype=text_columns)
    missing = [c for c in REQUIRED_INDEX_COLUMNS if c not in index]
    unknown = [c for c in index if c not in INDEX_SCHEMA]
    problems = []
    if missing:
        problems.append(f"no column {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column {', '.join(unknown)} (written by a newer brainage?)")
    if problems:
        raise InputError(cache.index, f"not a brainage cache index: {'; '.join(problems)}")
    for name in [c for c in index if INDEX_SCHEMA[c] is float]:
        if not pd.api.types.is_numeric_dtype(index[name]):
            raise InputError(cache.index, f"column {name} holds text where numbers belong")
    if "source_subject" not in index:  # written before training renditions existed
        index["source_subject"], index["rendition"] = index.subject_id, ""
    index["rendition"] = index["rendition"].fillna("")
    index["path"] = [str(cache.root / p) for p in index["path"]]
    if "tissue_path" in index:
        index["tissue_path"] = [str(cache.root / p) if isinstance(p, str) and p else "" for p in index["tissue_path"]]
    return index


def is_original(index: pd.DataFrame) -> pd.Series:
    """Rows of a cache index that are scans as acquired, not training renditions of them."""
    return index.rendition == ""


def _pooled(path: str, factor: int) -> np.ndarray:
    volume = read_volume(path, mmap=False)
    if factor == 1:
        return volume
    blocks = np.asarray(volume.shape[-3:]) // factor
    trimmed = volume[..., : blocks[0] * factor, : blocks[1] * factor, : blocks[2] * factor].astype(np.float32)
    shape = (*volume.shape[:-3], blocks[0], factor, blocks[1], factor, blocks[2], factor)
    return np.round(trimmed.reshape(shape).mean(axis=(-5, -3, -1))).astype(np.uint8)


def pack_cache(cache_dir: str | Path, archive: str | Path, downsample: int = 1) -> Path:
    """Pack a cache folder into one compressed ``.npz`` (volumes, tissue maps, index, grid) for transport.

    ``downsample`` average-pools every volume first (the 2 mm cache with tissue maps is ~160 MiB
    packed; pooled by 2 to 4 mm, ~20 MiB), recording the coarser grid.
    """
    cache = CacheDir(cache_dir)
    index = read_cache_index(cache.root)
    arrays = {"volumes": np.stack([_pooled(p, downsample) for p in index.path])}
    if "tissue_path" in index and (index.tissue_path != "").all():
        arrays["tissues"] = np.stack([_pooled(p, downsample) for p in index.tissue_path])
    info = CacheInfo.read(cache.grid).pooled_by(downsample)
    table = index.drop(columns=[c for c in ("path", "tissue_path") if c in index])
    with atomic_path(archive) as tmp:
        np.savez_compressed(tmp, **arrays, index=table.to_csv(index=False), grid=json.dumps(info.to_json()))
    return Path(archive)


def unpack_cache(archive: str | Path, cache_dir: str | Path) -> Path:
    """Inverse of :func:`pack_cache`: write the ``.npy`` files, ``index.csv`` and ``grid.json``."""
    data = np.load(archive, allow_pickle=False)
    cache = CacheDir(cache_dir)
    index = pd.read_csv(io.StringIO(str(data["index"])), dtype={"subject_id": str})
    index["path"] = [
        write_volume_raw(cache.volume(sid), vol).name for sid, vol in zip(index.subject_id, data["volumes"])
    ]
    if "tissues" in data:
        index["tissue_path"] = [
            write_volume_raw(cache.tissue(sid), t).name for sid, t in zip(index.subject_id, data["tissues"])
        ]
    CacheInfo.from_json(json.loads(str(data["grid"])), archive).write(cache.grid)
    write_csv(index, cache.index)
    return cache.root


def write_volume_raw(path: Path, volume: np.ndarray) -> Path:
    """Store an already-quantised uint8 volume as it is, atomically."""
    with atomic_path(path) as tmp:
        np.save(tmp, volume)
    return path

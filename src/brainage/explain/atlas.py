"""The region atlas that region summaries use: a consensus DLMUSE parcellation on the MNI grid.

Why this atlas: it must work offline and ship with the package (nothing is downloaded at run
time), be in the exact space our maps live in, and name regions a neuroscientist recognises. The
IXI-HH reference parcellations (DLMUSE, the MUSE atlas's ~145 regions) are moved to the MNI
2 mm grid with the affine transforms preprocessing already computed for each subject (nearest
label), and each voxel takes the label most subjects give it (majority vote, background
included). It is derived from IXI, so it carries IXI's CC BY-SA 3.0 licence
(``bundled/ATTRIBUTION.md``). nilearn's atlases would have to be fetched from the internet.

Build (once, by a maintainer, where the IXI-HH data and its preprocessing exist)::

    python -m brainage.explain.atlas ../shared/data/ixi-hh results/ixi/pre
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from brainage.errors import InputError
from brainage.layout import PreprocessedDir
from brainage.preprocess.grids import DEFAULT_GRID, GRIDS
from brainage.preprocess.ops import to_grid
from brainage.progress import track
from brainage.resources import ATLAS_IMAGE, ATLAS_LABELS


def build_atlas(ixi_dir: str | Path, preprocessed: str | Path, n_subjects: int = 60, grid: str = DEFAULT_GRID) -> Path:
    """Majority-vote the first ``n_subjects`` preprocessed IXI-HH parcellations on ``grid``; writes the
    shipped atlas image and its label table."""
    ixi_dir, pre = Path(ixi_dir), PreprocessedDir(preprocessed)
    names = pd.read_csv(ixi_dir / "dlmuse_labels.csv")
    pairs = []
    for folder in sorted((pre.root / "subjects").iterdir()):
        labels = sorted((ixi_dir / "labels").glob(f"{folder.name}-*-DLMUSE.nii.gz"))
        transform = pre.subject(folder.name).to_mni_affine
        if labels and transform.is_file():
            pairs.append((labels[0], transform))
    if len(pairs) < 5:
        raise InputError(pre.root, f"only {len(pairs)} subjects have both a parcellation and a registration")
    stack = []
    for labels, transform in track(pairs[:n_subjects], description="moving parcellations to MNI"):
        img = nib.load(str(labels))
        moved = to_grid(
            nib.Nifti1Image(np.asarray(img.dataobj).astype(np.float32), img.affine),
            transform,
            GRIDS[grid],
            interpolation="genericLabel",
        )
        stack.append(np.rint(np.asarray(moved.dataobj)).astype(np.int16))
    stack = np.stack(stack)
    values = np.unique(stack)
    counts = np.stack([(stack == v).sum(axis=0) for v in values])  # (labels, X, Y, Z), memory is small at 2 mm
    atlas = values[np.argmax(counts, axis=0)].astype(np.int16)
    ATLAS_IMAGE.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(atlas, GRIDS[grid].affine()), str(ATLAS_IMAGE))
    present = sorted(int(v) for v in np.unique(atlas) if v > 0)
    table = pd.DataFrame({"label": present}).merge(names, on="label", how="left")
    table["name"] = table["name"].fillna("unnamed_" + table.label.astype(str))
    table["voxels"] = [int((atlas == v).sum()) for v in table.label]
    table.to_csv(ATLAS_LABELS, index=False)
    return ATLAS_IMAGE


def load_atlas() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """The shipped atlas: label array, its affine, and the label table (``label, name, voxels``)."""
    if not ATLAS_IMAGE.is_file():
        raise InputError(ATLAS_IMAGE, "the region atlas is missing from this installation; reinstall brainage")
    img = nib.load(str(ATLAS_IMAGE))
    return np.asarray(img.dataobj).astype(np.int16), img.affine, pd.read_csv(ATLAS_LABELS)


def region_summary(volume: np.ndarray, atlas: np.ndarray, labels: pd.DataFrame) -> pd.DataFrame:
    """Share of a non-negative map's mass in each region, and its mean density there, most first.

    Example:
        >>> atlas = np.array([[[1, 1], [2, 0]]])
        >>> names = pd.DataFrame({"label": [1, 2], "name": ["a", "b"]})
        >>> table = region_summary(np.array([[[3.0, 1.0], [0.0, 4.0]]]), atlas, names)
        >>> table[["name", "mass_share"]].values.tolist()
        [['a', 0.5], ['b', 0.0]]
    """
    volume = np.clip(np.asarray(volume, float), 0, None)
    if volume.shape != atlas.shape:
        raise InputError(None, f"map shape {volume.shape} is not the atlas grid {atlas.shape}")
    total = volume.sum() or 1.0
    flat_labels, flat = atlas.ravel(), volume.ravel()
    mass = np.bincount(flat_labels.clip(0), weights=flat, minlength=int(atlas.max()) + 1)
    size = np.bincount(flat_labels.clip(0), minlength=int(atlas.max()) + 1)
    out = labels[["label", "name"]].copy()
    out["mass_share"] = [float(mass[v] / total) for v in out.label]
    out["mean_density"] = [float(mass[v] / max(size[v], 1) / (total / flat.size)) for v in out.label]
    return out.sort_values("mass_share", ascending=False, kind="stable").reset_index(drop=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Build the shipped region atlas from IXI-HH parcellations.")
    parser.add_argument("ixi_dir", type=Path)
    parser.add_argument("preprocessed", type=Path)
    parser.add_argument("--subjects", type=int, default=60)
    args = parser.parse_args()
    print(build_atlas(args.ixi_dir, args.preprocessed, args.subjects))

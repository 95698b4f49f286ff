"""What ``brainage preprocess`` writes: subject folders, caches per grid, the report."""

from __future__ import annotations

from pathlib import Path

from brainage.errors import InputError
from brainage.layout.base import Folder
from brainage.layout.data import MANIFEST
from brainage.layout.qc import QCDir


class SubjectDir(Folder):
    """One subject's preprocessing folder: every step's outputs and ``steps.json``."""

    @property
    def subject_id(self) -> str:
        return self.root.name

    @property
    def steps(self) -> Path:
        return self.root / "steps.json"

    @property
    def error(self) -> Path:
        return self.root / "error.txt"

    @property
    def t1_ras(self) -> Path:
        return self.root / "t1_ras.nii.gz"

    @property
    def brain_mask(self) -> Path:
        return self.root / "brain_mask.nii.gz"

    @property
    def t1_n4(self) -> Path:
        return self.root / "t1_n4.nii.gz"

    @property
    def bias_field(self) -> Path:
        return self.root / "bias_field.nii.gz"

    @property
    def brain_n4(self) -> Path:
        return self.root / "brain_n4.nii.gz"

    @property
    def to_mni_affine(self) -> Path:
        return self.root / "to_mni_affine.mat"

    @property
    def tissue(self) -> Path:
        """CSF, GM and WM probabilities in native space (4D)."""
        return self.root / "tissue_probs.nii.gz"

    def tissue_mni(self, grid: str) -> Path:
        return self.root / f"tissue_mni_{grid}.nii.gz"

    def t1_mni(self, grid: str) -> Path:
        return self.root / f"t1_mni_{grid}.nii.gz"

    def mask_mni(self, grid: str) -> Path:
        return self.root / f"mask_mni_{grid}.nii.gz"


class TemplateCacheDir(Folder):
    """Resampled MNI152 templates kept between processes (``BRAINAGE_CACHE`` or the user's cache)."""

    def image(self, kind: str, resolution: int) -> Path:
        return self.root / f"mni152_{kind}_{resolution}mm.nii.gz"


class CacheDir(Folder):
    """The model-ready cache of one grid: ``<id>.npy`` volumes, ``index.csv``, ``grid.json``."""

    @property
    def index(self) -> Path:
        return self.root / "index.csv"

    @property
    def grid(self) -> Path:
        return self.root / "grid.json"

    def volume(self, subject_id: str) -> Path:
        return self.root / f"{subject_id}.npy"

    def tissue(self, subject_id: str) -> Path:
        """CSF, GM, WM probabilities on the grid, uint8 (3, X, Y, Z)."""
        return self.root / f"{subject_id}_tissue.npy"

    @property
    def preprocessed(self) -> "PreprocessedDir | None":
        """The preprocessing folder this cache belongs to (``None`` for a stand-alone cache)."""
        root = self.root.parent.parent
        return PreprocessedDir(root) if PreprocessedDir(root).report.is_file() else None


class PreprocessedDir(Folder):
    """``brainage preprocess`` output: per-subject folders, caches per grid, report, QC."""

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def report(self) -> Path:
        return self.root / "preprocess_report.csv"

    @property
    def config(self) -> Path:
        return self.root / "preprocess_config.yaml"

    @property
    def subjects(self) -> Path:
        return self.root / "subjects"

    def subject(self, subject_id: str) -> SubjectDir:
        return SubjectDir(self.subjects / subject_id)

    def cache(self, grid: str) -> CacheDir:
        return CacheDir(self.root / "cache" / grid)

    def grids(self) -> list[str]:
        """Names of the grids that have a cache here."""
        return sorted(p.parent.name for p in (self.root / "cache").glob("*/index.csv"))

    @property
    def qc(self) -> QCDir:
        return QCDir(self.root / "qc")

    def figure(self, subject_id: str) -> Path:
        return self.root / "figures" / f"{subject_id}.png"

    @property
    def renditions(self) -> Path:
        """Rendered training scans (:mod:`brainage.preprocess.renditions`), kept between runs."""
        return self.root / "renditions"

    @property
    def renditions_table(self) -> Path:
        """The renditions that preprocessed: source subject, kind, labels."""
        return self.root / "renditions.csv"

    @property
    def renditions_report(self) -> Path:
        """The preprocessing report of the renditions (status, error, seconds per step)."""
        return self.root / "renditions_report.csv"

    def require(self) -> "PreprocessedDir":
        """Self, or a clear error when this is not a preprocessing output folder."""
        if self.root.is_file():
            raise InputError(self.root, "expected a `brainage preprocess` output folder, got a file")
        if not self.report.is_file():
            raise InputError(self.root, "not a `brainage preprocess` output folder (no preprocess_report.csv)")
        return self

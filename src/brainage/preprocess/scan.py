"""Preprocessing one scan in memory: ``Preprocessor(recipe)(image) -> PreprocessedScan``.

The stage command (``brainage preprocess``, :func:`~brainage.preprocess.pipeline.preprocess_manifest`)
runs the same steps over a manifest, with a subject folder per scan as its restartable cache. Here
an image (a file or a nibabel image already in memory) goes through those steps and comes back as
the arrays a model reads, so a notebook never handles a manifest, a cache index or a folder.

Why the steps still write files underneath: ANTs and deepbet are driven step by step with
fingerprints so a rerun redoes only what changed, and that chain lives in a folder. Give
``work_dir`` to keep it (a second call on the same scan is then instant); by default a temporary
folder is used and removed.

Example:
    >>> import nibabel as nib
    >>> scan = Preprocessor("scanner-robust")(nib.load("sub-01_T1w.nii.gz"))  # doctest: +SKIP
    >>> scan.t1.shape, scan.covariates["brain_volume_ml"]  # doctest: +SKIP
    ((80, 96, 80), 1402.3)
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import nibabel as nib
import numpy as np

from brainage.errors import InputError
from brainage.layout import PreprocessedDir
from brainage.parallel import Executor, map_subjects
from brainage.preprocess.cache import COVARIATES, read_volume
from brainage.preprocess.grids import GRIDS, GridSpec
from brainage.preprocess.pipeline import PreprocessConfig, can_run_here, preprocess_subject, recipe_preset


@dataclass
class PreprocessedScan:
    """One scan as a model reads it: the cached volumes on an MNI grid and the covariates.

    ``t1`` is the intensity-normalised brain (uint8, 0-255 for 0-1, as in the model cache);
    ``tissue`` the CSF, grey- and white-matter maps ``(3, X, Y, Z)`` where the recipe segments;
    ``covariates`` the head-size and tissue-volume numbers models may use beside the image
    (:data:`~brainage.preprocess.cache.COVARIATES`); ``findings`` what each step measured (seconds,
    registration quality, ...); ``age`` and ``sex`` the labels where known.
    """

    subject_id: str
    t1: np.ndarray
    grid: GridSpec
    tissue: np.ndarray | None = None
    covariates: dict[str, float] = field(default_factory=dict)
    findings: dict = field(default_factory=dict)
    age: float | None = None
    sex: str = ""

    def index_row(self) -> dict:
        """The scan as a row of a cache index, the arrays in place of the files' names (what
        :meth:`brainage.bundle.bundle.Bundle.predict` and the training datasets read)."""
        row = {
            "subject_id": self.subject_id,
            "age": np.nan if self.age is None else float(self.age),
            "sex": self.sex,
            "site": "",
            "path": self.t1,
            **self.covariates,
        }
        if self.tissue is not None:
            row["tissue_path"] = self.tissue
        return row


class Preprocessor:
    """The preprocessing of a recipe, applied to one image at a time.

    Parameters
    ----------
    recipe
        A recipe name (``"default"``, ``"scanner-robust"``) or a :class:`PreprocessConfig`
        (a model bundle's own: ``bundle.preprocess_config``). Training renditions are never made here.
    work_dir
        Where the steps keep their files (a restartable cache: the same scan again is instant);
        ``None``: a temporary folder, removed afterwards.

    Example:
        >>> Preprocessor("scanner-robust").config.working_voxel_mm
        2.0
    """

    def __init__(self, recipe: str | PreprocessConfig = "default", work_dir: str | Path | None = None):
        config = recipe_preset(recipe) if isinstance(recipe, str) else recipe
        if not isinstance(config, PreprocessConfig):
            raise InputError(None, f"a recipe is a name or a PreprocessConfig, not {type(recipe).__name__}")
        self.config = replace(config, renditions=0)
        self.work_dir = Path(work_dir) if work_dir is not None else None

    def __call__(self, image: str | Path | nib.Nifti1Image, subject_id: str = "scan") -> PreprocessedScan:
        """Preprocess ``image`` (a NIfTI file or a nibabel image); an :class:`InputError` names
        what is wrong with an image that cannot be preprocessed."""
        if self.work_dir is not None:
            return self._run(image, subject_id, self.work_dir)
        with tempfile.TemporaryDirectory(prefix="brainage-") as tmp:
            return self._run(image, subject_id, Path(tmp))

    def _run(self, image, subject_id: str, work: Path) -> PreprocessedScan:
        source = _as_file(image, work / "inputs", subject_id)
        job = (subject_id, str(source), str(work), self.config)
        if can_run_here(self.config):
            row = preprocess_subject(*job, torch_threads=2)
        else:  # ANTs already runs unpinned in this process: a fresh one keeps registrations repeatable
            (row,) = map_subjects(preprocess_subject, [job], "preprocessing", Executor(workers=1))
        if row["status"] != "ok":
            raise InputError(image if isinstance(image, (str, Path)) else None, row["error"])
        root, grid = PreprocessedDir(work), GRIDS[self.config.grids[0]]
        cache = root.cache(grid.name)
        tissue = cache.tissue(subject_id)
        return PreprocessedScan(
            subject_id=subject_id,
            t1=np.array(read_volume(cache.volume(subject_id))),
            grid=grid,
            tissue=np.array(read_volume(tissue)) if self.config.tissue and tissue.exists() else None,
            covariates={c: float(row[c]) for c in COVARIATES if c in row},
            findings={k: v for k, v in row.items() if k not in ("subject_id", "t1_path", "status", "error")},
        )


def _as_file(image, folder: Path, subject_id: str) -> Path:
    """A path for the steps to read: the file given, or the in-memory image written once."""
    if isinstance(image, (str, Path)):
        return Path(image)
    if not isinstance(image, nib.spatialimages.SpatialImage):
        raise InputError(None, f"expected a NIfTI file or a nibabel image, got {type(image).__name__}")
    folder.mkdir(parents=True, exist_ok=True)
    # uncompressed: the same image gives the same bytes, so a kept work_dir is reused
    path = folder / f"{subject_id}.nii"
    nib.save(nib.Nifti1Image(np.asanyarray(image.dataobj), image.affine, image.header), str(path))
    return path

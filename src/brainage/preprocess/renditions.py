"""Training renditions: each training scan rendered as another acquisition, then preprocessed.

A model that reads intensity reads blur, thick slices and a flatter grey/white contrast as age,
because ageing flattens a T1's contrast too (docs/scanner_robustness.md). Blurring images *after*
preprocessing does not teach it otherwise: the change that brain extraction, N4, registration and
the intensity anchor make to a blurred scan is not the change that blurring a preprocessed one
makes. So each training scan is rendered as ``k`` other acquisitions of the same brain
(:data:`~brainage.preprocess.recipes.RENDITION_KINDS` or a recipe's own, from
:mod:`brainage.data.variants`), and every rendition goes through the whole preprocessing like a
subject of its own, ``<subject>~<kind>``, with its source's age and sex.
Training (``renditions: true`` in the train config) puts each rendition in its source subject's
fold, never among test or validation subjects.

The kinds are dealt in turn over the included subjects in a fixed shuffled order, so every kind
covers a share of ages and sexes; the grey/white contrast change reads the source's own tissue
segmentation. Rendered files are kept (``renditions/`` of the preprocessing folder), named by a
fingerprint of their source file's content, kind and seed, so a changed source is rendered again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from nibabel.processing import resample_from_to

from brainage.config import fingerprint
from brainage.data.variants import VARIANTS
from brainage.errors import InputError
from brainage.files import atomic_path, file_digest
from brainage.layout import PreprocessedDir, SubjectDir
from brainage.preprocess.recipes import RENDITION_KINDS

#: Separates a rendition's source subject from its kind in its subject id.
SEPARATOR = "~"
#: Random draws of rendition ``n`` (in dealing order) use seed ``SEED + n``.
SEED = 7000
#: Fraction of a voxel's tissue probabilities below which it is labelled background.
MIN_TISSUE = 0.5


@dataclass(frozen=True)
class Rendition:
    """One planned rendition: which subject, as which acquisition, with which random seed.

    Example:
        >>> r = Rendition("IXI002", "/data/IXI002.nii.gz", "gamma_0.7", 7003)
        >>> r.subject_id
        'IXI002~gamma_0.7'
    """

    source_subject: str
    source_path: str
    kind: str
    seed: int

    @property
    def subject_id(self) -> str:
        return f"{self.source_subject}{SEPARATOR}{self.kind}"

    def scan_path(self, root: PreprocessedDir) -> Path:
        """Where the rendered scan is kept: named by what defines it, so a changed source renders anew."""
        key = fingerprint(file_digest(self.source_path), self.kind, self.seed)[:12]
        return root.renditions / f"{self.subject_id}_{key}.nii.gz"


def plan_renditions(manifest: pd.DataFrame, per_subject: int, kinds: tuple = RENDITION_KINDS) -> list[Rendition]:
    """``per_subject`` renditions of every included subject, ``kinds`` (names of
    :data:`~brainage.data.variants.VARIANTS`) dealt in turn over a fixed shuffle of the subjects
    (each subject gets distinct kinds).

    Example:
        >>> m = pd.DataFrame({"subject_id": ["a", "b", "c"], "t1_path": ["a.nii", "b.nii", "c.nii"],
        ...                   "included": [True, True, False]})
        >>> for r in plan_renditions(m, 2):
        ...     print(r.subject_id, r.seed)
        b~restored_1mm 7000
        b~thick_slices_left-right 7001
        a~thick_slices_front-back 7002
        a~thick_slices_top-bottom 7003
    """
    unknown = [k for k in kinds if k not in VARIANTS]
    if unknown:
        raise InputError(None, f"unknown rendition kind(s) {unknown}; choose from {', '.join(VARIANTS)}")
    if not 0 <= per_subject <= len(kinds):
        raise InputError(None, f"renditions per subject must be between 0 and {len(kinds)}, got {per_subject}")
    subjects = manifest[manifest.included].sample(frac=1, random_state=0)
    plan = []
    for n, (sid, path) in enumerate(zip(subjects.subject_id, subjects.t1_path)):
        for j in range(per_subject):
            k = n * per_subject + j
            plan.append(Rendition(str(sid), str(path), kinds[k % len(kinds)], SEED + k))
    return plan


def tissue_labels(source: nib.Nifti1Image, folder: SubjectDir) -> np.ndarray:
    """CSF / grey / white labels (:mod:`brainage.data.variants`) on the source scan's voxel grid,
    from the subject's own tissue probabilities (most probable class where the tissue adds up)."""
    probs = nib.load(str(folder.tissue))
    p = probs.get_fdata(dtype=np.float32)
    labels = np.where(p.sum(axis=-1) >= MIN_TISSUE, p.argmax(axis=-1) + 1, 0).astype(np.uint8)
    on_source = resample_from_to(nib.Nifti1Image(labels, probs.affine), (source.shape[:3], source.affine), order=0)
    return np.asarray(on_source.dataobj).astype(np.uint8)


def render(rendition: Rendition, out_dir: str | Path) -> Path:
    """The rendered scan of ``rendition`` (kept between runs), from its source and the source's
    preprocessing in ``out_dir``."""
    root = PreprocessedDir(out_dir)
    path = rendition.scan_path(root)
    if path.is_file():
        return path
    source = nib.load(rendition.source_path)
    tissue = tissue_labels(source, root.subject(rendition.source_subject))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        nib.save(VARIANTS[rendition.kind](source, tissue, rng=rendition.seed), str(tmp))
    return path


def rendition_table(plan: list[Rendition], manifest: pd.DataFrame, report: pd.DataFrame) -> pd.DataFrame:
    """Manifest-like rows of the renditions that preprocessed: the source's labels and site, with
    ``source_subject`` and ``rendition`` (the kind)."""
    ok = set(report.loc[report.status == "ok", "subject_id"])
    labels = manifest.set_index("subject_id")
    rows = [
        {
            "subject_id": r.subject_id,
            "age": labels.at[r.source_subject, "age"],
            "sex": labels.at[r.source_subject, "sex"],
            "site": labels.at[r.source_subject, "site"],
            "included": True,
            "source_subject": r.source_subject,
            "rendition": r.kind,
        }
        for r in plan
        if r.subject_id in ok
    ]
    return pd.DataFrame(rows, columns=["subject_id", "age", "sex", "site", "included", "source_subject", "rendition"])

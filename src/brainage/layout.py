"""The on-disk layout of every stage: each file and folder name brainage writes, spelled once.

Stages never build a path by hand; they ask the folder object of the stage whose files they
read or write. A user can therefore find anything from this one page:

```
COHORT/ (BIDS)   participants.tsv  dataset_description.json  sub-<id>/[ses-*/]anat/sub-<id>_T1w.nii.gz
  derivatives/synth/  subjects.tsv  synth_config.yaml  sub-<id>_desc-brain_mask.nii.gz  (synthetic truth)
INGEST/          manifest.csv  summary.txt  summary.png  excluded.csv  ixi_rows_without_scan.csv
SPLITS/          folds.csv  fold_balance.csv  split_balance.csv  split_config.yaml  manifest_after_qc.csv
PREPROCESSED/    manifest.csv  preprocess_report.csv  preprocess_config.yaml
  subjects/<id>/ steps.json  t1_ras  brain_mask  t1_n4  bias_field  brain_n4  to_mni_affine.mat  tissue_probs
                 t1_mni_<grid>  mask_mni_<grid>  tissue_mni_<grid>  (.nii.gz)  error.txt
  cache/<grid>/  <id>.npy  <id>_tissue.npy  index.csv  grid.json
  qc/            qc_metrics.csv  qc_verdicts.csv  qc_overrides.csv  qc_ratings.sqlite  qc_info.json
                 montages/<id>{,_tile}.png  contact_sheet.png  index.html
  figures/       <id>.png (before/after)
RUN/             train_config.yaml  run_options.yaml  run_info.json  all_predictions.csv  oof_predictions.csv
                 stack_weights.json (ensembles)
  fold<k>/seed<s>/  predictions.csv  done.json  checkpoints/{best,last}.ckpt  logs/metrics.csv  log_attempt<n>.csv
  final/seed<s>/ the same, for the model trained on every subject (`train --final`; what `export` ships)
  evaluation/    metrics.json  metrics.csv  age_error_by_decile.csv  subjects.csv  *.png  index.html
BUNDLE.brainage  (zip) bundle.json  weights.pt  LICENSE.txt
PREDICT/         predictions.csv  predict_info.json  brain_age_gap.png  age_predicted_vs_true.png  index.html
  dicom_nifti/   <series>.nii.gz (converted DICOM)   inputs/manifest.csv   preprocessed/ (as above, with qc/)
RUN/explain/ or PREDICT/explain/  index.html  regions.csv  se_differences.csv  se_pruning.csv  sanity.csv
  maps/<id>_<task>_{mni,native}.nii.gz  figures/<id>_<task>.png  population/<group>_<task>.{nii.gz,png}
SITE/            site_split.csv  site_metrics.csv  site_predictions.csv  site.brainage  index.html
```

Example:
    >>> pre = PreprocessedDir("out")
    >>> pre.subject("sub-01").brain_mask.as_posix()
    'out/subjects/sub-01/brain_mask.nii.gz'
    >>> pre.cache("2mm").volume("sub-01").as_posix()
    'out/cache/2mm/sub-01.npy'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from brainage.errors import InputError

MANIFEST = "manifest.csv"

#: Members of a model bundle archive (``brainage export``).
BUNDLE_FILES = {"meta": "bundle.json", "weights": "weights.pt", "licence": "LICENSE.txt"}
BUNDLE_SUFFIX = ".brainage"
#: The model grid (and its cache folder, ``cache/2mm``) every stage uses unless told otherwise
#: (:data:`brainage.preprocess.grids.GRIDS`).
DEFAULT_GRID = "2mm"
#: The region atlas that ships inside the package (consensus IXI-HH DLMUSE on the 2 mm MNI grid).
ATLAS_IMAGE = Path(__file__).resolve().parent / "bundled" / "atlas_dlmuse_2mm.nii.gz"
ATLAS_LABELS = Path(__file__).resolve().parent / "bundled" / "atlas_dlmuse_labels.csv"
#: QC's yardstick that ships inside the package: every metric's distribution over clean IXI-HH
#: scans (``brainage.qc.reference``), and the mean clean head, brain and brain asymmetry that the
#: orientation tests compare with (``brainage.qc.orientation``).
QC_REFERENCE = Path(__file__).resolve().parent / "bundled" / "qc_reference_ixi_hh.json"
QC_ORIENTATION = Path(__file__).resolve().parent / "bundled" / "qc_orientation.npz"
#: The QC viewer's own files (package data) and the file name of its ratings export.
VIEWER_STATIC = Path(__file__).resolve().parent / "viewer" / "static"
VIEWER_INDEX = "index.html"
VIEWER_FILES = (VIEWER_INDEX, "app.js", "niivue.umd.js", "NIIVUE_LICENSE.txt")
RATINGS_EXPORT = "qc_ratings.csv"
#: The model that ships inside the package, with its attribution beside it.
SHIPPED_BUNDLE = Path(__file__).resolve().parent / "bundled" / "ixi-hh-180.brainage"


@dataclass(frozen=True)
class Folder:
    """A folder of one stage's outputs; subclasses name its files."""

    root: Path

    def __init__(self, root: str | Path):
        object.__setattr__(self, "root", Path(root))


class CohortDir(Folder):
    """A BIDS dataset (the synthetic cohort is written as one)."""

    @property
    def participants(self) -> Path:
        return self.root / "participants.tsv"

    @property
    def description(self) -> Path:
        return self.root / "dataset_description.json"

    def t1(self, subject_id: str, session: str | None = None) -> Path:
        if session:
            return self.root / subject_id / session / "anat" / f"{subject_id}_{session}_T1w.nii.gz"
        return self.root / subject_id / "anat" / f"{subject_id}_T1w.nii.gz"

    def sessions(self, subject_id: str) -> Path:
        """``sub-<label>_sessions.tsv``: one row per session (``session_id``, e.g. ``age``)."""
        return self.root / subject_id / f"{subject_id}_sessions.tsv"

    def find_t1(self, subject_id: str) -> list[Path]:
        """Every T1w image of one participant, sessions in name order."""
        sub = self.root / subject_id
        return sorted(sub.glob("anat/*_T1w.nii*")) + sorted(sub.glob("ses-*/anat/*_T1w.nii*"))

    @property
    def synth_truth(self) -> Path:
        """Synthetic cohorts only: each subject's generative parameters and injected failure."""
        return self.root / "derivatives" / "synth" / "subjects.tsv"

    @property
    def synth_config(self) -> Path:
        return self.root / "derivatives" / "synth" / "synth_config.yaml"

    def true_brain_mask(self, subject_id: str, session: str | None = None) -> Path:
        prefix = f"{subject_id}_{session}" if session else subject_id
        return self.root / "derivatives" / "synth" / f"{prefix}_desc-brain_mask.nii.gz"


class IngestDir(Folder):
    """``brainage ingest`` output."""

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def summary_text(self) -> Path:
        return self.root / "summary.txt"

    @property
    def summary_png(self) -> Path:
        return self.root / "summary.png"

    @property
    def excluded(self) -> Path:
        return self.root / "excluded.csv"

    @property
    def ixi_rows_without_scan(self) -> Path:
        return self.root / "ixi_rows_without_scan.csv"


class SplitsDir(Folder):
    """``brainage split`` output."""

    @property
    def folds(self) -> Path:
        return self.root / "folds.csv"

    @property
    def fold_balance(self) -> Path:
        return self.root / "fold_balance.csv"

    @property
    def split_balance(self) -> Path:
        return self.root / "split_balance.csv"

    @property
    def config(self) -> Path:
        return self.root / "split_config.yaml"

    @property
    def manifest_after_qc(self) -> Path:
        return self.root / "manifest_after_qc.csv"

    @staticmethod
    def folds_csv(path: str | Path) -> Path:
        """``folds.csv`` given the file itself or the folder holding it, or a clear error."""
        path = Path(path)
        candidate = SplitsDir(path).folds if path.is_dir() else path
        if not candidate.is_file():
            problem = "folder holds no folds.csv" if path.is_dir() else "does not exist"
            raise InputError(path, f"{problem} (make the folds with `brainage split MANIFEST --out FOLDER`)")
        return candidate


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

    @staticmethod
    def find(path: str | Path, grid: str | None = None) -> "CacheDir":
        """The cache in ``path``: a cache folder itself, or a preprocessing folder (``grid`` picks
        one when it holds several; by default the only one, else ``2mm``)."""
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


class QCDir(Folder):
    """``brainage qc`` output."""

    @property
    def metrics(self) -> Path:
        return self.root / "qc_metrics.csv"

    @property
    def verdicts(self) -> Path:
        return self.root / "qc_verdicts.csv"

    @property
    def overrides(self) -> Path:
        return self.root / "qc_overrides.csv"

    @property
    def ratings(self) -> Path:
        """Ratings made in the web viewer (``brainage serve``), SQLite."""
        return self.root / "qc_ratings.sqlite"

    @property
    def info(self) -> Path:
        """Which reference judged the scans, which sites' own distributions joined it."""
        return self.root / "qc_info.json"

    @property
    def montages(self) -> Path:
        return self.root / "montages"

    def montage(self, subject_id: str) -> Path:
        return self.montages / f"{subject_id}.png"

    def tile(self, subject_id: str) -> Path:
        """The subject's contact-sheet tile (and report thumbnail)."""
        return self.montages / f"{subject_id}_tile.png"

    @property
    def contact_sheet(self) -> Path:
        return self.root / "contact_sheet.png"

    @property
    def report(self) -> Path:
        return self.root / "index.html"


def qc_of_manifest(manifest: Path, out: Path | None) -> tuple["PreprocessedDir", "QCDir"]:
    """Where ``brainage qc MANIFEST`` preprocesses first and writes its QC: ``OUT/preprocessed`` and
    ``OUT``; without ``--out``, ``<manifest folder>/qc_run/preprocessed`` and its ``qc`` folder."""
    pre = PreprocessedDir((out or manifest.parent / "qc_run") / "preprocessed")
    return pre, QCDir(out) if out else pre.qc


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


#: The "fold" of the model trained on every subject: no test subjects, what ``brainage export`` ships.
FINAL_FOLD = -1


class FoldDir(Folder):
    """One (fold, seed) of a training run."""

    @property
    def fold(self) -> int:
        name = self.root.parent.name
        return FINAL_FOLD if name == "final" else int(name[len("fold") :])

    @property
    def seed(self) -> int:
        return int(self.root.name[len("seed") :])

    @property
    def predictions(self) -> Path:
        return self.root / "predictions.csv"

    @property
    def done(self) -> Path:
        return self.root / "done.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def model(self) -> Path:
        """A classical model's fitted estimator (joblib)."""
        return self.root / "model.joblib"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    @property
    def best_checkpoint(self) -> Path:
        """The checkpoint with the best validation score (``ModelCheckpoint(filename="best")``)."""
        return self.checkpoints / "best.ckpt"

    def chosen_checkpoint(self) -> Path:
        """The checkpoint a trained fold is used with: the best on validation, else the last."""
        return self.best_checkpoint if self.best_checkpoint.is_file() else self.last_checkpoint

    @property
    def log(self) -> Path:
        """Lightning's CSV log of the current attempt."""
        return self.root / "logs" / "metrics.csv"

    def archived_logs(self) -> list[Path]:
        """Logs of earlier, interrupted attempts, oldest first."""
        return sorted(self.root.glob("log_attempt*.csv"), key=lambda p: int(p.stem[len("log_attempt") :]))

    def next_archived_log(self) -> Path:
        return self.root / f"log_attempt{len(self.archived_logs())}.csv"


class RunDir(Folder):
    """``brainage train`` output: config, per-fold folders, out-of-fold predictions."""

    @property
    def config(self) -> Path:
        return self.root / "train_config.yaml"

    @property
    def options(self) -> Path:
        return self.root / "run_options.yaml"

    @property
    def info(self) -> Path:
        return self.root / "run_info.json"

    @property
    def all_predictions(self) -> Path:
        return self.root / "all_predictions.csv"

    @property
    def combination(self) -> Path:
        """An ensemble's stacking weights per fold."""
        return self.root / "stack_weights.json"

    @property
    def oof_predictions(self) -> Path:
        return self.root / "oof_predictions.csv"

    def fold(self, fold: int, seed: int) -> FoldDir:
        """One (fold, seed); fold :data:`FINAL_FOLD` is the model trained on every subject."""
        if fold == FINAL_FOLD:
            return FoldDir(self.root / "final" / f"seed{seed}")
        return FoldDir(self.root / f"fold{fold}" / f"seed{seed}")

    def seed_dirs(self, fold: int) -> list[FoldDir]:
        """The seeds trained for ``fold`` (:data:`FINAL_FOLD`: the model ``train --final`` trained on every
        subject), in seed order."""
        parent = self.fold(fold, 0).root.parent
        return sorted((FoldDir(p) for p in parent.glob("seed*") if p.is_dir()), key=lambda d: d.seed)

    def fold_dirs(self) -> list[FoldDir]:
        return [FoldDir(p) for p in sorted(self.root.glob("fold*/seed*")) if p.is_dir()]

    @property
    def evaluation(self) -> "EvaluationDir":
        return EvaluationDir(self.root / "evaluation")

    @property
    def explain(self) -> "ExplainDir":
        return ExplainDir(self.root / "explain")


class EvaluationDir(Folder):
    """``brainage evaluate`` output."""

    @property
    def metrics_json(self) -> Path:
        return self.root / "metrics.json"

    @property
    def metrics_csv(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def error_by_decile(self) -> Path:
        return self.root / "age_error_by_decile.csv"

    @property
    def report(self) -> Path:
        return self.root / "index.html"

    @property
    def age_scatter(self) -> Path:
        return self.root / "age_predicted_vs_true.png"

    @property
    def age_scatter_corrected(self) -> Path:
        return self.root / "age_predicted_vs_true_corrected.png"

    @property
    def subjects(self) -> Path:
        """One row per subject: age, predicted, gaps, P(male), QC."""
        return self.root / "subjects.csv"

    @property
    def gap_histogram(self) -> Path:
        return self.root / "brain_age_gap.png"

    @property
    def age_bland_altman(self) -> Path:
        return self.root / "age_bland_altman.png"

    @property
    def sex_roc(self) -> Path:
        return self.root / "sex_roc.png"

    @property
    def sex_reliability(self) -> Path:
        return self.root / "sex_reliability.png"

    @property
    def learning_curves(self) -> Path:
        return self.root / "learning_curves.png"


class DemoDir(Folder):
    """``brainage demo`` output: one folder per stage and a front page."""

    @property
    def cohort(self) -> Path:
        return self.root / "cohort"

    @property
    def ingest(self) -> IngestDir:
        return IngestDir(self.root / "ingest")

    @property
    def preprocessed(self) -> PreprocessedDir:
        return PreprocessedDir(self.root / "preprocessed")

    @property
    def splits(self) -> SplitsDir:
        return SplitsDir(self.root / "splits")

    def run(self, name: str) -> RunDir:
        return RunDir(self.root / "models" / name)

    def bundle(self, name: str) -> Path:
        """A model bundle exported from the run ``name``."""
        return self.root / "models" / f"{name}{BUNDLE_SUFFIX}"

    @property
    def predict(self) -> "PredictDir":
        return PredictDir(self.root / "predict")

    @property
    def unseen_scans(self) -> Path:
        """The raw scans the demo predicts with its exported bundle (a CSV of paths and ages)."""
        return self.root / "predict_inputs.csv"

    @property
    def index(self) -> Path:
        return self.root / "index.html"


class BidsDerivativesDir(Folder):
    """``brainage bids`` output: a BIDS derivatives dataset. Per participant and session,
    ``sub-<p>/[ses-<s>/]anat/<prefix>_brainage.tsv`` (the predictions, with a JSON sidecar that
    describes every column) and ``<prefix>_desc-preproc_brainage.json`` (the preprocessing record);
    ``sub-<p>/figures/`` the QC pictures and the participant's page; at the root, the group
    tables and page. ``work/sub-<p>/`` is each participant's working folder (``.bidsignore``d)."""

    @property
    def description(self) -> Path:
        return self.root / "dataset_description.json"

    @property
    def bidsignore(self) -> Path:
        return self.root / ".bidsignore"

    def subject(self, participant: str) -> Path:
        return self.root / f"sub-{participant}"

    @staticmethod
    def prefix(participant: str, session: str = "") -> str:
        return f"sub-{participant}" + (f"_ses-{session}" if session else "")

    def anat(self, participant: str, session: str = "") -> Path:
        return self.subject(participant) / (f"ses-{session}" if session else "") / "anat"

    def predictions(self, participant: str, session: str = "") -> Path:
        return self.anat(participant, session) / f"{self.prefix(participant, session)}_brainage.tsv"

    def preprocessing(self, participant: str, session: str = "") -> Path:
        return self.anat(participant, session) / f"{self.prefix(participant, session)}_desc-preproc_brainage.json"

    def figures(self, participant: str) -> Path:
        return self.subject(participant) / "figures"

    def qc_picture(self, participant: str, session: str = "") -> Path:
        return self.figures(participant) / f"{self.prefix(participant, session)}_desc-qc_T1w.png"

    def subject_page(self, participant: str) -> Path:
        return self.figures(participant) / f"sub-{participant}_brainage.html"

    def work(self, participant: str) -> Path:
        return self.root / "work" / f"sub-{participant}"

    def work_inputs(self, participant: str) -> Path:
        """The participant's sessions as a ``brainage predict`` CSV."""
        return self.work(participant) / "inputs.csv"

    @property
    def group_table(self) -> Path:
        return self.root / "group_brainage.tsv"

    @property
    def group_change(self) -> Path:
        return self.root / "group_change.tsv"

    @property
    def group_page(self) -> Path:
        return self.root / "group_brainage.html"

    @property
    def trajectories(self) -> Path:
        return self.root / "figures" / "group_trajectories.png"

    def session_tables(self) -> list[Path]:
        """Every participant's per-session predictions table written so far."""
        return sorted(p for p in self.root.glob("sub-*/**/anat/sub-*_brainage.tsv") if "_desc-" not in p.name)


class PredictDir(Folder):
    """``brainage predict`` output."""

    @property
    def converted(self) -> Path:
        """NIfTI converted from DICOM series."""
        return self.root / "dicom_nifti"

    @property
    def series(self) -> Path:
        """Every DICOM series found, whether it was predicted, and why (or why not)."""
        return self.root / "series.csv"

    @property
    def ingest(self) -> IngestDir:
        return IngestDir(self.root / "inputs")

    @property
    def preprocessed(self) -> PreprocessedDir:
        return PreprocessedDir(self.root / "preprocessed")

    @property
    def predictions(self) -> Path:
        return self.root / "predictions.csv"

    @property
    def training_qc_reference(self) -> Path:
        """The model's training scans as QC's yardstick (when the bundle carries them)."""
        return self.root / "qc_reference_training_scans.json"

    @property
    def info(self) -> Path:
        return self.root / "predict_info.json"

    @property
    def gap_histogram(self) -> Path:
        return self.root / "brain_age_gap.png"

    @property
    def age_scatter(self) -> Path:
        return self.root / "age_predicted_vs_true.png"

    @property
    def report(self) -> Path:
        return self.root / "index.html"

    @property
    def explain(self) -> "ExplainDir":
        return ExplainDir(self.root / "explain")


class SiteDir(Folder):
    """``brainage finetune`` output: a new site's calibration and its held-out evaluation."""

    @property
    def split(self) -> Path:
        return self.root / "site_split.csv"

    @property
    def metrics(self) -> Path:
        return self.root / "site_metrics.csv"

    @property
    def predictions(self) -> Path:
        return self.root / "site_predictions.csv"

    @property
    def bundle(self) -> Path:
        return self.root / f"site{BUNDLE_SUFFIX}"

    @property
    def predict(self) -> PredictDir:
        """Where the site's scans are preprocessed and predicted once."""
        return PredictDir(self.root / "predict")

    @property
    def report(self) -> Path:
        return self.root / "index.html"


class ExplainDir(Folder):
    """``brainage explain`` output (inside a training run or a predict folder)."""

    def subject_map(self, subject_id: str, task: str, space: str) -> Path:
        return self.root / "maps" / f"{subject_id}_{task}_{space}.nii.gz"

    def subject_figure(self, subject_id: str, task: str) -> Path:
        return self.root / "figures" / f"{subject_id}_{task}.png"

    def population_map(self, name: str) -> Path:
        return self.root / "population" / f"{name}.nii.gz"

    def population_figure(self, name: str) -> Path:
        return self.root / "population" / f"{name}.png"

    @property
    def regions(self) -> Path:
        return self.root / "regions.csv"

    @property
    def regions_figure(self) -> Path:
        return self.root / "regions.png"

    @property
    def se_differences(self) -> Path:
        return self.root / "se_differences.csv"

    @property
    def se_figure(self) -> Path:
        return self.root / "se_channels.png"

    @property
    def se_pruning(self) -> Path:
        return self.root / "se_pruning.csv"

    @property
    def sanity(self) -> Path:
        return self.root / "sanity.csv"

    @property
    def report(self) -> Path:
        return self.root / "index.html"

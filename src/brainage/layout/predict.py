"""What ``brainage predict``, ``brainage finetune`` and ``brainage bids`` write."""

from __future__ import annotations

from pathlib import Path

from brainage.layout.base import Folder
from brainage.layout.bundle import BUNDLE_SUFFIX
from brainage.layout.data import IngestDir
from brainage.layout.explain import ExplainDir
from brainage.layout.preprocess import PreprocessedDir


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

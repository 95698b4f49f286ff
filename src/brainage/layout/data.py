"""What ``brainage ingest`` and ``brainage synth`` write: a BIDS cohort, an ingest folder."""

from __future__ import annotations

from pathlib import Path

from brainage.layout.base import Folder

#: The subject table every stage reads and writes.
MANIFEST = "manifest.csv"


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

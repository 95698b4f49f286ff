"""What ``brainage demo`` writes: one folder per stage and a front page."""

from __future__ import annotations

from pathlib import Path

from brainage.layout.base import Folder
from brainage.layout.bundle import BUNDLE_SUFFIX
from brainage.layout.data import IngestDir
from brainage.layout.predict import PredictDir
from brainage.layout.preprocess import PreprocessedDir
from brainage.layout.training import RunDir, SplitsDir


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

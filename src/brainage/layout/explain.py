"""What ``brainage explain`` writes (inside a run or a predict folder)."""

from __future__ import annotations

from pathlib import Path

from brainage.layout.base import Folder


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

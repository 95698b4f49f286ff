"""What ``brainage evaluate`` writes (inside a run)."""

from __future__ import annotations

from pathlib import Path

from brainage.layout.base import Folder


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

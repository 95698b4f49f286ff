"""What ``brainage qc`` writes."""

from __future__ import annotations

from pathlib import Path

from brainage.layout.base import Folder

#: Where ``brainage qc MANIFEST`` (given a manifest, not a preprocessing folder) preprocesses first:
#: ``OUT/preprocessed``, or ``<manifest folder>/qc_run/preprocessed`` without ``--out``.
QC_RUN_FOLDER, QC_PREPROCESSED_FOLDER = "qc_run", "preprocessed"


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

"""QC's yardstick: how every metric is distributed over clean real scans.

A batch is a poor yardstick for itself: when most of it is broken, a broken scan looks typical.
So brainage ships a **normative reference** (``bundled/qc_reference_ixi_hh.json``): the median,
robust spread and range of every metric over clean IXI-HH heads (Philips 3 T, 185 scans less
the documented exclusions), and judges every scan against it, whether it arrives alone or in a
batch of thousands.

Most checks have absolute limits (:mod:`brainage.qc.checks`); the reference describes the
metrics that depend on scanner and sequence (image contrast, SNR, the bias field's direction) on
the training scanner, and gives every report the range of clean scans next to each value. A
scan unlike it is reported as *from another scanner*, never warned about: a new site's clean
scans differ from IXI-HH's in SNR and contrast by design of their scanner. From
:data:`SITE_MIN_SIZE` scans of one site on, each scan is also judged against the other scans of
its site (:func:`brainage.qc.rules.site_z`), and there an unusual one warns.

Build your own reference from a clean cohort of your scanner with ``brainage qc-reference``.

Example:
    >>> ref = Reference.load()
    >>> ref.stats["snr_total"].median > 5
    True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from brainage.errors import InputError
from brainage.files import atomic_path
from brainage.qc.legend import show
from brainage.resources import QC_REFERENCE
from brainage.version import __version__

#: Fewest clean scans a reference is built from.
BATCH_MIN_SIZE = 20
#: A site's own scans become the yardstick of its scanner-dependent metrics from this many on:
#: the leave-one-out median and MAD of 9 others are stable to a few broken ones (a median's
#: breakdown point is a half).
SITE_MIN_SIZE = 10
MAD_TO_SD = 1.4826


class TooFewScans(InputError):
    """Too few clean scans to describe a scanner."""


@dataclass(frozen=True)
class Stats:
    """One metric over clean scans: median, robust spread (1.4826 MAD), 1st/99th percentiles."""

    median: float
    spread: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: pd.Series) -> "Stats":
        v = values.dropna().astype(float).to_numpy()
        med = float(np.median(v))
        return cls(
            med,
            float(MAD_TO_SD * np.median(np.abs(v - med))),
            float(np.percentile(v, 1)),
            float(np.percentile(v, 99)),
            int(len(v)),
        )

    def z(self, values, floor: float = 0.0):
        """Robust z-score of ``values`` against these statistics, the spread at least ``floor``."""
        return (values - self.median) / max(self.spread, floor, 1e-9)


@dataclass
class Reference:
    """Every metric's :class:`Stats` over a clean cohort, and where that cohort came from."""

    name: str
    description: str
    stats: dict[str, Stats]
    subjects: list[str] = field(default_factory=list)
    exclusions: dict[str, str] = field(default_factory=dict)
    brainage_version: str = __version__

    @classmethod
    def build(
        cls,
        metrics: pd.DataFrame,
        name: str,
        description: str,
        exclusions: dict[str, str] | None = None,
        columns: list[str] | None = None,
    ) -> "Reference":
        """Statistics of every numeric metric over ``metrics`` rows not in ``exclusions``
        (``subject_id -> why``). Rows of already-stripped inputs are left out: the reference
        describes whole heads."""
        exclusions = dict(exclusions or {})
        table = metrics.copy()
        if "input_skull_stripped" in table:
            for sid in table.loc[table["input_skull_stripped"].fillna(False).astype(bool), "subject_id"]:
                exclusions.setdefault(str(sid), "already skull-stripped input")
        table = table[~table["subject_id"].astype(str).isin(exclusions)]
        if len(table) < BATCH_MIN_SIZE:
            raise TooFewScans(None, f"a QC reference needs at least {BATCH_MIN_SIZE} clean scans; got {len(table)}")
        columns = columns or [
            c
            for c in table.columns
            if pd.api.types.is_numeric_dtype(table[c]) and c not in ("outlier_score",) and not c.startswith("z_")
        ]
        stats = {c: Stats.of(table[c]) for c in columns if table[c].notna().sum() >= BATCH_MIN_SIZE}
        return cls(name, description, stats, sorted(table["subject_id"].astype(str)), exclusions)

    def to_dict(self) -> dict:
        """The JSON form (a reference file, or the one a model bundle carries)."""
        return {
            "name": self.name,
            "description": self.description,
            "brainage_version": self.brainage_version,
            "n_subjects": len(self.subjects),
            "subjects": self.subjects,
            "exclusions": self.exclusions,
            "stats": {k: asdict(v) for k, v in self.stats.items()},
        }

    @classmethod
    def from_dict(cls, payload: dict) -> "Reference":
        return cls(
            payload["name"],
            payload["description"],
            {k: Stats(**v) for k, v in payload["stats"].items()},
            payload.get("subjects", []),
            payload.get("exclusions", {}),
            payload.get("brainage_version", ""),
        )

    def save(self, path: str | Path) -> Path:
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(self.to_dict(), indent=1))
        return Path(path)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Reference":
        """A saved reference; by default the one that ships with brainage."""
        path = Path(path) if path else QC_REFERENCE
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(path, f"not a brainage QC reference ({exc})") from exc

    def clean_range(self, metric: str) -> str:
        """'34 to 75': the metric's 1st to 99th percentile over the clean scans ('' if unknown),
        written as reasons and the report's legend write values."""
        s = self.stats.get(metric)
        return f"{show(metric, s.low)} to {show(metric, s.high)}" if s else ""


def measured(metrics: pd.DataFrame) -> pd.DataFrame:
    """The rows of a ``qc_metrics`` table whose metrics were computed (no ``qc_error``), without
    that column."""
    if "qc_error" not in metrics:
        return metrics
    ok = metrics["qc_error"].isna() | (metrics["qc_error"].astype(str) == "")
    return metrics[ok].drop(columns="qc_error")


def reference_from_qc(
    qc_dirs: list[str | Path], name: str, description: str, subjects: list[str] | None = None
) -> Reference:
    """A reference from reviewed ``brainage qc`` folders: every scan whose final verdict (after
    overrides and viewer ratings) is not ``fail``, the failed ones listed with their reasons;
    ``subjects``: only these scans (e.g. the ones a model was trained on)."""
    from brainage.data.manifest import read_table
    from brainage.layout import QCDir
    from brainage.qc.verdicts import read_verdicts

    metrics = pd.concat([read_table(QCDir(d).metrics, "QC metrics", dtype={"subject_id": str}) for d in qc_dirs])
    verdicts = pd.concat([read_verdicts(d) for d in qc_dirs])
    if subjects is not None:
        metrics = metrics[metrics.subject_id.isin(subjects)]
        verdicts = verdicts[verdicts.subject_id.astype(str).isin(subjects)]
    failed = verdicts[verdicts.final_verdict == "fail"]
    exclusions = dict(zip(failed.subject_id.astype(str), "QC fail: " + failed.final_reasons.astype(str)))
    return Reference.build(measured(metrics), name, description, exclusions)

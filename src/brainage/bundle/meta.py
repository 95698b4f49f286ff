"""``bundle.json``: what a model bundle says about itself, as one typed, versioned record.

``brainage export`` writes it; ``predict``, ``finetune``, ``explain`` and the benchmarks read it
through :class:`BundleMeta`, never as a bare dict: a field a reader needs is an attribute, a
missing one or an unknown key is a one-line error naming the file.

Example:
    >>> meta = BundleMeta.from_dict(example_meta())
    >>> meta.model.name, meta.cohort["n"], meta.grid_name
    ('sfcn', 2, '2mm')
    >>> BundleMeta.from_dict({**example_meta(), "colour": "red"})
    Traceback (most recent call last):
    ...
    brainage.errors.InputError: bundle.json: unknown fields ['colour'] (written by a newer brainage?)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from brainage.errors import InputError
from brainage.layout import BUNDLE_FILES
from brainage.preprocess.grids import GridSpec

FORMAT = "brainage-bundle"
#: Bumped when the file layout changes in a way older readers cannot follow.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModelInfo:
    """Which model a bundle holds: its registry name and kind, the training config it was trained
    with (``TrainConfig`` as a dict), its seeds and the fold it came from."""

    name: str
    kind: str
    description: str
    train_config: dict
    seeds: list
    fold: int | str


@dataclass(frozen=True)
class BundleMeta:
    """Everything in ``bundle.json`` but the seeds' settings (:mod:`brainage.bundle.bundle`).

    ``preprocessing``: the recipe (config, grid, steps, fingerprint); ``bias_correction``:
    :meth:`~brainage.training.bias.AgeBiasCorrector.to_dict`; ``cohort``: size, ages, sexes, sites
    and scan geometry of the training scans; ``trained_on_images``: their voxel fingerprints;
    ``qc_reference``: QC statistics of the training scans
    (:meth:`~brainage.qc.reference.Reference.to_dict`); ``invariance``: the invariance benchmark's
    summary; ``site_calibration`` / ``finetuned``: what ``brainage finetune`` changed;
    ``age_interval``: the calibration of the interval on every age (``calibration``:
    :meth:`~brainage.training.intervals.AgeIntervals.to_dict`, out-of-fold residuals) and how much
    it widens per year beyond the training range (``outside_range``,
    :func:`~brainage.bundle.intervals.outside_range_rates`).
    """

    name: str
    brainage_version: str
    created: str
    model: ModelInfo
    preprocessing: dict
    cohort: dict
    licence: str = "not stated"
    attribution: str = ""
    bias_correction: dict | None = None
    trained_on: list = field(default_factory=list)
    trained_on_images: dict = field(default_factory=dict)
    cv_metrics: dict | None = None
    invariance: dict | None = None
    qc_reference: dict | None = None
    site_calibration: dict | None = None
    finetuned: dict | None = None
    age_interval: dict | None = None
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    @property
    def grid(self) -> GridSpec:
        """The grid the model's inputs were resampled on."""
        return GridSpec.from_json(self.preprocessing["grid"])

    @property
    def grid_name(self) -> str:
        return self.preprocessing["grid"]["name"]

    def describe(self) -> str:
        """A few lines a person reads before trusting a bundle."""
        c, m = self.cohort, self.cv_metrics or {}
        age, sex = m.get("age_uncorrected") or {}, m.get("sex") or {}
        lines = [
            f"{self.name}: {self.model.name} ({self.model.description}), brainage {self.brainage_version}",
            f"trained on {c['n']} subjects ({c['n_female']} F / {c['n_male']} M, "
            f"age {c['age_min']:.0f}-{c['age_max']:.0f}, "
            f"sites {', '.join(c['sites'])}); preprocessing grid {self.grid_name}",
        ]
        if age:
            lines.append(
                f"cross-validation: age MAE {age['mae']:.2f} y, r {age['pearson_r']:.3f}"
                + (f"; sex accuracy {sex['accuracy']:.3f}" if sex else "")
            )
        inv = self.invariance
        if inv:
            worst = max(inv["variants"].items(), key=lambda kv: abs(kv[1]["mean_shift_years"]))
            lines.append(
                f"same brain stored or scanned {len(inv['variants'])} other ways: within-brain SD "
                f"{inv['within_brain_sd_years']:.2f} y; "
                f"largest mean shift {worst[1]['mean_shift_years']:+.2f} y ({worst[0]})"
            )
        if self.age_interval:
            lines.append(
                f"interval on every age: split-conformal on {self.age_interval['calibration']['n']} "
                "out-of-fold predictions"
            )
        if self.bias_correction:
            lines.append(f"age-bias correction fitted on {self.bias_correction['n']} held-out training subjects")
        lines.append(f"licence: {self.licence}")
        return "\n".join(lines)

    def replace(self, **changes) -> "BundleMeta":
        """A copy with ``changes`` (what ``finetune`` uses to describe a site's bundle)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str | Path | None = BUNDLE_FILES["meta"]) -> "BundleMeta":
        """The record of a ``bundle.json`` dict (without its ``seeds``), or one line saying what is wrong."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names - {"seeds"})
        if unknown:
            raise InputError(source, f"unknown fields {unknown} (written by a newer brainage?)")
        required = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        missing = [name for name in required if name not in data]
        if missing:
            raise InputError(source, f"not a complete model bundle description (missing {missing})")
        model_fields = {f.name for f in dataclasses.fields(ModelInfo)}
        if not isinstance(data["model"], dict) or set(data["model"]) != model_fields:
            raise InputError(source, f"model description needs exactly {sorted(model_fields)}")
        values = {k: v for k, v in data.items() if k in names}
        return cls(**{**values, "model": ModelInfo(**data["model"])})


def example_meta() -> dict:
    """A small, valid ``bundle.json`` dict (for examples and tests)."""
    return {
        "name": "toy",
        "brainage_version": "0.0",
        "created": "2026-01-01T00:00:00+00:00",
        "model": {"name": "sfcn", "kind": "cnn", "description": "", "train_config": {}, "seeds": [0], "fold": 0},
        "preprocessing": {"config": {}, "grid": {"name": "2mm"}, "steps": [], "fingerprint": ""},
        "cohort": {"n": 2},
    }

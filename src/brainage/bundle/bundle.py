"""The model bundle: one versioned file holding everything ``brainage predict`` needs.

A bundle is a zip archive (``.brainage``) a person can open: ``bundle.json`` (the model spec, the
preprocessing recipe and its fingerprint, the age-bias correction, the training cohort, the
cross-validation metrics, licence and attribution), ``weights.pt`` (named tensors only, read with
``torch.load(weights_only=True)``: loading a bundle never runs code from it) and ``LICENSE.txt``.

Loading checks that this brainage can use the bundle (:func:`check_compatible`) and refuses a
mismatch with one line that says what differs and what to do.

Example:
    >>> bundle = load_bundle(default_bundle_path())  # doctest: +SKIP
    >>> bundle.meta.cohort["n"]  # doctest: +SKIP
    180
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from brainage.bundle.intervals import interval_columns
from brainage.bundle.members import MEMBER_KINDS, Member
from brainage.bundle.meta import FORMAT, FORMAT_VERSION, BundleMeta
from brainage.config import fingerprint, from_dict, to_dict
from brainage.errors import InputError
from brainage.files import atomic_path
from brainage.layout import BUNDLE_FILES
from brainage.models.registry import MODELS
from brainage.preprocess.grids import GRIDS
from brainage.preprocess.pipeline import PreprocessConfig
from brainage.preprocess.recipes import AFFINE_ITERATIONS, N4_ITERATIONS
from brainage.preprocess.steps import steps_for
from brainage.resources import SHIPPED_BUNDLE
from brainage.training.bias import AgeBiasCorrector
from brainage.training.intervals import DEFAULT_COVERAGE
from brainage.training.stack import Stacker
from brainage.version import __version__

#: Recipe settings added after bundles were first made, with the value that reproduces older bundles.
LEGACY_RECIPE = {
    "working_voxel_mm": None,
    "segmentation": "atropos",
    "background": "as stored",
    "n4_scale": "as stored",
    "affine_iterations": AFFINE_ITERATIONS,
    "n4_iterations": N4_ITERATIONS,
}


def recipe_config(config: dict) -> PreprocessConfig:
    """The preprocessing config a bundle records; a setting it predates takes its legacy value."""
    return from_dict(PreprocessConfig, {**LEGACY_RECIPE, **config})


def recipe(config: PreprocessConfig) -> dict:
    """The preprocessing a bundle's model expects: the config, the grid and every step with its
    parameters, plus their fingerprint (what :func:`check_compatible` compares). Training
    renditions are left out: a new scan is preprocessed, never rendered."""
    config = replace(config, renditions=0)
    grid = GRIDS[config.grids[0]].to_json()
    steps = [[step.name, step.params()] for step in steps_for(config)]
    return {"config": to_dict(config), "grid": grid, "steps": steps, "fingerprint": fingerprint(grid, steps)}


def default_bundle_path() -> Path:
    """The model that ships inside the package (trained on IXI-HH-180)."""
    return SHIPPED_BUNDLE


@dataclass
class SeedModel:
    """One seed of a bundle: its members and, for an ensemble, their stack."""

    seed: int
    members: dict[str, Member]
    stack: Stacker | None = None

    def predict(self, table: pd.DataFrame) -> dict[str, np.ndarray]:
        outputs = {kind: member.predict(table) for kind, member in self.members.items()}
        if self.stack is None:
            (only,) = outputs.values()
            return only
        columns = pd.DataFrame(
            {f"{key}_{kind}": values for kind, out in outputs.items() for key, values in out.items()}
        )
        return self.stack.predict(columns)


@dataclass
class Bundle:
    """A loaded bundle: ``meta`` (``bundle.json``) and the seeds' models.

    ``predict`` takes scans in any form: NIfTI files or nibabel images (preprocessed here with the
    bundle's own recipe), :class:`~brainage.preprocess.scan.PreprocessedScan` objects, or a table of
    cache-index rows (what ``brainage predict`` passes).

    Example:
        >>> import nibabel as nib
        >>> table = load_bundle().predict(nib.load("sub-01_T1w.nii.gz"))  # doctest: +SKIP
        >>> table[["subject_id", "predicted_age", "predicted_age_low", "predicted_age_high"]]  # doctest: +SKIP
    """

    meta: BundleMeta
    seeds: list[SeedModel] = field(default_factory=list)

    @property
    def preprocess_config(self) -> PreprocessConfig:
        return recipe_config(self.meta.preprocessing["config"])

    @property
    def grid(self) -> str:
        return self.meta.grid_name

    @property
    def bias_correction(self) -> AgeBiasCorrector | None:
        stored = self.meta.bias_correction
        return AgeBiasCorrector.from_dict(stored) if stored else None

    def predict(self, scans, coverage: float = DEFAULT_COVERAGE, age=None) -> pd.DataFrame:
        """Brain age and sex of ``scans``, with the ``coverage`` interval of every age.

        Parameters
        ----------
        scans
            One scan or a list: a NIfTI path, a nibabel image, a
            :class:`~brainage.preprocess.scan.PreprocessedScan`; or a table of cache-index rows.
        coverage
            Of the intervals (``predicted_age_low`` ... ``corrected_age_high``), 0.9 by default.
        age
            The scans' chronological ages where known (one number, or one per scan), for the
            bias-corrected age; a table brings its own ``age`` column.

        Returns
        -------
        pandas.DataFrame
            ``predicted_age`` and ``p_male`` (seeds averaged; a site calibration applied where the
            bundle has one), ``corrected_age`` where the age is known, and the intervals where the
            bundle carries its calibration (:mod:`brainage.bundle.intervals`; widened here only
            for an age outside the training range: ``brainage predict`` also widens for what QC
            found). Scans (not a table) come with their ``subject_id`` first.
        """
        given_table = isinstance(scans, pd.DataFrame)
        table = self._table(scans, age)
        per_seed = [seed.predict(table) for seed in self.seeds]
        out = pd.DataFrame({key: np.mean([p[key] for p in per_seed], axis=0) for key in per_seed[0]}, index=table.index)
        site = self.meta.site_calibration
        if site and "predicted_age" in out:
            out["predicted_age"] = (out["predicted_age"] - site["offset"]) / site["slope"]
        corrector = self.bias_correction
        if corrector is not None and "predicted_age" in out:
            known = table["age"].notna()
            out["corrected_age"] = np.nan
            if known.any():
                out.loc[known, "corrected_age"] = corrector.transform(
                    table.loc[known, "age"].to_numpy(float), out.loc[known, "predicted_age"].to_numpy(float)
                )
        if "predicted_age" in out:
            out = out.join(self.intervals(out, table["age"], coverage))
        return out if given_table else pd.concat([table[["subject_id"]], out], axis=1)

    def _table(self, scans, age) -> pd.DataFrame:
        """Cache-index rows of ``scans``, validated: images preprocessed with this bundle's recipe."""
        from brainage.preprocess.scan import PreprocessedScan, Preprocessor

        if isinstance(scans, pd.DataFrame):
            missing = [c for c in ("subject_id", "path") if c not in scans]
            if missing:
                raise InputError(None, f"a table of scans needs cache-index columns; it has no {', '.join(missing)}")
            defaults = {"age": np.nan, "sex": ""}
            return scans.assign(**{c: value for c, value in defaults.items() if c not in scans})
        many = scans if isinstance(scans, (list, tuple)) else [scans]
        if not many:
            raise InputError(None, "no scans to predict")
        ages = list(age) if isinstance(age, (list, tuple, np.ndarray, pd.Series)) else [age] * len(many)
        if len(ages) != len(many):
            raise InputError(None, f"{len(ages)} ages for {len(many)} scans")
        preprocessor, grid = None, GRIDS[self.grid]
        rows = []
        for i, (scan, known_age) in enumerate(zip(many, ages)):
            if not isinstance(scan, PreprocessedScan):
                preprocessor = preprocessor or Preprocessor(self.preprocess_config)
                name = Path(scan).name.split(".")[0] if isinstance(scan, (str, Path)) else f"scan{i + 1}"
                scan = preprocessor(scan, subject_id=name)
            if scan.grid != grid:
                raise InputError(
                    None,
                    f"{scan.subject_id} was preprocessed onto the {scan.grid.name} grid; this model reads {grid.name}",
                )
            row = scan.index_row()
            if known_age is not None:
                row["age"] = float(known_age)
            rows.append(row)
        return pd.DataFrame(rows)

    def intervals(self, predictions: pd.DataFrame, age: pd.Series, coverage: float = DEFAULT_COVERAGE, **found):
        """The interval columns of ``predictions`` (:func:`~brainage.bundle.intervals.interval_columns`;
        ``found``: ``scanner_differs`` / ``qc_warned`` flags per row)."""
        meta = self.meta
        return interval_columns(predictions, age, meta.age_interval, meta.cohort, meta.invariance, coverage, **found)

    def save(self, path: str | Path) -> Path:
        """Write the bundle as one zip archive (atomically)."""
        path = Path(path)
        tensors, meta = {}, json.loads(json.dumps(self.meta.to_dict()))
        meta["seeds"] = []
        for seed in self.seeds:
            entry = {"seed": seed.seed, "members": {}, "stack": seed.stack.to_dict() if seed.stack else None}
            for kind, member in seed.members.items():
                entry["members"][kind] = member.settings()
                tensors.update({f"seed{seed.seed}/{kind}/{k}": v for k, v in member.tensors().items()})
            meta["seeds"].append(entry)
        weights = io.BytesIO()
        torch.save(tensors, weights)
        with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(BUNDLE_FILES["meta"], json.dumps(meta, indent=1))
            archive.writestr(BUNDLE_FILES["weights"], weights.getvalue())
            archive.writestr(BUNDLE_FILES["licence"], f"{self.meta.attribution}\n\nLicence: {self.meta.licence}\n")
        return path


def check_compatible(meta: dict, source: str | Path | None = None) -> None:
    """Refuse a bundle this brainage cannot use, saying what differs and what to do."""
    if meta.get("format") != FORMAT:
        raise InputError(source, "not a brainage model bundle (make one with `brainage export RUN_DIR --out FILE`)")
    version = meta.get("format_version", 0)
    if version > FORMAT_VERSION:
        raise InputError(
            source,
            f"bundle format {version} is newer than this brainage {__version__} reads "
            f"({FORMAT_VERSION}); upgrade brainage (the bundle was written by "
            f"{meta.get('brainage_version', '?')})",
        )
    name = meta["model"]["name"]
    if name not in MODELS:
        raise InputError(
            source,
            f"bundle model {name!r} is not a model this brainage knows ({', '.join(sorted(MODELS))}); "
            f"install brainage {meta.get('brainage_version', '')} to use it",
        )
    pre = meta["preprocessing"]
    try:
        here = recipe(recipe_config(pre["config"]))
    except (InputError, KeyError, TypeError) as exc:
        raise InputError(source, f"bundle preprocessing recipe is unreadable here ({exc})") from None
    if fingerprint(pre["grid"], pre["steps"]) != pre["fingerprint"]:
        raise InputError(source, "bundle.json was edited: its preprocessing steps do not match their fingerprint")
    if here["fingerprint"] != pre["fingerprint"]:
        theirs = {n: p for n, p in pre["steps"]}
        differ = [n for n, p in here["steps"] if theirs.get(n) != p] + sorted(
            set(theirs) - {n for n, _ in here["steps"]}
        )
        raise InputError(
            source,
            f"bundle was trained on preprocessing this brainage does not reproduce (steps differ: "
            f"{', '.join(differ) or 'grid'}); use brainage {meta.get('brainage_version', '?')} "
            "or re-export the model from a run preprocessed with this version",
        )


def read_meta(path: str | Path) -> dict:
    """``bundle.json`` of a bundle file, with a clear error for anything that is not one."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            path, "model bundle does not exist" if not path.exists() else "is not a file (expected a .brainage bundle)"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(BUNDLE_FILES["meta"]))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError):
        raise InputError(
            path, "not a brainage model bundle (make one with `brainage export RUN_DIR --out FILE`)"
        ) from None


def load_bundle(path: str | Path | None = None) -> Bundle:
    """Read and check a bundle (default: the one that ships with brainage).

    Parameters
    ----------
    path
        A ``.brainage`` file; ``None`` for the model that ships with brainage.

    Returns
    -------
    Bundle
        The bundle, its format and members checked.
    """
    path = Path(path) if path else default_bundle_path()
    if path == default_bundle_path() and not path.is_file():
        raise InputError(
            path, "the shipped model is missing from this installation; reinstall brainage or pass --model"
        )
    meta = read_meta(path)
    check_compatible(meta, path)
    with zipfile.ZipFile(path) as archive:
        tensors = torch.load(io.BytesIO(archive.read(BUNDLE_FILES["weights"])), weights_only=True)
    seeds = []
    for entry in meta["seeds"]:
        members = {}
        for kind, settings in entry["members"].items():
            prefix = f"seed{entry['seed']}/{kind}/"
            own = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            members[kind] = MEMBER_KINDS[kind].restore(settings, own)
        seeds.append(SeedModel(entry["seed"], members, Stacker.from_dict(entry["stack"]) if entry["stack"] else None))
    return Bundle(BundleMeta.from_dict(meta, path), seeds)

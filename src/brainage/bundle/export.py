"""``brainage export``: pack a trained run into a model bundle.

The default packs the model trained on every subject (``brainage train ... --final``); ``fold``
packs one cross-validation fold's models instead (for experiments: its test fold is data the
bundle has never seen). Everything the bundle says about the model is measured, never typed in:

* the age-bias correction is fitted on the packed models' held-out training predictions (a
  CNN's validation subjects, the ridge model's inner cross-validation), as in cross-validation;
* the cohort (n, ages, sexes, sites) is read from the run's data and folds;
* the metrics are the run's cross-validation metrics (``brainage evaluate``), computed here from
  its out-of-fold predictions when the run was not evaluated.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from brainage.bundle.bundle import Bundle, SeedModel, recipe
from brainage.bundle.intervals import outside_range_rates
from brainage.bundle.members import CNNMember, RidgeMember
from brainage.bundle.meta import BundleMeta, ModelInfo
from brainage.config import load_config, to_dict
from brainage.data.images import voxel_fingerprint
from brainage.data.manifest import read_manifest
from brainage.errors import InputError
from brainage.files import DoneRecord
from brainage.layout import FINAL_FOLD, FoldDir, PreprocessedDir, RunDir
from brainage.models.registry import model_spec
from brainage.preprocess.cache import find_cache
from brainage.preprocess.grids import CacheInfo
from brainage.preprocess.pipeline import PreprocessConfig
from brainage.progress import console, track
from brainage.training.bias import AgeBiasCorrector, TooFewSubjects
from brainage.training.config import TrainConfig
from brainage.training.cv import labels_table
from brainage.training.ensemble import fit_stack
from brainage.training.intervals import AgeIntervals, TooFewResiduals
from brainage.training.predictions import HELD_OUT_TRAINING, read_predictions
from brainage.training.run_info import RunInfo
from brainage.version import __version__

IXI_ATTRIBUTION = (
    "Trained on IXI (https://brain-development.org/ixi-dataset/): Hammersmith Hospital scans "
    "(IXI-HH), made available by the IXI project (Imperial College London, Guy's and St Thomas' "
    "NHS Foundation Trust, Hammersmith Hospital) under the Creative Commons CC BY-SA 3.0 licence."
)
IXI_LICENCE = "CC BY-SA 3.0 (https://creativecommons.org/licenses/by-sa/3.0/)"


def _run_info(run: RunDir) -> RunInfo:
    if not run.info.is_file() or not run.config.is_file():
        raise InputError(run.root, "not a `brainage train` output folder (no run_info.json / train_config.yaml)")
    return RunInfo.read(run.info)


def _seed_model(folder: FoldDir, config: TrainConfig, kind: str) -> tuple[SeedModel, pd.DataFrame]:
    preds = read_predictions(folder.predictions)
    members = {}
    if kind in ("cnn", "ensemble"):
        members["cnn"] = CNNMember.from_checkpoint(folder.chosen_checkpoint(config.checkpoint), config.downsample)
    if kind in ("classical", "ensemble"):
        members["ridge"] = RidgeMember.from_model(joblib.load(folder.model))
    stack = None
    if kind == "ensemble":
        stack = fit_stack(preds)
        preds = preds.assign(**stack.predict(preds))
    return SeedModel(folder.seed, members, stack), preds


def _bias_correction(held_out: pd.DataFrame) -> dict | None:
    mean = held_out.groupby("subject_id")[["age", "predicted_age"]].mean()
    try:
        corrector = AgeBiasCorrector().fit(mean.age.to_numpy(), mean.predicted_age.to_numpy())
    except TooFewSubjects as exc:
        console.print(f"[yellow]no age-bias correction in the bundle: {exc}")
        return None
    return corrector.to_dict("held-out predictions of training subjects")


def _cohort(table: pd.DataFrame) -> dict:
    return {
        "n": int(len(table)),
        "age_min": float(table.age.min()),
        "age_max": float(table.age.max()),
        "age_mean": float(table.age.mean()),
        "n_female": int((table.sex == "F").sum()),
        "n_male": int((table.sex == "M").sum()),
        "sites": sorted(map(str, table.site.unique())),
    }


def _geometry(pre: PreprocessedDir, subjects) -> dict:
    """Voxel sizes and orientations of the training scans, so predictions can warn about unusual ones."""
    from brainage.data.inputs import image_geometry
    from brainage.data.manifest import read_manifest

    paths = read_manifest(pre.manifest).set_index("subject_id").t1_path.reindex(list(subjects)).dropna()
    found = [image_geometry(p) for p in paths if Path(p).is_file()]
    if not found:
        return {}
    voxels = np.array([g["voxel_mm"] for g in found])
    return {
        "voxel_mm_median": np.median(voxels, axis=0).round(3).tolist(),
        "voxel_mm_max": voxels.max(axis=0).round(3).tolist(),
        "voxel_mm_min": voxels.min(axis=0).round(3).tolist(),
        "orientations": sorted({g["orientation"] for g in found}),
    }


def _qc_reference(pre: PreprocessedDir, subjects, name: str) -> dict | None:
    """QC's yardstick for ``predict``: every QC metric over the training scans that did not fail
    QC, so a scan from the training scanner is judged against its own kind (the IXI-HH reference
    otherwise). None where the run's scans were not QC'd or too few passed (said on the console)."""
    from brainage.qc.reference import TooFewScans, reference_from_qc

    if not pre.qc.metrics.is_file() or not pre.qc.verdicts.is_file():
        return None
    subjects = [str(s) for s in subjects]
    try:
        reference = reference_from_qc(
            [pre.qc.root], f"{name} training scans", f"the scans {name} was trained on", subjects
        )
    except TooFewScans as exc:
        console.print(f"[yellow]no training-scan QC reference in the bundle: {exc}")
        return None
    return reference.to_dict()


def _age_interval(run: RunDir, intervals_from, extrapolation, ages, fold: int = FINAL_FOLD) -> dict | None:
    path = Path(intervals_from) if intervals_from else run.oof_predictions
    if not path.is_file():
        if intervals_from:
            raise InputError(path, "no such out-of-fold predictions table")
        console.print("[yellow]no age intervals in the bundle: the run was not cross-validated (--intervals-from)")
        return None
    # A fold's model is scored on its own test fold (benchmarks/invariance.py): calibrated on the run's
    # residuals, those subjects' own residuals would set the interval they are scored against.
    return _interval_record_from(path, extrapolation, ages, None if intervals_from else fold)


def _interval_record_from(oof_path: Path, extrapolation, ages, leave_out_fold: int | None = None) -> dict | None:
    """:func:`age_interval_record` of an out-of-fold predictions file, named after its run; without the
    residuals of ``leave_out_fold`` (a fold number: the other folds' residuals only, cross-conformal)."""
    oof = read_predictions(oof_path, required=("subject_id", "age", "predicted_age"))
    fitted_on = f"out-of-fold predictions of {oof_path.parent.name}"
    if leave_out_fold is not None and leave_out_fold != FINAL_FOLD and "fold" in oof:
        oof = oof[oof.fold != leave_out_fold]
        fitted_on += f" but fold {leave_out_fold}'s (the subjects this model was tested on)"
    return age_interval_record(oof, fitted_on, extrapolation, ages)


def _cv_metrics(run: RunDir) -> dict | None:
    if run.evaluation.metrics_json.is_file():
        return json.loads(run.evaluation.metrics_json.read_text())
    if not run.oof_predictions.is_file():
        return None
    from brainage.evaluation.metrics import age_metrics, sex_metrics

    oof = read_predictions(run.oof_predictions)
    return {
        "n_subjects": int(len(oof)),
        "age_uncorrected": age_metrics(oof.age, oof.predicted_age),
        "sex": sex_metrics(oof.sex, oof.p_male) if "p_male" in oof else None,
    }


def age_interval_record(oof: pd.DataFrame, fitted_on: str, extrapolation=None, ages=None) -> dict | None:
    """What a bundle carries to put an interval on every age (:mod:`brainage.bundle.intervals`):
    the split-conformal calibration on out-of-fold predictions ``oof`` and, from an
    ``extrapolation`` benchmark result (a JSON path) with the training ``ages`` it was run on, the
    widening per year beyond the training range. None (said on the console) where ``oof`` is too
    small."""
    oof = oof[oof.age.notna() & oof.predicted_age.notna()]
    if "rendition" in oof:  # renditions are never test subjects; an older run may still list them
        oof = oof[oof.rendition.fillna("").astype(str) == ""]
    try:
        calibration = AgeIntervals.fit(oof, fitted_on)
    except TooFewResiduals as exc:
        console.print(f"[yellow]no age intervals in the bundle: {exc}")
        return None
    record = {"calibration": calibration.to_dict(), "outside_range": None}
    if extrapolation is not None:
        path = Path(extrapolation)
        try:
            result = json.loads(path.read_text())
            limit = float(result["max_train_age"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(path, f"not an extrapolation benchmark result ({type(exc).__name__}: {exc})") from None
        ages = np.asarray(ages, float)
        record["outside_range"] = outside_range_rates(result, ages[ages > limit] - limit)
    return record


def refresh_bundle(
    bundle_path: str | Path | None,
    out: str | Path,
    oof_path: str | Path | None = None,
    extrapolation: str | Path | None = None,
    ages=None,
    recipe_changes: dict | None = None,
) -> Bundle:
    """A copy of a bundle with its age intervals calibrated on ``oof_path`` (the out-of-fold
    predictions of a cross-validation of the same model; :func:`age_interval_record`) and/or its
    preprocessing recipe changed (``recipe_changes``: settings of
    :class:`~brainage.preprocess.pipeline.PreprocessConfig`), written to ``out``; the weights and
    everything else unchanged. What gave the model shipped before brainage 0.9 its intervals and its
    storage fixes (a recipe change is for a maintainer who measured what it does to the model's
    predictions: docs/scanner_robustness.md).

    Parameters
    ----------
    bundle_path
        The bundle to copy (``None``: the shipped one).
    out
        Where to write the copy.
    oof_path
        ``oof_predictions.csv`` of a cross-validation of the bundle's model (None: intervals kept).
    extrapolation
        A ``benchmarks/extrapolation.py`` JSON of the model: the widening beyond the training ages.
    ages
        The training ages that benchmark ran on (needed with ``extrapolation``).
    recipe_changes
        Preprocessing settings to change (None: the recipe kept).

    Returns
    -------
    Bundle
        The copy, as written.
    """
    from dataclasses import replace

    from brainage.bundle.bundle import load_bundle

    bundle = load_bundle(bundle_path)
    changes = {}
    if oof_path is not None:
        changes["age_interval"] = _interval_record_from(Path(oof_path), extrapolation, ages)
    if recipe_changes:
        changes["preprocessing"] = recipe(replace(bundle.preprocess_config, **recipe_changes))
    bundle.meta = bundle.meta.replace(**changes)
    bundle.save(out)
    return bundle


def invariance_summary(path: str | Path) -> dict:
    """What a bundle carries of an invariance benchmark result (``benchmarks/invariance.py`` JSON):
    the within-brain SD and each variant's mean and largest shift, and the run whose CV folds it measured."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        return {
            "within_brain_sd_years": float(data["within_brain_sd_years"]),
            "n_brains": int(data["n_brains"]),
            # the run it measured: a configuration's result may be carried by a retrained model of it
            "measured_on": f"the cross-validation folds of {Path(data['run']).name}, each on its own held-out brains",
            "variants": {
                name: {
                    "family": v["family"],
                    "mean_shift_years": float(v["mean_shift_years"]),
                    "max_abs_shift_years": float(v["max_abs_shift_years"]),
                }
                for name, v in data["variants"].items()
                if name != "original"
            },
        }
    except FileNotFoundError:
        raise InputError(path, "invariance result does not exist (run benchmarks/invariance.py)") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(path, f"not an invariance benchmark result ({type(exc).__name__}: {exc})") from None


def training_fingerprints(pre: PreprocessedDir, subject_ids) -> dict[str, str]:
    """Voxel fingerprints of the training scans (:func:`~brainage.data.images.voxel_fingerprint`),
    so ``predict`` can tell a scan the model was trained on by content, not only by name.
    Scans no longer on disk are left out."""
    manifest = read_manifest(pre.manifest).set_index("subject_id")
    out = {}
    for sid in track(sorted(subject_ids), description="fingerprinting training scans"):
        path = Path(str(manifest.t1_path.get(sid, "")))
        if path.is_file():
            out[sid] = voxel_fingerprint(path)
    return out


def export_bundle(
    run_dir: str | Path,
    out: str | Path,
    fold: int = FINAL_FOLD,
    name: str | None = None,
    licence: str = "not stated",
    attribution: str = "",
    invariance: str | Path | None = None,
    intervals_from: str | Path | None = None,
    extrapolation: str | Path | None = None,
) -> Bundle:
    """Pack the models of ``fold`` (default: the final model) of a training run into ``out``.

    ``licence`` and ``attribution``: the terms of the training data (``IXI_LICENCE`` and
    ``IXI_ATTRIBUTION`` for models trained on IXI), shown by every prediction report.
    ``invariance``: a ``benchmarks/invariance.py`` result of this run, carried beside the CV metrics.

    Parameters
    ----------
    run_dir
        A ``brainage train`` output folder.
    out
        The bundle file to write (``.brainage``).
    fold
        Which model to pack: ``FINAL_FOLD`` (-1, default) is the model trained on every subject; a
        fold number packs that fold's model.
    name
        The model's name in reports; default the run folder's name.
    licence
        Terms of the training data, shown by every prediction report.
    attribution
        Credit the training data asks for, shown by every prediction report.
    invariance
        A ``benchmarks/invariance.py`` JSON of this run, carried beside the CV metrics.
    intervals_from
        Out-of-fold predictions that calibrate the interval on every age; default the run's own
        ``oof_predictions.csv`` where it was cross-validated (none otherwise).
    extrapolation
        A ``benchmarks/extrapolation.py`` JSON of this model: the interval's widening per year
        beyond the training ages.

    Returns
    -------
    Bundle
        The bundle written to ``out``.

    Example:
        >>> export_bundle("results/ixi/models/ensemble", "ixi.brainage")  # doctest: +SKIP
    """
    run = RunDir(run_dir)
    info = _run_info(run)
    config = load_config(TrainConfig, run.config)
    kind = model_spec(config.model.name).kind
    seeds_dirs = [d for d in run.seed_dirs(fold) if DoneRecord(d.done).entries.get("train")]
    if not seeds_dirs:
        what = (
            "no final model: train it with `brainage train ... --final`"
            if fold == FINAL_FOLD
            else f"fold {fold} is not trained"
        )
        raise InputError(run.root, what)
    seeds, held_out = [], []
    for folder in seeds_dirs:
        seed_model, preds = _seed_model(folder, config, kind)
        seeds.append(seed_model)
        held_out.append(preds[preds.role.isin(HELD_OUT_TRAINING)])
    pre = PreprocessedDir(info.preprocessed_dir) if info.preprocessed_dir else None
    if pre is None or not pre.config.is_file():
        raise InputError(
            run.root,
            "the run's preprocessing config is missing (run_info.json preprocessed_dir): "
            "a bundle must carry the recipe its model was trained on",
        )
    pre_config = load_config(PreprocessConfig, pre.config)
    cache = find_cache(info.cache_dir)
    cache_info = info.cache or CacheInfo.read(cache.grid)
    if cache_info.pooled != 1:
        raise InputError(
            run.root,
            f"trained on a cache pooled by {cache_info.pooled} (`brainage pack --downsample`): new scans cannot be "
            "prepared the same way; train on the preprocessing folder (with --downsample) to export a model",
        )
    pre_config.grids = (cache_info.grid.name,)
    pre_config.tissue = "tissue" in config.model.inputs or pre_config.tissue
    table = labels_table(cache, info.folds_csv, info.qc_verdicts)
    trained_on = table if fold == FINAL_FOLD else table[table.fold != fold]
    name = name or run.root.name
    meta = BundleMeta(
        name=name,
        brainage_version=__version__,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        model=ModelInfo(
            name=config.model.name,
            kind=kind,
            description=model_spec(config.model.name).description,
            train_config=to_dict(config),
            seeds=[s.seed for s in seeds],
            fold="all subjects" if fold == FINAL_FOLD else int(fold),
        ),
        preprocessing=recipe(pre_config),
        bias_correction=_bias_correction(pd.concat(held_out, ignore_index=True)),
        cohort={**_cohort(trained_on), **_geometry(pre, trained_on.subject_id)},
        trained_on=sorted(trained_on.subject_id),
        trained_on_images=training_fingerprints(pre, trained_on.subject_id),
        cv_metrics=_cv_metrics(run),
        licence=licence,
        attribution=attribution,
        invariance=invariance_summary(invariance) if invariance else None,
        qc_reference=_qc_reference(pre, trained_on.subject_id, name),
        age_interval=_age_interval(run, intervals_from, extrapolation, table.age, fold),
    )
    bundle = Bundle(meta, seeds)
    path = bundle.save(out)
    console.print(
        f"bundle: {path} ({path.stat().st_size / 1e6:.1f} MB; {len(seeds)} seed(s) of {config.model.name}, "
        f"{meta.cohort['n']} subjects aged {meta.cohort['age_min']:.0f}-{meta.cohort['age_max']:.0f})"
    )
    return bundle

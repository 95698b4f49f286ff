"""``brainage train``: k-fold cross-validation with out-of-fold predictions for every subject.

For fold k, fold k is the test set and the model learns from the other folds: a CNN holds out a
stratified ``val_fraction`` of them for early stopping and checkpoint selection
(:mod:`brainage.training.cnn`); a classical model uses an inner cross-validation
(:mod:`brainage.training.classical`). Their held-out predictions of training subjects fit the
age-bias correction. Test subjects are touched only by the final prediction. Each fold is a
folder with its predictions (and a CNN's checkpoints, ``last.ckpt`` resuming an interrupted run,
and CSV log); a fold whose predictions exist for the same config
(:class:`~brainage.training.config.TrainConfig`, data, fold and seed) is skipped on re-run,
whatever the run options.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from brainage.config import fingerprint, save_config
from brainage.errors import InputError
from brainage.files import DoneRecord, write_csv, write_json
from brainage.layout import FINAL_FOLD, CacheDir, FoldDir, RunDir, SplitsDir
from brainage.models.registry import DEFAULT_MODEL, model_spec
from brainage.preprocess.cache import find_cache, is_original, read_cache_index
from brainage.preprocess.grids import CacheInfo
from brainage.progress import console
from brainage.qc.verdicts import qc_failed
from brainage.training.bias import average_seeds_and_correct
from brainage.training.classical import RidgeFitter
from brainage.training.cnn import CNNFitter
from brainage.training.config import RunOptions, TrainConfig, train_config_for
from brainage.training.ensemble import EnsembleFitter
from brainage.training.fold_fit import OTHER_PROCESS, Fitter, FoldJob
from brainage.training.predictions import read_predictions
from brainage.training.run_info import RunInfo
from brainage.training.splits import read_folds

#: Cross-validation needs at least this many subjects with a fold and a cached volume.
MIN_SUBJECTS = 10


def labels_table(cache: CacheDir, folds_csv: Path, qc_verdicts: Path | None, renditions: bool = False) -> pd.DataFrame:
    """The subjects to cross-validate: cached, in a fold and not failed by QC, with labels, paths
    and covariates. With ``renditions``, also the cache's training renditions
    (:mod:`brainage.preprocess.renditions`), each in its source subject's fold and left out with it."""
    index = read_cache_index(cache.root)
    if renditions and is_original(index).all():
        raise InputError(
            cache.index,
            "the train config asks for training renditions, and this cache has none "
            "(run `brainage preprocess --renditions 1` first)",
        )
    if not renditions:
        index = index[is_original(index)]
    folds = read_folds(folds_csv)[["subject_id", "fold"]].rename(columns={"subject_id": "source_subject"})
    table = index.merge(folds, on="source_subject", how="inner")
    missing = sorted(set(folds.source_subject) - set(index.source_subject))
    if missing:
        console.print(
            f"[yellow]{len(missing)} subjects in the folds have no preprocessed volume and are left out: "
            f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}"
        )
    if qc_verdicts is not None:
        failed = qc_failed(qc_verdicts)
        for sid, reason in failed[failed.index.isin(table.subject_id)].items():
            console.print(f"excluded: {sid}: {reason}")
        table = table[~table.source_subject.isin(failed.index)]
    n_subjects = int(is_original(table).sum())
    if n_subjects < MIN_SUBJECTS:
        raise InputError(folds_csv, f"only {n_subjects} subjects with both a fold and a cached volume")
    return table.reset_index(drop=True)


def check_recipe(config: TrainConfig, cache: CacheDir) -> None:
    """Refuse, before any training, a cache preprocessed otherwise than the model's recipe asks
    (:attr:`~brainage.models.registry.ModelSpec.recipe`), naming each setting that differs."""
    from brainage.config import load_config
    from brainage.preprocess.pipeline import PreprocessConfig, recipe_preset
    from brainage.preprocess.recipes import RECIPE_REFINEMENTS, RECIPES

    name = model_spec(config.model.name).recipe
    pre = cache.preprocessed
    if not name or pre is None or not pre.config.is_file():
        return
    found, wanted = load_config(PreprocessConfig, pre.config), recipe_preset(name)
    differs = [
        f"{key} {getattr(found, key)!r} (the recipe: {getattr(wanted, key)!r})"
        for key in RECIPES[name]
        if key not in RECIPE_REFINEMENTS and getattr(found, key) != getattr(wanted, key)
    ]
    if differs:
        raise InputError(
            pre.config,
            f"model {config.model.name} reads scans preprocessed with `brainage preprocess --recipe {name}`; "
            f"this folder has {'; '.join(differs)}",
        )


#: model kind (the registry's ``kind``) -> its :class:`~brainage.training.fold_fit.Fitter`
FITTERS: dict[str, type[Fitter]] = {f.kind: f for f in (CNNFitter, RidgeFitter, EnsembleFitter)}


def _fitter(config: TrainConfig) -> Fitter:
    return FITTERS[model_spec(config.model.name).kind]()


#: The entry of a fold's ``done.json`` that names the fingerprint its checkpoints were trained for.
STARTED = "train_started"


def _set_aside_other_checkpoints(folder: FoldDir, done: DoneRecord, fp: str) -> None:
    """A CNN resumes from ``last.ckpt``: never from one trained for another fingerprint (configuration
    or data), whose checkpoints are moved aside, not deleted. Records which fingerprint trains now."""
    started = done.entries.get(STARTED, {}).get("fingerprint")
    if started not in (None, fp) and folder.checkpoints.exists():
        aside = folder.set_aside_checkpoints(started)
        folder.checkpoints.replace(aside)
        console.print(f"{folder.root}: the configuration changed; earlier checkpoints kept in {aside}")
    done.record(STARTED, fp, [])


def train_fold(
    table: pd.DataFrame,
    fold: int,
    seed: int,
    config: TrainConfig,
    options: RunOptions,
    run: RunDir,
    cache: CacheInfo,
) -> pd.DataFrame | None:
    """Train one (fold, seed) of any model; returns its held-out training-fold and test predictions
    (``None`` in a DDP process other than rank 0).

    Skipped when done for the same fingerprint (config, data, fold, seed, subjects); a CNN resumes
    from ``last.ckpt`` after an interruption, and only when that checkpoint was trained for the same
    fingerprint (an earlier configuration's checkpoints are moved aside).
    """
    folder = run.fold(fold, seed)
    folder.root.mkdir(parents=True, exist_ok=True)
    subjects = sorted(table.subject_id)
    fp = fingerprint(config, cache.identity(), fold, seed, subjects)
    done = DoneRecord(folder.done)
    if done.is_done("train", fp, [folder.predictions]):
        console.print(f"fold {fold} seed {seed}: already trained with this config, skipping")
        return read_predictions(folder.predictions)
    from lightning.pytorch.utilities import rank_zero_only

    if rank_zero_only.rank == 0:  # under DDP, one process keeps the records (it spawns the others after)
        # which checkpoint predicts does not change the weights: a fold trained before resumes, and predicts
        weights = fingerprint(replace(config, checkpoint="best"), cache.identity(), fold, seed, subjects)
        _set_aside_other_checkpoints(folder, done, weights)
    test = table[(table.fold == fold) & is_original(table)].reset_index(drop=True)
    rest = table[table.fold != fold].reset_index(drop=True)
    fit = _fitter(config).fit(FoldJob(rest, test, fold, seed, config, options, folder, cache))
    if fit is OTHER_PROCESS:
        return None
    preds = fit.predictions.assign(fold=fold, seed=seed)
    write_csv(preds, folder.predictions)
    done.record("train", fp, [folder.predictions], **fit.info)
    return preds


def train_cv(
    cache_dir: str | Path,
    folds_csv: str | Path,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    options: RunOptions = RunOptions(),
    qc_verdicts: str | Path | None = None,
) -> pd.DataFrame | None:
    """Cross-validate ``config`` over the folds; writes ``oof_predictions.csv`` and returns it
    (``None`` when only the final model was trained, or in a DDP process other than rank 0).

    ``cache_dir``: a cache folder or a ``brainage preprocess`` output folder.

    Parameters
    ----------
    cache_dir
        A ``brainage preprocess`` output folder or one of its cache folders.
    folds_csv
        ``folds.csv`` from ``brainage split``, or its folder.
    out_dir
        Output folder; re-running skips finished folds and resumes an interrupted one.
    config
        What defines the model (:class:`TrainConfig`); part of every fold's fingerprint. ``None``:
        what ``brainage train`` trains by default (:data:`~brainage.models.registry.DEFAULT_MODEL`,
        with its registered settings).
    options
        How to run (:class:`RunOptions`: folds, seeds, workers, devices); never part of a
        fingerprint.
    qc_verdicts
        A ``qc_verdicts.csv``: subjects whose final verdict is ``fail`` are left out.

    Returns
    -------
    pandas.DataFrame or None
        Out-of-fold predictions, one row per subject (``None`` when only the final model was
        trained, or in a DDP process other than rank 0).

    Example:
        >>> train_cv("pre", "splits", "models/sfcn", TrainConfig(max_epochs=2))  # doctest: +SKIP
    """
    config = config if config is not None else train_config_for(DEFAULT_MODEL)
    run = RunDir(out_dir)
    cache = find_cache(cache_dir)
    check_recipe(config, cache)
    folds_csv = SplitsDir.folds_csv(folds_csv)
    table = labels_table(cache, folds_csv, Path(qc_verdicts) if qc_verdicts else None, config.renditions)
    info = CacheInfo.read(cache.grid)
    run.root.mkdir(parents=True, exist_ok=True)
    save_config(config, run.config)
    save_config(options, run.options)
    pre = cache.preprocessed
    RunInfo(
        cache_dir=cache.root.resolve(),
        folds_csv=folds_csv.resolve(),
        preprocessed_dir=pre.root.resolve() if pre else None,
        qc_verdicts=Path(qc_verdicts) if qc_verdicts else None,
        n_subjects=int(is_original(table).sum()),
        cache=info,
        torch=torch.__version__,
    ).write(run.info)
    run_folds = list(options.folds) or sorted(table.fold.unique())
    originals = is_original(table)
    extra = f" and their {int((~originals).sum())} renditions" if (~originals).any() else ""
    if options.final and FINAL_FOLD not in run_folds:
        run_folds.append(FINAL_FOLD)
    all_preds = []
    for fold in run_folds:
        for seed in options.seeds:
            if fold == FINAL_FOLD:
                n_all = int(originals.sum())
                console.print(f"[bold]final model seed {seed}[/bold] (all {n_all} subjects{extra}, no test set)")
                train_fold(table, FINAL_FOLD, int(seed), config, options, run, info)
                continue
            console.print(
                f"[bold]fold {fold} seed {seed}[/bold] "
                f"({((table.fold != fold) & originals).sum()} train+val subjects{extra and ' with their renditions'}, "
                f"{((table.fold == fold) & originals).sum()} test)"
            )
            all_preds.append(train_fold(table, int(fold), int(seed), config, options, run, info))
    if not all_preds or any(p is None for p in all_preds):  # only the final model, or not the reporting process
        return None
    preds = pd.concat(all_preds, ignore_index=True)
    preds, combination = _fitter(config).combine(preds)  # an ensemble's stack, fitted now
    if combination:
        write_json(run.combination, combination)
    write_csv(preds, run.all_predictions)
    oof = average_seeds_and_correct(preds)
    write_csv(oof, run.oof_predictions)
    return oof

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

import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from brainage.config import fingerprint, save_config
from brainage.errors import InputError
from brainage.files import DoneRecord, write_csv, write_json
from brainage.layout import FINAL_FOLD, CacheDir, RunDir, SplitsDir
from brainage.models.registry import model_spec
from brainage.preprocess.cache import read_cache_index
from brainage.preprocess.grids import read_grid
from brainage.progress import console
from brainage.qc.verdicts import qc_failed
from brainage.training.bias import AgeBiasCorrector, TooFewSubjects
from brainage.training.config import RunOptions, TrainConfig
from brainage.training.run_info import RunInfo

#: Cross-validation needs at least this many subjects with a fold and a cached volume.
MIN_SUBJECTS = 10


def labels_table(cache: CacheDir, folds_csv: Path, qc_verdicts: Path | None) -> pd.DataFrame:
    index = read_cache_index(cache.root)
    folds = pd.read_csv(folds_csv, dtype={"subject_id": str})
    if not {"subject_id", "fold"} <= set(folds.columns):
        raise InputError(folds_csv, "not a folds table (needs subject_id and fold columns; made by `brainage split`)")
    table = index.merge(folds[["subject_id", "fold"]], on="subject_id", how="inner")
    missing = sorted(set(folds.subject_id) - set(index.subject_id))
    if missing:
        console.print(
            f"[yellow]{len(missing)} subjects in the folds have no preprocessed volume and are left out: "
            f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}"
        )
    if qc_verdicts is not None:
        failed = qc_failed(qc_verdicts)
        for sid, reason in failed[failed.index.isin(table.subject_id)].items():
            console.print(f"excluded: {sid}: {reason}")
        table = table[~table.subject_id.isin(failed.index)]
    if len(table) < MIN_SUBJECTS:
        raise InputError(folds_csv, f"only {len(table)} subjects with both a fold and a cached volume")
    return table.reset_index(drop=True)


#: model kind (see the registry) -> module whose ``fit(rest, test, fold, seed, config, options, folder, data)``
#: trains on the training folds and returns predictions and what it found
FITTERS = {
    "cnn": "brainage.training.cnn",
    "classical": "brainage.training.classical",
    "ensemble": "brainage.training.ensemble",
}


def _fitter(config: TrainConfig):
    return importlib.import_module(FITTERS[model_spec(config.model.name).kind])


def train_fold(
    table: pd.DataFrame,
    fold: int,
    seed: int,
    config: TrainConfig,
    options: RunOptions,
    run: RunDir,
    data_identity: dict,
) -> pd.DataFrame:
    """Train one (fold, seed) of any model; returns its held-out training-fold and test predictions.

    Skipped when done for the same fingerprint (config, data, fold, seed, subjects); a CNN resumes
    from ``last.ckpt`` after an interruption.
    """
    folder = run.fold(fold, seed)
    folder.root.mkdir(parents=True, exist_ok=True)
    fp = fingerprint(config, data_identity, fold, seed, sorted(table.subject_id))
    done = DoneRecord(folder.done)
    if done.is_done("train", fp, [folder.predictions]):
        console.print(f"fold {fold} seed {seed}: already trained with this config, skipping")
        return pd.read_csv(folder.predictions, dtype={"subject_id": str})
    test = table[table.fold == fold].reset_index(drop=True)
    rest = table[table.fold != fold].reset_index(drop=True)
    preds, info = _fitter(config).fit(rest, test, fold, seed, config, options, folder, data_identity)
    if preds.empty:  # non-zero DDP ranks
        return preds
    preds["fold"], preds["seed"] = fold, seed
    write_csv(preds, folder.predictions)
    done.record("train", fp, [folder.predictions], **info)
    return preds


#: Roles of held-out predictions of training subjects: a CNN's validation subjects, a classical
#: model's inner cross-validation.
HELD_OUT_TRAINING = ("val", "inner")


def ensemble_and_correct(preds: pd.DataFrame) -> pd.DataFrame:
    """Average seeds per subject and fold, then fit each fold's age-bias correction on that fold's
    held-out training predictions (never its test subjects) and apply it to its test subjects.

    Where a fold has fewer than :data:`~brainage.training.bias.MIN_SUBJECTS` of them, the
    correction is refused with a warning and ``age_pred_corrected`` stays empty.
    """
    value_cols = [c for c in ("age_pred", "sex_prob_male") if c in preds]
    mean = preds.groupby(["fold", "role", "subject_id", "age", "sex", "site"], as_index=False)[value_cols].mean()
    out = []
    for fold, part in mean.groupby("fold"):
        test = part[part.role == "test"].copy()
        if "age_pred" in part:
            held_out = part[part.role.isin(HELD_OUT_TRAINING)]
            try:
                corrector = AgeBiasCorrector().fit(held_out.age.to_numpy(), held_out.age_pred.to_numpy())
            except TooFewSubjects as exc:
                console.print(f"[yellow]fold {fold}: no age-bias correction: {exc}")
                test["age_pred_corrected"], test["bias_alpha"], test["bias_beta"] = np.nan, np.nan, np.nan
            else:
                test["age_pred_corrected"] = corrector.transform(test.age.to_numpy(), test.age_pred.to_numpy())
                test["bias_alpha"], test["bias_beta"] = corrector.alpha_, corrector.beta_
        out.append(test)
    return pd.concat(out, ignore_index=True).sort_values("subject_id").reset_index(drop=True)


def train_cv(
    cache_dir: str | Path,
    folds_csv: str | Path,
    out_dir: str | Path,
    config: TrainConfig = TrainConfig(),
    options: RunOptions = RunOptions(),
    qc_verdicts: str | Path | None = None,
) -> pd.DataFrame:
    """Cross-validate ``config`` over the folds; writes ``oof_predictions.csv`` and returns it.

    ``cache_dir``: a cache folder or a ``brainage preprocess`` output folder.

    Example:
        >>> train_cv("pre", "splits", "models/sfcn", TrainConfig(max_epochs=2))  # doctest: +SKIP
    """
    run = RunDir(out_dir)
    cache = CacheDir.find(cache_dir)
    folds_csv = SplitsDir.folds_csv(folds_csv)
    table = labels_table(cache, folds_csv, Path(qc_verdicts) if qc_verdicts else None)
    grid = read_grid(cache.grid)
    data_identity = {"grid": grid.to_json()}
    run.root.mkdir(parents=True, exist_ok=True)
    save_config(config, run.config)
    save_config(options, run.options)
    pre = cache.preprocessed
    RunInfo(
        cache_dir=cache.root.resolve(),
        folds_csv=folds_csv.resolve(),
        preprocessed_dir=pre.root.resolve() if pre else None,
        qc_verdicts=Path(qc_verdicts) if qc_verdicts else None,
        n_subjects=int(len(table)),
        grid=grid,
        torch=torch.__version__,
    ).write(run.info)
    run_folds = list(options.folds) or sorted(table.fold.unique())
    if options.final and FINAL_FOLD not in run_folds:
        run_folds.append(FINAL_FOLD)
    all_preds = []
    for fold in run_folds:
        for seed in options.seeds:
            if fold == FINAL_FOLD:
                console.print(f"[bold]final model seed {seed}[/bold] (all {len(table)} subjects, no test set)")
                train_fold(table, FINAL_FOLD, int(seed), config, options, run, data_identity)
                continue
            console.print(
                f"[bold]fold {fold} seed {seed}[/bold] "
                f"({(table.fold != fold).sum()} train+val, {(table.fold == fold).sum()} test)"
            )
            all_preds.append(train_fold(table, int(fold), int(seed), config, options, run, data_identity))
    preds = pd.concat(all_preds, ignore_index=True) if all_preds else pd.DataFrame()
    if preds.empty:  # only the final model, or non-zero DDP ranks
        return preds
    fitter = _fitter(config)
    if hasattr(fitter, "combine"):  # an ensemble: combine the members' stored predictions now
        preds, weights = fitter.combine(preds)
        write_json(run.combination, weights)
    write_csv(preds, run.all_predictions)
    oof = ensemble_and_correct(preds)
    write_csv(oof, run.oof_predictions)
    return oof

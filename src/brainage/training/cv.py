"""``brainage train``: k-fold cross-validation with out-of-fold predictions for every subject.

For fold k, fold k is the test set; a stratified ``val_fraction`` of the other folds is the
validation set for early stopping, checkpoint selection and fitting the age-bias correction;
the rest trains. Test subjects are touched only by the final prediction. Each fold is a folder
with checkpoints (``last.ckpt`` resumes an interrupted run), a CSV log and predictions; a fold
whose predictions exist for the same config (:class:`~brainage.training.config.TrainConfig`,
data, fold and seed) is skipped on re-run, whatever the run options.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from brainage.config import fingerprint, save_config
from brainage.errors import InputError
from brainage.files import DoneRecord, write_csv, write_json
from brainage.layout import CacheDir, FoldDir, RunDir, SplitsDir
from brainage.preprocess.cache import read_cache_index
from brainage.preprocess.grids import read_grid
from brainage.progress import console
from brainage.qc.verdicts import qc_failed
from brainage.training.augment import build_augmentation
from brainage.training.bias import AgeBiasCorrector
from brainage.training.config import RunOptions, TrainConfig
from brainage.training.dataset import BrainAgeDataset, make_loader
from brainage.training.logs import archive_log
from brainage.training.module import BrainAgeModule


class _DropTips(logging.Filter):
    """Lightning advertises its cloud products on every Trainer; a log of 5 folds does not need them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in record.getMessage()


def _quiet_lightning() -> None:
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_DropTips())
    # Resuming into a fold's folder and small cohorts are expected here, not mistakes.
    for pattern in (".*pytree.*", ".*does not have many workers.*", ".*LeafSpec.*", ".*exists and is not empty.*",
                    ".*smaller than the logging interval.*"):
        warnings.filterwarnings("ignore", message=pattern)


def _labels_table(cache: CacheDir, folds_csv: Path, qc_verdicts: Path | None) -> pd.DataFrame:
    index = read_cache_index(cache.root)
    folds = pd.read_csv(folds_csv, dtype={"subject_id": str})
    if not {"subject_id", "fold"} <= set(folds.columns):
        raise InputError(folds_csv, "not a folds table (needs subject_id and fold columns; made by `brainage split`)")
    table = index.merge(folds[["subject_id", "fold"]], on="subject_id", how="inner")
    missing = sorted(set(folds.subject_id) - set(index.subject_id))
    if missing:
        console.print(f"[yellow]{len(missing)} subjects in the folds have no preprocessed volume and are left out: "
                      f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
    if qc_verdicts is not None:
        failed = qc_failed(qc_verdicts)
        for sid, reason in failed[failed.index.isin(table.subject_id)].items():
            console.print(f"excluded: {sid}: {reason}")
        table = table[~table.subject_id.isin(failed.index)]
    if len(table) < 10:
        raise InputError(folds_csv, f"only {len(table)} subjects with both a fold and a cached volume")
    return table.reset_index(drop=True)


def _val_split(train: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the validation subjects, stratified by sex x age tertile."""
    from sklearn.model_selection import train_test_split

    n_val = max(2, int(round(fraction * len(train))))
    strata = train.sex.astype(str) + pd.qcut(train.age, 3, labels=False, duplicates="drop").astype(str)
    # Fall back to coarser strata when the cohort is too small for the fine ones.
    for candidate in (strata, train.sex.astype(str), None):
        if candidate is None or (candidate.value_counts().min() >= 2 and candidate.nunique() <= n_val):
            break
    _, val_idx = train_test_split(np.arange(len(train)), test_size=n_val, random_state=seed, stratify=candidate)
    mask = np.zeros(len(train), bool)
    mask[val_idx] = True
    return mask


def _trainer(config: TrainConfig, options: RunOptions, fold: FoldDir, callbacks: list, logger=True, devices=None):
    import lightning as L

    _quiet_lightning()
    on_gpu = torch.cuda.is_available() and options.accelerator in ("auto", "gpu", "cuda")
    precision = options.precision if options.precision != "auto" else ("bf16-mixed" if on_gpu else "32-true")
    return L.Trainer(max_epochs=config.max_epochs, accelerator=options.accelerator, devices=devices or options.devices,
                     strategy=options.strategy if devices is None else "auto", precision=precision,
                     benchmark=on_gpu, callbacks=callbacks, logger=logger, default_root_dir=str(fold.root),
                     enable_progress_bar=os.environ.get("BRAINAGE_NO_PROGRESS") != "1",
                     log_every_n_steps=5, enable_model_summary=False, num_sanity_val_steps=0)


def _predict(module: BrainAgeModule, table: pd.DataFrame, config: TrainConfig, options: RunOptions,
             fold: FoldDir) -> pd.DataFrame:
    ds = BrainAgeDataset(table, downsample=config.downsample)
    loader = make_loader(ds, config.batch_size, shuffle=False, num_workers=0)
    trainer = _trainer(config, options, fold, callbacks=[], logger=False, devices=1)
    batches = trainer.predict(module, loader)
    out = table[["subject_id", "age", "sex", "site"]].copy()
    for task in ("age", "sex"):
        if batches and task in batches[0]:
            out[f"{task}_pred" if task == "age" else "sex_prob_male"] = torch.cat([b[task] for b in batches]).numpy().astype(float)
    return out


def train_fold(table: pd.DataFrame, fold: int, seed: int, config: TrainConfig, options: RunOptions, run: RunDir,
               data_identity: dict) -> pd.DataFrame:
    """Train one (fold, seed); returns validation + test predictions (resumes / skips when possible)."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    folder = run.fold(fold, seed)
    folder.root.mkdir(parents=True, exist_ok=True)
    fp = fingerprint(config, data_identity, fold, seed, sorted(table.subject_id))
    done = DoneRecord(folder.done)
    if done.is_done("train", fp, [folder.predictions]):
        console.print(f"fold {fold} seed {seed}: already trained with this config, skipping")
        return pd.read_csv(folder.predictions, dtype={"subject_id": str})
    L.seed_everything(seed + 1000 * fold, workers=True)
    test = table[table.fold == fold].reset_index(drop=True)
    rest = table[table.fold != fold].reset_index(drop=True)
    is_val = _val_split(rest, config.val_fraction, seed + fold)
    train, val = rest[~is_val].reset_index(drop=True), rest[is_val].reset_index(drop=True)
    voxel = data_identity["grid"]["voxel_mm"] * config.downsample
    train_ds = BrainAgeDataset(train, build_augmentation(config.augment, voxel), downsample=config.downsample)
    val_ds = BrainAgeDataset(val, downsample=config.downsample)
    train_loader = make_loader(train_ds, config.batch_size, shuffle=True, num_workers=options.num_workers,
                               start_method=options.start_method, seed=seed, drop_last=len(train_ds) > config.batch_size)
    val_loader = make_loader(val_ds, config.batch_size, shuffle=False, num_workers=0)
    gpu_aug = asdict(config.augment) if config.augment.enabled and config.augment.device == "gpu" else None
    module = BrainAgeModule(asdict(config.model), asdict(config.optim), float(train.age.mean()), float(train.age.std()),
                            config.max_epochs, options.channels_last, gpu_augment=gpu_aug, voxel_mm=voxel)
    # Select and stop on age MAE when age is a task: the summed multitask loss mixes KL/BCE scales
    # and is noisy on small validation sets (an early dip there stopped good runs too soon).
    monitor = "val_age_mae" if "age" in config.model.tasks else "val_loss"
    ckpt = ModelCheckpoint(dirpath=folder.checkpoints, filename="best", monitor=monitor, mode="min", save_last=True)
    archive_log(folder)
    loggers = [CSVLogger(str(folder.root), name="logs", version="")]
    if options.tensorboard:
        loggers.append(TensorBoardLogger(str(folder.root), name="tensorboard", version=""))
    callbacks = [ckpt, EarlyStopping(monitor=monitor, mode="min", patience=config.patience)]
    trainer = _trainer(config, options, folder, callbacks, logger=loggers)
    last = folder.last_checkpoint
    trainer.fit(module, train_loader, val_loader, ckpt_path=str(last) if last.exists() else None)
    if trainer.global_rank != 0:
        return pd.DataFrame()
    best = ckpt.best_model_path or str(last)
    module = BrainAgeModule.load_from_checkpoint(best, weights_only=False)
    preds = pd.concat([_predict(module, val, config, options, folder).assign(role="val"),
                       _predict(module, test, config, options, folder).assign(role="test")], ignore_index=True)
    preds["fold"], preds["seed"] = fold, seed
    write_csv(preds, folder.predictions)
    done.record("train", fp, [folder.predictions], best_checkpoint=best, epochs_run=trainer.current_epoch)
    return preds


def ensemble_and_correct(preds: pd.DataFrame) -> pd.DataFrame:
    """Average seeds per subject and fold, then fit each fold's age-bias correction on that fold's
    validation subjects (training data) and apply it to its test subjects."""
    value_cols = [c for c in ("age_pred", "sex_prob_male") if c in preds]
    mean = preds.groupby(["fold", "role", "subject_id", "age", "sex", "site"], as_index=False)[value_cols].mean()
    out = []
    for fold, part in mean.groupby("fold"):
        test = part[part.role == "test"].copy()
        if "age_pred" in part:
            val = part[part.role == "val"]
            corrector = AgeBiasCorrector().fit(val.age.to_numpy(), val.age_pred.to_numpy())
            test["age_pred_corrected"] = corrector.transform(test.age.to_numpy(), test.age_pred.to_numpy())
            test["bias_alpha"], test["bias_beta"] = corrector.alpha_, corrector.beta_
        out.append(test)
    return pd.concat(out, ignore_index=True).sort_values("subject_id").reset_index(drop=True)


def train_cv(cache_dir: str | Path, folds_csv: str | Path, out_dir: str | Path, config: TrainConfig = TrainConfig(),
             options: RunOptions = RunOptions(), qc_verdicts: str | Path | None = None) -> pd.DataFrame:
    """Cross-validate ``config`` over the folds; writes ``oof_predictions.csv`` and returns it.

    ``cache_dir``: a cache folder or a ``brainage preprocess`` output folder.

    Example:
        >>> train_cv("pre", "splits", "models/sfcn", TrainConfig(max_epochs=2))  # doctest: +SKIP
    """
    run = RunDir(out_dir)
    cache = CacheDir.find(cache_dir)
    folds_csv = SplitsDir.folds_csv(folds_csv)
    table = _labels_table(cache, folds_csv, Path(qc_verdicts) if qc_verdicts else None)
    data_identity = {"grid": read_grid(cache.grid).to_json()}
    run.root.mkdir(parents=True, exist_ok=True)
    save_config(config, run.config)
    save_config(options, run.options)
    pre = cache.preprocessed
    write_json(run.info, {
        "cache_dir": str(cache.root.resolve()), "preprocessed_dir": str(pre.root.resolve()) if pre else None,
        "folds_csv": str(folds_csv.resolve()), "qc_verdicts": str(qc_verdicts) if qc_verdicts else None,
        "n_subjects": int(len(table)), "grid": data_identity["grid"], "torch": torch.__version__})
    run_folds = list(options.folds) or sorted(table.fold.unique())
    all_preds = []
    for fold in run_folds:
        for seed in options.seeds:
            console.print(f"[bold]fold {fold} seed {seed}[/bold] ({(table.fold != fold).sum()} train+val, {(table.fold == fold).sum()} test)")
            all_preds.append(train_fold(table, int(fold), int(seed), config, options, run, data_identity))
    preds = pd.concat(all_preds, ignore_index=True)
    if preds.empty:  # non-zero DDP ranks
        return preds
    write_csv(preds, run.all_predictions)
    oof = ensemble_and_correct(preds)
    write_csv(oof, run.oof_predictions)
    return oof

"""Fitting a CNN on one fold: Lightning training with checkpoints, early stopping and resume.

A stratified ``val_fraction`` of the training folds is the validation set for early stopping,
checkpoint selection and the age-bias correction; the rest trains. Covariates are standardised
with the training subjects' mean and standard deviation, which the checkpoint keeps.
"""

from __future__ import annotations

import logging
import os
import warnings
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from brainage.layout import FoldDir
from brainage.preprocess.cache import is_original
from brainage.training.augment import build_augmentation
from brainage.training.config import RunOptions, TrainConfig
from brainage.training.dataset import BrainAgeDataset, make_loader
from brainage.training.fold_fit import OTHER_PROCESS, Fitter, FoldFit, FoldJob
from brainage.training.logs import archive_log
from brainage.training.module import BrainAgeModule
from brainage.training.predictions import P_MALE, PREDICTED_AGE
from brainage.training.seeds import FoldSeeds
from brainage.training.splits import strata


class _DropChatter(logging.Filter):
    """Lightning advertises its cloud products and lists absent accelerators on every Trainer (twice
    per fold); a log of five folds does not need them. Everything else passes."""

    ACCELERATORS = ("GPU available:", "TPU available:", "HPU available:")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "Tip:" not in message and not message.startswith(self.ACCELERATORS)


_CHATTER = _DropChatter()

#: Largest set of training (or validation) volumes a fold reads into memory once, in bytes: the 4 mm
#: grid's fit many times over (0.5 GB for 400 volumes of T1 and tissue), 2 mm's do not.
PRELOAD_BYTES = 3e9


#: Lightning warnings that are expected here, not mistakes: resuming into a fold's folder, small cohorts.
_EXPECTED_WARNINGS = (
    ".*pytree.*",
    ".*does not have many workers.*",
    ".*LeafSpec.*",
    ".*exists and is not empty.*",
    ".*smaller than the logging interval.*",
    ".*no `val_dataloader`.*",
)


@contextmanager
def quiet_lightning():
    """Lightning without its chatter and expected warnings, for the duration of the block only: a
    library must not change the warning filters of the program that calls it."""
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    logger.addFilter(_CHATTER)
    try:
        with warnings.catch_warnings():
            for pattern in _EXPECTED_WARNINGS:
                warnings.filterwarnings("ignore", message=pattern)
            yield
    finally:
        logger.removeFilter(_CHATTER)


def _val_split(train: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the validation subjects, stratified as the folds are (sex x age tertile,
    and site where there are several: :func:`~brainage.training.splits.strata`), coarser where the
    cohort is too small for those strata."""
    from sklearn.model_selection import train_test_split

    n_val = max(2, int(round(fraction * len(train))))
    for candidate in (strata(train, age_bins=3, n_folds=2), train.sex.astype(str).to_numpy(), None):
        if candidate is None or (pd.Series(candidate).value_counts().min() >= 2 and len(set(candidate)) <= n_val):
            break
    _, val_idx = train_test_split(np.arange(len(train)), test_size=n_val, random_state=seed, stratify=candidate)
    mask = np.zeros(len(train), bool)
    mask[val_idx] = True
    return mask


def _train_and_val(rest: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and validation rows: validation subjects drawn among the original scans, and
    their training renditions left out of training (a rendition is its source brain)."""
    originals = rest[is_original(rest)].reset_index(drop=True)
    val_sources = set(originals.source_subject[_val_split(originals, fraction, seed)])
    in_val = rest.source_subject.isin(val_sources)
    return rest[~in_val].reset_index(drop=True), rest[in_val & is_original(rest)].reset_index(drop=True)


def make_trainer(
    max_epochs: int,
    options: RunOptions,
    root: Path | None = None,
    callbacks: list | None = None,
    logger=True,
    devices: int | None = None,
    checkpointing: bool = True,
):
    """The one Lightning ``Trainer`` of brainage (a fold's training and prediction, a site's
    fine-tuning): precision ``auto`` is bf16-mixed on a GPU and 32-bit on a CPU, no sanity steps,
    a progress bar unless ``BRAINAGE_NO_PROGRESS=1``. ``devices`` other than the run's (one, to
    predict) also drop its multi-device strategy. Build and use it inside :func:`quiet_lightning`."""
    import lightning as L

    on_gpu = torch.cuda.is_available() and options.accelerator in ("auto", "gpu", "cuda")
    precision = options.precision if options.precision != "auto" else ("bf16-mixed" if on_gpu else "32-true")
    return L.Trainer(
        max_epochs=max_epochs,
        accelerator=options.accelerator,
        devices=devices or options.devices,
        strategy=options.strategy if devices is None else "auto",
        precision=precision,
        benchmark=on_gpu,
        callbacks=callbacks or [],
        logger=logger,
        enable_checkpointing=checkpointing,
        default_root_dir=str(root) if root is not None else None,
        enable_progress_bar=os.environ.get("BRAINAGE_NO_PROGRESS") != "1",
        log_every_n_steps=5,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )


def _dataset(
    table: pd.DataFrame, config: TrainConfig, covariate_stats, voxel_mm: float, transform=None
) -> BrainAgeDataset:
    m = config.model
    return BrainAgeDataset(
        table,
        transform,
        downsample=config.downsample,
        inputs=m.inputs,
        modulate=m.modulate,
        covariates=m.covariates,
        covariate_stats=covariate_stats,
        voxel_mm=voxel_mm,
    )


def _predict(
    module: BrainAgeModule, table: pd.DataFrame, config: TrainConfig, options: RunOptions, fold: FoldDir
) -> pd.DataFrame:
    ds = _dataset(table, config, module.hparams.covariate_stats, module.hparams.voxel_mm)
    loader = make_loader(ds, config.batch_size, shuffle=False, num_workers=0)
    with quiet_lightning():
        trainer = make_trainer(config.max_epochs, options, fold.root, logger=False, devices=1)
        batches = trainer.predict(module, loader)
    out = table[["subject_id", "age", "sex", "site"]].copy()
    for task, column in (("age", PREDICTED_AGE), ("sex", P_MALE)):
        if batches and task in batches[0]:
            out[column] = torch.cat([b[task] for b in batches]).numpy().astype(float)
    return out


class CNNFitter(Fitter):
    """A network of the registry, trained with Lightning."""

    kind = "cnn"

    def fit(self, job: FoldJob) -> FoldFit | None:
        """Train on the training folds (resuming from ``last.ckpt``); predict the validation
        subjects (role ``val``) and the test subjects (role ``test``) with the configured checkpoint
        (``TrainConfig.checkpoint``: the best on validation, or the last)."""
        import lightning as L
        from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
        from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

        rest, test, fold, seed = job.rest, job.test, job.fold, job.seed
        config, options, folder, cache = job.config, job.options, job.folder, job.cache
        seeds = FoldSeeds(fold, seed)
        L.seed_everything(seeds.training, workers=True, verbose=False)  # the seed is in the run record, not the console
        train, val = _train_and_val(rest, config.val_fraction, seeds.validation_split)
        voxel = cache.voxel_mm_pooled(config.downsample)
        covariates = list(config.model.covariates)
        stats = (
            ([float(v) for v in train[covariates].mean()], [float(v) for v in train[covariates].std()])
            if covariates
            else None
        )
        train_ds = _dataset(train, config, stats, voxel, build_augmentation(config.augment, voxel))
        val_ds = _dataset(val, config, stats, voxel)
        # Without per-volume transforms, volumes that fit in memory are read once, and the loader
        # needs no workers (they would only take cores from the network).
        in_memory = train_ds.transform is None and train_ds.preload(PRELOAD_BYTES) and val_ds.preload(PRELOAD_BYTES)
        train_loader = make_loader(
            train_ds,
            config.batch_size,
            shuffle=True,
            num_workers=0 if in_memory else options.num_workers,
            start_method=options.start_method,
            seed=seed,
            drop_last=len(train_ds) > config.batch_size,
        )
        val_loader = make_loader(val_ds, config.batch_size, shuffle=False, num_workers=0)
        batched = asdict(config.augment) if config.augment.batched else None
        module = BrainAgeModule(
            asdict(config.model),
            asdict(config.optim),
            float(train.age.mean()),
            float(train.age.std()),
            config.max_epochs,
            options.channels_last,
            batch_augment=batched,
            voxel_mm=voxel,
            covariate_stats=stats,
        )
        # Select and stop on age MAE when age is a task: the summed multitask loss mixes KL/BCE scales
        # and is noisy on small validation sets (an early dip there stopped good runs too soon).
        monitor = "val_age_mae" if "age" in config.model.tasks else "val_loss"
        ckpt = ModelCheckpoint(dirpath=folder.checkpoints, filename="best", monitor=monitor, mode="min")
        # last.ckpt, what an interrupted fold resumes from, is written every epoch by a checkpoint of its
        # own: since Lightning 2.6 ``save_last=True`` writes it only when the best one changes, so it
        # was a copy of best.ckpt and a resumed fold went back to its best epoch (in 0.12's runs, as far
        # back as epoch 3 of 30)
        latest = ModelCheckpoint(
            dirpath=folder.checkpoints, filename=folder.last_checkpoint.stem, monitor=None, enable_version_counter=False
        )
        archive_log(folder)
        loggers = [CSVLogger(str(folder.root), name="logs", version="")]
        if options.tensorboard:
            loggers.append(TensorBoardLogger(str(folder.root), name="tensorboard", version=""))
        callbacks = [ckpt, latest, EarlyStopping(monitor=monitor, mode="min", patience=config.patience)]
        last = folder.last_checkpoint
        with quiet_lightning():
            trainer = make_trainer(config.max_epochs, options, folder.root, callbacks, logger=loggers)
            trainer.fit(module, train_loader, val_loader, ckpt_path=str(last) if last.exists() else None)
        if trainer.global_rank != 0:
            return OTHER_PROCESS
        chosen = str(folder.chosen_checkpoint(config.checkpoint))
        module = BrainAgeModule.load_from_checkpoint(chosen, weights_only=False)
        parts = [_predict(module, val, config, options, folder).assign(role="val")]
        if len(test):  # the final model has no test subjects
            parts.append(_predict(module, test, config, options, folder).assign(role="test"))
        return FoldFit(pd.concat(parts, ignore_index=True), {"checkpoint": chosen, "epochs_run": trainer.current_epoch})

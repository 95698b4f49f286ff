"""``brainage train``: k-fold cross-validation with out-of-fold predictions for every subject.

For fold k, fold k is the test set; a stratified ``val_fraction`` of the other folds is the
validation set for early stopping, checkpoint selection and fitting the age-bias correction;
the rest trains. Test subjects are touched only by the final prediction. Each fold is a folder
with checkpoints (``last.ckpt`` resumes an interrupted run), a CSV log and predictions; a fold
whose predictions exist for the same config is skipped on re-run.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from brainage.config import fingerprint, save_config
from brainage.errors import InputError
from brainage.evaluation.bias import AgeBiasCorrector
from brainage.models.network import ModelConfig
from brainage.preprocess.cache import read_cache_index
from brainage.preprocess.dataset import AugmentConfig, BrainAgeDataset, build_augmentation, make_loader
from brainage.progress import console
from brainage.training.module import BrainAgeModule, OptimConfig


@dataclass
class TrainConfig:
    """Everything a training run depends on; saved as ``train_config.yaml`` beside the outputs."""

    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    grid: str = "2mm"
    downsample: int = 1
    max_epochs: int = 60
    patience: int = 15
    batch_size: int = 8
    val_fraction: float = 0.15
    folds: tuple = ()          # which folds to run; empty = all
    seeds: tuple = (0,)        # more than one = a seed ensemble per fold
    num_workers: int = 2
    start_method: str = "spawn"
    accelerator: str = "auto"
    devices: int = 1
    strategy: str = "auto"     # "ddp" for multi-GPU / multi-node
    precision: str = "auto"    # auto = bf16-mixed on GPU, 32 on CPU
    channels_last: bool = False
    tensorboard: bool = False


def _labels_table(cache_dir: Path, folds_csv: Path, qc_verdicts: Path | None) -> pd.DataFrame:
    index = read_cache_index(cache_dir)
    folds = pd.read_csv(folds_csv, dtype={"subject_id": str})
    table = index.merge(folds[["subject_id", "fold"]], on="subject_id", how="inner")
    missing = sorted(set(folds.subject_id) - set(index.subject_id))
    if missing:
        console.print(f"[yellow]{len(missing)} subjects in the folds have no preprocessed volume and are left out: "
                      f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
    if qc_verdicts is not None:
        from brainage.qc.overrides import read_verdicts

        v = read_verdicts(qc_verdicts).set_index("subject_id")
        failed = table.subject_id.map(v["final_verdict"]).eq("fail")
        for sid in table.subject_id[failed]:
            console.print(f"excluded by QC: {sid}: {v.at[sid, 'final_reasons']}")
        table = table[~failed]
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


def _trainer(config: TrainConfig, fold_dir: Path, callbacks: list, logger=True, devices=None):
    import lightning as L

    on_gpu = torch.cuda.is_available() and config.accelerator in ("auto", "gpu", "cuda")
    precision = config.precision if config.precision != "auto" else ("bf16-mixed" if on_gpu else "32-true")
    return L.Trainer(max_epochs=config.max_epochs, accelerator=config.accelerator, devices=devices or config.devices,
                     strategy=config.strategy if devices is None else "auto", precision=precision,
                     benchmark=on_gpu, callbacks=callbacks, logger=logger, default_root_dir=str(fold_dir),
                     enable_progress_bar=os.environ.get("BRAINAGE_NO_PROGRESS") != "1",
                     log_every_n_steps=5, enable_model_summary=False, num_sanity_val_steps=0)


def _predict(module: BrainAgeModule, table: pd.DataFrame, config: TrainConfig, fold_dir: Path) -> pd.DataFrame:
    ds = BrainAgeDataset(table, downsample=config.downsample)
    loader = make_loader(ds, config.batch_size, shuffle=False, num_workers=0)
    trainer = _trainer(config, fold_dir, callbacks=[], logger=False, devices=1)
    batches = trainer.predict(module, loader)
    out = table[["subject_id", "age", "sex", "site"]].copy()
    for task in ("age", "sex"):
        if batches and task in batches[0]:
            out[f"{task}_pred" if task == "age" else "sex_prob_male"] = torch.cat([b[task] for b in batches]).numpy().astype(float)
    return out


def _archive_log(fold_dir: Path) -> None:
    """Lightning's CSV logger replaces metrics.csv on resume; keep the earlier epochs beside it."""
    current = fold_dir / "logs" / "metrics.csv"
    if current.exists():
        n = len(list(fold_dir.glob("log_attempt*.csv")))
        current.replace(fold_dir / f"log_attempt{n}.csv")


def read_training_log(fold_dir: str | Path) -> pd.DataFrame:
    """Every epoch's logged metrics of one fold, across interrupted and resumed attempts."""
    fold_dir = Path(fold_dir)
    parts = sorted(fold_dir.glob("log_attempt*.csv"), key=lambda p: int(p.stem[11:])) + [fold_dir / "logs" / "metrics.csv"]
    frames = [pd.read_csv(p) for p in parts if p.exists()]
    if not frames:
        return pd.DataFrame()
    log = pd.concat(frames, ignore_index=True)
    # A resumed attempt re-logs the epoch it restarted from: keep the latest rows of each epoch.
    latest_attempt = {}
    for i, frame in enumerate(frames):
        for epoch in frame.epoch.unique():
            latest_attempt[epoch] = i
    attempt = np.concatenate([[i] * len(f) for i, f in enumerate(frames)])
    keep = [latest_attempt[e] == a for e, a in zip(log.epoch, attempt)]
    return log[keep].reset_index(drop=True)


def train_fold(table: pd.DataFrame, fold: int, seed: int, config: TrainConfig, out_dir: Path) -> pd.DataFrame:
    """Train one (fold, seed); returns validation + test predictions (resumes / skips when possible)."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    fold_dir = out_dir / f"fold{fold}" / f"seed{seed}"
    fold_dir.mkdir(parents=True, exist_ok=True)
    fp = fingerprint(config, fold, seed, sorted(table.subject_id))
    pred_path = fold_dir / "predictions.csv"
    done_path = fold_dir / "done.json"
    if pred_path.exists() and done_path.exists() and json.loads(done_path.read_text()).get("fingerprint") == fp:
        console.print(f"fold {fold} seed {seed}: already trained with this config, skipping")
        return pd.read_csv(pred_path, dtype={"subject_id": str})
    L.seed_everything(seed + 1000 * fold, workers=True)
    test = table[table.fold == fold].reset_index(drop=True)
    rest = table[table.fold != fold].reset_index(drop=True)
    is_val = _val_split(rest, config.val_fraction, seed + fold)
    train, val = rest[~is_val].reset_index(drop=True), rest[is_val].reset_index(drop=True)
    voxel = {"2mm": 2.0, "1mm": 1.0}.get(config.grid, 2.0) * config.downsample
    train_ds = BrainAgeDataset(train, build_augmentation(config.augment, voxel), downsample=config.downsample)
    val_ds = BrainAgeDataset(val, downsample=config.downsample)
    train_loader = make_loader(train_ds, config.batch_size, shuffle=True, num_workers=config.num_workers,
                               start_method=config.start_method, seed=seed, drop_last=len(train_ds) > config.batch_size)
    val_loader = make_loader(val_ds, config.batch_size, shuffle=False, num_workers=0)
    gpu_aug = asdict(config.augment) if config.augment.enabled and config.augment.device == "gpu" else None
    module = BrainAgeModule(asdict(config.model), asdict(config.optim), float(train.age.mean()), float(train.age.std()),
                            config.max_epochs, config.channels_last, gpu_augment=gpu_aug, voxel_mm=voxel)
    # Select and stop on age MAE when age is a task: the summed multitask loss mixes KL/BCE scales
    # and is noisy on small validation sets (an early dip there stopped good runs too soon).
    monitor = "val_age_mae" if "age" in config.model.tasks else "val_loss"
    ckpt = ModelCheckpoint(dirpath=fold_dir / "checkpoints", filename="best", monitor=monitor, mode="min", save_last=True)
    _archive_log(fold_dir)
    loggers = [CSVLogger(str(fold_dir), name="logs", version="")]
    if config.tensorboard:
        loggers.append(TensorBoardLogger(str(fold_dir), name="tensorboard", version=""))
    callbacks = [ckpt, EarlyStopping(monitor=monitor, mode="min", patience=config.patience)]
    trainer = _trainer(config, fold_dir, callbacks, logger=loggers)
    last = fold_dir / "checkpoints" / "last.ckpt"
    trainer.fit(module, train_loader, val_loader, ckpt_path=str(last) if last.exists() else None)
    if trainer.global_rank != 0:
        return pd.DataFrame()
    best = ckpt.best_model_path or str(last)
    module = BrainAgeModule.load_from_checkpoint(best, weights_only=False)
    preds = pd.concat([_predict(module, val, config, fold_dir).assign(role="val"),
                       _predict(module, test, config, fold_dir).assign(role="test")], ignore_index=True)
    preds["fold"], preds["seed"] = fold, seed
    preds.to_csv(pred_path, index=False)
    done_path.write_text(json.dumps({"fingerprint": fp, "best_checkpoint": best, "epochs_run": trainer.current_epoch}))
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
             qc_verdicts: str | Path | None = None) -> pd.DataFrame:
    """Cross-validate ``config`` over the folds; writes ``oof_predictions.csv`` and returns it.

    Example:
        >>> train_cv("pre/cache/2mm", "splits/folds.csv", "models/sfcn", TrainConfig(max_epochs=2))  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    folds_csv = Path(folds_csv)
    folds_csv = folds_csv / "folds.csv" if folds_csv.is_dir() else folds_csv
    table = _labels_table(Path(cache_dir), folds_csv, Path(qc_verdicts) if qc_verdicts else None)
    save_config(config, out_dir / "train_config.yaml")
    (out_dir / "run_info.json").write_text(json.dumps({
        "cache_dir": str(Path(cache_dir).resolve()), "preprocessed_dir": str(Path(cache_dir).resolve().parents[1]),
        "folds_csv": str(folds_csv.resolve()), "qc_verdicts": str(qc_verdicts) if qc_verdicts else None,
        "n_subjects": int(len(table)), "torch": torch.__version__}, indent=2))
    run_folds = list(config.folds) or sorted(table.fold.unique())
    all_preds = []
    for fold in run_folds:
        for seed in config.seeds:
            console.print(f"[bold]fold {fold} seed {seed}[/bold] ({(table.fold != fold).sum()} train+val, {(table.fold == fold).sum()} test)")
            all_preds.append(train_fold(table, int(fold), int(seed), config, out_dir))
    preds = pd.concat(all_preds, ignore_index=True)
    if preds.empty:  # non-zero DDP ranks
        return preds
    preds.to_csv(out_dir / "all_predictions.csv", index=False)
    oof = ensemble_and_correct(preds)
    oof.to_csv(out_dir / "oof_predictions.csv", index=False)
    return oof

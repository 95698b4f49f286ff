"""Command-line arguments and dispatch of the QC, training and evaluation stages."""

from __future__ import annotations

import argparse
from pathlib import Path

from brainage.progress import console


def add_stage_arguments(add) -> None:
    p = add("qc", "Quality control: image-quality metrics, mask/anatomy checks, verdicts, montages, HTML report.")
    p.add_argument("input", type=Path, help="a `brainage preprocess` output folder, or a manifest CSV "
                                            "(raw or already-stripped images; preprocessed first into OUT/preprocessed)")
    p.add_argument("--out", type=Path, default=None, help="default: INPUT/qc")
    p.add_argument("--overrides", type=Path, default=None, help="reviewer overrides CSV (default OUT/qc_overrides.csv)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-pictures", action="store_true")

    p = add("train", "Train brain-age / sex CNNs with k-fold cross-validation (PyTorch Lightning; CPU or GPU, DDP).")
    p.add_argument("preprocessed", type=Path, help="a `brainage preprocess` output folder (or a cache folder)")
    p.add_argument("--splits", required=True, type=Path, help="folder or folds.csv from `brainage split`")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--model", choices=["sfcn", "seresnet", "resnet"], default="sfcn", help="resnet = SE-ResNet without SE")
    p.add_argument("--tasks", default="age,sex", help="age, sex or age,sex (multitask)")
    p.add_argument("--age-head", choices=["softlabel", "regression"], default=None,
                   help="default: softlabel for sfcn, regression for (se)resnet")
    p.add_argument("--width", type=float, default=1.0, help="channel width multiplier")
    p.add_argument("--grid", default="2mm")
    p.add_argument("--downsample", type=int, default=1, help="average-pool the cached grid by this factor (CPU runs)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--patience", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--augment-on", choices=["cpu", "gpu"], default="cpu",
                   help="gpu: batched augmentation on the training device (fast loaders for 1 mm GPU runs)")
    p.add_argument("--folds", default="", help="comma-separated folds to run (default all)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds; several = ensemble per fold")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers")
    p.add_argument("--start-method", choices=["fork", "spawn", "forkserver"], default="spawn")
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--devices", type=int, default=1)
    p.add_argument("--strategy", default="auto", help="e.g. ddp for several GPUs")
    p.add_argument("--precision", default="auto", help="auto = bf16-mixed on GPU, 32-true on CPU")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--tensorboard", action="store_true")
    p.add_argument("--qc", type=Path, default=None, help="qc_verdicts.csv: leave out subjects whose final verdict is fail")

    p = add("evaluate", "Evaluate out-of-fold predictions: age MAE/RMSE/r/R2 (bias-corrected too), sex accuracy/AUC, "
                        "baselines, plots, HTML.")
    p.add_argument("model_dir", type=Path)
    p.add_argument("--out", type=Path, default=None)


def _ints(text: str) -> tuple:
    return tuple(int(x) for x in text.split(",") if x.strip())


def train_config_from_args(args: argparse.Namespace):
    from brainage.models.network import ModelConfig
    from brainage.preprocess.dataset import AugmentConfig
    from brainage.training.cv import TrainConfig
    from brainage.training.module import OptimConfig

    age_head = args.age_head or ("softlabel" if args.model == "sfcn" else "regression")
    return TrainConfig(
        model=ModelConfig(name=args.model, width=args.width, tasks=tuple(t.strip() for t in args.tasks.split(",")),
                          age_head=age_head, dropout=0.5 if args.model == "sfcn" else 0.3),
        optim=OptimConfig(lr=args.lr), augment=AugmentConfig(enabled=not args.no_augment, device=args.augment_on), grid=args.grid,
        downsample=args.downsample, max_epochs=args.epochs, patience=args.patience, batch_size=args.batch_size,
        folds=_ints(args.folds), seeds=_ints(args.seeds), num_workers=args.workers, start_method=args.start_method,
        accelerator=args.accelerator, devices=args.devices, strategy=args.strategy, precision=args.precision,
        channels_last=args.channels_last, tensorboard=args.tensorboard)


def cache_dir_of(path: Path, grid: str) -> Path:
    """Accept a preprocess output folder or a cache folder itself."""
    return path if (path / "index.csv").exists() else path / "cache" / grid


def run_stage(args: argparse.Namespace) -> None:
    if args.command == "qc":
        from brainage.qc.run import run_qc

        pre = args.input
        if pre.is_file():  # a manifest: preprocess first (detecting already-stripped inputs)
            from brainage.preprocess.pipeline import PreprocessConfig, preprocess_manifest

            pre = (args.out or pre.parent / "qc_run") / "preprocessed"
            preprocess_manifest(args.input, pre, PreprocessConfig(workers=args.workers))
        verdicts = run_qc(pre, args.out, workers=args.workers, overrides=args.overrides, pictures=not args.no_pictures)
        out = args.out or pre / "qc"
        counts = verdicts.final_verdict.value_counts().to_dict()
        console.print(f"QC of {len(verdicts)} subjects: {counts}. Report: {out / 'index.html'}")
        for _, r in verdicts[verdicts.final_verdict != "pass"].iterrows():
            console.print(f"  {r.final_verdict.upper()} {r.subject_id}: {r.final_reasons}")
    elif args.command == "train":
        from brainage.training.cv import train_cv

        config = train_config_from_args(args)
        oof = train_cv(cache_dir_of(args.preprocessed, args.grid), args.splits, args.out, config, qc_verdicts=args.qc)
        console.print(f"out-of-fold predictions for {len(oof)} subjects: {args.out / 'oof_predictions.csv'}; "
                      f"next: brainage evaluate {args.out}")
    elif args.command == "evaluate":
        from brainage.evaluation.report import evaluate

        evaluate(args.model_dir, args.out)

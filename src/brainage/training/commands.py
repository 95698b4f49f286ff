"""Commands of the training stage: ``split`` and ``train``.

``train`` builds its :class:`~brainage.training.config.TrainConfig` in layers: the model
registry's defaults for ``--model``, then a saved config (``--config FILE``), then every option
given on the command line. Options that define the result are left unset unless given, so a
saved config is never silently overridden by a default.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from brainage.commands import Command
from brainage.models.registry import CHECKPOINTS, DEFAULT_MODEL, MODELS, train_default
from brainage.training.augment import AUGMENT_DEVICES

UNSET = argparse.SUPPRESS  # absent from the namespace unless the user gave it


class Split(Command):
    name = "split"
    help = "Deterministic subject-level k-fold and train/val/test splits stratified by sex x age (x site)."
    example = "brainage split results/ixi/manifest.csv --out results/ixi/splits --folds 5 --seed 42"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("manifest", type=Path)
        p.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
        p.add_argument("--folds", type=int, default=5, help="number of cross-validation folds")
        p.add_argument("--age-bins", type=int, default=4, help="age quantile bins to stratify on (with sex, and site)")
        p.add_argument("--seed", type=int, default=42, help="the split is a deterministic function of this seed")
        p.add_argument(
            "--qc", type=Path, default=None, help="qc_verdicts.csv: exclude subjects whose final verdict is fail"
        )

    def run(self, args: argparse.Namespace) -> None:
        from brainage.training.splits import SplitConfig, split

        split(
            args.manifest, args.out, SplitConfig(n_folds=args.folds, age_bins=args.age_bins, seed=args.seed), qc=args.qc
        )


def _ints(text: str) -> tuple:
    return tuple(int(x) for x in text.split(",") if x.strip())


def _folds(text: str) -> tuple:
    """``--folds``: fold numbers, or ``final`` for the model trained on every subject."""
    from brainage.layout import FINAL_FOLD

    return tuple(FINAL_FOLD if x.strip() == "final" else int(x) for x in text.split(",") if x.strip())


def _model_default(key: str) -> str:
    return f"default: the model's; {DEFAULT_MODEL}: {train_default(DEFAULT_MODEL, key)}"


class Train(Command):
    name = "train"
    help = "Train brain-age / sex CNNs with k-fold cross-validation (PyTorch Lightning; CPU or GPU, DDP)."
    example = (
        "brainage train results/ixi/pre --splits results/ixi/splits --out results/ixi/models/sfcn --model sfcn\n"
        "  brainage train results/ixi/pre --splits results/ixi/splits --out rerun "
        "--config results/ixi/models/sfcn/train_config.yaml"
    )

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("preprocessed", type=Path, help="a `brainage preprocess` output folder (or a cache folder)")
        p.add_argument("--splits", required=True, type=Path, help="folder or folds.csv from `brainage split`")
        p.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
        p.add_argument(
            "--grid", default=None, help="which cache when the folder holds several (default: the only one, else 2mm)"
        )
        p.add_argument(
            "--qc", type=Path, default=None, help="qc_verdicts.csv: leave out subjects whose final verdict is fail"
        )
        p.add_argument(
            "--config", type=Path, default=None, help="a saved train_config.yaml to rerun (options below override it)"
        )
        result = p.add_argument_group("what defines the model (default: the model registry's, or --config's)")
        models = "; ".join(
            f"{name}: {spec.description}"
            + (
                ""
                if spec.kind == "classical"
                else f" (age head {spec.age_head}, dropout {spec.dropout}, lr {spec.lr:g})"
            )
            + (f", on `brainage preprocess --recipe {spec.recipe}`" if spec.recipe else "")
            for name, spec in MODELS.items()
        )
        result.add_argument("--model", choices=sorted(MODELS), default=UNSET, help=f"default {DEFAULT_MODEL}. {models}")
        result.add_argument("--tasks", default=UNSET, help="age, sex or age,sex (multitask; default)")
        result.add_argument(
            "--age-head", choices=["softlabel", "regression"], default=UNSET, help="default: the model's"
        )
        result.add_argument(
            "--inputs", default=UNSET, help="image channels: t1, tissue or t1,tissue (default: the model's)"
        )
        result.add_argument(
            "--covariates",
            default=UNSET,
            help="cache-index columns given to the heads, e.g. brain_volume_ml,affine_det; "
            "'none' for none (default: the model's)",
        )
        result.add_argument(
            "--modulate",
            action=argparse.BooleanOptionalAction,
            default=UNSET,
            help="tissue maps times the registration determinant (native volume), or plain "
            "probabilities (default: the model's)",
        )
        result.add_argument(
            "--width",
            type=float,
            default=UNSET,
            help=f"channel width multiplier (default: the model's; {DEFAULT_MODEL}: {MODELS[DEFAULT_MODEL].width:g})",
        )
        result.add_argument("--dropout", type=float, default=UNSET, help="default: the model's")
        result.add_argument(
            "--downsample",
            type=int,
            default=UNSET,
            help=f"average-pool the cached grid by this factor ({_model_default('downsample')})",
        )
        result.add_argument("--epochs", type=int, default=UNSET, help=_model_default("max_epochs"))
        result.add_argument(
            "--patience",
            type=int,
            default=UNSET,
            help=f"early-stopping patience in epochs ({_model_default('patience')})",
        )
        result.add_argument("--batch-size", type=int, default=UNSET, help=_model_default("batch_size"))
        result.add_argument("--lr", type=float, default=UNSET, help="default: the model's")
        result.add_argument(
            "--no-augment",
            action="store_true",
            default=UNSET,
            help="train without augmentation (default: augmented as the model specifies)",
        )
        result.add_argument(
            "--renditions",
            action=argparse.BooleanOptionalAction,
            default=UNSET,
            help="also train on the training renditions of `brainage preprocess --renditions N`, each in its "
            "source subject's fold: other acquisitions of the same brains, for scanner invariance "
            "(default: the model's; off)",
        )
        result.add_argument(
            "--checkpoint",
            choices=CHECKPOINTS,
            default=UNSET,
            help="which checkpoint of a CNN predicts: the epoch of lowest validation age MAE, or the last "
            "(default: the model's)",
        )
        result.add_argument(
            "--augment-on",
            choices=list(AUGMENT_DEVICES),
            default=UNSET,
            help="cpu: torchio per volume in the loader's workers; batch: batched on the training device, the "
            "GPU or this CPU (fast loaders for 1 mm GPU runs and for CPU runs on the 4 mm grid); gpu: the old "
            "name of batch (default: the model's; cpu)",
        )
        how = p.add_argument_group("how to run (never retrains a finished fold)")
        how.add_argument(
            "--folds",
            default="",
            help="comma-separated folds to run now (default all); 'final' = only the model trained on every subject",
        )
        how.add_argument(
            "--final",
            action="store_true",
            help="after the folds, train the same model on every subject: what `brainage export` ships",
        )
        how.add_argument(
            "--seeds",
            default=UNSET,
            help="comma-separated seeds; several are trained alike, averaged per fold (default: the model's, else 0)",
        )
        how.add_argument("--workers", type=int, default=2, help="DataLoader workers (default: 2)")
        how.add_argument(
            "--start-method",
            choices=["fork", "spawn", "forkserver"],
            default="spawn",
            help="how DataLoader workers start (default: spawn)",
        )
        how.add_argument("--accelerator", default="auto", help="cpu, gpu or auto (default: auto)")
        how.add_argument("--devices", type=int, default=1, help="devices per node (default: 1)")
        how.add_argument("--strategy", default="auto", help="e.g. ddp for several GPUs (default: auto)")
        how.add_argument(
            "--precision",
            default=UNSET,
            help="auto = bf16-mixed on GPU, 32-true on CPU (default: the model's, else auto)",
        )
        how.add_argument("--channels-last", action="store_true", help="channels-last memory format (GPU speed)")
        how.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard")

    def run(self, args: argparse.Namespace) -> None:
        from brainage.layout import RunDir
        from brainage.preprocess.cache import find_cache
        from brainage.progress import console
        from brainage.training.cv import train_cv

        config = train_config_from_args(args)
        options = run_options_from_args(args, config.model.name)
        oof = train_cv(
            find_cache(args.preprocessed, args.grid).root,
            args.splits,
            args.out,
            config,
            options,
            qc_verdicts=args.qc,
        )
        if oof is None:  # only the final model (or a DDP process that does not report)
            console.print(f"trained: {args.out}; next: brainage export {args.out} --out MODEL.brainage")
            return
        console.print(
            f"out-of-fold predictions for {len(oof)} subjects: {RunDir(args.out).oof_predictions}; "
            f"next: brainage evaluate {args.out}"
        )


def run_options_from_args(args: argparse.Namespace, model: str):
    """How to run: the options given, else the model's registered run defaults (seeds, precision)."""
    from brainage.models.registry import model_spec
    from brainage.training.config import RunOptions

    defaults = model_spec(model).run
    return RunOptions(
        folds=_folds(args.folds),
        final=getattr(args, "final", False),
        seeds=_ints(getattr(args, "seeds", defaults.get("seeds", "0"))),
        num_workers=args.workers,
        start_method=args.start_method,
        accelerator=args.accelerator,
        devices=args.devices,
        strategy=args.strategy,
        precision=getattr(args, "precision", defaults.get("precision", "auto")),
        channels_last=args.channels_last,
        tensorboard=args.tensorboard,
    )


def train_config_from_args(args: argparse.Namespace):
    """Registry defaults, then ``--config``, then the options the user gave.

    Example:
        >>> ns = argparse.Namespace(config=None, model="seresnet", epochs=30)
        >>> c = train_config_from_args(ns)
        >>> c.model.name, c.model.age_head, c.optim.lr, c.max_epochs
        ('seresnet', 'regression', 0.001, 30)
    """
    from dataclasses import replace

    from brainage.config import load_config
    from brainage.training.config import OptimConfig, TrainConfig, train_config_for

    given = vars(args)
    config = load_config(TrainConfig, args.config) if getattr(args, "config", None) else None
    if config is None or given.get("model", config.model.name) != config.model.name:
        config = train_config_for(given.get("model", DEFAULT_MODEL), config)
    model = {k: given[k] for k in ("width", "age_head", "dropout") if k in given}
    for key in ("tasks", "inputs", "covariates"):
        if key in given:
            model[key] = tuple(t.strip() for t in given[key].split(",") if t.strip() and t.strip() != "none")
    if "modulate" in given:
        model["modulate"] = given["modulate"]
    augment = {}
    if given.get("no_augment"):
        augment["enabled"] = False
    if "augment_on" in given:
        augment["device"] = given["augment_on"]
    top = {
        field: given[arg]
        for arg, field in (
            ("downsample", "downsample"),
            ("epochs", "max_epochs"),
            ("patience", "patience"),
            ("batch_size", "batch_size"),
            ("renditions", "renditions"),
            ("checkpoint", "checkpoint"),
        )
        if arg in given
    }
    optim: OptimConfig = replace(config.optim, lr=given["lr"]) if "lr" in given else config.optim
    return replace(
        config, model=replace(config.model, **model), optim=optim, augment=replace(config.augment, **augment), **top
    )


class Stack(Command):
    name = "stack"
    help = (
        "Stack cross-validation runs on the same folds (e.g. a CNN and the ridge model): weights fitted per fold "
        "on held-out training predictions only."
    )
    example = "brainage stack results/ixi/models/seresnet results/ixi/models/ridge --out results/ixi/models/stack"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("runs", nargs="+", type=Path, help="`brainage train` output folders")
        p.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")

    def run(self, args: argparse.Namespace) -> None:
        from brainage.training.stack import stack_runs

        stack_runs(args.runs, args.out)

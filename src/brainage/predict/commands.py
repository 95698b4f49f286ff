"""Commands of the predict stage: ``export`` a trained run, ``predict`` anyone's scans, ``finetune`` to a new site."""

from __future__ import annotations

import argparse
from pathlib import Path

from brainage.commands import Command, add_executor_arguments, executor_from_args


class Export(Command):
    name = "export"
    output_folders = ()  # --out is the bundle file
    help = "Pack a trained run (its final model, or one fold) into one model bundle file for `brainage predict`."
    example = "brainage export results/ixi/models/ensemble --out ixi.brainage --attribution ixi"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("run", type=Path, help="a `brainage train` output folder")
        p.add_argument("--out", required=True, type=Path, help="the bundle file to write (.brainage)")
        p.add_argument(
            "--fold",
            default="final",
            help="'final' (the model trained on every subject: `train --final`) or a fold number",
        )
        p.add_argument("--name", default=None, help="the bundle's name (default: the run folder's name)")
        p.add_argument(
            "--licence",
            default=None,
            help="licence of the training data / model, shown in every report (default: IXI's with "
            "--attribution ixi, else 'not stated')",
        )
        p.add_argument(
            "--attribution",
            default="",
            help="who to credit for the training data; 'ixi' for IXI's CC BY-SA 3.0 attribution",
        )
        p.add_argument(
            "--invariance",
            type=Path,
            default=None,
            help="a benchmarks/invariance.py result of this run, carried in the bundle (default: none)",
        )
        p.add_argument(
            "--intervals-from",
            type=Path,
            default=None,
            help="out-of-fold predictions (oof_predictions.csv of a cross-validation of this model) that "
            "calibrate the interval on every age (default: the run's own, where it was cross-validated)",
        )
        p.add_argument(
            "--extrapolation",
            type=Path,
            default=None,
            help="a benchmarks/extrapolation.py result of this model: how much wider an interval gets per "
            "year beyond the training ages (default: not widened)",
        )

    def run(self, args: argparse.Namespace) -> None:
        from brainage.bundle.export import IXI_ATTRIBUTION, IXI_LICENCE, export_bundle
        from brainage.layout import FINAL_FOLD
        from brainage.progress import console

        ixi = args.attribution.lower() == "ixi"
        bundle = export_bundle(
            args.run,
            args.out,
            FINAL_FOLD if args.fold == "final" else int(args.fold),
            args.name,
            licence=args.licence or (IXI_LICENCE if ixi else "not stated"),
            attribution=IXI_ATTRIBUTION if ixi else args.attribution,
            invariance=args.invariance,
            intervals_from=args.intervals_from,
            extrapolation=args.extrapolation,
        )
        console.print(bundle.meta.describe())


class Predict(Command):
    name = "predict"
    help = (
        "Brain age and sex for your scans with a trained model (default: the one that ships with brainage): "
        "preprocessing, QC, predictions.csv and an HTML report."
    )
    example = (
        "brainage predict scan.nii.gz --out results/predict\n"
        "  brainage predict dicom_folder/ --out results/predict --model site.brainage"
    )

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "input",
            type=Path,
            help="a NIfTI file, a folder of NIfTI or DICOM series, a BIDS dataset, or a "
            "CSV with a path column (and optionally subject_id, age, sex, site)",
        )
        p.add_argument("--out", type=Path, default=Path("brainage_predictions"), help="output folder")
        p.add_argument(
            "--model", type=Path, default=None, help="a .brainage bundle (default: the shipped IXI-HH-180 model)"
        )
        p.add_argument("--sex-coding", default=None, help="numeric sex codes of a CSV/BIDS input, e.g. 1=M,2=F")
        p.add_argument("--no-pictures", action="store_true", help="skip the QC montages (faster)")
        p.add_argument(
            "--coverage",
            type=float,
            default=0.9,
            help="coverage of the interval beside every age (predicted_age_low/high, corrected_age_low/high)",
        )
        p.add_argument(
            "--series",
            default=None,
            help="DICOM: comma-separated series numbers or description fragments to predict, instead of "
            "the automatic choice of each study's 3D T1 (default: automatic; see series.csv)",
        )
        add_executor_arguments(p)

    def run(self, args: argparse.Namespace) -> None:
        from brainage.data.manifest import parse_sex_coding
        from brainage.predict.run import predict_files

        series = [s.strip() for s in args.series.split(",") if s.strip()] if args.series else None
        predict_files(
            args.input,
            args.out,
            args.model,
            executor_from_args(args),
            parse_sex_coding(args.sex_coding),
            pictures=not args.no_pictures,
            series=series,
            coverage=args.coverage,
        )


class Finetune(Command):
    name = "finetune"
    help = (
        "Adapt a model bundle to a new site with a small labelled sample (20-50 controls): offset/slope "
        "recalibration or CNN fine-tuning, scored on held-out scans of that site."
    )
    example = "brainage finetune --model ixi.brainage site_controls.csv --out results/site"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "input", type=Path, help="the site's scans with ages: a CSV (path, age[, sex, subject_id]) or BIDS"
        )
        p.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
        p.add_argument("--model", type=Path, default=None, help="bundle to adapt (default: the shipped model)")
        p.add_argument(
            "--method",
            choices=["offset", "linear", "finetune"],
            default="offset",
            help="what site.brainage carries: the site's mean offset, offset and slope, or fine-tuned CNNs",
        )
        p.add_argument(
            "--holdout", type=float, default=0.5, help="fraction of scans kept apart to score the adaptation"
        )
        p.add_argument("--epochs", type=int, default=15, help="fine-tuning epochs")
        p.add_argument("--lr", type=float, default=1e-4, help="fine-tuning learning rate")
        p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same result")
        p.add_argument("--sex-coding", default=None, help="numeric sex codes, e.g. 1=M,2=F")
        add_executor_arguments(p)

    def run(self, args: argparse.Namespace) -> None:
        from brainage.data.manifest import parse_sex_coding
        from brainage.predict.site import finetune_site
        from brainage.training.finetune import FinetuneConfig

        config = FinetuneConfig(
            method=args.method, holdout=args.holdout, epochs=args.epochs, lr=args.lr, seed=args.seed
        )
        finetune_site(
            args.model, args.input, args.out, config, executor_from_args(args), parse_sex_coding(args.sex_coding)
        )


class Bids(Command):
    name = "bids"
    output_folders = ("out_dir",)
    help = (
        "Brain age as a BIDS App: `participant` predicts every session of the given participants into a BIDS "
        "derivatives folder (one participant per node if you like); `group` gathers them, with the change over time."
    )
    example = "brainage bids ds/ out/ participant --participant-label 01 02\n  brainage bids ds/ out/ group"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("bids_dir", type=Path, help="the BIDS dataset")
        p.add_argument("out_dir", type=Path, help="the derivatives folder (created if missing)")
        p.add_argument("analysis_level", choices=["participant", "group"], help="participant, then group")
        p.add_argument(
            "--participant-label", nargs="+", default=None, help="participants to predict (01 or sub-01; default all)"
        )
        p.add_argument("--session-label", nargs="+", default=None, help="sessions to predict (default all)")
        p.add_argument(
            "--model", type=Path, default=None, help="a .brainage bundle (default: the shipped IXI-HH-180 model)"
        )
        p.add_argument("--coverage", type=float, default=0.9, help="coverage of the interval beside every age")
        add_executor_arguments(p)

    def run(self, args: argparse.Namespace) -> None:
        from brainage.predict.bids_app import bids_group, bids_participant

        if args.analysis_level == "participant":
            bids_participant(
                args.bids_dir,
                args.out_dir,
                args.participant_label,
                args.session_label,
                args.model,
                executor_from_args(args),
                args.coverage,
            )
        else:
            bids_group(args.out_dir)

"""Commands of the data stage: ``download``, ``ingest``, ``synth``."""

from __future__ import annotations

import argparse
from pathlib import Path

from brainage.commands import Command


class Download(Command):
    name = "download"
    help = "Download a public dataset (resumable, checksum-verified)."
    example = "brainage download ixi --out data/ixi"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("dataset", choices=["ixi"])
        p.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
        p.add_argument("--base-url", default=None, help="mirror to download from instead of the official site")
        p.add_argument("--no-extract", action="store_true", help="keep the tar, do not unpack the T1 images")

    def run(self, args: argparse.Namespace) -> None:
        from brainage.data.download import download_ixi
        from brainage.progress import console

        kwargs = {"base_url": args.base_url} if args.base_url else {}
        out = download_ixi(args.out, extract=not args.no_extract, **kwargs)
        console.print(f"IXI downloaded to {out}")


class Ingest(Command):
    name = "ingest"
    help = (
        "Build a manifest (subject_id, site, age, sex, t1_path, included, exclusion_reason, source) "
        "from IXI, BIDS or a plain CSV, with a data summary (text + PNG)."
    )
    example = (
        "brainage ingest ixi ../shared/data/ixi-hh --out results/ixi\n"
        "  brainage ingest bids path/to/bids --out results/bids\n"
        "  brainage ingest csv hospital.csv --out results/hospital --sex-coding 1=F,2=M"
    )

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("kind", choices=["ixi", "bids", "csv"])
        p.add_argument("source", type=Path, help="IXI folder, BIDS root, or CSV file (columns path, age, sex)")
        p.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
        p.add_argument("--xls", type=Path, default=None, help="IXI only: IXI.xls if not inside SOURCE")
        p.add_argument(
            "--sex-coding",
            default=None,
            help="BIDS/CSV with numeric sex codes: what they mean, e.g. 1=M,2=F or 1=F,2=M "
            "(datasets disagree, so numeric codes are refused without it)",
        )
        p.add_argument("--no-check", action="store_true", help="do not open every image to check it")

    def run(self, args: argparse.Namespace) -> None:
        from brainage.data.ingest import ingest
        from brainage.data.manifest import parse_sex_coding

        ingest(
            args.kind,
            args.source,
            args.out,
            xls=args.xls,
            check=not args.no_check,
            sex_coding=parse_sex_coding(args.sex_coding),
        )


class Synth(Command):
    name = "synth"
    help = "Write a synthetic BIDS cohort with a learnable age and sex signal (from nilearn's MNI152)."
    example = "brainage synth --out results/synth --n 60 --broken 4"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
        p.add_argument("--n", type=int, default=60, help="number of subjects")
        p.add_argument("--broken", type=int, default=0, help="how many subjects get a QC failure injected")
        p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same result")
        p.add_argument(
            "--sessions", type=int, default=1, help="sessions per subject, each the same head older (ses-1, ses-2, ...)"
        )
        p.add_argument("--years-between", type=float, default=4.0, help="years between two sessions")

    def run(self, args: argparse.Namespace) -> None:
        from brainage.data.synth import SynthConfig, make_cohort
        from brainage.progress import console

        config = SynthConfig(
            n_subjects=args.n,
            n_broken=args.broken,
            seed=args.seed,
            sessions=args.sessions,
            years_between_sessions=args.years_between,
        )
        make_cohort(args.out, config)
        console.print(f"synthetic cohort of {args.n} subjects written to {args.out}")

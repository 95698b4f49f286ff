"""The brainage command line: one subcommand per pipeline stage.

Each stage reads and writes files on disk, so any stage can be re-run alone:
download -> ingest -> split -> preprocess -> qc -> train -> evaluate; synth makes a
cohort to try it on and demo runs everything end to end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from brainage.errors import BrainageError

EXAMPLES = {
    "download": "brainage download ixi --out data/ixi",
    "ingest": "brainage ingest ixi ../shared/data/ixi-hh --out results/ixi\n"
              "  brainage ingest bids path/to/bids --out results/bids\n"
              "  brainage ingest csv hospital.csv --out results/hospital",
    "split": "brainage split results/ixi/manifest.csv --out results/ixi/splits --folds 5 --seed 42",
    "synth": "brainage synth --out results/synth --n 60 --broken 4",
    "preprocess": "brainage preprocess results/ixi/manifest.csv --out results/ixi/preprocessed --workers 2",
    "qc": "brainage qc results/ixi/preprocessed",
    "train": "brainage train results/ixi/preprocessed --splits results/ixi/splits --out results/ixi/models --model sfcn",
    "evaluate": "brainage evaluate results/ixi/models",
    "pack": "brainage pack results/ixi/preprocessed/cache/2mm ixi_2mm.npz",
    "demo": "brainage demo --out results/demo",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brainage", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text,
                              epilog=f"example:\n  {EXAMPLES[name]}", formatter_class=argparse.RawDescriptionHelpFormatter)

    p = add("download", "Download a public dataset (resumable, checksum-verified).")
    p.add_argument("dataset", choices=["ixi"])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--base-url", default=None, help="mirror to download from instead of the official site")
    p.add_argument("--no-extract", action="store_true", help="keep the tar, do not unpack the T1 images")

    p = add("ingest", "Build a manifest (subject_id, site, age, sex, t1_path, included, exclusion_reason, source) "
                      "from IXI, BIDS or a plain CSV, with a data summary (text + PNG).")
    p.add_argument("kind", choices=["ixi", "bids", "csv"])
    p.add_argument("source", type=Path, help="IXI folder, BIDS root, or CSV file (columns path, age, sex)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--xls", type=Path, default=None, help="IXI only: IXI.xls if not inside SOURCE")
    p.add_argument("--no-check", action="store_true", help="do not open every image to check it")

    p = add("split", "Deterministic subject-level k-fold and train/val/test splits stratified by sex x age (x site).")
    p.add_argument("manifest", type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--age-bins", type=int, default=4)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--qc", type=Path, default=None, help="qc_verdicts.csv: exclude subjects whose final verdict is fail")

    p = add("synth", "Write a synthetic BIDS cohort with a learnable age and sex signal (from nilearn's MNI152).")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--n", type=int, default=60, help="number of subjects")
    p.add_argument("--broken", type=int, default=0, help="how many subjects get a QC failure injected")
    p.add_argument("--seed", type=int, default=0)

    p = add("preprocess", "Raw T1 -> brain mask, N4, affine MNI registration, model-ready cache. Restartable.")
    p.add_argument("manifest", type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--grid", action="append", choices=["2mm", "1mm"], help="output grid(s); default 2mm")
    p.add_argument("--skull-stripped", choices=["auto", "yes", "no"], default="auto")
    p.add_argument("--registration", choices=["Affine", "AffineFast", "Rigid"], default="Affine")
    p.add_argument("--non-deterministic", action="store_true", help="multi-threaded ANTs; transforms vary run to run")

    p = add("pack", "Pack a cache folder into one compressed .npz (e.g. to send it to a GPU machine).")
    p.add_argument("cache", type=Path)
    p.add_argument("archive", type=Path)

    _add_later_stages(add)

    p = add("demo", "Run every stage on a synthetic cohort on this machine's CPU; open OUT/index.html after.")
    p.add_argument("--out", type=Path, default=Path("results/demo"))
    p.add_argument("--n", type=int, default=48, help="synthetic subjects")
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--workers", type=int, default=2)
    return parser


def _add_later_stages(add) -> None:
    """QC, training and evaluation arguments."""
    from brainage.cli_stages import add_stage_arguments

    add_stage_arguments(add)


def _run(args: argparse.Namespace) -> None:
    from brainage.progress import console

    if args.command == "download":
        from brainage.data.download import download_ixi

        kwargs = {"base_url": args.base_url} if args.base_url else {}
        out = download_ixi(args.out, extract=not args.no_extract, **kwargs)
        console.print(f"IXI downloaded to {out}")
    elif args.command == "ingest":
        from brainage.data.ingest import ingest

        ingest(args.kind, args.source, args.out, xls=args.xls, check=not args.no_check)
    elif args.command == "split":
        from brainage.data.ingest import split

        split(args.manifest, args.out, folds=args.folds, age_bins=args.age_bins, seed=args.seed, qc=args.qc)
    elif args.command == "synth":
        from brainage.data.synth import SynthConfig, make_cohort

        make_cohort(args.out, SynthConfig(n_subjects=args.n, n_broken=args.broken, seed=args.seed))
        console.print(f"synthetic cohort of {args.n} subjects written to {args.out}")
    elif args.command == "preprocess":
        from brainage.preprocess.pipeline import PreprocessConfig, preprocess_manifest, print_report

        config = PreprocessConfig(grids=tuple(args.grid or ["2mm"]), skull_stripped=args.skull_stripped,
                                  registration=args.registration, deterministic=not args.non_deterministic,
                                  workers=args.workers)
        print_report(preprocess_manifest(args.manifest, args.out, config), args.out)
    elif args.command == "pack":
        from brainage.preprocess.cache import pack_cache

        out = pack_cache(args.cache, args.archive)
        console.print(f"packed {args.cache} into {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    elif args.command == "demo":
        from brainage.demo import run_demo

        run_demo(args.out, n_subjects=args.n, epochs=args.epochs, workers=args.workers)
    else:
        from brainage.cli_stages import run_stage

        run_stage(args)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _run(args)
    except BrainageError as exc:
        print(f"brainage {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"brainage {args.command}: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``qc`` and ``qc-reference`` commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from brainage.commands import Command, add_executor_arguments, executor_from_args


class QC(Command):
    name = "qc"
    help = "Quality control: image-quality metrics, mask/anatomy checks, verdicts, montages, HTML report."
    example = "brainage qc results/ixi/pre"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "input",
            type=Path,
            help="a `brainage preprocess` output folder, or a manifest CSV "
            "(raw or already-stripped images; preprocessed first into OUT/preprocessed)",
        )
        p.add_argument("--out", type=Path, default=None, help="default: INPUT/qc")
        p.add_argument(
            "--overrides", type=Path, default=None, help="reviewer overrides CSV (default OUT/qc_overrides.csv)"
        )
        p.add_argument(
            "--reference",
            type=Path,
            default=None,
            help="normative reference from `brainage qc-reference` (default: the shipped one, clean IXI-HH heads)",
        )
        p.add_argument("--no-pictures", action="store_true")
        add_executor_arguments(p)

    def run(self, args: argparse.Namespace) -> None:
        from brainage.layout import PreprocessedDir, QCDir
        from brainage.progress import console
        from brainage.qc.run import run_qc

        pre, out = PreprocessedDir(args.input), QCDir(args.out) if args.out else PreprocessedDir(args.input).qc
        if args.input.is_file():  # a manifest: preprocess first (detecting already-stripped inputs)
            from brainage.preprocess.pipeline import PreprocessConfig, preprocess_manifest

            pre, out = folders_for_manifest(args.input, args.out)
            preprocess_manifest(args.input, pre.root, PreprocessConfig(), executor_from_args(args))
        verdicts = run_qc(
            pre.root,
            out.root,
            executor_from_args(args, isolate=False),
            overrides=args.overrides,
            pictures=not args.no_pictures,
            reference=args.reference,
        )
        counts = verdicts.final_verdict.value_counts().to_dict()
        console.print(f"QC of {len(verdicts)} subjects: {counts}. Report: {out.report}")
        for _, r in verdicts[verdicts.final_verdict != "pass"].iterrows():
            console.print(f"  {r.final_verdict.upper()} {r.subject_id}: {r.final_reasons}")


class QCReference(Command):
    name = "qc-reference"
    output_folders = ()  # --out is the reference file
    help = (
        "Build a QC normative reference from reviewed, clean `brainage qc` folders (scans with a final "
        "verdict of fail are left out and listed), for `brainage qc --reference`."
    )
    example = "brainage qc-reference results/site_a/pre/qc --name 'site A, Siemens 1.5 T' --out site_a_reference.json"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("qc_dirs", type=Path, nargs="+", help="`brainage qc` output folders")
        p.add_argument("--out", type=Path, required=True, help="the reference file to write (JSON)")
        p.add_argument("--name", required=True, help="what the reference describes, shown on every QC report")
        p.add_argument("--description", default="", help="scanner, protocol, how the scans were reviewed")

    def run(self, args: argparse.Namespace) -> None:
        from brainage.progress import console
        from brainage.qc.reference import reference_from_qc

        ref = reference_from_qc(args.qc_dirs, args.name, args.description)
        ref.save(args.out)
        console.print(
            f"QC reference {args.out}: {len(ref.subjects)} scans, {len(ref.stats)} metrics, "
            f"{len(ref.exclusions)} left out"
        )


def folders_for_manifest(manifest: Path, out: Path | None):
    """Where ``brainage qc MANIFEST`` preprocesses first and writes its QC: ``OUT/preprocessed`` and
    ``OUT``; without ``--out``, ``<manifest folder>/qc_run/preprocessed`` and its ``qc`` folder."""
    from brainage.layout import PreprocessedDir, QCDir
    from brainage.layout.qc import QC_PREPROCESSED_FOLDER, QC_RUN_FOLDER

    pre = PreprocessedDir((out or manifest.parent / QC_RUN_FOLDER) / QC_PREPROCESSED_FOLDER)
    return pre, QCDir(out) if out else pre.qc

"""The ``explain`` command."""

from __future__ import annotations

import argparse
from pathlib import Path

from brainage.commands import Command


class Explain(Command):
    name = "explain"
    help = (
        "Where the network looks: 3D Grad-CAM for age and sex (per subject, per group, per atlas region), "
        "SE channel analysis with a pruning experiment, and the weight-randomisation sanity check."
    )
    example = "brainage explain results/ixi/models/ensemble\n  brainage explain results/predict --model ixi.brainage"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("source", type=Path, help="a `brainage train` run or a `brainage predict` output folder")
        p.add_argument(
            "--model", type=Path, default=None, help="for a predict folder: its bundle (default: the shipped model)"
        )
        p.add_argument("--subjects", type=int, default=3, help="subjects that get their own maps and figures")
        p.add_argument(
            "--layer",
            default=None,
            help="layer to explain, e.g. net.backbone.stages.2 (default: the deepest with maps at least 8 voxels wide)",
        )
        p.add_argument("--sanity-subjects", type=int, default=8, help="subjects of the randomisation check")
        p.add_argument(
            "--only",
            default=None,
            help="run only these parts, comma-separated: maps (Grad-CAM, population maps, regions), se (SE "
            "channels and pruning), sanity (the randomisation check) (default: all)",
        )

    def run(self, args: argparse.Namespace) -> None:
        from brainage.explain.run import PARTS, explain_folder

        parts = tuple(p.strip() for p in args.only.split(",") if p.strip()) if args.only else PARTS
        explain_folder(args.source, args.model, args.subjects, args.layer, args.sanity_subjects, parts)

"""The ``demo`` command."""

from __future__ import annotations

import argparse
from pathlib import Path

from brainage.commands import Command


class Demo(Command):
    name = "demo"
    help = "Run every stage on a synthetic cohort on this machine's CPU; open OUT/index.html after."
    example = "brainage demo --out results/demo"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", type=Path, default=Path("results/demo"))
        p.add_argument("--n", type=int, default=48, help="synthetic subjects")
        p.add_argument(
            "--epochs",
            type=int,
            default=None,
            help="training epochs (default: the default model's own, 30; fewer is faster and worse)",
        )
        p.add_argument("--workers", type=int, default=2, help="local worker processes for preprocessing and QC")

    def run(self, args: argparse.Namespace) -> None:
        from brainage.demo.run import run_demo

        run_demo(args.out, n_subjects=args.n, epochs=args.epochs, workers=args.workers)

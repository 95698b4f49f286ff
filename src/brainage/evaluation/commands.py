"""The ``evaluate`` command."""

from __future__ import annotations

import argparse
from pathlib import Path

from brainage.commands import Command


class Evaluate(Command):
    name = "evaluate"
    help = (
        "Evaluate out-of-fold predictions: age MAE/RMSE/r/R2 (bias-corrected too), sex accuracy/AUC, "
        "baselines, plots, HTML."
    )
    example = "brainage evaluate results/ixi/models/sfcn"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("model_dir", type=Path, help="a `brainage train` output folder")
        p.add_argument("--out", type=Path, default=None, help="default: MODEL_DIR/evaluation")

    def run(self, args: argparse.Namespace) -> None:
        from brainage.evaluation.report import evaluate

        evaluate(args.model_dir, args.out)

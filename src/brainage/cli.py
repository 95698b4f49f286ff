"""The brainage command line: one subcommand per pipeline stage, each defined by its stage.

Each stage reads and writes files on disk, so any stage can be re-run alone:
download -> ingest -> split -> preprocess -> qc -> train -> evaluate -> export -> predict; synth
makes a cohort to try it on and demo runs everything end to end.
"""

from __future__ import annotations

import argparse
import sys

from brainage import __version__
from brainage.commands import Command, HelpFormatter
from brainage.data.commands import Download, Ingest, Synth
from brainage.demo.commands import Demo
from brainage.errors import BrainageError
from brainage.evaluation.commands import Evaluate
from brainage.explain.commands import Explain
from brainage.predict.commands import Bids, Export, Finetune, Predict
from brainage.preprocess.commands import Pack, Preprocess
from brainage.qc.commands import QC, QCReference
from brainage.training.commands import Split, Stack, Train
from brainage.viewer.commands import Serve

#: The command table, in pipeline order.
COMMANDS: tuple[Command, ...] = (
    Download(),
    Ingest(),
    Split(),
    Synth(),
    Preprocess(),
    Pack(),
    QC(),
    QCReference(),
    Train(),
    Stack(),
    Evaluate(),
    Export(),
    Predict(),
    Bids(),
    Finetune(),
    Explain(),
    Serve(),
    Demo(),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brainage", description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"brainage {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.command_object.check_outputs(args)
        args.command_object.run(args)
    except BrainageError as exc:
        print(f"brainage {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"brainage {args.command}: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

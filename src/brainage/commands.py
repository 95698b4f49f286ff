"""The base of every ``brainage`` subcommand: its name, help, example, arguments and run.

Each stage package has a ``commands.py`` with one :class:`Command` subclass per subcommand;
:mod:`brainage.cli` is only a table of them. Command modules import nothing heavy at module
level (the work happens in :meth:`Command.run`), so ``brainage --help`` starts at once.
"""

from __future__ import annotations

import argparse
from pathlib import Path


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keep our line breaks and show every option's default (where it is a value: options
    without one say in their help what happens when they are left out)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if not action.option_strings:  # a positional argument is always given: it has no default
            return action.help or ""
        if action.required:
            return f"{action.help} (required)" if action.help else "(required)"
        if action.default is False or action.default is argparse.SUPPRESS or "default" in (action.help or ""):
            return action.help or ""
        if action.default is None:
            return f"{action.help} (default: none)" if action.help else "(default: none)"
        return super()._get_help_string(action)


class Command:
    """One subcommand. Subclasses set ``name``, ``help`` and ``example`` and implement
    :meth:`add_arguments` and :meth:`run`."""

    name: str = ""
    help: str = ""
    example: str = ""
    #: Arguments naming an output *folder*: one that names an existing file is refused in one line
    #: before any work (a command whose ``--out`` is a file sets this to ``()``).
    output_folders: tuple[str, ...] = ("out",)

    def check_outputs(self, args: argparse.Namespace) -> None:
        """Refuse an output folder argument that names an existing file, with the fix."""
        from brainage.errors import InputError

        for name in self.output_folders:
            path = getattr(args, name, None)
            if path is not None and Path(path).exists() and not Path(path).is_dir():
                raise InputError(
                    path,
                    f"is a file; --{name.replace('_', '-')} names the output folder "
                    "(created if missing): give a folder path",
                )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        raise NotImplementedError

    def run(self, args: argparse.Namespace) -> None:
        raise NotImplementedError

    def register(self, subparsers) -> argparse.ArgumentParser:
        parser = subparsers.add_parser(
            self.name,
            help=self.help,
            description=self.help,
            epilog=f"example:\n  {self.example}",
            formatter_class=HelpFormatter,
        )
        self.add_arguments(parser)
        parser.set_defaults(command_object=self)
        return parser


def add_executor_arguments(parser: argparse.ArgumentParser, workers: int = 2) -> None:
    """``--workers``, ``--executor`` and ``--scheduler``: where per-subject work runs."""
    parser.add_argument("--workers", type=int, default=workers, help=f"local worker processes (default: {workers})")
    parser.add_argument(
        "--executor",
        choices=["local", "dask"],
        default="local",
        help="dask: send subjects to a Dask distributed cluster (docs/pipeline.md, 'On a cluster') (default: local)",
    )
    parser.add_argument(
        "--scheduler", default=None, help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (default: none)"
    )


def executor_from_args(args: argparse.Namespace, isolate: bool = True):
    from brainage.parallel import Executor

    return Executor(kind=args.executor, workers=args.workers, scheduler=args.scheduler, isolate=isolate)

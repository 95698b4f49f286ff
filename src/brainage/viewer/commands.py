"""The ``serve`` command."""

from __future__ import annotations

import argparse
from pathlib import Path

from brainage.commands import Command


class Serve(Command):
    name = "serve"
    help = (
        "A local web app to rate a QC'd dataset: subjects worst first, three views and a 3D render with the "
        "brain mask, keyboard ratings saved to SQLite (a 'fail' here excludes the subject from training)."
    )
    example = "brainage serve results/ixi/pre      # then open http://127.0.0.1:8765"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "dataset",
            type=Path,
            help="a `brainage preprocess` folder after `brainage qc`, or a `brainage predict` output",
        )
        p.add_argument(
            "--host",
            default="127.0.0.1",
            help="address to listen on; anything but 127.0.0.1 shows the scans to your network (there is no login)",
        )
        p.add_argument("--port", type=int, default=8765, help="port to listen on")

    def run(self, args: argparse.Namespace) -> None:
        from brainage.progress import console
        from brainage.viewer.server import make_server

        if args.host not in ("127.0.0.1", "localhost", "::1"):
            console.print(
                f"[bold red]warning: listening on {args.host}: anyone who can reach this machine can see "
                "these scans and rate them (no login, no encryption)"
            )
        server = make_server(args.dataset, args.host, args.port)
        console.print(
            f"QC viewer of {args.dataset} on http://{args.host}:{server.server_address[1]} (Ctrl-C stops; "
            "every rating is already saved)"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()

"""The `nudgescope` command: one entry point, one subcommand per job.

Each subcommand lives in its own module, which exposes `register(subparsers)`; that function
adds the subcommand's parser and sets `func` (called with the parsed args, returns an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# module path of each subcommand, in the order --help lists them
COMMANDS = [
    "pipelines.simulator.command",
    "pipelines.ingest.command",
    "pipelines.sql_command",
    "pipelines.dashboard_command",
    "pipelines.bench.command",
    "pipelines.whatif.command",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nudgescope",
        description=(
            "Messaging trade-off analytics for a pay-later credit programme: simulate source "
            "exports, load them into DuckDB, publish metrics, and explore them."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        importlib.import_module(module).register(sub)
    return parser


class UserError(Exception):
    """A mistake the user can fix: printed as one line, exit code 2, no traceback."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"nudgescope {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

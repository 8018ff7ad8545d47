"""The `nudgescope` command: one entry point, one subcommand per job.

Each subcommand lives in its own module, which exposes `register(subparsers)`; that function
adds the subcommand's parser and sets `func` (called with the parsed args, returns an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from pipelines.errors import UserError

# module path of each subcommand, in the order --help lists them
COMMANDS = [
    "pipelines.cli.simulate",
    "pipelines.cli.run",
    "pipelines.cli.compact",
    "pipelines.cli.sql",
    "pipelines.cli.dashboard",
    "pipelines.cli.bench",
    "pipelines.cli.whatif",
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
    for p in sub.choices.values():
        if not any("--data-dir" in a.option_strings for a in p._actions):
            p.add_argument(
                "--data-dir",
                type=Path,
                default=None,
                help="data folder (landing/, warehouse, serve.duckdb, dagster/; "
                "default: $NUDGESCOPE_DATA_DIR or ./data)",
            )
    return parser


def use_data_dir(data_dir: Path | None) -> None:
    """Point this process's paths at --data-dir (every subcommand takes it)."""
    if data_dir is None:
        return
    data_dir = Path(data_dir).expanduser().resolve()
    if data_dir.exists() and not data_dir.is_dir():
        raise UserError(f"--data-dir {data_dir} is not a folder")
    os.environ["NUDGESCOPE_DATA_DIR"] = str(data_dir)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        use_data_dir(getattr(args, "data_dir", None))
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"nudgescope {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

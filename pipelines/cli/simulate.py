"""`nudgescope simulate`: the CLI front of `pipelines.simulator.simulate`."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipelines import settings
from pipelines.simulator.params import DEFAULT_SEED, DEFAULT_START, SCALES


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="write a synthetic programme's exports (nine sources) and ground_truth.json",
        description=(
            "Simulate a pay-later programme month by month and write the nine sources of the "
            "data contract into OUT/<source>/dt=YYYY-MM-DD/, plus OUT/ground_truth.json. "
            "Deterministic for a seed."
        ),
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="landing folder (default: the landing folder of NUDGESCOPE_DATA_DIR, data/landing)",
    )
    p.add_argument(
        "--scale",
        choices=tuple(SCALES),
        default="s",
        help="s: 2,000 users x 3 months; m: 50,000 x 6; l: 500,000 x 12 (default s)",
    )
    p.add_argument("--users", type=int, default=None, help="number of users (overrides the scale)")
    p.add_argument(
        "--months", type=int, default=None, help="number of months (overrides the scale)"
    )
    p.add_argument(
        "--start", default=DEFAULT_START, help=f"first month, YYYY-MM (default {DEFAULT_START})"
    )
    p.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    p.add_argument(
        "--format",
        dest="fmt",
        choices=("csv", "parquet", "jsonl", "mixed"),
        default="csv",
        help="file format; mixed rotates csv, parquet, jsonl and csv.gz (default csv)",
    )
    p.add_argument(
        "--dirty",
        action="store_true",
        help="add malformed rows, re-exported duplicates, GB18030/BOM files, extra columns",
    )
    p.add_argument(
        "--force", action="store_true", help="replace what a previous simulation wrote in OUT"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from pipelines.simulator import simulate

    out = args.out if args.out is not None else settings.paths().landing
    truth = simulate(
        out,
        scale=args.scale,
        users=args.users,
        months=args.months,
        start=args.start,
        seed=args.seed,
        fmt=args.fmt,
        dirty=args.dirty,
        progress=not args.quiet,
        force=args.force,
    )
    console = Console()
    table = Table(
        title=f"simulated {truth['users']:,} users x {truth['months']} months "
        f"from {truth['start']} (as_of {truth['as_of']}) -> {out}"
    )
    table.add_column("source")
    table.add_column("rows written", justify="right")
    table.add_column("quarantine-bound", justify="right")
    table.add_column("duplicate copies", justify="right")
    for source, n in truth["rows_written"].items():
        e = truth["expected_load"][source]
        table.add_row(source, f"{n:,}", f"{e['quarantined']:,}", f"{e['superseded']:,}")
    total = sum(truth["rows_written"].values())
    table.add_row("total", f"{total:,}", "", "", style="bold")
    console.print(table)
    run_ = truth["run"]
    console.print(
        f"{total:,} rows in {run_['files']:,} files ({run_['bytes'] / 1e6:,.1f} MB) in "
        f"{run_['seconds']:.1f} s: {run_['rows_per_second']:,} rows/s"
    )
    return 0

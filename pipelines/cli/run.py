"""`nudgescope run`: load new or changed landing files, rebuild the marts, publish."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipelines.engines import ENGINE_ENV, ENGINES, check_available
from pipelines.orchestration.process import fewer_gc_passes
from pipelines.orchestration.run import EXIT_DATA, EXIT_ERROR, RunSummary, run_pipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run",
        help="load new or changed landing files into the warehouse and publish serve.duckdb",
        description=(
            "Run the pipeline in this process: stage every partition with new, changed or "
            "removed landing files, merge the core tables, rebuild the marts, publish "
            "serve.duckdb; the run is recorded in <data-dir>/dagster (see `make dagster`). "
            f"Exit 0: all loaded; {EXIT_DATA}: files failed or rows were quarantined (data "
            f"published); {EXIT_ERROR}: pipeline error; 2: usage error."
        ),
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data folder with landing/ (default: $NUDGESCOPE_DATA_DIR or ./data)",
    )
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="engine that builds the marts: duckdb (embedded, default) or spark "
        "(local[*] unless $NUDGESCOPE_SPARK_MASTER names a cluster); default: "
        f"${ENGINE_ENV} or duckdb",
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    check_available(args.engine)  # e.g. spark without its extra: say what to install, no traceback
    fewer_gc_passes()  # before Dagster is imported: its import alone took ~290 passes
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description:<36}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bars:
        tasks: dict[str, int] = {}

        def task(name: str, total: int | None = None) -> int:
            if name not in tasks:
                tasks[name] = bars.add_task(name, total=total)
            return tasks[name]

        def reporter(step: str, done: int, total: int) -> None:
            bars.update(task(step, total), completed=done, total=max(total, 1))

        def listener(step_key: str, state: str) -> None:
            name = step_key.replace("__", "/")
            if name.startswith(("staging/", "core/")):
                name = name.replace("/", " ", 1)
            if name.startswith(("staging ", "core ")) or name == "serve_db":
                if name == "serve_db":
                    name = "publish"
                if state == "success" and name in tasks:
                    t = tasks[name]
                    bars.update(t, completed=bars.tasks[t].total or 1)
                elif state == "success":
                    bars.update(task(name, 1), completed=1)
                return
            if state == "start":
                task(name, 1)
            elif state == "success":
                bars.update(task(name, 1), completed=1)
            else:
                bars.update(task(name, 1), description=f"{name} [red]failed")

        summary = run_pipeline(
            args.data_dir, listener=listener, reporter=reporter, engine=args.engine
        )
    _print_summary(summary, console)
    code = summary.exit_code
    if code:
        print(f"nudgescope run: {summary.reason}", file=sys.stderr)
    return code


def _published(s: RunSummary) -> str:
    if not s.success:
        return "no (previous publish kept)"
    if s.up_to_date:
        return f"{s.serve} is up to date (nothing new since it was published)"
    return str(s.serve)


def _print_summary(s: RunSummary, console: Console) -> None:
    table = Table(title="nudgescope run", show_header=False, box=None)
    rng = f"{s.partitions[0]} … {s.partitions[1]}" if s.partitions else "none"
    rows = [
        ("partitions", rng),
        ("landing files", f"{s.files_seen} seen, {s.files_processed} new or changed"),
        ("rows read", f"{s.rows_read:,}"),
        ("rows loaded", f"{s.rows_loaded:,}"),
        ("rows quarantined", f"{s.rows_quarantined:,}"),
        ("rows superseded", f"{s.rows_superseded:,}"),
        ("failed files", str(s.files_failed)),
        ("time", f"{s.seconds:.1f} s"),
        ("published", _published(s)),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    for line in s.warnings:
        console.print(f"[yellow]warning[/yellow] {line}", highlight=False)
    for line in s.failed_files[:20]:
        console.print(f"[red]failed[/red] {line}", markup=True, highlight=False)
    if s.ignored:
        shown = ", ".join(s.ignored[:10]) + (" …" if len(s.ignored) > 10 else "")
        console.print(f"ignored (not part of the landing layout): {shown}", highlight=False)

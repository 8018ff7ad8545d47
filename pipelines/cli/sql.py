"""`nudgescope sql "SELECT ..."`: the dashboard's SQL sandbox on the command line."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import decimal
import json
import sys
from typing import Any

from pipelines.errors import UserError
from pipelines.serve.sandbox import Limits, SandboxError, run


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sql",
        help="run one read-only query on the published serve.duckdb",
        description=(
            "Run one SELECT (or EXPLAIN) on the published database, read-only: no file, "
            "network or extension access, settings locked, a memory cap, a time limit and a "
            "row cap. Anything else is refused with a one-line reason."
        ),
    )
    p.add_argument("query", help='the SQL, e.g. "select * from mart.metrics limit 5"')
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--max-rows", type=int, default=10_000, help="row cap (default 10000)")
    p.add_argument("--timeout", type=float, default=30.0, help="time limit, seconds (default 30)")
    p.add_argument("--db", help="database file (default: the published serve.duckdb)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.max_rows < 1 or args.timeout <= 0:
        raise UserError("--max-rows and --timeout must be positive")
    try:
        result = run(args.query, args.db, Limits(timeout_s=args.timeout, max_rows=args.max_rows))
    except SandboxError as exc:
        raise UserError(f"{exc.kind}: {exc.message}") from None
    out = sys.stdout
    if args.format == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(result.columns)
        w.writerows([[_text(v) for v in row] for row in result.rows])
    elif args.format == "json":
        records = [
            dict(zip(result.columns, map(_jsonable, row), strict=True)) for row in result.rows
        ]
        json.dump(records, out, ensure_ascii=False, indent=1)
        out.write("\n")
    else:
        _print_table(result)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _print_table(result) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for name, type_ in zip(result.columns, result.types, strict=True):
        numeric = any(t in type_ for t in ("INT", "DOUBLE", "DECIMAL", "FLOAT", "HUGEINT"))
        table.add_column(name, justify="right" if numeric else "left")
    for row in result.rows:
        table.add_row(*(_text(v) for v in row))
    Console(soft_wrap=True).print(table)
    print(f"{len(result.rows):,} rows in {result.elapsed_s:.2f} s", file=sys.stderr)


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    return str(v)


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return str(v)

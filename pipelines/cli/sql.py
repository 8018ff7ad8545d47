"""`nudgescope sql "SELECT ..."`: the dashboard's SQL sandbox on the command line."""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import unicodedata
from typing import TextIO

from pipelines.errors import UserError
from pipelines.serve import sql_output
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
        w.writerows([[sql_output.text(v) for v in row] for row in result.rows])
    elif args.format == "json":
        records = [
            dict(zip(result.columns, map(sql_output.value, row), strict=True))
            for row in result.rows
        ]
        json.dump(records, out, ensure_ascii=False, indent=1)
        out.write("\n")
    else:
        print_table(result, out)
        print(f"{len(result.rows):,} rows in {result.elapsed_s:.2f} s", file=sys.stderr)
    zone = sql_output.zone_note(result.types)
    for note in [*result.notes, *([zone] if zone and args.format == "table" else [])]:
        print(f"note: {note}", file=sys.stderr)
    return 0


NUMERIC = ("INT", "DOUBLE", "DECIMAL", "FLOAT", "HUGEINT", "REAL", "NUMERIC")


def print_table(result, out: TextIO, width: int | None = None) -> None:
    """A table with every value in full. Wider than the terminal: one block per row (column
    name, value), as psql's expanded mode, instead of cutting every cell. Not a terminal (a
    pipe, a file): the full-width table."""
    cells = [[sql_output.text(v) for v in row] for row in result.rows]
    natural = [
        max([len(name), *(_width(r[i]) for r in cells)]) for i, name in enumerate(result.columns)
    ]
    table_width = sum(natural) + 3 * len(natural) + 1
    if width is None:
        width = shutil.get_terminal_size((10_000, 24)).columns if out.isatty() else 10_000
    if table_width <= width or not cells:
        _grid(result, cells, natural, out)
    else:
        _expanded(result, cells, out)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - _width(text))
    return fill + text if right else text + fill


def _grid(result, cells: list[list[str]], widths: list[int], out: TextIO) -> None:
    right = [any(n in t.upper() for n in NUMERIC) for t in result.types]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    print(rule, file=out)
    print("| " + " | ".join(_pad(c, w, False) for c, w in zip(result.columns, widths,
          strict=True)) + " |", file=out)  # fmt: skip
    print(rule, file=out)
    for row in cells:
        print("| " + " | ".join(_pad(v.replace("\n", " "), w, r) for v, w, r in zip(
            row, widths, right, strict=True)) + " |", file=out)  # fmt: skip
    print(rule, file=out)


def _expanded(result, cells: list[list[str]], out: TextIO) -> None:
    name_w = max(_width(c) for c in result.columns)
    for i, row in enumerate(cells, 1):
        print(f"-[ row {i} ]" + "-" * max(0, name_w - 6), file=out)
        for name, v in zip(result.columns, row, strict=True):
            print(f"{_pad(name, name_w, False)} | {v}", file=out)

"""Compare tables built by two engines: same columns, same types, same rows (floats within a
relative 1e-9). Used by the parity test and for checking a cluster run against DuckDB."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import duckdb

from pipelines.engines.exchange import quote, quote_table, table_columns

FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")
REL_TOL = 1e-9


def table_rows(con: duckdb.DuckDBPyConnection, table: str) -> tuple[list[tuple[str, str]], list]:
    """(columns with types, rows) of a table, rows in a canonical order: sorted by every
    non-floating column first, so float noise in the last digits cannot reorder rows."""
    columns = table_columns(con, table)
    exact = [c for c, t in columns if t not in FLOAT_TYPES]
    floats = [c for c, t in columns if t in FLOAT_TYPES]
    order = ", ".join(f"{quote(c)} nulls first" for c in exact + floats)
    rows = con.execute(
        f"select * from {quote_table(table)}" + (f" order by {order}" if order else "")
    ).fetchall()
    return columns, rows


def same_value(a: Any, b: Any, rel_tol: float = REL_TOL) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=rel_tol)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return False
        return all(same_value(x, y, rel_tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k], rel_tol) for k in a)
    return a == b


def diff_table(
    left: duckdb.DuckDBPyConnection,
    right: duckdb.DuckDBPyConnection,
    table: str,
    *,
    rel_tol: float = REL_TOL,
    limit: int = 5,
) -> list[str]:
    """Differences of one table between two connections, as readable lines (empty: equal)."""
    lcols, lrows = table_rows(left, table)
    rcols, rrows = table_rows(right, table)
    if lcols != rcols:
        return [f"{table}: columns differ: {lcols} vs {rcols}"]
    problems = []
    if len(lrows) != len(rrows):
        problems.append(f"{table}: {len(lrows)} rows vs {len(rrows)} rows")
    names = [c for c, _ in lcols]
    for i, (lrow, rrow) in enumerate(zip(lrows, rrows, strict=False)):
        bad = [
            f"{n}: {a!r} vs {b!r}"
            for n, a, b in zip(names, lrow, rrow, strict=True)
            if not same_value(a, b, rel_tol)
        ]
        if bad:
            problems.append(f"{table} row {i}: " + "; ".join(bad))
            if len(problems) >= limit:
                break
    return problems


def diff_tables(
    left: duckdb.DuckDBPyConnection,
    right: duckdb.DuckDBPyConnection,
    tables: Sequence[str],
    **kw: Any,
) -> list[str]:
    return [line for table in tables for line in diff_table(left, right, table, **kw)]

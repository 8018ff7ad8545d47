"""Load and run the SQL files under sql/: one statement per file, parameters bound."""

from __future__ import annotations

from functools import cache
from typing import Any

import duckdb

from pipelines.settings import SQL_DIR


@cache
def load(name: str) -> str:
    """The text of sql/<name>.sql, e.g. load("marts/user_cycle")."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {path}")
    return path.read_text(encoding="utf-8")


def run(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None
) -> duckdb.DuckDBPyConnection:
    """Execute sql/<name>.sql on `con` with named parameters ($name in the SQL)."""
    return con.execute(load(name), params or {})


def names(layer: str) -> list[str]:
    """The files of one layer folder in name order, as names for load()/run()."""
    return [f"{layer}/{p.stem}" for p in sorted((SQL_DIR / layer).glob("*.sql"))]

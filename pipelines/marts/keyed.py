"""What the marts updated by key share: `mart.bill_state` and `mart.preference_users` by user
(pipelines.marts.bills, .preferences), `mart.user_cycle` by bill (pipelines.marts.cycle).

Each module plans a scope, a temp table of keys whose rows can have changed, and recomputes
them with rewrite.replace_keys. The checks before a scope, and the decision after it between
that scope and a full rebuild, are the same for all three: here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from pipelines.marts import lineage, temp
from pipelines.marts import state as mart_state


@dataclass(frozen=True)
class KeyedPlan:
    """Full, or the keys whose rows are recomputed."""

    full: bool
    keys: int = 0  # keys recomputed (bills, users)
    rows: int = 0  # rows of the table recomputed: the keys' rows
    of: int = 0  # rows of the table
    reason: str = ""
    ids: tuple[str, ...] = ()  # the keys, when at most temp.LISTED (for logs, tests)


def refuse(
    con: duckdb.DuckDBPyConnection,
    name: str,
    followed: frozenset[str],
    *,
    flags_full: bool,
    tables: Iterable[str] = (),
    temps: Iterable[str] = (),
) -> KeyedPlan | None:
    """A full plan when the file `name` cannot be updated by key; else None. It cannot when the
    flags are rebuilt in full (their change set is what the scopes read), when it reads other
    tables than `followed` (a new input must be followed before a scope may leave it out),
    or when one of `tables` (schema.table, the table and the state) or `temps` is missing."""
    if flags_full:
        return KeyedPlan(True, reason="the flags are rebuilt in full")
    reads = next(f.reads for f in lineage.read_files("marts") if f.name == name)
    if reads != followed:
        unknown = ", ".join(sorted(reads ^ followed))
        return KeyedPlan(True, reason=f"the file's inputs differ from those followed: {unknown}")
    if not all(temp.table_exists(con, *t.split(".")) for t in tables) or not all(
        temp.exists(con, t) for t in temps
    ):
        return KeyedPlan(True, reason="no state of a previous build, or no table")
    return None


def decide(con: duckdb.DuckDBPyConnection, table: str, scope: str, key: str) -> KeyedPlan:
    """After the scope (temp `scope`, one column `key`, also a column of `table`) is filled:
    full when a key is null (its rows cannot be found by key) or when the rows of the scope's
    keys in `table` are more than half of it; else the scope."""
    (keys, nulls) = con.execute(
        f"select count(*), count(*) filter (where {key} is null) from {scope}"
    ).fetchone()
    if nulls:
        return KeyedPlan(True, keys, reason=f"a row without a {key} changed")
    (rows,) = con.execute(
        f"""select count(*) from {table} as t
        semi join {scope} as s on s.{key} = t.{key}"""
    ).fetchone()
    (n_all,) = con.execute(f"select count(*) from {table}").fetchone()
    if n_all and rows > mart_state.FULL_SCOPE_SHARE * n_all:
        return KeyedPlan(True, keys, rows, n_all, reason="the scope covers most of the table")
    return KeyedPlan(False, keys, rows, n_all, ids=temp.listed(con, scope, key))

"""The change log: which dates of the large published tables were written since the last publish.

A publish fingerprints the large tables per date to name their segments
(`pipelines.serve.segments`). Hashing every row of every large table on every run cost most of
a small publish and grew with the history, while a new day writes a few dates. So the code that
writes those tables notes, in the same transaction as the write, the dates it touched:

- `changes.dates(tbl, d, whole)` — one row per table and date of a row inserted or deleted
  (`d` NULL: a row without a date; `whole`: every date, e.g. a table rebuilt in full). Dates
  are the table's segment date column (`_dt` for core, `local_date` for the flags).
  Written by the core merge (the dates of the files whose rows it inserted or removed), the
  receipts overlay (the dates of the messages and matches it deleted or inserted) and the
  marts build (the flags' changed local dates, or `whole` for a full build).
- `changes.parts(tbl, shape, d, rows, digest)` — per table and date the row count and the
  order-independent sum of row hashes as of the last publish, with the table's columns and
  types and the DuckDB version that hashed them (`shape`).

A publish rehashes only the dates the log names, the dates whose row count differs from
`parts` (a safety net against a writer that forgot to note its dates), and every date of a
table whose shape changed or that has no parts; it takes the rest from `parts`, then replaces
`parts` and empties the log in one transaction. A publish killed before that commit leaves both
as they were, so the next one finds the same dates again. The schema is private: it is never
published.

The mart build reads the same notes for the two tables the receipts overlay starts from, but
not at the same moments: a publish can run without a build (the `serve_db` asset materialized
alone) and a build without a publish (a failed publish step). So the notes of those tables
(BUILD_INPUTS) also go to a queue of the build's own, `changes.for_build` (same columns), which
the overlay empties in the build's transaction once it has read it
(pipelines.ingest.receipts.overlay).
"""

from __future__ import annotations

import os
from datetime import date

import duckdb

# Set (to anything but '' or '0') to check every fingerprint kept incrementally against a full
# rehash and fail on a difference: the publish's per-date parts (a writer of a large table that
# does not note its dates here is caught) and the marts' per-day fingerprint of
# core.sms_messages (pipelines.marts.state). The test suite sets it.
VERIFY_ENV = "NUDGESCOPE_VERIFY_PUBLISH"


def verifying() -> bool:
    """Whether incremental fingerprints are checked against a full rehash (VERIFY_ENV)."""
    return os.environ.get(VERIFY_ENV, "") not in ("", "0")


def differing_keys(con: duckdb.DuckDBPyConnection, kept: str, full: str, key: str) -> list:
    """The values of column `key` (at most five) on which the rows of query `kept` (a
    fingerprint kept incrementally) and query `full` (the same from a full rehash) differ."""
    return [
        r[0]
        for r in con.execute(
            f"""select distinct {key} from (
                ({kept} except all {full})
                union all
                ({full} except all {kept})
            ) order by 1 nulls first limit 5"""
        ).fetchall()
    ]


def in_dates(column: str, dates, key: str = "d") -> tuple[str, dict]:
    """A condition that `column` (a date) is one of `dates` (None matches NULL) and its
    parameters ($<key>_lo, $<key>_hi, $<key>_days). The range lets DuckDB skip the row groups
    of other dates by their min/max; the list test keeps the dates between them out."""
    known = sorted(d for d in dates if d is not None)
    conds, params = [], {}
    if known:
        conds.append(
            f"({column} between ${key}_lo and ${key}_hi and list_contains(${key}_days, {column}))"
        )
        params = {f"{key}_lo": known[0], f"{key}_hi": known[-1], f"{key}_days": known}
    if None in dates:
        conds.append(f"{column} is null")
    return "(" + (" or ".join(conds) or "false") + ")", params


SCHEMA = "changes"
DATES = f"{SCHEMA}.dates"
PARTS = f"{SCHEMA}.parts"
FOR_BUILD = f"{SCHEMA}.for_build"
# the tables whose notes the mart build reads (its receipts overlay's inputs)
BUILD_INPUTS = ("core.sms_logs", "core.sms_receipts")
_VERSION = f"duckdb {duckdb.__version__}: "  # prefixed to a saved shape


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"create table if not exists {DATES} (tbl VARCHAR, d DATE, whole BOOLEAN)")
    con.execute(f"create table if not exists {FOR_BUILD} (tbl VARCHAR, d DATE, whole BOOLEAN)")
    con.execute(
        f"create table if not exists {PARTS} "
        "(tbl VARCHAR, shape VARCHAR, d DATE, rows BIGINT, digest VARCHAR)"
    )


def record(con: duckdb.DuckDBPyConnection, table: str, dates_query: str, params=None) -> None:
    """Note the dates that `dates_query` (one DATE column) returns as written in `table`
    ('schema.name'). The query is the caller's own SQL over its temp tables."""
    ensure(con)
    con.execute(
        f"insert into {DATES} select distinct $t, d, false from ({dates_query}) as _x(d)",
        {**(params or {}), "t": table},
    )
    if table in BUILD_INPUTS:
        con.execute(
            f"insert into {FOR_BUILD} select distinct $t, d, false from ({dates_query}) as _x(d)",
            {**(params or {}), "t": table},
        )


def record_whole(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Note that every date of `table` may have changed (a rebuild in full)."""
    ensure(con)
    con.execute(f"insert into {DATES} values ($t, null, true)", {"t": table})
    if table in BUILD_INPUTS:
        con.execute(f"insert into {FOR_BUILD} values ($t, null, true)", {"t": table})


def for_build(con: duckdb.DuckDBPyConnection, table: str) -> tuple[bool, set[date | None]]:
    """(whole, the dates noted) of `table` (one of BUILD_INPUTS) since the build's queue was
    last emptied."""
    assert table in BUILD_INPUTS, table
    ensure(con)
    rows = con.execute(
        f"select distinct d, whole from {FOR_BUILD} where tbl = $t", {"t": table}
    ).fetchall()
    return any(whole for _, whole in rows), {d for d, whole in rows if not whole}


def empty_for_build(con: duckdb.DuckDBPyConnection) -> None:
    """Empty the build's queue (by the build, inside its transaction, after reading it)."""
    ensure(con)
    con.execute(f"delete from {FOR_BUILD}")


def pending(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[bool, set[date | None]]]:
    """Per table: (whole, the dates noted) since the last publish."""
    ensure(con)
    out: dict[str, tuple[bool, set[date | None]]] = {}
    for table, d, whole in con.execute(f"select distinct tbl, d, whole from {DATES}").fetchall():
        was_whole, dates = out.get(table, (False, set()))
        if not whole:
            dates.add(d)
        out[table] = (was_whole or bool(whole), dates)
    return out


def saved_parts(
    con: duckdb.DuckDBPyConnection,
) -> dict[str, tuple[str, dict[date | None, tuple[int, int]]]]:
    """Per table: (shape, {date: (rows, digest)}) as of the last publish. Parts saved by
    another DuckDB version are left out (its row hashes may differ): those tables are hashed
    in full again."""
    ensure(con)
    out: dict[str, tuple[str, dict[date | None, tuple[int, int]]]] = {}
    for table, shape, d, rows, digest in con.execute(
        f"select tbl, shape, d, rows, digest from {PARTS} where starts_with(shape, $v)",
        {"v": _VERSION},
    ).fetchall():
        out.setdefault(table, (shape.removeprefix(_VERSION), {}))[1][d] = (rows, int(digest))
    return out


def save_parts(
    con: duckdb.DuckDBPyConnection,
    parts: dict[str, tuple[str, dict[date | None, tuple[int, int]]]],
) -> None:
    """After a publish: the parts it fingerprinted, and an empty log (one transaction)."""
    ensure(con)
    rows = [
        (table, _VERSION + shape, d, n, str(digest))
        for table, (shape, days) in sorted(parts.items())
        for d, (n, digest) in days.items()
    ]
    con.execute("begin")
    try:
        con.execute(f"delete from {PARTS}")
        if rows:
            con.execute(
                f"insert into {PARTS} select unnest($t), unnest($s), unnest($d), unnest($n), "
                "unnest($h)",
                {k: [r[i] for r in rows] for i, k in enumerate("tsdnh")},
            )
        con.execute(f"delete from {DATES}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise

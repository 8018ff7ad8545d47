"""Scoped update by local date of the marts whose rows of a date come from one core table's rows
of that date alone: `mart.bnpl_orders` (core.orders by `created_at`) and
`mart_int.checkout_days` (core.checkout_sessions by `started_at`).

- `mart.bnpl_orders`: each row is one order's (a filter on payment method and status, its
  columns, the local date of `created_at`).
- `mart_int.checkout_days`: per local date and segment, counts over the sessions started that
  day (the checkout family of mart.metrics divides them).

A build fingerprints the core table per epoch day of its time column (rows, and a Σ hash of
every column the file reads): core.orders in `state.ORDERS_DAYS_SQL` (`h_bnpl`, next to the
conversion's `h`), core.checkout_sessions here (`_sessions_days_now`, saved as
`mart_build.sessions_days`). An incremental build recomputes the local dates of the epoch days
whose fingerprint changed since the last build: it deletes their rows and inserts what the
file computes over a copy of just those days' rows (the file's own text, the core table swapped
by pipelines.marts.rewrite). A row that moved to another day changes both days; one removed
changes its day. The writes are noted in the change log by date (a publish keeps
`mart.bnpl_orders` in segments).

Before, both files ran over every row on every run (at m on a day: bnpl_orders 0.35 CPU-s and
its 314k rows written again at the commit, the checkout metrics 0.47-0.54;
docs/performance-history.md, items 52 and 54).

Full rebuild when the flags are rebuilt in full (first build, settings or SQL changed, no
incremental), when the table or its saved fingerprint is missing (state kept by older code:
once), when a row without a time changed, or when the dates cover more than half of the days.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipelines.ingest import changes
from pipelines.marts import state as mart_state
from pipelines.marts import temp
from pipelines.marts.daily import (
    EPOCH_DAY,
    LOCAL_DATE,
    DailyPlan,
    changed_edays,
    dates_of_edays,
)
from pipelines.marts.rewrite import scoped_insert

SCHEMA = mart_state.SCHEMA


@dataclass(frozen=True)
class Spec:
    """A mart updated by local date from one core table (temp tables named by `prefix`)."""

    table: str  # what the file writes (a `local_date` column)
    source: str  # the core table it reads
    time: str  # the source's time column whose local date is the row's date
    # what the file reads of the source: the scoped copy holds only these (a file edited to
    # read another column fails to bind in its scoped run, which the incremental tests run)
    columns: str
    now: str  # temp table of the current fingerprint: eday, n and `hash`
    saved: str  # the fingerprint of the last build, in SCHEMA
    hash: str  # the column of both that covers `columns`
    prefix: str
    # whether this module computes and saves the fingerprint (else pipelines.marts.state does,
    # for the orders, whose fingerprint the conversion days share)
    kept_here: bool = True


SPECS: dict[str, Spec] = {
    "marts/bnpl_orders": Spec(
        table="mart.bnpl_orders",
        source="core.orders",
        time="created_at",
        columns="order_id, user_id, created_at, amount, payment_method, installments, status",
        now="_orders_days_now",
        saved="orders_days",
        hash="h_bnpl",
        prefix="bnpl",
        kept_here=False,
    ),
    "marts/checkout_days": Spec(
        table="mart_int.checkout_days",
        source="core.checkout_sessions",
        time="started_at",
        columns="started_at, bnpl_offered, status, payment_method",
        now="_sessions_days_now",
        saved="sessions_days",
        hash="h",
        prefix="checkout",
    ),
}
FILES = tuple(SPECS)


def snapshot(con: duckdb.DuckDBPyConnection) -> None:
    """The current fingerprints this module keeps (every build, before its files run)."""
    for s in SPECS.values():
        if s.kept_here:
            temp.create(
                con,
                s.now,
                f"""select
                    {EPOCH_DAY.format(ts=s.time)} as eday,
                    count(*) as n,
                    sum(hash({s.columns})::hugeint) as {s.hash}
                from {s.source}
                group by 1""",
            )


def save(con: duckdb.DuckDBPyConnection) -> None:
    """Record what this build reflected (inside the build's transaction, at the end)."""
    con.execute(f"create schema if not exists {SCHEMA}")
    for s in SPECS.values():
        if s.kept_here:
            con.execute(f"create or replace table {SCHEMA}.{s.saved} as select * from {s.now}")


def _scope(s: Spec) -> str:
    return f"{s.prefix}_scope_dates"


def scope_table(name: str) -> str:
    """The temp table of the local dates `name` (a key of SPECS) recomputes, after plan."""
    return _scope(SPECS[name])


def plan(con: duckdb.DuckDBPyConnection, name: str, *, flags_full: bool) -> DailyPlan:
    """Fill the temp scope table of `name` (a key of SPECS) with the local dates to recompute;
    full or those dates."""
    if flags_full:
        return DailyPlan(True, reason="the flags are rebuilt in full")
    s = SPECS[name]
    schema, table = s.table.split(".")
    (found,) = con.execute(
        """select count(*) from duckdb_columns()
        where database_name = current_database() and not internal
            and ((schema_name = $state and table_name = $saved and column_name = $hash)
                or (schema_name = $schema and table_name = $table and column_index = 1))""",
        {"state": SCHEMA, "saved": s.saved, "hash": s.hash, "schema": schema, "table": table},
    ).fetchone()
    if found < 2:
        return DailyPlan(True, reason="no state of a previous build, or no table")
    changed = f"_{s.prefix}_changed_edays"
    temp.create(con, changed, changed_edays(s.now, s.saved, f"n, {s.hash}"))
    if con.execute(f"select count(*) from {changed} where eday is null").fetchone()[0]:
        return DailyPlan(True, reason=f"rows without {s.time} changed")
    temp.create(con, _scope(s), dates_of_edays(f"select eday from {changed}"))
    dates = tuple(
        r[0] for r in con.execute(f"select local_date from {_scope(s)} order by 1").fetchall()
    )
    (n_all,) = con.execute(f"select count(*) from {s.now}").fetchone()
    if n_all and len(dates) > mart_state.FULL_SCOPE_SHARE * n_all:
        return DailyPlan(True, dates, reason="scope covers most of history")
    return DailyPlan(False, dates)


def update(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Replace the rows of the dates planned for `name` (after plan, not full)."""
    s = SPECS[name]
    scope = _scope(s)
    if temp.count(con, scope) == 0:
        return
    # the rows of a date of the scope: a range on the time first, the exact local date next
    lo, hi = mart_state.time_bounds(con, scope)
    in_scope = f"in (select local_date from {scope})"
    source = f"{s.prefix}_input"
    temp.create(
        con,
        source,
        f"""select {s.columns}
        from {s.source}
        where {s.time} >= $lo and {s.time} < $hi
            and {LOCAL_DATE.format(ts=s.time)} {in_scope}""",
        {"lo": lo, "hi": hi},
    )
    con.execute(f"delete from {s.table} where local_date {in_scope}")
    con.execute(scoped_insert(name, {s.source: source}, f"q.local_date {in_scope}"))
    changes.record(con, s.table, f"select local_date from {scope}")

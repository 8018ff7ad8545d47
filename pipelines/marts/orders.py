"""Scoped update by local date of `mart.bnpl_orders`, the BNPL orders of core.orders.

A row of the table is a function of one `core.orders` row alone (a filter on its payment method
and status, its columns, and the local date of `created_at`), so the rows of a local date are
a function of the orders created on that date. A build fingerprints core.orders per epoch day
of `created_at` (`state.ORDERS_DAYS_SQL`: rows, and `h_bnpl`, the Σ hash of every column this
file reads); an incremental build recomputes the local dates of the epoch days whose
fingerprint changed since the last build: it deletes their rows and inserts what the file
computes over a copy of just those days' orders (the file's own text, `core.orders` swapped by
pipelines.marts.rewrite). An order that moved to another day changes both days; one removed
changes its day.

Before, the table was rebuilt from every order on every run, then written out again whole at
the build's commit (about 0.35 + 0.3 CPU-s a day at m, docs/performance.md, item 52).

Full rebuild when the flags are rebuilt in full (first build, settings or SQL changed,
no incremental), when the table or the saved fingerprint (with `h_bnpl`) is missing, when an
order without a creation time changed, or when the dates cover more than half of the days.
"""

from __future__ import annotations

import duckdb

from pipelines.ingest import changes
from pipelines.marts import state as mart_state
from pipelines.marts import temp
from pipelines.marts.daily import LOCAL_DATE, DailyPlan, dates_of_edays
from pipelines.marts.rewrite import scoped_insert

FILE = "marts/bnpl_orders"
TABLE = "mart.bnpl_orders"
SCOPE = "bnpl_scope_dates"
# what the file reads of core.orders; the copy holds only these (a file edited to read another
# column fails to bind in its scoped run, which the incremental tests run)
COLUMNS = "order_id, user_id, created_at, amount, payment_method, installments, status"
SCHEMA = mart_state.SCHEMA


def plan(con: duckdb.DuckDBPyConnection, name: str = FILE, *, flags_full: bool) -> DailyPlan:
    """Fill temp SCOPE with the local dates to recompute; full or those dates. (`name` is
    FILE: the signature of pipelines.marts.daily.plan.)"""
    if flags_full:
        return DailyPlan(True, reason="the flags are rebuilt in full")
    (found,) = con.execute(
        """select count(*) from duckdb_columns()
        where database_name = current_database() and not internal
            and ((schema_name = $schema and table_name = 'orders_days' and column_name = 'h_bnpl')
                or (schema_name || '.' || table_name = $table and column_index = 1))""",
        {"schema": SCHEMA, "table": TABLE},
    ).fetchone()
    if found < 2:
        return DailyPlan(True, reason="no state of a previous build, or no table")
    temp.create(
        con,
        "_bnpl_changed_edays",
        f"""select coalesce(a.eday, b.eday) as eday
        from _orders_days_now as a
        full outer join {SCHEMA}.orders_days as b
            on b.eday is not distinct from a.eday
        where a.n is distinct from b.n or a.h_bnpl is distinct from b.h_bnpl""",
    )
    if con.execute("select count(*) from _bnpl_changed_edays where eday is null").fetchone()[0]:
        return DailyPlan(True, reason="orders without a creation time changed")
    temp.create(con, SCOPE, dates_of_edays("select eday from _bnpl_changed_edays"))
    dates = tuple(
        r[0] for r in con.execute(f"select local_date from {SCOPE} order by 1").fetchall()
    )
    (n_all,) = con.execute("select count(*) from _orders_days_now").fetchone()
    if n_all and len(dates) > mart_state.FULL_SCOPE_SHARE * n_all:
        return DailyPlan(True, dates, reason="scope covers most of history")
    return DailyPlan(False, dates)


def update(con: duckdb.DuckDBPyConnection, name: str = FILE) -> None:
    """Replace the rows of the planned dates (after plan, not full)."""
    if temp.count(con, SCOPE) == 0:
        return
    # the orders created on a date of the scope: a range on created_at first (row groups
    # outside it are skipped by their min/max), the exact local date next
    lo, hi = con.execute(
        f"""select
            min(local_date)::timestamp at time zone 'UTC' - interval 2 day,
            max(local_date)::timestamp at time zone 'UTC' + interval 2 day
        from {SCOPE}"""
    ).fetchone()
    in_scope = f"in (select local_date from {SCOPE})"
    temp.create(
        con,
        "bnpl_orders_input",
        f"""select {COLUMNS}
        from core.orders
        where created_at >= $lo and created_at < $hi
            and {LOCAL_DATE.format(ts="created_at")} {in_scope}""",
        {"lo": lo, "hi": hi},
    )
    con.execute(f"delete from {TABLE} where local_date {in_scope}")
    con.execute(
        scoped_insert(FILE, {"core.orders": "bnpl_orders_input"}, f"q.local_date {in_scope}")
    )
    changes.record(con, TABLE, f"select local_date from {SCOPE}")

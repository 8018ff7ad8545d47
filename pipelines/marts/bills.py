"""Scoped update of `mart.bill_state`: only the bills of the users whose bills can have changed.

A row of bill_state (one per bill with `amount_due > 0`) depends on its `core.bills` row, on
its successful repayments (the settlement), on its user's score band, on `as_of` (whether
`on_time` and `dpd7` / `dpd30` / `dpd90` are defined yet), and, through `is_first_bill`, on
the other bills of its user. Until this module it was rebuilt in full on every run: at half of
scale l 7-9 CPU-s of a new day. An incremental build now recomputes every bill of the users
who have:

- a bill that is new, gone (or no longer has an amount due), or whose `core.bills` columns
  differ from the stored row (both the old and the new user of a bill that changed hands);
- a bill whose due date, amount or successful repayments changed: `_changed_bills`, which
  the flags' plan computes from the per-bill fingerprint it keeps (pipelines.marts.state);
- a bill where one of `on_time`, `dpd7`, `dpd30`, `dpd90` is null and should not be under the
  new `as_of`, or the other way round;
- a score band in the stored rows other than the one in `core.users` now.

Their rows are deleted, and the file's own text runs over their `core.bills` rows
(pipelines.marts.rewrite swaps the table); the repayments and users join on the bills.

Full rebuild when the flags are rebuilt in full (they then keep no `_changed_bills`), when the
table is missing, when the file reads a table this module does not follow (`FOLLOWED`), when
there is no `as_of`, when a bill without a user is in scope, or when the users' bills are more
than half of the table.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from pipelines.marts import diff, keyed, temp
from pipelines.marts.keyed import KeyedPlan
from pipelines.marts.rewrite import replace_keys

FILE = "marts/bill_state"
TABLE = "mart.bill_state"

# Every table the file reads, each followed above (tests/marts/test_bills_incremental.py).
FOLLOWED = frozenset({"core.bills", "core.repayments", "core.users", "mart.run_context"})

# The columns of a row that come from its core.bills row, besides the key.
BILL_VALUES = ("user_id", "cycle", "statement_date", "due_date", "amount_due")
_BILL_COLUMNS = ", ".join(("bill_id", *BILL_VALUES))

# The as_of thresholds: a column is defined (not null) exactly when its condition holds.
THRESHOLDS = {
    "on_time": "due_date < {as_of}",
    "dpd7": "due_date + 7 <= {as_of}",
    "dpd30": "due_date + 30 <= {as_of}",
    "dpd90": "due_date + 90 <= {as_of}",
}


def plan(
    con: duckdb.DuckDBPyConnection, *, flags_full: bool, dates: Mapping[str, str]
) -> KeyedPlan:
    """Fill temp `bills_scope_users` with the users whose bills to recompute; full or how
    many. (`dates`: what the per-date marts recomputed; this file reads none of them.)"""
    refused = keyed.refuse(
        con, FILE, FOLLOWED, flags_full=flags_full, tables=(TABLE,), temps=("_changed_bills",)
    )
    if refused:
        return refused
    (as_of,) = con.execute("select as_of from mart.run_context").fetchone()
    if as_of is None:
        return KeyedPlan(True, reason="no as_of")

    rows = diff.changed_keys(
        f"(select {_BILL_COLUMNS} from core.bills where amount_due > 0)",
        f"(select {_BILL_COLUMNS} from {TABLE})",
        ("bill_id",),
        BILL_VALUES,
    )
    crossed = " or ".join(
        f"(b.{column} is null) = ({condition.format(as_of='c.as_of')})"
        for column, condition in THRESHOLDS.items()
    )
    temp.create(
        con,
        "bills_scope_users",
        f"""with changed as (
            {rows}
            union
            select bill_id from _changed_bills
            union
            select b.bill_id
            from {TABLE} as b
            cross join mart.run_context as c
            where {crossed}
        )
        select user_id from core.bills semi join changed using (bill_id)
        union
        select user_id from {TABLE} semi join changed using (bill_id)
        union
        select b.user_id
        from {TABLE} as b
        left join core.users as u
            on u.user_id = b.user_id
        where b.score_band is distinct from u.score_band""",
    )
    return keyed.decide(con, TABLE, "bills_scope_users", "user_id")


def update(con: duckdb.DuckDBPyConnection) -> None:
    """Replace the rows of the planned users' bills (after plan, not full)."""
    replace_keys(con, FILE, "bills_scope_users", "user_id", "core.bills", "bills_input")

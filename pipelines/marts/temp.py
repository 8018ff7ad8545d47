"""The temp tables of a mart build, in one place.

An incremental build plans its scope and copies scoped input into temp tables of the build's
connection. Every such table is declared here with what it holds; `create` refuses a name
that is not, and the build calls `drop_all` before it starts and after it ends (commit or
rollback), so nothing of one build is visible to the next or to anything else on the same
connection. State kept between builds lives in schema `mart_build` (pipelines.marts.state),
helper tables the marts read in schema `mart_int`; neither is a temp table.
"""

from __future__ import annotations

from typing import Any

import duckdb

# name -> what it holds, in the order the build creates them
TEMP_TABLES: dict[str, str] = {
    # left by the receipts overlay's incremental refresh (pipelines.ingest.receipts.overlay)
    "_ov_message_edays": "epoch days of the core.sms_messages rows the overlay deleted or inserted",
    # the change set of core (state.snapshot, state.plan_flags)
    "_sms_days_now": "per epoch day of core.sms_messages: rows, Σ hash of what the flags read"
    " (h) and of what only the gateway reconciliation reads (h_gw)",
    "_flag_users_now": "per user: first opt-out time and marketing consent",
    "_flag_bills_now": "per bill: due date, amount and its successful repayments (count, Σ hash)",
    "_changed_bills": "bills whose due date, amount or successful repayments changed",
    "_flag_bills_before": "per bill of those: the due date and settlement time the last"
    " build's flags read",
    "_orders_days_now": "per epoch day of core.orders: rows, Σ hash of what the conversion"
    " reads (h) and of what mart.bnpl_orders reads (h_bnpl)",
    "_changed_edays": "epoch days whose sms_logs fingerprint changed",
    "_changed_dates": "local dates of the changed messages (new and old)",
    "flags_scope_dates": "S: local dates the flags recompute",
    "flags_scope_users": "U: users the flags recompute on every date",
    "flags_scope_pairs": "P: (user, local date) pairs the flags recompute (changed bills)",
    "_read_dates": "S and the days before it the duplicate window reaches",
    "conv_scope_dates": "local dates sms_conversion_days recomputes",
    # P, at the flags' turn (state.plan_pairs)
    "_flag_bill_moves": "bills whose due date or settlement time the flags read moved, and"
    " from when (null: every message)",
    "_pair_read_dates": "P and, per user, the days before it the duplicate window reaches",
    # the scoped flags update (state.update_flags)
    "_read_edays": "epoch days around the read dates",
    "_pair_read_edays": "per user of P, the epoch days around its read dates",
    "flags_input": "the core.sms_logs rows the scoped flags read",
    # the scoped per-day files (state.update_scoped_file)
    "flags_in_scope": "the flags rows of a scoped file's scope",
    # the dashboard's aggregates (build: plan_aggregates, update_aggregate)
    "_agg_flags_old": "the flags rows of S, U or P before the scoped update",
    "_agg_flags_new": "the flags rows of S, U or P after the scoped update",
    "_agg_changed": "flags rows that changed (symmetric difference of the two above)",
    "_agg_changed_bills": "bills whose pre-due reminders' ranks or status may change",
    "_agg_changed_users": "users whose score band or experiment scopes changed",
    "_message_bills_moved": "bills whose count of flags rows the scoped update moved, and"
    " their new count (state.save)",
    "_changed_user_dates": "every local date of the messages of those users",
    "agg_scope_dates": "D: local dates the aggregates recompute",
    "agg_flags_dates": "the flags rows of D",
    "agg_flags_bills": "the flags rows of D and the due reminders of their bills",
    # the two per-date SMS marts that read core (pipelines.marts.daily)
    "_log_days_now": "per epoch day of core.sms_logs: rows and Σ hash of every column",
    "_unmatched_rows": "the unmatched receipts with the local date of their own time",
    "_unmatched_now": "unmatched receipts per local date of their own time and provider",
    "_daily_changed_edays": "epoch days whose fingerprint changed, for one of the two marts",
    "recon_scope_dates": "local dates sms_gateway_reconciliation recomputes",
    "delivery_scope_dates": "local dates sms_daily_delivery recomputes",
    "_daily_read_edays": "epoch days within a day of a recomputed date",
    "recon_messages": "the core.sms_messages rows sent on those dates",
    "recon_matches": "their receipts, and the unmatched receipts of those dates",
    "recon_flags": "the flags rows of the gateway-only sends of those dates",
    "delivery_logs": "the core.sms_logs rows sent on those dates",
    # mart.bnpl_orders and mart_int.checkout_days by local date (pipelines.marts.by_date)
    "_sessions_days_now": "per epoch day of core.checkout_sessions: rows and Σ hash of what"
    " mart_int.checkout_days reads",
    "_bnpl_changed_edays": "epoch days whose core.orders fingerprint (h_bnpl) changed",
    "bnpl_scope_dates": "local dates mart.bnpl_orders recomputes",
    "bnpl_input": "the core.orders rows created on those dates",
    "_checkout_changed_edays": "epoch days whose core.checkout_sessions fingerprint changed",
    "checkout_scope_dates": "local dates mart_int.checkout_days recomputes",
    "checkout_input": "the core.checkout_sessions rows started on those dates",
    # mart.bill_state by user (pipelines.marts.bills)
    "bills_scope_users": "users whose bills mart.bill_state recomputes",
    "bills_input": "the core.bills rows of those users",
    # mart.preference_users by user (pipelines.marts.preferences)
    "pref_scope_users": "users mart.preference_users recomputes",
    "pref_input": "the core.sms_preferences rows of those users",
    # mart.user_cycle by bill (pipelines.marts.cycle)
    "_cycle_changed_pairs": "(input, user, local date) whose sums user_cycle reads changed",
    "_cycle_complaint_days_now": "complaints per user and local date now",
    "_cycle_opt_out_days_now": "opt-outs per user and local date now",
    "_cycle_order_days_now": "BNPL orders per user and local date now",
    "_cycle_assignments_now": "per user: experiment assignments (count, Σ hash) now",
    "_cycle_changed_users": "users whose experiment assignments changed",
    "cycle_scope_bills": "bills user_cycle recomputes",
    "cycle_bills": "the mart.bill_state rows of those bills",
}


def exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the temp table `name` exists on this connection."""
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where temporary and table_name = ?", [name]
        ).fetchone()[0]
    )


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether the (non-temp) table schema.table exists in the current database."""
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where database_name = current_database() "
            "and schema_name = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def columns(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    """The column names of the declared temp table `name`, in order."""
    return _columns(con, "temp", "main", _declared(name))


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    """The column names of the (non-temp) table schema.table of the current database, in
    order; [] when there is no such table."""
    (database,) = con.execute("select current_database()").fetchone()
    return _columns(con, database, schema, table)


def _columns(con: duckdb.DuckDBPyConnection, database: str, schema: str, table: str) -> list:
    return [
        c
        for (c,) in con.execute(
            """select column_name from duckdb_columns()
            where database_name = ? and schema_name = ? and table_name = ?
            order by column_index""",
            [database, schema, table],
        ).fetchall()
    ]


def _declared(name: str) -> str:
    if name not in TEMP_TABLES:
        raise KeyError(f"temp table {name!r} is not declared in pipelines.marts.temp")
    return name


def create(con: duckdb.DuckDBPyConnection, name: str, query: str, params: Any = None) -> None:
    """`create or replace temp table <name> as <query>` for a declared name."""
    con.execute(f"create or replace temp table {_declared(name)} as {query}", params)


def count(con: duckdb.DuckDBPyConnection, name: str) -> int:
    """Rows of a declared temp table."""
    return con.execute(f"select count(*) from {_declared(name)}").fetchone()[0]


LISTED = 100  # a plan names its keys when there are at most this many


def listed(con: duckdb.DuckDBPyConnection, name: str, column: str) -> tuple:
    """The values of `column` of the declared temp table `name`, sorted, when it has at most
    LISTED rows (for a run's log and the tests); else ()."""
    if count(con, name) > LISTED:
        return ()
    return tuple(
        r[0] for r in con.execute(f"select {column} from {_declared(name)} order by 1").fetchall()
    )


def drop_all(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every declared temp table that exists."""
    for name in TEMP_TABLES:
        con.execute(f"drop table if exists temp.{name}")

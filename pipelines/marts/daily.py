"""Scoped update by local date of the two SMS marts that read core directly:
`mart.sms_gateway_reconciliation` and `mart.sms_daily_delivery`.

Both tables have rows keyed by local date (Asia/Shanghai) first, and a row of a date is a sum
over inputs of that date only. An incremental build finds the dates whose inputs changed,
deletes the rows of those dates and inserts what the file computes over copies of just those
inputs (the file's own text, table references swapped by pipelines.marts.rewrite). What a
date's rows read:

- `sms_gateway_reconciliation` (per local date and provider): the `core.sms_messages` rows
  sent on that date (message_id, sent_at, provider, origin, receipts, segments,
  billed_segments, delivery_status, log_delivery_status); `is_duplicate` in the flags of its
  gateway-only sends; its receipts. A matched receipt counts with its message, and a message's
  `receipts` is the number of receipts matched to it, so the matched receipts of a date add up
  from its messages' rows; an unmatched receipt counts on the date of its own send (else
  receipt) time under its own provider, so the unmatched receipts of a date are its count per
  provider.
- `sms_daily_delivery` (per local date, score band, experiment, purpose, provider, status):
  the `core.sms_logs` rows sent on that date (user_id, sent_at, purpose, provider,
  delivery_status, segments) and, per user of those rows, the score band and experiments,
  which are that user's rows of `mart_int.user_scopes`.

So the dates recomputed are:

- reconciliation: the dates of epoch days whose `core.sms_messages` fingerprint changed (the
  flags' per-day Σ hash of `state.SMS_DAYS_SQL`, whose `h_gw` adds the four columns only this
  mart reads; a late receipt changes its message's row, so its message's date); the dates of
  flags rows of gateway-only sends that changed in the scoped flags update (a duplicate twin
  across midnight); the dates whose count of unmatched receipts per provider changed;
- delivery: the dates of epoch days whose `core.sms_logs` fingerprint changed (the receipts
  overlay's per-day Σ hash of every log column, copied after the overlay refreshed it); every
  date of the users whose score band or experiments changed (`state.changed_scope_users`,
  shared with the dashboard's aggregates).

An epoch day `(epoch_ms(sent_at) + 8 h) // 1 day` is the local date for every time after
1991-09-15 (Asia/Shanghai has kept UTC+8 without DST since); an earlier epoch day stands for
the date before, itself and the one after. Full rebuild when the flags are rebuilt in full
(first build, settings or SQL changed, missing state, no incremental), when this module's
state is missing, when the table is missing, or when the dates cover more than half of the
days. State in `mart_build`: the flags' `sms_days` (per epoch day: n, h, h_gw of
`sms_messages`, pipelines.marts.state), `log_days` (per epoch day: n, h of `sms_logs`) and
`unmatched_receipts` (per local date and provider: count).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipelines.ingest import changes
from pipelines.ingest.receipts import overlay
from pipelines.marts import state as mart_state
from pipelines.marts import temp
from pipelines.marts.rewrite import scoped_insert

RECONCILIATION = "marts/sms_gateway_reconciliation"
DELIVERY = "marts/sms_daily_delivery"
FILES: dict[str, str] = {
    RECONCILIATION: "mart.sms_gateway_reconciliation",
    DELIVERY: "mart.sms_daily_delivery",
}
# what their planning reads besides their SQL: delivery compares the users' scopes and takes
# the dates of changed users from the flags
PLAN_READS: dict[str, tuple[str, ...]] = {
    DELIVERY: ("mart_int.user_scopes", "mart.sms_message_flags")
}

SCHEMA = mart_state.SCHEMA
STATE_TABLES = ("log_days", "unmatched_receipts")
# 1992-01-01 as an epoch day: from then on an epoch day is exactly the local date
MODERN_EDAY = 8035
EPOCH_DAY = mart_state.EPOCH_DAY  # the epoch day of a time, as the flags state counts it
LOCAL_DATE = "cast({ts} at time zone 'Asia/Shanghai' as date)"

_SCOPE = {RECONCILIATION: "recon_scope_dates", DELIVERY: "delivery_scope_dates"}

# The columns each file reads of the tables a scoped run replaces: the copies hold only these
# (a scan of every column of a large table costs several times one of a few). A file edited
# to read another column fails to bind in its scoped run (the incremental tests run it).
RECON_MESSAGES = (
    "message_id, sent_at, provider, origin, receipts, segments, billed_segments, "
    "delivery_status, log_delivery_status"
)
RECON_MATCHES = "message_id, sent_at, reported_at, provider"
RECON_FLAGS = "message_id, is_duplicate, origin"
DELIVERY_LOGS = "user_id, sent_at, purpose, provider, delivery_status, segments"

# the unmatched receipts (few) with the local date of their send (else receipt) time, which
# the reconciliation counts them on under their own provider
UNMATCHED_SQL = f"""
select
    {RECON_MATCHES},
    {LOCAL_DATE.format(ts="coalesce(sent_at, reported_at)")} as local_date
from core.sms_receipt_matches
where message_id is null
"""


@dataclass
class DailyPlan:
    """Full, or the local dates recomputed (empty: nothing to do)."""

    full: bool
    dates: tuple = ()
    reason: str = ""


def snapshot(con: duckdb.DuckDBPyConnection) -> None:
    """Current fingerprints (after the overlay refresh, with state.snapshot): the log's per
    day, which the overlay has just computed and saved, and the unmatched receipts."""
    temp.create(con, "_log_days_now", f"select eday, n, h from {overlay.STATE}")
    temp.create(con, "_unmatched_rows", UNMATCHED_SQL)
    temp.create(
        con,
        "_unmatched_now",
        "select local_date, provider, count(*) as n from _unmatched_rows group by 1, 2",
    )


def save(con: duckdb.DuckDBPyConnection) -> None:
    """Record what this build reflected (inside the build's transaction, at the end)."""
    con.execute(f"create schema if not exists {SCHEMA}")
    # kept by older code; the flags' sms_days (with h_gw) holds the same figures
    con.execute(f"drop table if exists {SCHEMA}.gateway_days")
    con.execute(f"create or replace table {SCHEMA}.log_days as select * from _log_days_now")
    con.execute(
        f"create or replace table {SCHEMA}.unmatched_receipts as select * from _unmatched_now"
    )


def _qualified(columns: str, alias: str) -> str:
    return ", ".join(f"{alias}.{c}" for c in columns.split(", "))


def _in_scope(column: str, scope: str) -> str:
    """`column` is a date of the temp table `scope` (a NULL date matches a NULL in it)."""
    return f"""({column} in (select local_date from {scope})
        or ({column} is null and exists (select 1 from {scope} where local_date is null)))"""


def changed_edays(now: str, saved: str, cols: str) -> str:
    """The epoch days whose fingerprint in `now` differs from `SCHEMA.saved` (a query)."""
    differs = " or ".join(f"a.{c} is distinct from b.{c}" for c in cols.split(", "))
    return f"""select coalesce(a.eday, b.eday) as eday
        from {now} as a
        full outer join {SCHEMA}.{saved} as b
            on b.eday is not distinct from a.eday
        where {differs}"""


def dates_of_edays(edays: str) -> str:
    """The local dates of the rows of the epoch days of the query `edays` (a query)."""
    return f"""select distinct cast(date '1970-01-01' + cast(e.eday + s.k as integer) as date)
            as local_date
        from ({edays}) as e
        cross join range(-1, 2) as s(k)
        where s.k = 0 or e.eday < {MODERN_EDAY}"""


def plan(con: duckdb.DuckDBPyConnection, name: str, *, flags_full: bool) -> DailyPlan:
    """Fill the temp scope table of `name` (a key of FILES); full or the dates to recompute."""
    if flags_full:
        return DailyPlan(True, reason="the flags are rebuilt in full")
    needed = [f"{SCHEMA}.{t}" for t in (*STATE_TABLES, "agg_user_scopes")] + [FILES[name]]
    (found,) = con.execute(
        """select count(*) from duckdb_tables()
        where database_name = current_database() and not temporary
            and list_contains($needed, schema_name || '.' || table_name)""",
        {"needed": needed},
    ).fetchone()
    if found < len(needed) or not mart_state.sms_days_saved(con):
        return DailyPlan(True, reason="no state of a previous build, or no table")
    scope = _SCOPE[name]
    if name == RECONCILIATION:
        edays = changed_edays("_sms_days_now", "sms_days", "n, h, h_gw")
    else:
        edays = changed_edays("_log_days_now", "log_days", "n, h")
    temp.create(con, "_daily_changed_edays", edays)
    if con.execute("select count(*) from _daily_changed_edays where eday is null").fetchone()[0]:
        # a send without a time (never in core: sent_at is required; kept exact anyway)
        return DailyPlan(True, reason="messages without a send time changed")
    temp.create(con, scope, dates_of_edays("select eday from _daily_changed_edays"))
    if name == RECONCILIATION:
        if temp.exists(con, "_agg_changed"):
            # a gateway-only send whose is_duplicate (or any flag) changed
            con.execute(
                f"""insert into {scope}
                select distinct local_date from _agg_changed where origin = 'gateway'"""
            )
        con.execute(
            f"""insert into {scope}
            select coalesce(a.local_date, b.local_date)
            from _unmatched_now as a
            full outer join {SCHEMA}.unmatched_receipts as b
                on b.local_date is not distinct from a.local_date
                and b.provider is not distinct from a.provider
            where a.n is distinct from b.n"""
        )
    else:
        # every date of the users whose score band or experiments changed (the dates of all
        # their messages, from the flags, hold those of their log rows)
        mart_state.changed_user_dates(con)
        con.execute(f"insert into {scope} select local_date from _changed_user_dates")
    temp.create(con, scope, f"select distinct local_date from {scope}")
    dates = tuple(
        r[0] for r in con.execute(f"select local_date from {scope} order by 1").fetchall()
    )
    (n_all,) = con.execute("select count(*) from _sms_days_now").fetchone()
    if n_all and len(dates) > mart_state.FULL_SCOPE_SHARE * n_all:
        return DailyPlan(True, dates, reason="scope covers most of history")
    return DailyPlan(False, dates)


def update(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Replace the rows of the dates planned for `name` (after plan, not full)."""
    scope = _SCOPE[name]
    if temp.count(con, scope) == 0:
        return
    # the rows sent on a date of the scope: a range on sent_at first (row groups outside it
    # are skipped by their min/max), the epoch day next (within a day of the local date), the
    # exact local date last
    temp.create(
        con,
        "_daily_read_edays",
        f"""select distinct cast(local_date - date '1970-01-01' as bigint) + s.k as eday
        from {scope}
        cross join range(-1, 2) as s(k)
        where local_date is not null""",
    )
    lo, hi = mart_state.time_bounds(con, scope)
    sent_on_dates = f"""select {{columns}}
        from {{source}}
        where sent_at >= $lo and sent_at < $hi
            and coalesce(
                {EPOCH_DAY.format(ts="sent_at")} in (select eday from _daily_read_edays)
                and {LOCAL_DATE.format(ts="sent_at")} in (select local_date from {scope}),
                false
            )"""
    bounds = {"lo": lo, "hi": hi}
    if name == RECONCILIATION:
        messages = sent_on_dates.format(columns=RECON_MESSAGES, source="core.sms_messages")
        temp.create(con, "recon_messages", messages, bounds)
        # the unmatched receipts of the dates (from the snapshot), and the receipts of those
        # messages (a message's `receipts` counts them: when none has any, the lookup, a scan
        # of every receipt's message_id, is skipped)
        temp.create(
            con,
            "recon_matches",
            f"""select {RECON_MATCHES}
            from _unmatched_rows as unmatched
            semi join {scope} as dates
                on dates.local_date is not distinct from unmatched.local_date""",
        )
        (with_receipts,) = con.execute(
            "select count(*) from recon_messages where receipts > 0"
        ).fetchone()
        if with_receipts:
            con.execute(
                f"""insert into recon_matches
                select {_qualified(RECON_MATCHES, "matches")}
                from core.sms_receipt_matches as matches
                semi join (select message_id from recon_messages where receipts > 0) as m
                    on m.message_id = matches.message_id"""
            )
        temp.create(
            con,
            "recon_flags",
            f"""select {RECON_FLAGS}
            from mart.sms_message_flags
            where origin = 'gateway' and local_date in (select local_date from {scope})""",
        )
        replace = {
            "core.sms_messages": "recon_messages",
            "core.sms_receipt_matches": "recon_matches",
            "mart.sms_message_flags": "recon_flags",
        }
    else:
        logs = sent_on_dates.format(columns=DELIVERY_LOGS, source="core.sms_logs")
        temp.create(con, "delivery_logs", logs, bounds)
        replace = {"core.sms_logs": "delivery_logs"}
    con.execute(f"delete from {FILES[name]} where {_in_scope('local_date', scope)}")
    con.execute(scoped_insert(name, replace, _in_scope("q.local_date", scope)))
    changes.record(con, FILES[name], f"select local_date from {scope}")

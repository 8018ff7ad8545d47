"""Incremental mart builds: what changed in core since the marts were last built, and the
scoped update of `mart.sms_message_flags`.

The marts remember, in the private schema `mart_build` (never published: publish keeps only
`core`, `mart` and two ingest tables), what they were last built from:

- `mart_build.build_state` — one row: a hash of the settings and of the text of every mart
  SQL file of the build. Any difference (a settings change, a new or edited mart file) means
  a full rebuild.
- `mart_build.sms_days` — per *epoch day* (`(epoch_ms(sent_at) + 8 h) // 1 day`, a cheap
  stand-in for the local date that never needs the time-zone library) the number of
  `core.sms_messages` rows and the sum of a 64-bit hash of every column the flags read
  (`content` only where the promotion rule reads it), `h`, and of what only the gateway
  reconciliation reads, `h_gw`. A day whose figures differ holds an inserted, replaced or
  deleted message. Only the receipts overlay writes `core.sms_messages`, at the start of a
  build: after an incremental refresh the build hashes again only the days it touched
  (`overlay.MESSAGE_EDAYS`) and takes the others from this table, which the previous build
  saved in the same transaction as its messages. With changes.VERIFY_ENV set (the test suite)
  that is checked against a full rehash.
- `mart_build.flag_users` — per user the per-user inputs of the flags: the first opt-out
  time, `marketing_consent`, and the count and hash sum of the user's `sms_preferences` rows.
- `mart_build.flag_bills` — per bill the per-bill inputs of the flags (settlement and due
  date): `due_date`, `amount_due`, and the count and hash sum of its successful repayments.

Finding the change set reads five narrow columns of `core.sms_messages` once (about 1 s at m,
against 30 s for the flags), the users and the opt-outs; it needs nothing from the
ingestion, so it is exact whatever the merge did (new files, re-delivered or withdrawn ones,
rows moved to another date).

The flags are then recomputed for
- S: the local dates of changed rows (their new dates from core, their old dates from the
  flags table) plus the ceil(window / 1 day) days after each (a message just after midnight
  can have its duplicate twin the evening before; the daily rank never crosses midnight);
- U: every message of the users whose first opt-out, consent or preference rows changed (a
  new preference row);
- P: the (user, local date) pairs of the due reminders and collection messages about a bill
  whose due date, amount or successful repayments changed (a late repayment): of a message
  whose rows are unchanged only the two bill flags can change, and they read the message's
  own row and its bill's, so its user's day is enough (the whole history of those users,
  as before, cost about 1.5 CPU-s more of a new day at m);
by running the one flags SQL file over a copy of the `core.sms_messages` rows of S, the days
before S that the duplicate window reaches, U, and the users of P on their dates and the days
before them that the window reaches (temp table `flags_input`, swapped in on the parsed SQL by
pipelines.marts.rewrite), keeping the output rows of S, U or P, and replacing exactly those
rows of the table (delete + insert). The temp tables are declared in pipelines.marts.temp.
The result equals a full rebuild because every flag of a message depends only on its own
row, its user's partition within the duplicate window, its user's local day, and the two
per-user lookups and its bill's row — all of which the input holds whole for every row it
keeps (the bills' settlement, `mart.bill_state`, is rebuilt before the flags).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass

import duckdb

from pipelines import sqlfiles
from pipelines.ingest import changes
from pipelines.ingest.receipts import overlay
from pipelines.ingest.warehouse import late_rows
from pipelines.marts import diff, temp
from pipelines.marts.lineage import file_table
from pipelines.marts.rewrite import scoped_insert

SCHEMA = "mart_build"
FLAGS_FILE = "marts/sms_message_flags"
# the flags recompute everything when the scope reaches this share of the local days
FULL_SCOPE_SHARE = 0.5
# The flags rows in the scope of a scoped update (S, U or P); `{a}` is the table's alias
# prefix ('' or 'q.'). Every reader of the scope uses this one condition.
_SCOPE = """{a}local_date in (select local_date from flags_scope_dates)
        or {a}user_id in (select user_id from flags_scope_users)
        or ({a}user_id, {a}local_date) in (select user_id, local_date from flags_scope_pairs)"""


def in_flags_scope(alias: str = "") -> str:
    """The condition that a flags row (of the table aliased `alias`) is in S, U or P."""
    return _SCOPE.format(a=f"{alias}." if alias else "")


SERVICE_PURPOSES = "('bill_notice', 'due_reminder', 'overdue_collection')"
EPOCH_DAY = "((epoch_ms({ts}) + 28800000) // 86400000)"

SMS_DAYS_COLUMNS = "eday, n, h, h_gw"
SMS_DAYS_SQL = f"""
select
    {EPOCH_DAY.format(ts="sent_at")} as eday,
    count(*) as n,
    sum(hash(
        message_id, user_id, purpose, template_code, bill_id, sent_at, delivery_status,
        case when purpose in {SERVICE_PURPOSES} then content end,
        delivered_at, provider, err_code, origin
    )::hugeint) as h,
    -- what mart.sms_gateway_reconciliation reads besides the above (pipelines.marts.daily)
    sum(hash(receipts, segments, billed_segments, log_delivery_status)::hugeint) as h_gw
from core.sms_messages
{{where}}
group by 1
"""

FLAG_USERS_SQL = """
with first_opt_out as (
    select user_id, min(received_at) as first_opt_out_at
    from core.opt_outs
    group by user_id
),
preferences as (
    select
        user_id,
        count(*) as pref_n,
        sum(hash(
            updated_at, marketing, reminders, max_per_day, quiet_start_hour, quiet_end_hour
        )::hugeint) as pref_h
    from core.sms_preferences
    group by user_id
)
select
    coalesce(u.user_id, o.user_id, p.user_id) as user_id,
    o.first_opt_out_at,
    u.marketing_consent,
    p.pref_n,
    p.pref_h
from core.users as u
full outer join first_opt_out as o
    on o.user_id = u.user_id
full outer join preferences as p
    on p.user_id = coalesce(u.user_id, o.user_id)
"""

# per bill what its messages' flags read: the due date, and what decides its settlement
FLAG_BILLS_SQL = """
with repayments as (
    select
        bill_id,
        count(*) as rep_n,
        sum(hash(repayment_id, paid_at, amount)::hugeint) as rep_h
    from core.repayments
    where status = 'success'
    group by bill_id
)
select
    coalesce(b.bill_id, r.bill_id) as bill_id,
    b.due_date,
    b.amount_due,
    r.rep_n,
    r.rep_h
from core.bills as b
full outer join repayments as r
    on r.bill_id = b.bill_id
"""


@dataclass
class FlagsPlan:
    """What the flags need: `full`, or the scope of a scoped update (empty: nothing)."""

    full: bool
    changed_days: int = 0  # epoch days whose fingerprint differs
    scope_dates: int = 0  # local dates recomputed (S)
    scope_users: int = 0  # users recomputed on every date (U)
    # (user, local date) pairs recomputed for a changed bill (P): set at the flags' turn
    # (plan_pairs), after mart.bill_state
    scope_pairs: int = 0
    reason: str = ""


def build_fingerprint(settings_params: dict, names: list[str]) -> str:
    """Hash of the settings and of every mart SQL file the build runs."""
    digest = hashlib.sha256(json.dumps(settings_params, sort_keys=True).encode())
    for name in names:
        digest.update(name.encode())
        digest.update(sqlfiles.load(name).encode())
    return digest.hexdigest()


# per epoch day of core.orders: h for the conversion days (what sms_conversion_days reads),
# h_bnpl for mart.bnpl_orders (every column it reads: pipelines.marts.by_date)
ORDERS_DAYS_SQL = f"""
select
    {EPOCH_DAY.format(ts="created_at")} as eday,
    count(*) as n,
    sum(hash(order_id, user_id, created_at, payment_method, status)::hugeint) as h,
    sum(
        hash(order_id, user_id, created_at, amount, payment_method, installments, status)::hugeint
    ) as h_bnpl
from core.orders
group by 1
"""


def snapshot(con: duckdb.DuckDBPyConnection) -> int | None:
    """Compute the current fingerprints of core into temp tables (before the build, after the
    receipts overlay). Returns how many epoch days of `core.sms_messages` were hashed again
    (None: all of them)."""
    touched = _sms_days(con)
    temp.create(con, "_flag_users_now", FLAG_USERS_SQL)
    temp.create(con, "_flag_bills_now", FLAG_BILLS_SQL)
    temp.create(con, "_orders_days_now", ORDERS_DAYS_SQL)
    return touched


def sms_days_saved(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the last build saved `sms_days` with `h_gw` (older code saved it without)."""
    return bool(
        con.execute(
            f"""select count(*) from duckdb_columns()
            where database_name = current_database() and schema_name = '{SCHEMA}'
                and table_name = 'sms_days' and column_name = 'h_gw'"""
        ).fetchone()[0]
    )


def _sms_days(con: duckdb.DuckDBPyConnection) -> int | None:
    """Temp `_sms_days_now`: the saved days of `sms_days` the overlay did not touch, and the
    ones it touched hashed again; every day hashed when the overlay refreshed in full or no
    state with `h_gw` was saved. Returns the number of days hashed (None: all)."""
    if not (sms_days_saved(con) and temp.exists(con, overlay.MESSAGE_EDAYS)):
        temp.create(con, "_sms_days_now", SMS_DAYS_SQL.format(where=""))
        return None
    touched = {r[0] for r in con.execute(f"select eday from {overlay.MESSAGE_EDAYS}").fetchall()}
    where, params = overlay.in_edays(touched)
    temp.create(
        con,
        "_sms_days_now",
        f"""select {SMS_DAYS_COLUMNS} from {SCHEMA}.sms_days as s
        where not exists (
            select 1 from {overlay.MESSAGE_EDAYS} as t where t.eday is not distinct from s.eday
        )
        union all
        {SMS_DAYS_SQL.format(where="where " + where)}""",
        params,
    )
    if changes.verifying():
        _verify_sms_days(con)
    return len(touched)


def _verify_sms_days(con: duckdb.DuckDBPyConnection) -> None:
    """Fail when the kept fingerprint differs from a full rehash (changes.VERIFY_ENV): a writer
    of core.sms_messages other than the overlay, or a day the overlay did not report."""
    differ = changes.differing_keys(
        con, f"select {SMS_DAYS_COLUMNS} from _sms_days_now", SMS_DAYS_SQL.format(where=""), "eday"
    )
    if differ:
        raise RuntimeError(
            "the per-day fingerprint of core.sms_messages kept from the last build differs "
            f"from a full rehash on epoch days {differ}: core.sms_messages was written outside "
            "the receipts overlay, or the overlay did not report a day"
        )


def _changed_keys(
    con: duckdb.DuckDBPyConnection,
    target: str,
    now: str,
    saved: str,
    key: str,
    columns: tuple[str, ...],
) -> None:
    """Temp table `target`: the keys of the snapshot `now` and the saved state `SCHEMA.saved`
    that are on one side only or whose fingerprint `columns` differ (names are this module's
    own constants, never input)."""
    temp.create(con, target, diff.changed_keys(now, f"{SCHEMA}.{saved}", (key,), columns))


def plan_flags(con: duckdb.DuckDBPyConnection, fingerprint: str, window_minutes: int) -> FlagsPlan:
    """Compare the snapshot with the state of the last build; fill temp scope tables."""
    for table in ("build_state", "sms_days", "flag_users", "flag_bills", "orders_days"):
        if not temp.table_exists(con, SCHEMA, table):
            return FlagsPlan(full=True, reason="no state of a previous build")
    if not temp.table_exists(con, "mart", "sms_message_flags"):
        return FlagsPlan(full=True, reason="no flags table")
    (previous,) = con.execute(f"select fingerprint from {SCHEMA}.build_state").fetchone()
    if previous != fingerprint:
        return FlagsPlan(full=True, reason="settings or mart SQL changed")

    _changed_keys(con, "_changed_edays", "_sms_days_now", "sms_days", "eday", ("n", "h"))
    _changed_keys(
        con,
        "flags_scope_users",
        "_flag_users_now",
        "flag_users",
        "user_id",
        ("first_opt_out_at", "marketing_consent", "pref_n", "pref_h"),
    )
    # the recipients of the reminders and collection messages of bills whose due date or
    # settlement inputs changed (is_after_settlement, is_collection_before_due)
    _changed_keys(
        con,
        "_changed_bills",
        "_flag_bills_now",
        "flag_bills",
        "bill_id",
        ("due_date", "amount_due", "rep_n", "rep_h"),
    )
    # P is planned at the flags' turn (plan_pairs), when mart.bill_state holds this build's
    # settlement times; what the flags read of those bills before this build is kept now
    _bills_before(con)
    temp.create(
        con,
        "flags_scope_pairs",
        "select null::varchar as user_id, null::date as local_date limit 0",
    )
    # the true local dates of the changed rows: new ones from core, old ones from the flags;
    # the days' send-time range first, so DuckDB skips the other days' row groups
    edays = con.execute("select eday from _changed_edays where eday is not null").fetchall()
    on_days, params = overlay.in_edays([e for (e,) in edays])
    temp.create(
        con,
        "_changed_dates",
        f"""
        select distinct cast(sent_at at time zone 'Asia/Shanghai' as date) as local_date
        from core.sms_messages
        where {on_days}
        union
        select distinct local_date
        from mart.sms_message_flags
        where {on_days}""",
        params,
    )
    reach = max(0, math.ceil(window_minutes / 1440))
    # S: changed dates and the days after them that the duplicate window reaches
    temp.create(
        con,
        "flags_scope_dates",
        f"""
        select distinct cast(c.local_date + cast(s.k as integer) as date) as local_date
        from _changed_dates as c
        cross join range(0, {reach + 1}) as s(k)""",
    )
    # read S and the days before it that the window reaches back into
    temp.create(
        con,
        "_read_dates",
        f"""
        select distinct cast(d.local_date - cast(s.k as integer) as date) as local_date
        from flags_scope_dates as d
        cross join range(0, {reach + 1}) as s(k)""",
    )
    # conversion days: S, and the dates whose messages a changed order can follow (an order
    # converts the messages of the 72 hours before it: local dates order date - 3 .. order
    # date, and the order's local date is within a day of its epoch day)
    temp.create(
        con,
        "conv_scope_dates",
        f"""
        select local_date from flags_scope_dates
        union
        select cast(date '1970-01-01' + cast(c.eday + s.k as integer) as date)
        from (
            select coalesce(a.eday, b.eday) as eday
            from _orders_days_now as a
            full outer join {SCHEMA}.orders_days as b
                on b.eday = a.eday
            where a.n is distinct from b.n or a.h is distinct from b.h
        ) as c
        cross join range(-4, 2) as s(k)""",
    )
    changed_days = temp.count(con, "_changed_edays")
    n_dates = temp.count(con, "flags_scope_dates")
    n_users = temp.count(con, "flags_scope_users")
    n_all = con.execute(f"select count(*) from {SCHEMA}.sms_days").fetchone()[0]
    if n_all and n_dates > FULL_SCOPE_SHARE * n_all:
        return FlagsPlan(
            True, changed_days, n_dates, n_users, reason="scope covers most of history"
        )
    return FlagsPlan(False, changed_days, n_dates, n_users)


def _bills_before(con: duckdb.DuckDBPyConnection) -> None:
    """Temp `_flag_bills_before`: for each bill of `_changed_bills`, what the flags of the last
    build read of it: the due date (the saved `flag_bills`) and the settlement time
    (`mart.bill_state` before this build updates it; `settled_known` false without it)."""
    known = temp.table_exists(con, "mart", "bill_state")
    temp.create(
        con,
        "_flag_bills_before",
        f"""select
            c.bill_id,
            f.due_date,
            {"s.settled_at" if known else "null::timestamptz"} as settled_at,
            {known} as settled_known
        from _changed_bills as c
        left join {SCHEMA}.flag_bills as f
            on f.bill_id = c.bill_id
        {"left join mart.bill_state as s on s.bill_id = c.bill_id" if known else ""}""",
    )


def plan_pairs(con: duckdb.DuckDBPyConnection, window_minutes: int) -> int:
    """P, at the flags' turn (after mart.bill_state): the (user, local date) pairs of the
    reminders and collection messages whose bill-dependent flags can differ from the last
    build's; fills temp `flags_scope_pairs` and `_pair_read_dates`, returns |P|.

    The flags read two things of a bill: its due date (`is_collection_before_due`) and its
    settlement time (`is_after_settlement`: settled before the message was sent). A bill of
    `_changed_bills` whose due date changed (or whose old settlement is unknown) brings all
    its messages. One whose settlement time moved from t1 to t2 (either may be null) brings
    only its messages sent after the earlier of the two: for one sent no later, "settled
    before it" is false both times. One with neither (a partial repayment, a repayment of a
    bill already settled earlier) brings none. So a repayment of the day, the usual change,
    brings no earlier day (its bill's messages of that day are in S already); before, every
    changed bill brought all the days of its reminders and collections: 28,569 user days
    at half of l on an ordinary day."""
    # (mart.bill_state exists here: the flags file reads it, so the build made it first)
    # a bill that no flags row of the last build names has no message whose flags its change
    # can move (a message new in this build is on a date of S): a bill new to the state, the
    # usual moved due date, mostly is one (without the state: every bill counts)
    named = (
        f"and b.bill_id in (select bill_id from {SCHEMA}.message_bills)"
        if temp.table_exists(con, SCHEMA, "message_bills")
        else ""
    )
    temp.create(
        con,
        "_flag_bill_moves",
        f"""select
            b.bill_id,
            case
                when b.due_date is not distinct from n.due_date and b.settled_known
                    then least(b.settled_at, s.settled_at)
            end as from_at
        from _flag_bills_before as b
        left join _flag_bills_now as n
            on n.bill_id = b.bill_id
        left join mart.bill_state as s
            on s.bill_id = b.bill_id
        where (b.due_date is distinct from n.due_date
                or not b.settled_known
                or b.settled_at is distinct from s.settled_at)
            {named}""",
    )
    (moved, earliest) = con.execute(
        """select count(*), case when count(from_at) = count(*) then min(from_at) end
        from _flag_bill_moves"""
    ).fetchone()
    if moved:
        # their messages, found by bill and purpose first (late_rows); a user of U is
        # recomputed whole already. When every such bill has a time from which on (no
        # moved due date), only messages sent after the earliest: the scan then skips the
        # row groups of older sends by their min/max (3.2-3.7 CPU-s at half of l to look up
        # the day's settled bills in every message)
        after = "" if earliest is None else "and t.sent_at > $earliest"
        messages = late_rows(
            "core.sms_messages",
            f"""semi join _flag_bill_moves as bills on bills.bill_id = t.bill_id
            where t.purpose in ('due_reminder', 'overdue_collection') {after}""",
        )
        temp.create(
            con,
            "flags_scope_pairs",
            f"""select distinct
                logs.user_id,
                cast(logs.sent_at at time zone 'Asia/Shanghai' as date) as local_date
            from ({messages}) as logs
            inner join _flag_bill_moves as moves
                on moves.bill_id = logs.bill_id
            anti join flags_scope_users as users
                on users.user_id = logs.user_id
            where moves.from_at is null or logs.sent_at > moves.from_at""",
            None if earliest is None else {"earliest": earliest},
        )
    reach = max(0, math.ceil(window_minutes / 1440))
    # read the users of P on their dates and the days before them the window reaches back into
    temp.create(
        con,
        "_pair_read_dates",
        f"""
        select distinct p.user_id, cast(p.local_date - cast(s.k as integer) as date) as local_date
        from flags_scope_pairs as p
        cross join range(0, {reach + 1}) as s(k)""",
    )
    return temp.count(con, "flags_scope_pairs")


def flags_scoped_sql() -> str:
    """The flags file, reading the scoped input and inserting the rows of S, U or P."""
    return scoped_insert(FLAGS_FILE, {"core.sms_messages": "flags_input"}, in_flags_scope("q"))


def time_bounds(con: duckdb.DuckDBPyConnection, dates: str) -> tuple:
    """A range of times [lo, hi) holding every time whose local date is in the temp table
    `dates` (a `local_date` column), two days of slack either side: a filter DuckDB pushes into
    the scan, skipping other days' row groups by their min/max before the exact local date is
    tested. (The flags' scoped reads here, and pipelines.marts.daily and by_date.)"""
    return con.execute(
        f"""select
            min(local_date)::timestamp at time zone 'UTC' - interval 2 day,
            max(local_date)::timestamp at time zone 'UTC' + interval 2 day
        from {dates}"""
    ).fetchone()


def update_flags(con: duckdb.DuckDBPyConnection) -> None:
    """Replace the flags of S, U and P (scope tables from plan_flags) with a scoped recompute."""
    temp.create(
        con,
        "_read_edays",
        """
        select distinct cast(local_date - date '1970-01-01' as bigint) + s.k as eday
        from _read_dates
        cross join range(-1, 2) as s(k)""",
    )
    # the rows of the read dates: a range on sent_at first (row groups outside it are skipped
    # by their min/max), the cheap epoch day next (the local date is within a day of it),
    # the exact local date last; then, separately, the other rows of the users of U
    lo, hi = time_bounds(con, "_read_dates")
    in_dates = f"""coalesce(
            {EPOCH_DAY.format(ts="sent_at")} in (select eday from _read_edays)
            and cast(sent_at at time zone 'Asia/Shanghai' as date)
            in (select local_date from _read_dates),
            false
        )"""
    temp.create(
        con,
        "flags_input",
        f"""select *
        from core.sms_messages
        where sent_at >= $lo and sent_at < $hi and {in_dates}""",
        {"lo": lo, "hi": hi},
    )
    if temp.count(con, "flags_scope_users"):
        con.execute(
            "insert into flags_input "
            + late_rows(
                "core.sms_messages",
                f"""semi join flags_scope_users as users on users.user_id = t.user_id
                where not {in_dates}""",
            )
        )
    if temp.count(con, "flags_scope_pairs"):
        # the days of P's users (and the days before them the window reaches) that neither
        # the read dates nor U brought already: by epoch day, within a day of the local date
        # (no time-zone conversion per row); the rows of a neighbouring day that come along
        # are input only (the insert keeps the rows of S, U or P), as for the read dates
        temp.create(
            con,
            "_pair_read_edays",
            """select distinct
                user_id, cast(local_date - date '1970-01-01' as bigint) + s.k as eday
            from _pair_read_dates
            cross join range(-1, 2) as s(k)""",
        )
        lo, hi = time_bounds(con, "_pair_read_dates")
        con.execute(
            "insert into flags_input "
            + late_rows(
                "core.sms_messages",
                f"""semi join _pair_read_edays as days
                    on days.user_id = t.user_id
                    and days.eday = {EPOCH_DAY.format(ts="t.sent_at")}
                anti join flags_scope_users as users
                    on users.user_id = t.user_id
                where t.sent_at >= $lo and t.sent_at < $hi and not {in_dates}""",
            ),
            {"lo": lo, "hi": hi},
        )
    con.execute(f"delete from mart.sms_message_flags where {in_flags_scope()}")
    con.execute(flags_scoped_sql())


# Files whose table is a function, row by row, of the flags of some local dates (and users):
# after a scoped flags update they are recomputed for their scope only, by running the file
# over the flags rows of that scope. Any other file (and every file a build does not know)
# runs in full. name -> scope (the table is the one the file creates):
# - "dates_users": rows keyed by (user_id, local_date, ...), each from the flags of that user
#   and date only: the rows of S, U or P;
# - "conversion_dates": one row per local_date, from the flags of that date and the BNPL
#   orders of the 72 hours after it: the dates of S and those near changed orders.
SCOPED_FILES: dict[str, str] = {
    "marts/sms_user_days": "dates_users",
    "marts/sms_bill_reminders": "dates_users",
    "marts/sms_conversion_days": "conversion_dates",
}

_SCOPE_WHERE = {
    "dates_users": in_flags_scope(),
    "conversion_dates": "local_date in (select local_date from conv_scope_dates)",
}


def scoped_file_sql(name: str) -> str:
    """A SCOPED_FILES file reading only the flags of its scope, inserting into its table."""
    return scoped_insert(name, {"mart.sms_message_flags": "flags_in_scope"})


def scope_is_empty(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    scope = SCOPED_FILES[name]
    tables = (
        ("flags_scope_dates", "flags_scope_users", "flags_scope_pairs")
        if scope == "dates_users"
        else ("conv_scope_dates",)
    )
    return all(temp.count(con, t) == 0 for t in tables)


def update_scoped_file(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Replace the rows of its scope of a SCOPED_FILES table (after update_flags)."""
    table = file_table(name)
    where = _SCOPE_WHERE[SCOPED_FILES[name]]
    if scope_is_empty(con, name):
        return
    if SCOPED_FILES[name] == "dates_users" and temp.exists(con, "_agg_flags_new"):
        # the build kept the flags rows of S or U right after their update: the same rows
        source = "select * from _agg_flags_new"
    elif SCOPED_FILES[name] == "dates_users":  # users' rows lie all over the table
        source = late_rows("mart.sms_message_flags", f"where {where}")
    else:  # a few dates: one scan (by row id first cost more: 0.42 against 0.31 CPU-s at m)
        source = f"select * from mart.sms_message_flags where {where}"
    temp.create(con, "flags_in_scope", source)
    con.execute(f"delete from {table} where {where}")
    con.execute(scoped_file_sql(name))


# The users' scopes a dashboard row depends on (mart.sms_daily_delivery and the aggregates of
# the flags), as saved in the state `agg_user_scopes` at the end of every build: the rows of
# mart_int.user_scopes other than the one every user has implicitly ('*' without a score
# band: a user without rows reads as that), so a user who appears with nothing to tell
# changes nothing.
USER_SCOPES_STATE_SQL = """
select user_id, score_band, experiment_id
from mart_int.user_scopes
where not (experiment_id = '*' and score_band is null)
"""


def changed_scope_users(con: duckdb.DuckDBPyConnection) -> None:
    """Temp `_agg_changed_users`: the users whose rows in mart_int.user_scopes (score band,
    experiments) differ from `agg_user_scopes` of the last build (symmetric difference).
    Computed once per build; needs that state (callers check) and the built user_scopes."""
    if temp.exists(con, "_agg_changed_users"):
        return
    # one row per (user, experiment) on each side (mart_int.user_scopes' grain)
    changed = diff.changed_keys(
        f"({USER_SCOPES_STATE_SQL})",
        f"{SCHEMA}.agg_user_scopes",
        ("user_id", "experiment_id"),
        ("score_band",),
    )
    temp.create(con, "_agg_changed_users", f"select distinct user_id from ({changed})")


def changed_user_dates(con: duckdb.DuckDBPyConnection) -> None:
    """Temp `_changed_user_dates`: every local date of a flags row (one per
    `core.sms_messages` row, so every log row) of the users of changed_scope_users. Computed
    once per build, after the flags are up to date; empty without such users."""
    if temp.exists(con, "_changed_user_dates"):
        return
    changed_scope_users(con)
    if not temp.count(con, "_agg_changed_users"):
        temp.create(con, "_changed_user_dates", "select current_date as local_date limit 0")
        return
    temp.create(
        con,
        "_changed_user_dates",
        """select distinct f.local_date
        from mart.sms_message_flags as f
        semi join _agg_changed_users as u
            on u.user_id = f.user_id""",
    )


def save(con: duckdb.DuckDBPyConnection, fingerprint: str, *, flags_full: bool = True) -> None:
    """Record what this build reflected (call inside the build's transaction, at the end).
    `flags_full`: the flags were rebuilt whole (or not planned) in this build."""
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(
        f"create or replace table {SCHEMA}.build_state as select ? as fingerprint",
        [fingerprint],
    )
    con.execute(
        f"create or replace table {SCHEMA}.sms_days as select {SMS_DAYS_COLUMNS} from _sms_days_now"
    )
    _save_by_key(con, "flag_users", "_flag_users_now", "flags_scope_users", "user_id")
    _save_by_key(con, "flag_bills", "_flag_bills_now", "_changed_bills", "bill_id")
    con.execute(f"create or replace table {SCHEMA}.orders_days as select * from _orders_days_now")
    _save_message_bills(con, flags_full)


def _save_message_bills(con: duckdb.DuckDBPyConnection, flags_full: bool) -> None:
    """`message_bills`: per bill, how many flags rows name it (plan_pairs reads which). After
    a scoped update the counts move by the scope's rows after less before (`_agg_flags_new`,
    `_agg_flags_old`; the rows outside the scope are untouched); a bill left with none is
    dropped. Written whole after a full build or without it; kept when the flags were not
    touched."""
    state = f"{SCHEMA}.message_bills"
    if not temp.table_exists(con, "mart", "sms_message_flags"):
        con.execute(f"drop table if exists {state}")
        return
    if flags_full or not temp.table_exists(con, SCHEMA, "message_bills"):
        con.execute(
            f"""create or replace table {state} as
            select bill_id, count(*) as n
            from mart.sms_message_flags
            where bill_id is not null
            group by bill_id"""
        )
        return
    if not temp.exists(con, "_agg_flags_new"):  # the flags were not touched
        return
    temp.create(
        con,
        "_message_bills_moved",
        f"""with delta as (
            select bill_id, sum(d) as d
            from (
                select bill_id, 1 as d from _agg_flags_new where bill_id is not null
                union all
                select bill_id, -1 as d from _agg_flags_old where bill_id is not null
            )
            group by bill_id
            having sum(d) <> 0
        )
        select delta.bill_id, coalesce(s.n, 0) + delta.d as n
        from delta
        left join {state} as s
            on s.bill_id = delta.bill_id""",
    )
    diff.replace_rows(
        con,
        state,
        "(select bill_id, n from _message_bills_moved where n > 0)",
        "select bill_id from _message_bills_moved",
        ("bill_id",),
    )


def _save_by_key(
    con: duckdb.DuckDBPyConnection, table: str, now: str, changed: str, key: str
) -> None:
    """Save the snapshot `now` as the state `SCHEMA.table`: when plan_flags compared the two
    (temp `changed`, the keys on one side only or with other values), only those keys' rows
    are replaced; else the whole table is written. (`flag_bills` at half of l: 1.0 CPU-s a
    day rewritten whole.)"""
    if temp.exists(con, changed):
        diff.replace_rows(con, f"{SCHEMA}.{table}", now, f"select {key} from {changed}", (key,))
    else:
        con.execute(f"create or replace table {SCHEMA}.{table} as select * from {now}")


def invalidate(con: duckdb.DuckDBPyConnection) -> None:
    """Forget the state: the next build is a full one."""
    con.execute(f"drop table if exists {SCHEMA}.build_state")

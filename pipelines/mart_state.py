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
  (`content` only where the promotion rule reads it). A day whose pair differs holds an
  inserted, replaced or deleted message.
- `mart_build.flag_users` — per user the two per-user inputs of the flags: the first opt-out
  time and `marketing_consent`.

Finding the change set reads five narrow columns of `core.sms_messages` once (about 1 s at m,
against 30 s for the flags), the users and the opt-outs; it needs nothing from the
ingestion, so it is exact whatever the merge did (new files, re-delivered or withdrawn ones,
rows moved to another date).

The flags are then recomputed for
- S: the local dates of changed rows (their new dates from core, their old dates from the
  flags table) plus the ceil(window / 1 day) days after each (a message just after midnight
  can have its duplicate twin the evening before; the daily rank never crosses midnight);
- U: every message of the users whose first opt-out or consent changed;
by running the one flags SQL file over a copy of the `core.sms_messages` rows of S, the days
before S that the duplicate window reaches, and U (temp table `flags_input`), keeping the
output rows of S or U, and replacing exactly those rows of the table (delete + insert).
The result equals a full rebuild because every flag of a message depends only on its own
row, its user's partition within the duplicate window, its user's local day, and the two
per-user lookups — all of which the input holds whole for every row it keeps.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass

import duckdb

from pipelines import sqlfiles

SCHEMA = "mart_build"
FLAGS_FILE = "marts/sms_message_flags"
FLAGS_CREATE = "create or replace table mart.sms_message_flags as"
# the flags recompute everything when the scope reaches this share of the local days
FULL_SCOPE_SHARE = 0.5

SERVICE_PURPOSES = "('bill_notice', 'due_reminder', 'overdue_collection')"
EPOCH_DAY = "((epoch_ms({ts}) + 28800000) // 86400000)"

SMS_DAYS_SQL = f"""
create or replace temp table _sms_days_now as
select
    {EPOCH_DAY.format(ts="sent_at")} as eday,
    count(*) as n,
    sum(hash(
        message_id, user_id, purpose, template_code, bill_id, sent_at, delivery_status,
        case when purpose in {SERVICE_PURPOSES} then content end,
        delivered_at, provider, err_code, origin
    )::hugeint) as h
from core.sms_messages
group by 1
"""

FLAG_USERS_SQL = """
create or replace temp table _flag_users_now as
with first_opt_out as (
    select user_id, min(received_at) as first_opt_out_at
    from core.opt_outs
    group by user_id
)
select
    coalesce(u.user_id, o.user_id) as user_id,
    o.first_opt_out_at,
    u.marketing_consent
from core.users as u
full outer join first_opt_out as o
    on o.user_id = u.user_id
"""


@dataclass
class FlagsPlan:
    """What the flags need: `full`, or the scope of a scoped update (empty: nothing)."""

    full: bool
    changed_days: int = 0  # epoch days whose fingerprint differs
    scope_dates: int = 0  # local dates recomputed (S)
    scope_users: int = 0  # users recomputed on every date (U)
    reason: str = ""


def build_fingerprint(settings_params: dict, names: list[str]) -> str:
    """Hash of the settings and of every mart SQL file the build runs."""
    digest = hashlib.sha256(json.dumps(settings_params, sort_keys=True).encode())
    for name in names:
        digest.update(name.encode())
        digest.update(sqlfiles.load(name).encode())
    return digest.hexdigest()


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where database_name = current_database() "
            "and schema_name = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


ORDERS_DAYS_SQL = f"""
create or replace temp table _orders_days_now as
select
    {EPOCH_DAY.format(ts="created_at")} as eday,
    count(*) as n,
    sum(hash(order_id, user_id, created_at, payment_method, status)::hugeint) as h
from core.orders
group by 1
"""


def snapshot(con: duckdb.DuckDBPyConnection) -> None:
    """Compute the current fingerprints of core into temp tables (before the build)."""
    con.execute(SMS_DAYS_SQL)
    con.execute(FLAG_USERS_SQL)
    con.execute(ORDERS_DAYS_SQL)


def plan_flags(con: duckdb.DuckDBPyConnection, fingerprint: str, window_minutes: int) -> FlagsPlan:
    """Compare the snapshot with the state of the last build; fill temp scope tables."""
    for table in ("build_state", "sms_days", "flag_users", "orders_days"):
        if not _exists(con, SCHEMA, table):
            return FlagsPlan(full=True, reason="no state of a previous build")
    if not _exists(con, "mart", "sms_message_flags"):
        return FlagsPlan(full=True, reason="no flags table")
    (previous,) = con.execute(f"select fingerprint from {SCHEMA}.build_state").fetchone()
    if previous != fingerprint:
        return FlagsPlan(full=True, reason="settings or mart SQL changed")

    con.execute(
        f"""create or replace temp table _changed_edays as
        select coalesce(a.eday, b.eday) as eday
        from _sms_days_now as a
        full outer join {SCHEMA}.sms_days as b
            on b.eday = a.eday
        where a.n is distinct from b.n or a.h is distinct from b.h"""
    )
    con.execute(
        f"""create or replace temp table flags_scope_users as
        select coalesce(a.user_id, b.user_id) as user_id
        from _flag_users_now as a
        full outer join {SCHEMA}.flag_users as b
            on b.user_id = a.user_id
        where a.user_id is null or b.user_id is null
            or a.first_opt_out_at is distinct from b.first_opt_out_at
            or a.marketing_consent is distinct from b.marketing_consent"""
    )
    # the true local dates of the changed rows: new ones from core, old ones from the flags
    con.execute(
        f"""create or replace temp table _changed_dates as
        select distinct cast(sent_at at time zone 'Asia/Shanghai' as date) as local_date
        from core.sms_messages
        where {EPOCH_DAY.format(ts="sent_at")} in (select eday from _changed_edays)
        union
        select distinct local_date
        from mart.sms_message_flags
        where {EPOCH_DAY.format(ts="sent_at")} in (select eday from _changed_edays)"""
    )
    reach = max(0, math.ceil(window_minutes / 1440))
    # S: changed dates and the days after them that the duplicate window reaches
    con.execute(
        f"""create or replace temp table flags_scope_dates as
        select distinct cast(c.local_date + cast(s.k as integer) as date) as local_date
        from _changed_dates as c
        cross join range(0, {reach + 1}) as s(k)"""
    )
    # read S and the days before it that the window reaches back into
    con.execute(
        f"""create or replace temp table _read_dates as
        select distinct cast(d.local_date - cast(s.k as integer) as date) as local_date
        from flags_scope_dates as d
        cross join range(0, {reach + 1}) as s(k)"""
    )
    # conversion days: S, and the dates whose messages a changed order can follow (an order
    # converts the messages of the 72 hours before it: local dates order date - 3 .. order
    # date, and the order's local date is within a day of its epoch day)
    con.execute(
        f"""create or replace temp table conv_scope_dates as
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
        cross join range(-4, 2) as s(k)"""
    )
    changed_days = con.execute("select count(*) from _changed_edays").fetchone()[0]
    n_dates = con.execute("select count(*) from flags_scope_dates").fetchone()[0]
    n_users = con.execute("select count(*) from flags_scope_users").fetchone()[0]
    n_all = con.execute(f"select count(*) from {SCHEMA}.sms_days").fetchone()[0]
    if n_all and n_dates > FULL_SCOPE_SHARE * n_all:
        return FlagsPlan(
            True, changed_days, n_dates, n_users, reason="scope covers most of history"
        )
    return FlagsPlan(False, changed_days, n_dates, n_users)


def flags_scoped_sql() -> str:
    """The flags file, reading the scoped input and inserting the rows of S or U."""
    text = sqlfiles.load(FLAGS_FILE)
    _, found, query = text.partition(FLAGS_CREATE)
    if not found or text.count("core.sms_messages") != 2:
        raise RuntimeError(f"{FLAGS_FILE}: unexpected shape for the scoped update")
    query = query.strip().rstrip(";").replace("core.sms_messages", "flags_input")
    return f"""insert into mart.sms_message_flags by name
    select q.*
    from ({query}) as q
    where q.local_date in (select local_date from flags_scope_dates)
        or q.user_id in (select user_id from flags_scope_users)"""


def update_flags(con: duckdb.DuckDBPyConnection) -> None:
    """Replace the flags of S and U (scope tables from plan_flags) with a scoped recompute."""
    con.execute(
        """create or replace temp table _read_edays as
        select distinct cast(local_date - date '1970-01-01' as bigint) + s.k as eday
        from _read_dates
        cross join range(-1, 2) as s(k)"""
    )
    # the rows of the read dates: a range on sent_at first (row groups outside it are skipped
    # by their min/max), the cheap epoch day next (the local date is within a day of it),
    # the exact local date last; then, separately, the other rows of the users of U
    lo, hi = con.execute(
        """select
            min(local_date)::timestamp at time zone 'UTC' - interval 2 day,
            max(local_date)::timestamp at time zone 'UTC' + interval 2 day
        from _read_dates"""
    ).fetchone()
    in_dates = f"""coalesce(
            {EPOCH_DAY.format(ts="sent_at")} in (select eday from _read_edays)
            and cast(sent_at at time zone 'Asia/Shanghai' as date)
            in (select local_date from _read_dates),
            false
        )"""
    con.execute(
        f"""create or replace temp table flags_input as
        select *
        from core.sms_messages
        where sent_at >= $lo and sent_at < $hi and {in_dates}""",
        {"lo": lo, "hi": hi},
    )
    if con.execute("select count(*) from flags_scope_users").fetchone()[0]:
        con.execute(
            f"""insert into flags_input
            select logs.*
            from core.sms_messages as logs
            semi join flags_scope_users as users
                on users.user_id = logs.user_id
            where not {in_dates}"""
        )
    con.execute(
        """delete from mart.sms_message_flags
        where local_date in (select local_date from flags_scope_dates)
            or user_id in (select user_id from flags_scope_users)"""
    )
    con.execute(flags_scoped_sql())
    for table in ("flags_input", "_read_edays"):
        con.execute(f"drop table if exists {table}")


# Files whose table is a function, row by row, of the flags of some local dates (and users):
# after a scoped flags update they are recomputed for their scope only, by running the file
# over the flags rows of that scope. Any other file (and every file a build does not know)
# runs in full. name -> (table, scope):
# - "dates_users": rows keyed by (user_id, local_date, ...), each from the flags of that user
#   and date only: the rows of S or U;
# - "conversion_dates": one row per local_date, from the flags of that date and the BNPL
#   orders of the 72 hours after it: the dates of S and those near changed orders.
SCOPED_FILES: dict[str, tuple[str, str]] = {
    "marts/sms_user_days": ("mart.sms_user_days", "dates_users"),
    "marts/sms_bill_reminders": ("mart.sms_bill_reminders", "dates_users"),
    "marts/sms_conversion_days": ("mart.sms_conversion_days", "conversion_dates"),
}

_SCOPE_WHERE = {
    "dates_users": """local_date in (select local_date from flags_scope_dates)
            or user_id in (select user_id from flags_scope_users)""",
    "conversion_dates": "local_date in (select local_date from conv_scope_dates)",
}


def scoped_file_sql(name: str) -> str:
    """A SCOPED_FILES file reading only the flags of its scope, inserting into its table."""
    table, _ = SCOPED_FILES[name]
    text = sqlfiles.load(name)
    create = f"create or replace table {table} as"
    _, found, query = text.partition(create)
    if not found or "mart.sms_message_flags" not in query:
        raise RuntimeError(f"{name}: unexpected shape for the scoped update")
    query = query.strip().rstrip(";").replace("mart.sms_message_flags", "flags_in_scope")
    return f"insert into {table} by name {query}"


def scope_is_empty(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    _, scope = SCOPED_FILES[name]
    tables = (
        ("flags_scope_dates", "flags_scope_users")
        if scope == "dates_users"
        else ("conv_scope_dates",)
    )
    return all(con.execute(f"select count(*) = 0 from {t}").fetchone()[0] for t in tables)


def update_scoped_file(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Replace the rows of its scope of a SCOPED_FILES table (after update_flags)."""
    table, scope = SCOPED_FILES[name]
    where = _SCOPE_WHERE[scope]
    if scope_is_empty(con, name):
        return
    con.execute(
        f"""create or replace temp table flags_in_scope as
        select *
        from mart.sms_message_flags
        where {where}"""
    )
    con.execute(f"delete from {table} where {where}")
    con.execute(scoped_file_sql(name))
    con.execute("drop table flags_in_scope")


def save(con: duckdb.DuckDBPyConnection, fingerprint: str) -> None:
    """Record what this build reflected (call inside the build's transaction, at the end)."""
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(
        f"create or replace table {SCHEMA}.build_state as select ? as fingerprint",
        [fingerprint],
    )
    con.execute(f"create or replace table {SCHEMA}.sms_days as select * from _sms_days_now")
    con.execute(f"create or replace table {SCHEMA}.flag_users as select * from _flag_users_now")
    con.execute(f"create or replace table {SCHEMA}.orders_days as select * from _orders_days_now")
    for table in (
        "_sms_days_now",
        "_flag_users_now",
        "_orders_days_now",
        "conv_scope_dates",
        "_changed_edays",
        "_changed_dates",
        "_read_dates",
        "flags_scope_dates",
        "flags_scope_users",
    ):
        con.execute(f"drop table if exists {table}")


def invalidate(con: duckdb.DuckDBPyConnection) -> None:
    """Forget the state: the next build is a full one."""
    con.execute(f"drop table if exists {SCHEMA}.build_state")

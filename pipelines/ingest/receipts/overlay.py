"""Delivery as the gateway saw it: `core.sms_receipt_matches` and `core.sms_messages`.

Runs at the start of every mart build, after the core merges of `sms_logs` and
`sms_receipts` (inside the build's transaction, before the incremental flags look for what
changed): the marts read `core.sms_messages` instead of `core.sms_logs`.

Both tables are updated in place. What changed is found by fingerprints: per epoch day of
`sent_at`, the rows and Σ hash of every `core.sms_logs` column
(`mart_build.overlay_log_days`), and per export day (`_dt`) the same of `core.sms_receipts`
(`mart_build.overlay_receipt_days`), compared with the ones saved by the last refresh. Only the
days that can have changed are hashed again; the others are taken from the saved state:

- the core merge notes the `_dt` of every row it inserts or removes (pipelines.ingest.changes,
  the build's queue `changes.for_build`, emptied here once read). Receipts: the noted export
  days. Log: the epoch days of the log rows of the noted `_dt` (their new values) and of the
  messages of those `_dt` that came from a log row (`origin = 'log'`: the log row's values as of
  the last refresh, so a row that moved to another day or file is found on its old day too);
- without a trusted queue (the first refresh of this code, a missing state) or with a note of
  a whole table, every day is hashed, as before. With changes.VERIFY_ENV set (the test suite)
  the fingerprints kept are checked against a full rehash.

Then:

- receipts whose match may change (R): the receipts of changed export days (new and old
  copies), the receipts naming a log row of a changed day by gateway id or caller's id (the
  row's new and old values), every receipt sharing a caller's id with those, and every
  receipt naming or matched to a log row those name or matched (a receipt's match depends
  only on the log rows with its gateway id or its caller's id, and on the other receipts of
  the row it matches); their matches are recomputed from those receipts and the log rows they
  name, and replace the old ones;
- messages rewritten: the log rows of changed days and the rows and messages of every match
  that appeared, disappeared or changed, with those rows' gateway-only sends. A message's row
  depends only on its log row and its matches.

So both equal a full rebuild (the incremental tests compare them with one). The first build,
or a warehouse without the state, builds in full.

An incremental refresh leaves the temp table `_ov_message_edays` on the build's connection:
the epoch days of `sent_at` of every `core.sms_messages` row it deleted or inserted (NULL for
a row without a time). Those are the only days of the table that can differ from the end of
the previous build, so the marts fingerprint only them (pipelines.marts.state). A full
refresh drops it: every day may have changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb

from pipelines import sqlfiles
from pipelines.contract import RECEIPTS
from pipelines.ingest import changes
from pipelines.ingest.warehouse import create_declared, late_rows
from pipelines.schema import core_table_ddl

MATCHES, MESSAGES = "core/sms_receipt_matches", "core/sms_messages"
STATE_SCHEMA = "mart_build"  # private (never published), next to the marts' own state
STATE = f"{STATE_SCHEMA}.overlay_log_days"
RECEIPT_STATE = f"{STATE_SCHEMA}.overlay_receipt_days"
MESSAGE_EDAYS = "_ov_message_edays"  # kept for the build (the module docstring)
# Exists once a refresh has saved the state and emptied the build's queue in one transaction:
# from then on the queue holds every note written since the state was saved.
QUEUE_MARK_TABLE = "overlay_queue_read"  # a marker: its existence is the fact
LOG, RECEIPTS_TABLE = "core.sms_logs", "core.sms_receipts"
SHANGHAI_OFFSET_S = 8 * 3600  # the local day of a send is its Asia/Shanghai day (no DST)
EPOCH_DAY = f"((epoch_ms(sent_at) + {SHANGHAI_OFFSET_S * 1000}) // 86400000)"

# Per epoch day of sent_at: rows and Σ hash of every column of the log ({where}: the rows)
LOG_DAYS_SQL = f"""
select
    {EPOCH_DAY} as eday,
    count(*) as n,
    sum(hash(
        message_id, user_id, template_code, purpose, bill_id, content, sent_at,
        delivery_status, delivered_at, provider, err_code, segments, out_id, _dt, _file, _row
    )::hugeint) as h
from core.sms_logs
{{where}}
group by 1
"""

# Per export day: rows and Σ hash of every column of the receipts ({where}: the rows)
RECEIPT_DAYS_SQL = """
select
    _dt,
    count(*) as n,
    sum(hash(
        receipt_id, provider, receipt_format, gateway_id, out_id, status, err_code, sent_at,
        reported_at, segments, _file, _row
    )::hugeint) as h
from core.sms_receipts
{where}
group by 1
"""


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where database_name = current_database() "
            "and schema_name = ? and table_name = ? and not temporary",
            [schema, table],
        ).fetchone()[0]
    )


@dataclass
class Refresh:
    """What a refresh did: `full` (core.sms_messages rebuilt whole), and how many days of
    the log (epoch days) and of the receipts (export days) it hashed again (None: all)."""

    full: bool
    log_days: int | None = None
    receipt_days: int | None = None


def refresh(con: duckdb.DuckDBPyConnection) -> Refresh:
    """Bring both tables up to date with core.sms_logs and core.sms_receipts (an empty
    receipts table is created when the warehouse has none: every message then keeps the
    log's values)."""
    con.execute(core_table_ddl(RECEIPTS))
    full = not (
        _exists(con, STATE_SCHEMA, "overlay_log_days")
        and _exists(con, STATE_SCHEMA, "overlay_receipt_days")
        and _exists(con, "core", "sms_messages")
        and _exists(con, "core", "sms_receipt_matches")
    )
    trusted = not full and _exists(con, STATE_SCHEMA, QUEUE_MARK_TABLE)
    done = Refresh(full, _log_days(con, trusted), _receipt_days(con, trusted))
    con.execute(f"drop table if exists {MESSAGE_EDAYS}")
    if full:
        sqlfiles.run(con, MATCHES)
        create_declared(con, "core.sms_messages", _file_query(MESSAGES))
        for name in (MATCHES, MESSAGES):
            changes.record_whole(con, name.replace("/", "."))
    else:
        _update(con)
    con.execute(f"create schema if not exists {STATE_SCHEMA}")
    con.execute(f"create or replace table {STATE} as select * from _ov_log_days")
    con.execute(f"create or replace table {RECEIPT_STATE} as select * from _ov_receipt_days")
    changes.empty_for_build(con)
    con.execute(f"create table if not exists {STATE_SCHEMA}.{QUEUE_MARK_TABLE} (marker BOOLEAN)")
    for table in TEMP_TABLES:
        con.execute(f"drop table if exists {table}")
    return done


def in_edays(edays) -> tuple[str, dict]:
    """A condition that a row's `sent_at` falls on one of the epoch days `edays` (None: no
    `sent_at`), and its parameters ($lo, $hi, $days): the exact `sent_at` range of the days
    first (DuckDB skips other row groups by their min/max), the day test next."""
    known = sorted(e for e in edays if e is not None)
    conds, params = [], {}
    if known:
        conds.append(
            f"(sent_at >= $lo and sent_at < $hi and {EPOCH_DAY} in (select unnest($days)))"
        )
        params = _day_bounds(known)
    if None in edays:
        conds.append("sent_at is null")
    return "(" + (" or ".join(conds) or "false") + ")", params


def _log_days(con: duckdb.DuckDBPyConnection, trusted: bool) -> int | None:
    """Temp `_ov_log_days` (module docstring); returns the epoch days hashed (None: all)."""
    whole, noted = changes.for_build(con, LOG)
    if not trusted or whole:
        con.execute(f"create or replace temp table _ov_log_days as {LOG_DAYS_SQL.format(where='')}")
        return None
    in_dates, params = changes.in_dates("_dt", noted)
    # the epoch days of the log rows of the noted files' dates: now, and as of the last refresh
    con.execute(
        f"""create or replace temp table _ov_log_edays as
        select {EPOCH_DAY} as eday from core.sms_logs where {in_dates}
        union
        select {EPOCH_DAY} from core.sms_messages where origin = 'log' and {in_dates}""",
        params,
    )
    edays = {r[0] for r in con.execute("select eday from _ov_log_edays").fetchall()}
    where, params = in_edays(edays)
    con.execute(
        f"""create or replace temp table _ov_log_days as
        select * from {STATE} as s
        where not exists (
            select 1 from _ov_log_edays as e where e.eday is not distinct from s.eday
        )
        union all
        {LOG_DAYS_SQL.format(where="where " + where)}""",
        params,
    )
    if changes.verifying():
        _verify(con, "_ov_log_days", LOG_DAYS_SQL.format(where=""), "eday")
    return len(edays)


def _receipt_days(con: duckdb.DuckDBPyConnection, trusted: bool) -> int | None:
    """Temp `_ov_receipt_days` (module docstring); returns the export days hashed (None: all)."""
    whole, noted = changes.for_build(con, RECEIPTS_TABLE)
    if not trusted or whole:
        con.execute(
            f"create or replace temp table _ov_receipt_days as {RECEIPT_DAYS_SQL.format(where='')}"
        )
        return None
    in_dates, params = changes.in_dates("_dt", noted)
    con.execute(
        f"""create or replace temp table _ov_receipt_days as
        select * from {RECEIPT_STATE}
        where not coalesce({in_dates}, false)
        union all
        {RECEIPT_DAYS_SQL.format(where="where " + in_dates)}""",
        params,
    )
    if changes.verifying():
        _verify(con, "_ov_receipt_days", RECEIPT_DAYS_SQL.format(where=""), "_dt")
    return len(noted)


def _verify(con: duckdb.DuckDBPyConnection, kept: str, full_sql: str, key: str) -> None:
    """Fail when the fingerprint `kept` (a temp table) differs from a full rehash
    (changes.VERIFY_ENV): a writer of the log or the receipts that did not note its dates."""
    differ = changes.differing_keys(con, f"select * from {kept}", full_sql, key)
    if differ:
        raise RuntimeError(
            f"the receipts overlay's fingerprint {kept} kept from the last refresh differs from "
            f"a full rehash on {key} {differ}: a write to the table that was not noted in the "
            "change log (pipelines.ingest.changes)"
        )


TEMP_TABLES = (
    "_ov_log_days",
    "_ov_log_edays",
    "_ov_receipt_days",
    "_ov_changed_logs",
    "_ov_changed_receipts",
    "_ov_scope",
    "_ov_receipts",
    "_ov_match_logs",
    "_ov_old_matches",
    "_ov_new_matches",
    "_ov_changed",
    "_ov_ids",
    "_ov_logs",
    "_ov_matches",
    "_ov_new_messages",
)


def _changed_log_days(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Epoch days of `sent_at` whose log rows differ from the state (a NULL `sent_at` has no
    day: such rows are never selected by day, as `null in (...)` selects nothing)."""
    rows = con.execute(
        f"""select coalesce(a.eday, b.eday) as eday
        from _ov_log_days as a
        full outer join {STATE} as b
            on b.eday = a.eday
        where a.n is distinct from b.n or a.h is distinct from b.h"""
    ).fetchall()
    return sorted(r[0] for r in rows if r[0] is not None)


def _changed_receipt_days(con: duckdb.DuckDBPyConnection) -> set[date | None]:
    """Export days (`_dt`) whose receipts differ from the state (None: the receipts without
    an export day changed)."""
    rows = con.execute(
        f"""select coalesce(a._dt, b._dt) as _dt
        from _ov_receipt_days as a
        full outer join {RECEIPT_STATE} as b
            on b._dt is not distinct from a._dt
        where a.n is distinct from b.n or a.h is distinct from b.h"""
    ).fetchall()
    return {r[0] for r in rows}


def _day_bounds(days: list[int]) -> dict[str, object]:
    """The exact `sent_at` range of the epoch days `days` (in EPOCH_DAY's sense): a filter
    DuckDB pushes into the scan, skipping the row groups of other days by their min/max. The
    per-row day test stays, so days between the first and the last are not selected."""
    lo = datetime.fromtimestamp(days[0] * 86400 - SHANGHAI_OFFSET_S, tz=UTC)
    hi = datetime.fromtimestamp((days[-1] + 1) * 86400 - SHANGHAI_OFFSET_S, tz=UTC)
    return {"lo": lo, "hi": hi, "days": days}


def _rows_matching(table: str, lookups: list[tuple[str, str, str]]) -> str:
    """`rowid in (…)`: the rows of `table` whose column equals a value of a temp table's column,
    for any of `lookups` (column, temp table, its column; this module's own names). Each
    lookup is a semi join of its own, the few ids its build side: `a in (…) or b in (…)` over
    a big table evaluated both lookups for every row, at about twice the CPU at m."""
    branches = "\n            union all\n".join(
        f"select t.rowid from {table} as t semi join {temp} as x on x.{key} = t.{col}"
        for col, temp, key in lookups
    )
    return f"rowid in (\n            {branches}\n        )"


# R, from the changed receipts (_ov_changed_receipts) and log rows (_ov_changed_logs): those
# receipts, the receipts naming a changed log row, and every receipt sharing a caller's id
# with them (see _update). A temp table `_ov_scope` of receipt ids.
# Every lookup in a big table finds row ids first, reading only the looked-up column, and
# then reads those rows' other columns (as `late_rows`): a caller's id matches in the scan
# only at the join, so reading the row's other ids with it carried about 5 M rows of three
# columns into the join, and the statement cost about twice the CPU (1.1-1.4 against
# 0.5-0.8 CPU-s on a day of new sends at m, 3.4-3.7 against 2.1-2.6 with an export day of
# receipts; the same rows).
SCOPE_SQL = """create or replace temp table _ov_scope as
with first as (
    select receipt_id, gateway_id, out_id from _ov_changed_receipts
    union
    select receipt_id, gateway_id, out_id from core.sms_receipts where rowid in (
        select r.rowid from core.sms_receipts as r
        semi join _ov_changed_logs as c on c.message_id = r.gateway_id
        union all
        select r.rowid from core.sms_receipts as r
        semi join _ov_changed_logs as c on c.out_id = r.out_id
    )
    union
    select receipt_id, gateway_id, out_id from core.sms_receipt_matches where rowid in (
        select m.rowid from core.sms_receipt_matches as m
        semi join _ov_changed_logs as c on c.message_id = m.log_message_id
    )
),
-- the log rows those receipts name or matched, and the changed ones
touched as (
    select message_id, out_id from core.sms_logs where rowid in (
        select l.rowid from core.sms_logs as l
        semi join first as f on f.gateway_id = l.message_id
        union all
        select l.rowid from core.sms_logs as l
        semi join first as f on f.out_id = l.out_id
        union all
        select l.rowid from core.sms_logs as l
        semi join (
            select log_message_id from core.sms_receipt_matches where rowid in (
                select m.rowid from core.sms_receipt_matches as m
                semi join first as f on f.receipt_id = m.receipt_id
            )
        ) as m on m.log_message_id = l.message_id
    )
    union
    select message_id, out_id from _ov_changed_logs
),
-- the caller's ids of those receipts and rows: a row's receipts decide together
out_ids as (
    select out_id from first where out_id is not null
    union
    select out_id from touched where out_id is not null
),
-- `first` holds every receipt naming a changed log row by either id and every
-- receipt matched to one: only the other rows and caller's ids are looked up again
-- (none, on a day of new sends: the big tables are then not scanned a second time)
new_out_ids as (
    select out_id from out_ids
    except
    select out_id from _ov_changed_logs
),
new_touched as (
    select message_id from touched
    except
    select message_id from _ov_changed_logs
)
select receipt_id from first
union
select receipt_id from core.sms_receipts where rowid in (
    select r.rowid from core.sms_receipts as r
    semi join new_out_ids as o on o.out_id = r.out_id
    union all
    select r.rowid from core.sms_receipts as r
    semi join new_touched as t on t.message_id = r.gateway_id
)
union
-- every receipt matched to a touched row
select receipt_id from core.sms_receipt_matches where rowid in (
    select m.rowid from core.sms_receipt_matches as m
    semi join new_touched as t on t.message_id = m.log_message_id
)"""


def _update(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create temp table {MESSAGE_EDAYS} (eday BIGINT)")
    # log rows of changed days: their ids and caller's ids, new and old
    # the days' range lets DuckDB skip other days' row groups by their min/max
    where, params = in_edays(_changed_log_days(con))
    con.execute(
        f"""create or replace temp table _ov_changed_logs as
        select message_id, out_id from core.sms_logs where {where}
        union
        select message_id, out_id from core.sms_messages where origin = 'log' and {where}""",
        params,
    )
    # receipts of changed export days, new and old
    where, params = changes.in_dates("_dt", _changed_receipt_days(con))
    con.execute(
        f"""create or replace temp table _ov_changed_receipts as
        select receipt_id, gateway_id, out_id from core.sms_receipts where {where}
        union
        select receipt_id, gateway_id, out_id from core.sms_receipt_matches where {where}""",
        params,
    )
    # R: those receipts, the receipts naming a changed log row, and every receipt sharing a
    # caller's id with them.
    # core.sms_receipt_matches holds one row per receipt of the last refresh with the
    # receipt's own ids: for an export day that did not change they equal core.sms_receipts',
    # and the old rows of changed days are in _ov_changed_receipts already. So looking up a
    # caller's id in core.sms_receipts finds every receipt the same lookup in the matches
    # would, and each big table is scanned once per lookup. Each lookup is a semi join of its
    # own (the build side is the few ids): `a in (…) or b in (…)` over a big table evaluated
    # both lookups for every row, at about twice the CPU.
    con.execute(SCOPE_SQL)
    con.execute(
        "create or replace temp table _ov_receipts as "
        + late_rows("core.sms_receipts", "semi join _ov_scope as s on s.receipt_id = t.receipt_id")
    )
    con.execute(
        "create or replace temp table _ov_match_logs as select * from core.sms_logs where "
        + _rows_matching(
            "core.sms_logs",
            [("message_id", "_ov_receipts", "gateway_id"), ("out_id", "_ov_receipts", "out_id")],
        )
    )
    con.execute(
        "create or replace temp table _ov_old_matches as "
        + late_rows(
            "core.sms_receipt_matches", "semi join _ov_scope as s on s.receipt_id = t.receipt_id"
        )
    )
    con.execute(f"create or replace temp table _ov_new_matches as {_matches_sql()}")
    con.execute(
        """delete from core.sms_receipt_matches
        where receipt_id in (select receipt_id from _ov_scope)"""
    )
    con.execute("insert into core.sms_receipt_matches select * from _ov_new_matches")
    changes.record(
        con,
        "core.sms_receipt_matches",
        "select _dt from _ov_old_matches union select _dt from _ov_new_matches",
    )
    # matches that appeared, disappeared or changed (either side's message and log row)
    con.execute(
        """create or replace temp table _ov_changed as
        (select * from _ov_old_matches except all select * from _ov_new_matches)
        union all
        (select * from _ov_new_matches except all select * from _ov_old_matches)"""
    )
    # the log rows whose message may change: rows of changed days (new and old copies) and
    # the rows of changed matches; a changed match's message (a send the log does not know)
    # goes with its row
    con.execute(
        """create or replace temp table _ov_ids as
        select message_id from _ov_changed_logs
        union
        select log_message_id from _ov_changed where log_message_id is not null
        union
        select message_id from _ov_changed where message_id is not null"""
    )
    if not con.execute("select count(*) from _ov_ids").fetchone()[0]:
        return
    # the rows of those ids and their retries
    removed = con.execute(
        "delete from core.sms_messages where "
        + _rows_matching(
            "core.sms_messages",
            [("message_id", "_ov_ids", "message_id"), ("retry_of", "_ov_ids", "message_id")],
        )
        + f" returning _dt, {EPOCH_DAY} as eday"
    ).fetchall()
    old_dates = list({r[0] for r in removed})
    old_edays = list({r[1] for r in removed})
    con.execute(
        "create or replace temp table _ov_logs as "
        + late_rows("core.sms_logs", "semi join _ov_ids as x on x.message_id = t.message_id")
    )
    con.execute(
        "create or replace temp table _ov_matches as "
        + late_rows(
            "core.sms_receipt_matches",
            "semi join _ov_ids as x on x.message_id = t.log_message_id",
        )
    )
    con.execute(f"create or replace temp table _ov_new_messages as {_messages_sql()}")
    con.execute("insert into core.sms_messages select * from _ov_new_messages")
    con.execute(
        f"""insert into {MESSAGE_EDAYS}
        select unnest($old::bigint[])
        union
        select {EPOCH_DAY} from _ov_new_messages""",
        {"old": old_edays},
    )
    changes.record(
        con,
        "core.sms_messages",
        "select unnest($old::date[]) union select _dt from _ov_new_messages",
        {"old": old_dates},
    )


def _matches_sql() -> str:
    """The matches file over the receipts of R and the log rows they name (a query)."""
    query = _file_query(MATCHES)
    if query.count("from core.sms_receipts") != 1 or query.count("from core.sms_logs") != 1:
        raise RuntimeError(f"{MATCHES}: unexpected shape for the incremental update")
    query = query.replace("from core.sms_receipts", "from _ov_receipts")
    query = query.replace("from core.sms_logs", "from _ov_match_logs")
    return query.strip().rstrip(";")


def _file_query(name: str) -> str:
    """The query of the file `core/<table>` that creates core.<table> (`create or replace
    table core.<table> as <query>`)."""
    table = name.replace("/", ".")
    _, found, query = sqlfiles.load(name).partition(f"create or replace table {table} as")
    if not found:
        raise RuntimeError(f"{name}: unexpected shape, no `create or replace table {table} as`")
    return query.strip().rstrip(";")


def _messages_sql() -> str:
    """The messages file over the changed log rows and their matches (a query)."""
    query = _file_query(MESSAGES)
    if query.count("from core.sms_receipt_matches") != 1:
        raise RuntimeError(f"{MESSAGES}: unexpected shape for the incremental update")
    query = query.replace("from core.sms_receipt_matches", "from _ov_matches")
    query = query.replace("select * from core.sms_logs", "select * from _ov_logs")
    return query.strip().rstrip(";")

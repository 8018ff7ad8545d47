"""Delivery as the gateway saw it: `core.sms_receipt_matches` and `core.sms_messages`.

Runs at the start of every mart build, after the core merges of `sms_logs` and
`sms_receipts` (inside the build's transaction, before the incremental flags look for what
changed): the marts read `core.sms_messages` instead of `core.sms_logs`.

Incremental: `core.sms_receipt_matches` is narrow (ids, status, times) and is rebuilt on
every build by one join of the receipts with two id columns of the log. `core.sms_messages`
holds every column of the log (the message text too) and is rewritten only for the messages
that changed: the log rows of the epoch days whose fingerprint differs from the last build
(`mart_build.overlay_log_days`: per day, rows and Σ hash of every log column), and the
messages whose matched receipts differ (the symmetric difference of the matches before and
after). A message's row depends only on its log row and its receipts' matches, so this gives
the same table as a full rebuild. The first build, or a warehouse without the state, builds in
full.
"""

from __future__ import annotations

import duckdb

from pipelines import sqlfiles
from pipelines.contract import RECEIPTS
from pipelines.schema import core_table_ddl

MATCHES, MESSAGES = "core/sms_receipt_matches", "core/sms_messages"
STATE_SCHEMA = "mart_build"  # private (never published), next to the marts' own state
STATE = f"{STATE_SCHEMA}.overlay_log_days"
EPOCH_DAY = "((epoch_ms(sent_at) + 28800000) // 86400000)"

LOG_DAYS_SQL = f"""
create or replace temp table _ov_log_days as
select
    {EPOCH_DAY} as eday,
    count(*) as n,
    sum(hash(
        message_id, user_id, template_code, purpose, bill_id, content, sent_at,
        delivery_status, delivered_at, provider, err_code, segments, out_id, _dt, _file, _row
    )::hugeint) as h
from core.sms_logs
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


def refresh(con: duckdb.DuckDBPyConnection) -> bool:
    """Bring both tables up to date with core.sms_logs and core.sms_receipts (an empty
    receipts table is created when the warehouse has none: every message then keeps the
    log's values). Returns True when core.sms_messages was rebuilt in full."""
    con.execute(core_table_ddl(RECEIPTS))
    con.execute(LOG_DAYS_SQL)
    full = not (
        _exists(con, STATE_SCHEMA, "overlay_log_days")
        and _exists(con, "core", "sms_messages")
        and _exists(con, "core", "sms_receipt_matches")
    )
    if full:
        for name in (MATCHES, MESSAGES):
            sqlfiles.run(con, name)
    else:
        _update(con)
    con.execute(f"create schema if not exists {STATE_SCHEMA}")
    con.execute(f"create or replace table {STATE} as select * from _ov_log_days")
    for table in ("_ov_log_days", "_ov_old_matches", "_ov_changed", "_ov_ids", "_ov_logs"):
        con.execute(f"drop table if exists {table}")
    con.execute("drop table if exists _ov_matches")
    return full


def _update(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create or replace temp table _ov_old_matches as select * from core.sms_receipt_matches"
    )
    sqlfiles.run(con, MATCHES)
    # matches that appeared, disappeared or changed (either side's message and log row)
    con.execute(
        """create or replace temp table _ov_changed as
        (select * from _ov_old_matches except all select * from core.sms_receipt_matches)
        union all
        (select * from core.sms_receipt_matches except all select * from _ov_old_matches)"""
    )
    # the log rows whose message may change: rows of changed days (new and old copies) and
    # the rows of changed matches; a changed match's message (a send the log does not know)
    # goes with its row
    con.execute(
        f"""create or replace temp table _ov_ids as
        with changed_days as (
            select coalesce(a.eday, b.eday) as eday
            from _ov_log_days as a
            full outer join {STATE} as b
                on b.eday = a.eday
            where a.n is distinct from b.n or a.h is distinct from b.h
        )
        select message_id from core.sms_logs
        where {EPOCH_DAY} in (select eday from changed_days)
        union
        select message_id from core.sms_messages
        where origin = 'log' and {EPOCH_DAY} in (select eday from changed_days)
        union
        select log_message_id from _ov_changed where log_message_id is not null
        union
        select message_id from _ov_changed where message_id is not null"""
    )
    if not con.execute("select count(*) from _ov_ids").fetchone()[0]:
        return
    con.execute(
        """delete from core.sms_messages
        where message_id in (select message_id from _ov_ids)
            or retry_of in (select message_id from _ov_ids)"""
    )
    con.execute(
        """create or replace temp table _ov_logs as
        select * from core.sms_logs semi join _ov_ids using (message_id)"""
    )
    con.execute(
        """create or replace temp table _ov_matches as
        select * from core.sms_receipt_matches
        where log_message_id in (select message_id from _ov_ids)"""
    )
    con.execute(_messages_sql())


def _messages_sql() -> str:
    """The messages file over the changed log rows and their matches, inserting."""
    text = sqlfiles.load(MESSAGES)
    _, found, query = text.partition("create or replace table core.sms_messages as")
    if not found or query.count("from core.sms_receipt_matches") != 1:
        raise RuntimeError(f"{MESSAGES}: unexpected shape for the incremental update")
    query = query.replace("from core.sms_receipt_matches", "from _ov_matches")
    query = query.replace("select * from core.sms_logs", "select * from _ov_logs")
    return "insert into core.sms_messages " + query.strip().rstrip(";")

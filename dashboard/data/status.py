"""Queries of the data status page and the SQL page's schema browser."""

from __future__ import annotations

import pandas as pd

from dashboard.data.connection import query
from dashboard.data.masking import mask_frame


FRESHNESS_SQL = """
select l.source,
       max(l.dt) filter (where l.status = 'loaded') as latest_dt,
       (select as_of from main.meta) - max(l.dt) filter (where l.status = 'loaded')
           as days_behind,
       count(*) as files,
       count(*) filter (where l.status = 'failed') as failed_files,
       sum(l.rows_read) as rows_read,
       sum(l.rows_loaded) as rows_loaded,
       sum(l.rows_quarantined) as rows_quarantined,
       sum(l.rows_superseded) as rows_superseded,
       max(l.loaded_at) as last_loaded_at
from ingest.file_ledger l
group by l.source
order by l.source
"""

LEDGER_SQL = """
select source, dt, path, format, encoding, rows_read, rows_loaded, rows_quarantined,
       rows_superseded, array_to_string(dropped_columns, ', ') as dropped_columns, status,
       error, loaded_at
from ingest.file_ledger
order by dt desc, source, path
limit 500
"""

QUARANTINE_SQL = """
select source, reason_code, count(*) as rows, min(message) as example_message,
       min(dt) as first_dt, max(dt) as last_dt
from ingest.quarantine
group by source, reason_code
order by rows desc, source, reason_code
"""

QUARANTINE_ROWS_SQL = """
select source, dt, path, row_number, reason_code, message, raw_row
from ingest.quarantine
order by dt desc, source, path, row_number
limit 100
"""

SCHEMA_SQL = """
select table_schema, table_name, column_name, data_type
from information_schema.columns
where table_schema in ('main', 'core', 'mart', 'ingest')
order by table_schema, table_name, ordinal_position
"""


def freshness() -> pd.DataFrame:
    return query(FRESHNESS_SQL)


def ledger() -> pd.DataFrame:
    return query(LEDGER_SQL)


def quarantine_summary() -> pd.DataFrame:
    return query(QUARANTINE_SQL)


def quarantine_rows() -> pd.DataFrame:
    return mask_frame(query(QUARANTINE_ROWS_SQL))


def schema() -> pd.DataFrame:
    return query(SCHEMA_SQL)

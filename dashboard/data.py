"""All data access of the dashboard.

Every query runs one aggregating statement with bound parameters on the published
`serve.duckdb`, read-only (through `pipelines.sandbox.connect`, so every connection of the
process has the same locked-down configuration). Results are cached with `st.cache_data`, keyed
on the SQL, the parameters and the published `meta.data_version`: a new publish invalidates
everything.

Connections: the app wraps each script run in `page_run()`. Within it, the first query that
misses the cache opens one read-only connection and every later query of the same run reuses
it; it is closed when the run ends (also on `st.stop()` and reruns). So a page pays for opening
the file once, and the file is still never held between runs: a pipeline run can always
`os.replace` it, and a run that started before a publish reads the old file consistently to its
end. Outside a page run (tests, scripts) each query opens and closes its own connection.

Every page reads small tables only: the metrics and the aggregate marts built for the dashboard
(`AGGREGATE_MARTS`; see docs/metrics.md), never the message-level `mart.sms_message_flags`.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from pipelines.sandbox import SandboxError, connect
from pipelines.settings import paths

# The aggregate marts the pages read instead of the message-level ones (sql/marts/<name>.sql).
AGGREGATE_MARTS = (
    "sms_daily_flags",
    "sms_day_hour",
    "sms_non_permitted",
    "policy_cap_histogram",
    "user_cycle_summary",
    "opt_outs_daily",
)

_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")
PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


@dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date
    band: str | None = None  # 'A'..'E' or None for all
    experiment: str | None = None

    def params(self) -> dict[str, object]:
        return {
            "start": self.start,
            "end": self.end,
            "band": self.band,
            "experiment": self.experiment,
        }


def serve_path() -> Path:
    return paths().serve


def mask_phones(text: object) -> object:
    """Mask any 11-digit mainland mobile number left in a text (upstream already should)."""
    if not isinstance(text, str):
        return text
    return PHONE.sub(r"\1****\2", text)


def mask_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` with phone numbers masked in every text column."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(mask_phones)
    return out


_META: dict[tuple, dict | None] = {}

# DuckDB shares one database instance among the connections of a process to the same path
# while any of them is open: a connection opened just after a publish still reads the old file
# if another one (another session's page run) holds it. So: count the open connections, cache
# a meta read only if none was open around it, and cache a query result only under the version
# its connection actually read.
_OPEN_LOCK = threading.Lock()
_OPEN = [0, 0]  # connections open now, connections opened ever


def _open(db: str | Path) -> duckdb.DuckDBPyConnection:
    con = connect(db)
    with _OPEN_LOCK:
        _OPEN[0] += 1
        _OPEN[1] += 1
    return con


def _close(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.close()
    finally:
        with _OPEN_LOCK:
            _OPEN[0] -= 1


def meta() -> dict | None:
    """The published `main.meta` row, or None if nothing is published.

    Read again only when the file changes (a publish `os.replace`s it: new inode and mtime), so
    a page run costs one `stat`, not one connection, to learn the data version.
    """
    path = serve_path()
    try:
        st_ = path.stat()
    except OSError:
        return None
    key = (str(path), st_.st_ino, st_.st_mtime_ns, st_.st_size)
    if key in _META:
        return _META[key]
    with _OPEN_LOCK:
        before = tuple(_OPEN)
    value = _read_meta(path)
    with _OPEN_LOCK:
        after = (_OPEN[0], _OPEN[1] - 1)  # less the meta read's own connection
    if before[0] == 0 and after == before:  # read from the file itself, not a shared instance
        _META.clear()
        _META[key] = value
    return value


def _read_meta(path: Path) -> dict | None:
    try:
        con = _open(path)
    except SandboxError:
        return None
    try:
        cur = con.execute("select * from main.meta")
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))
    except duckdb.Error:
        return None
    finally:
        _close(con)


def query(sql: str, params: dict[str, object] | None = None) -> pd.DataFrame:
    """Run one aggregating query (cached per published data version)."""
    m = meta()
    version = m["data_version"] if m else None
    used = set(_PARAM.findall(sql))
    bound = {k: v for k, v in (params or {}).items() if k in used}
    try:
        return _cached(sql, bound, version, str(serve_path()))
    except _Uncached as read:
        return read.df


class _Uncached(Exception):  # noqa: N818 - not an error: a result not to cache
    """A result read from another version than the cache key names: returned, not cached."""

    def __init__(self, df: pd.DataFrame) -> None:
        super().__init__("read from another published version")
        self.df = df


@st.cache_data(ttl=3600, max_entries=512, show_spinner=False)
def _cached(sql: str, params: dict[str, object], version: str | None, db: str) -> pd.DataFrame:
    con, owned, read_version = _connection(db)
    try:
        df = con.execute(sql, params).df()
    finally:
        if owned:
            _close(con)
    if read_version != version:
        raise _Uncached(df)
    return df


class _Run(threading.local):
    """The connection of the current script run (Streamlit runs each session's script in its
    own thread, so this is per run): None until a query needs it."""

    active = False
    con: duckdb.DuckDBPyConnection | None = None
    db: str | None = None
    version: str | None = None


_RUN = _Run()


@contextmanager
def page_run() -> Iterator[None]:
    """Share one read-only connection among the queries of a script run; close it at the end."""
    if _RUN.active:  # nested: the outer run owns the connection
        yield
        return
    _RUN.active = True
    try:
        yield
    finally:
        con, _RUN.con, _RUN.db, _RUN.version = _RUN.con, None, None, None
        _RUN.active = False
        if con is not None:
            _close(con)


def _data_version(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        row = con.execute("select data_version from main.meta").fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


def _connection(db: str) -> tuple[duckdb.DuckDBPyConnection, bool, str | None]:
    """(connection, whether the caller must close it, the data version it reads).

    In a page run: the run's connection, opened on first use and kept to the end of the run, so
    the run reads one published file throughout (also when a publish happens meanwhile)."""
    if not _RUN.active:
        con = _open(db)
        return con, True, _data_version(con)
    if _RUN.con is not None and _RUN.db != db:
        _close(_RUN.con)
        _RUN.con = None
    if _RUN.con is None:
        _RUN.con = _open(db)
        _RUN.db = db
        _RUN.version = _data_version(_RUN.con)
    return _RUN.con, False, _RUN.version


# ---------------------------------------------------------------------------------------------
# Filter options and scope
# ---------------------------------------------------------------------------------------------

# A user is in scope when the band / experiment filters allow them (unknown users: only when
# no band or experiment is chosen).
USER_IN_SCOPE = """(
    ($band is null or {col} in (select user_id from core.users where score_band = $band))
    and ($experiment is null or {col} in (
        select user_id from core.experiment_assignments where experiment_id = $experiment))
)"""


def _scoped(sql: str, col: str = "user_id") -> str:
    return sql.replace("{user_in_scope}", USER_IN_SCOPE.replace("{col}", col))


# The same scope on the aggregate marts, which carry the user's score band and one row per
# experiment scope ('*' = every user, else an experiment the user is assigned to).
IN_SCOPE = "(experiment_id = coalesce($experiment, '*') and ($band is null or score_band = $band))"


def options() -> dict[str, object]:
    bands = query("select distinct score_band from core.users order by 1")["score_band"].tolist()
    exps = query(
        "select experiment_id from mart.experiment_effects union "
        "select experiment_id from core.experiment_assignments order by 1"
    )["experiment_id"].tolist()
    bounds = query(
        "select min(period) as first, (select as_of from main.meta) as as_of "
        "from mart.metrics where grain = 'month'"
    ).iloc[0]
    return {
        "bands": [b for b in bands if b],
        "experiments": [e for e in exps if e],
        "first": _date(bounds["first"]),
        "as_of": _date(bounds["as_of"]),
    }


def _date(v: object) -> dt.date | None:
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NaT:
        return None
    return pd.Timestamp(v).date()


# ---------------------------------------------------------------------------------------------
# mart.metrics
# ---------------------------------------------------------------------------------------------

METRICS_SQL = """
select metric, grain, period, segment, value, numerator, denominator
from mart.metrics
where list_contains($metrics, metric)
  and grain = $grain
  and period between $start and $end
  and (segment = 'all' or segment = $segment or list_contains($segments, segment))
order by metric, period, segment
"""

ACTIVE_ACCOUNTS_SQL = """
select 'active_accounts' as metric, grain, period, segment, denominator as value,
       denominator as numerator, null::double as denominator
from mart.metrics
where metric = 'sms_per_active_account' and grain = 'month' and segment = 'all'
  and period between $start and $end
order by period
"""


def metrics(
    names: list[str],
    f: Filters,
    grain: str = "month",
    segments: list[str] | None = None,
    lookback_months: int = 0,
) -> pd.DataFrame:
    """Rows of mart.metrics: segment 'all', the band's segment, and any extra `segments`."""
    start = _month_start(f.start) if grain == "month" else f.start
    for _ in range(lookback_months):
        start = _month_start(start - dt.timedelta(days=1))
    params = {
        "metrics": names,
        "grain": grain,
        "start": start,
        "end": f.end,
        "segment": f"score_band={f.band}" if f.band else "all",
        "segments": segments or [],
    }
    df = query(METRICS_SQL, params)
    if "active_accounts" in names:
        extra = query(ACTIVE_ACCOUNTS_SQL, params)
        df = pd.concat([df, extra], ignore_index=True) if len(df) else extra
    return df


def for_band(df: pd.DataFrame, band: str | None) -> pd.DataFrame:
    """Per metric: the band's rows where the metric is published for the band, else 'all'.

    Never mixes the two within one metric, so a trend line is one population throughout.
    """
    if df.empty:
        return df
    seg = f"score_band={band}" if band else "all"
    banded = set(df.loc[df["segment"] == seg, "metric"])
    keep = (df["segment"] == seg) | ((df["segment"] == "all") & ~df["metric"].isin(banded))
    return df[keep].sort_values(["metric", "period"]).reset_index(drop=True)


def _month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


# ---------------------------------------------------------------------------------------------
# Messaging trade-offs
# ---------------------------------------------------------------------------------------------

CURVE_SQL = """
select score_band, reminders_bucket, outcome, n, rate, ci_low, ci_high
from mart.volume_outcome_curve
where $band is null or score_band in ('all', $band)
order by outcome, score_band, reminders_bucket
"""


def curve(f: Filters) -> pd.DataFrame:
    return query(CURVE_SQL, f.params())


EFFECTS_SQL = """
select experiment_id, arm, outcome, n_arm, rate_arm, n_control, rate_control, diff,
       ci_low, ci_high, p_value, avg_total_sms_arm, avg_total_sms_control
from mart.experiment_effects
where $experiment is null or experiment_id = $experiment
order by experiment_id, arm, outcome
"""


def experiment_effects(f: Filters) -> pd.DataFrame:
    return query(EFFECTS_SQL, f.params())


FRONTIER_SQL = """
with cycles as (
    select
        case when $by_arm then coalesce(arm, '(none)')
             when pre_due_reminders >= 5 then '5+'
             else pre_due_reminders::varchar end as grp,
        cycles, total_sms_n, total_sms, on_time_n, on_time_sum, complained_n, complained_sum,
        opted_out_n, opted_out_sum
    from mart.user_cycle_summary
    where due_date between $start and $end
      and ($band is null or score_band = $band)
      and ($experiment is null or experiment_id = $experiment)
)
select grp, sum(cycles)::bigint as cycles,
       sum(total_sms) / nullif(sum(total_sms_n), 0) as sms_per_cycle,
       sum(on_time_sum) / nullif(sum(on_time_n), 0) as on_time_rate,
       sum(complained_sum) / nullif(sum(complained_n), 0) as complaint_rate,
       sum(opted_out_sum) / nullif(sum(opted_out_n), 0) as opt_out_rate
from cycles
group by grp
order by grp
"""


def frontier(f: Filters) -> pd.DataFrame:
    return query(FRONTIER_SQL, {**f.params(), "by_arm": f.experiment is not None})


# ---------------------------------------------------------------------------------------------
# Repayment, conversion, complaints, SMS health
# ---------------------------------------------------------------------------------------------

VINTAGE_SQL = """
select cohort, months_on_book, score_band, bills, dpd30_bills, dpd30_rate
from mart.vintage_curve
where score_band = coalesce($band, 'all')
  and cohort between strftime($start, '%Y-%m') and strftime($end, '%Y-%m')
order by cohort, months_on_book
"""


def vintage(f: Filters) -> pd.DataFrame:
    return query(VINTAGE_SQL, f.params())


RETENTION_SQL = """
select strftime(cohort_month, '%Y-%m') as cohort, months_since, cohort_users, active_users,
       retention
from mart.cohort_retention
where cohort_month between date_trunc('month', $start::date) and $end
order by cohort_month, months_since
"""


def retention(f: Filters) -> pd.DataFrame:
    return query(RETENTION_SQL, f.params())


COMPLAINTS_MONTHLY_SQL = """
select date_trunc('month', local_date)::date as month, category, source,
       count(*) as complaints
from mart.complaints_classified
where local_date between $start and $end and {user_in_scope}
group by all
order by all
"""


def complaints_monthly(f: Filters) -> pd.DataFrame:
    return query(_scoped(COMPLAINTS_MONTHLY_SQL), f.params())


RESOLUTION_SQL = """
select source, count(*) as complaints,
       count(resolved_at) as resolved,
       median(resolution_hours) as median_hours,
       quantile_cont(resolution_hours, 0.9) as p90_hours
from mart.complaints_classified
where local_date between $start and $end and {user_in_scope}
group by source
order by source
"""


def resolution(f: Filters) -> pd.DataFrame:
    return query(_scoped(RESOLUTION_SQL), f.params())


NARRATIVES_SQL = """
select strftime(timezone('Asia/Shanghai', received_at), '%Y-%m-%d %H:%M') as received,
       source, category, status, narrative
from mart.complaints_classified
where local_date between $start and $end and {user_in_scope}
order by received_at desc, complaint_id
limit $limit
"""


def narratives(f: Filters, limit: int = 20) -> pd.DataFrame:
    df = query(_scoped(NARRATIVES_SQL), {**f.params(), "limit": limit})
    return mask_frame(df)


FLAGS_DAILY_SQL = """
select local_date,
       sum(messages)::bigint as messages,
       coalesce(sum(messages) filter (where is_duplicate), 0)::bigint as is_duplicate,
       coalesce(sum(messages) filter (where is_quiet_hours), 0)::bigint as is_quiet_hours,
       coalesce(sum(messages) filter (where is_after_opt_out), 0)::bigint as is_after_opt_out,
       coalesce(sum(messages) filter (where is_over_daily_cap), 0)::bigint as is_over_daily_cap,
       coalesce(sum(messages) filter (where is_marketing_in_service), 0)::bigint
           as is_marketing_in_service,
       coalesce(sum(messages) filter (where is_marketing_without_consent), 0)::bigint
           as is_marketing_without_consent
from mart.sms_daily_flags
where local_date between $start and $end and {in_scope}
group by local_date
order by local_date
""".replace("{in_scope}", IN_SCOPE)


def flags_daily(f: Filters) -> pd.DataFrame:
    return query(FLAGS_DAILY_SQL, f.params())


HOUR_WEEKDAY_SQL = """
select isodow(local_date) as local_weekday, local_hour, sum(messages)::bigint as messages
from mart.sms_day_hour
where local_date between $start and $end and {in_scope}
group by all
order by all
""".replace("{in_scope}", IN_SCOPE)


def hour_weekday(f: Filters) -> pd.DataFrame:
    return query(HOUR_WEEKDAY_SQL, f.params())


INCIDENTS_SQL = """
select incident_id, started_at, ended_at, messages, duplicate_messages, duplicate_rate, users,
       array_to_string(templates, ', ') as templates
from mart.duplicate_incidents
where cast(timezone('Asia/Shanghai', started_at) as date) between $start and $end
order by started_at
"""


def incidents(f: Filters) -> pd.DataFrame:
    return query(INCIDENTS_SQL, f.params())


TEMPLATES_SQL = """
select template_code, any_value(purpose) as purpose, sum(messages)::bigint as messages,
       coalesce(sum(messages) filter (where is_duplicate or is_quiet_hours or is_after_opt_out
                                      or is_over_daily_cap or is_marketing_in_service
                                      or is_marketing_without_consent), 0)::bigint as flagged,
       flagged / sum(messages) as flagged_share
from mart.sms_daily_flags
where local_date between $start and $end and {in_scope}
group by template_code
order by flagged desc, flagged_share desc, template_code
limit 10
""".replace("{in_scope}", IN_SCOPE)


def worst_templates(f: Filters) -> pd.DataFrame:
    return query(TEMPLATES_SQL, f.params())


# The latest 200 first, then formatted (formatting every row in scope costs more than the rest).
NON_PERMITTED_SQL = """
with latest as (
    select sent_at, message_id, user_id, template_code, is_after_opt_out,
           is_marketing_without_consent
    from mart.sms_non_permitted
    where local_date between $start and $end and {in_scope}
    order by sent_at desc, message_id
    limit 200
)
select strftime(timezone('Asia/Shanghai', sent_at), '%Y-%m-%d %H:%M') as sent,
       message_id, user_id, template_code,
       case when is_after_opt_out and is_marketing_without_consent then 'opt_out+no_consent'
            when is_after_opt_out then 'after_opt_out' else 'no_consent' end as reason
from latest
order by sent_at desc, message_id
""".replace("{in_scope}", IN_SCOPE)


def non_permitted_marketing(f: Filters) -> pd.DataFrame:
    return query(NON_PERMITTED_SQL, f.params())


# ---------------------------------------------------------------------------------------------
# Data status and SQL page helpers
# ---------------------------------------------------------------------------------------------

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

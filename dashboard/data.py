"""All data access of the dashboard.

Every query opens its own read-only connection to the published `serve.duckdb` (through
`pipelines.sandbox.connect`, so every connection of the process has the same locked-down
configuration), runs one aggregating statement with bound parameters, and closes the
connection. Results are cached with `st.cache_data`, keyed on the SQL, the parameters and the
published `meta.data_version`: a new publish invalidates everything, and the file is never held
open between queries, so a pipeline run can always replace it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from dashboard.policy import RULES, Baseline, Counts, Curve, Policy
from pipelines.sandbox import SandboxError, connect
from pipelines.settings import paths

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
    if key not in _META:
        _META.clear()
        _META[key] = _read_meta(path)
    return _META[key]


def _read_meta(path: Path) -> dict | None:
    try:
        con = connect(path)
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
        con.close()


def query(sql: str, params: dict[str, object] | None = None) -> pd.DataFrame:
    """Run one aggregating query (cached per published data version)."""
    m = meta()
    version = m["data_version"] if m else None
    used = set(_PARAM.findall(sql))
    bound = {k: v for k, v in (params or {}).items() if k in used}
    return _cached(sql, bound, version, str(serve_path()))


@st.cache_data(ttl=3600, max_entries=512, show_spinner=False)
def _cached(sql: str, params: dict[str, object], version: str | None, db: str) -> pd.DataFrame:
    con = connect(db)
    try:
        return con.execute(sql, params).df()
    finally:
        con.close()


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


def curve_map(f: Filters) -> Curve:
    df = query(
        "select score_band, reminders_bucket, outcome, rate from mart.volume_outcome_curve "
        "where rate is not null"
    )
    return {(r.score_band, r.reminders_bucket, r.outcome): float(r.rate) for r in df.itertuples()}


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
        total_sms, on_time, complained, opted_out
    from mart.user_cycle
    where due_date between $start and $end
      and ($band is null or score_band = $band)
      and ($experiment is null or experiment_id = $experiment)
)
select grp, count(*) as cycles,
       avg(total_sms) as sms_per_cycle,
       avg(on_time::int) as on_time_rate,
       avg(complained::int) as complaint_rate,
       avg(opted_out::int) as opt_out_rate
from cycles
group by grp
order by grp
"""


def frontier(f: Filters) -> pd.DataFrame:
    return query(FRONTIER_SQL, {**f.params(), "by_arm": f.experiment is not None})


# One row: messages in scope, what each rule would remove alone, and the combined policy with
# every message removed at most once (first rule in RULES order).
POLICY_COUNTS_SQL = """
with scope as (
    select f.message_id, f.user_id, f.purpose, f.bill_id, f.sent_at, f.local_date,
           f.is_duplicate, f.is_quiet_hours, f.is_after_opt_out, f.is_over_daily_cap,
           f.is_marketing_in_service, f.is_marketing_without_consent,
           coalesce(f.purpose in ('bill_notice', 'due_reminder') and f.local_date <= uc.due_date,
                    false) as is_pre_due
    from mart.sms_message_flags f
    left join mart.user_cycle uc on uc.bill_id = f.bill_id
    where f.purpose <> 'verification'
      and f.local_date between $start and $end
      and {user_in_scope}
),
filtered as (
    select *,
        case when $compliance and (is_after_opt_out or is_marketing_without_consent)
                 then 'compliance'
             when $duplicates and is_duplicate then 'duplicates'
             when $quiet and is_quiet_hours then 'quiet_hours'
        end as by_filter
    from scope
),
-- Only bills with more pre-due reminders than the cap, and user-days with more messages than
-- the daily cap, need ranking (a null cap selects nothing). Survivors of the filters are a
-- subset, so the same bills / user-days cover the ranking after the filters too.
bills_over as (
    select bill_id from scope where is_pre_due
    group by bill_id having count(*) > $max_reminders
),
days_over as (
    select user_id, local_date from scope
    group by user_id, local_date having count(*) > $daily_cap
),
reminders_alone as (
    select message_id,
           row_number() over (partition by bill_id order by sent_at, message_id) as rank_alone
    from scope
    where is_pre_due and bill_id in (select bill_id from bills_over)
),
reminders_kept as (
    select message_id,
           row_number() over (partition by bill_id order by sent_at, message_id) as rank_kept
    from filtered
    where by_filter is null and is_pre_due and bill_id in (select bill_id from bills_over)
),
after_reminder_cap as (
    select f.*,
        coalesce(f.by_filter,
                 case when r.rank_kept > $max_reminders then 'reminder_cap' end) as by_rule
    from filtered f
    left join reminders_kept r using (message_id)
),
days_alone as (
    select s.message_id,
           row_number() over (partition by s.user_id, s.local_date
                              order by s.sent_at, s.message_id) as day_rank_alone
    from scope s
    semi join days_over d on d.user_id = s.user_id and d.local_date = s.local_date
),
days_kept as (
    select a.message_id,
           row_number() over (partition by a.user_id, a.local_date
                              order by a.sent_at, a.message_id) as day_rank_kept
    from after_reminder_cap a
    semi join days_over d on d.user_id = a.user_id and d.local_date = a.local_date
    where a.by_rule is null
),
final as (
    select a.*, ra.rank_alone, da.day_rank_alone,
        coalesce(a.by_rule,
                 case when dk.day_rank_kept > $daily_cap then 'daily_cap' end) as removed_by
    from after_reminder_cap a
    left join days_kept dk using (message_id)
    left join reminders_alone ra using (message_id)
    left join days_alone da using (message_id)
)
select
    count(*) as messages,
    count(*) filter (where is_after_opt_out or is_marketing_without_consent) as alone_compliance,
    count(*) filter (where is_duplicate) as alone_duplicates,
    count(*) filter (where is_quiet_hours) as alone_quiet_hours,
    count(*) filter (where rank_alone > $max_reminders) as alone_reminder_cap,
    count(*) filter (where day_rank_alone > $daily_cap) as alone_daily_cap,
    count(*) filter (where is_marketing_in_service) as alone_promo,
    count(*) filter (where removed_by = 'compliance') as removed_compliance,
    count(*) filter (where removed_by = 'duplicates') as removed_duplicates,
    count(*) filter (where removed_by = 'quiet_hours') as removed_quiet_hours,
    count(*) filter (where removed_by = 'reminder_cap') as removed_reminder_cap,
    count(*) filter (where removed_by = 'daily_cap') as removed_daily_cap,
    count(*) filter (where removed_by is null and $promo and is_marketing_in_service)
        as rewritten_promo,
    count(*) filter (where is_duplicate) as flagged_duplicates,
    count(*) filter (where is_quiet_hours) as flagged_quiet_hours,
    count(*) filter (where is_over_daily_cap) as flagged_daily_cap,
    count(*) filter (where purpose = 'marketing' or is_marketing_in_service) as promotional
from final
"""


def policy_counts(policy: Policy, f: Filters) -> tuple[Counts, dict[str, int]]:
    """Exact message counts of a policy in scope, and the flagged-message denominators."""
    params = {**f.params(), **policy.params()}
    row = query(_scoped(POLICY_COUNTS_SQL, "f.user_id"), params).iloc[0]
    alone = {r: int(row[f"alone_{r}"]) for r in (*RULES, "promo")}
    counts = Counts(
        messages=int(row["messages"]),
        removed={r: int(row[f"removed_{r}"]) for r in RULES},
        alone=alone,
        rewritten=int(row["rewritten_promo"]) if policy.no_promo_in_reminders else 0,
    )
    flagged = {
        "duplicates": int(row["flagged_duplicates"]),
        "quiet_hours": int(row["flagged_quiet_hours"]),
        "daily_cap": int(row["flagged_daily_cap"]),
        "compliance": int(row["promotional"]),
        "promo": int(row["promotional"]),
    }
    return counts, flagged


BASELINE_SQL = """
select
    (select count(*) from mart.complaints_classified
      where local_date between $start and $end and {user_in_scope}) as complaints,
    (select count(*) from core.opt_outs
      where cast(timezone('Asia/Shanghai', received_at) as date) between $start and $end
        and {user_in_scope}) as opt_outs,
    (select count(on_time) from mart.user_cycle
      where due_date between $start and $end
        and ($band is null or score_band = $band)
        and ($experiment is null or experiment_id = $experiment)) as bills,
    (select count(*) filter (where on_time) from mart.user_cycle
      where due_date between $start and $end
        and ($band is null or score_band = $band)
        and ($experiment is null or experiment_id = $experiment)) as on_time
"""

COMPLAINTS_BY_CATEGORY_SQL = """
select category, count(*) as complaints
from mart.complaints_classified
where local_date between $start and $end and {user_in_scope}
group by category
order by category
"""

BILLS_BY_REMINDERS_SQL = """
select score_band, pre_due_reminders, count(*) as bills
from mart.user_cycle
where due_date between $start and $end
  and ($band is null or score_band = $band)
  and ($experiment is null or experiment_id = $experiment)
group by all
order by all
"""


def baseline(f: Filters, messages: int, flagged: dict[str, int]) -> Baseline:
    row = query(_scoped(BASELINE_SQL), f.params()).iloc[0]
    cats = query(_scoped(COMPLAINTS_BY_CATEGORY_SQL), f.params())
    return Baseline(
        messages=messages,
        opt_outs=int(row["opt_outs"]),
        bills=int(row["bills"]),
        on_time=int(row["on_time"]),
        complaints_by_category={r.category: int(r.complaints) for r in cats.itertuples()},
        flagged=flagged,
    )


def bills_by_reminders(f: Filters) -> list[tuple[str, int, int]]:
    df = query(BILLS_BY_REMINDERS_SQL, f.params())
    return [(r.score_band, int(r.pre_due_reminders), int(r.bills)) for r in df.itertuples()]


ARMS_SQL = """
select experiment_id, arm, count(*) as cycles,
       avg(pre_due_reminders) as reminders,
       avg(on_time::int) as on_time,
       avg(complained::int) as complained,
       avg(opted_out::int) as opted_out
from mart.user_cycle
where experiment_id is not null and arm is not null
  and due_date between $start and $end
  and ($experiment is null or experiment_id = $experiment)
group by experiment_id, arm
order by experiment_id, reminders
"""


def experiment_arms(f: Filters) -> tuple[str | None, list[dict[str, float]]]:
    """The arms of the experiment whose arms differ most in pre-due reminders (or the chosen
    one) as dicts: arm, cycles, reminders (mean) and the outcome rates. All score bands."""
    df = query(ARMS_SQL, f.params())
    if df.empty:
        return None, []
    spread = df.groupby("experiment_id")["reminders"].agg(lambda r: r.max() - r.min())
    exp = str(spread.sort_values(ascending=False).index[0])
    rows = df[df["experiment_id"] == exp].to_dict("records")
    return exp, [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in rows]


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
       count(*) as messages,
       count(*) filter (where is_duplicate) as is_duplicate,
       count(*) filter (where is_quiet_hours) as is_quiet_hours,
       count(*) filter (where is_after_opt_out) as is_after_opt_out,
       count(*) filter (where is_over_daily_cap) as is_over_daily_cap,
       count(*) filter (where is_marketing_in_service) as is_marketing_in_service,
       count(*) filter (where is_marketing_without_consent) as is_marketing_without_consent
from mart.sms_message_flags
where purpose <> 'verification' and local_date between $start and $end and {user_in_scope}
group by local_date
order by local_date
"""


def flags_daily(f: Filters) -> pd.DataFrame:
    return query(_scoped(FLAGS_DAILY_SQL), f.params())


HOUR_WEEKDAY_SQL = """
select isodow(local_date) as local_weekday, local_hour, count(*) as messages
from mart.sms_message_flags
where purpose <> 'verification' and local_date between $start and $end and {user_in_scope}
group by all
order by all
"""


def hour_weekday(f: Filters) -> pd.DataFrame:
    return query(_scoped(HOUR_WEEKDAY_SQL), f.params())


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
select template_code, any_value(purpose) as purpose, count(*) as messages,
       count(*) filter (where is_duplicate or is_quiet_hours or is_after_opt_out
                        or is_over_daily_cap or is_marketing_in_service
                        or is_marketing_without_consent) as flagged,
       flagged / count(*) as flagged_share
from mart.sms_message_flags
where purpose <> 'verification' and local_date between $start and $end and {user_in_scope}
group by template_code
order by flagged desc, flagged_share desc, template_code
limit 10
"""


def worst_templates(f: Filters) -> pd.DataFrame:
    return query(_scoped(TEMPLATES_SQL), f.params())


NON_PERMITTED_SQL = """
select strftime(timezone('Asia/Shanghai', sent_at), '%Y-%m-%d %H:%M') as sent,
       message_id, user_id, template_code,
       case when is_after_opt_out and is_marketing_without_consent then 'opt_out+no_consent'
            when is_after_opt_out then 'after_opt_out' else 'no_consent' end as reason
from mart.sms_message_flags
where (is_after_opt_out or is_marketing_without_consent)
  and local_date between $start and $end and {user_in_scope}
order by sent_at desc, message_id
limit 200
"""


def non_permitted_marketing(f: Filters) -> pd.DataFrame:
    return query(_scoped(NON_PERMITTED_SQL), f.params())


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

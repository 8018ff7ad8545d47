"""Rows of `mart.metrics` for the pages (the band's segment where it is published)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dashboard.data.connection import query
from dashboard.data.scope import Filters, month_start

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
    start = month_start(f.start) if grain == "month" else f.start
    for _ in range(lookback_months):
        start = month_start(start - dt.timedelta(days=1))
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


# The metrics published per score band (metrics.md): with a band chosen they show that band's
# rows only (none: no data for the band), never the rows of all accounts.
BANDED = frozenset(
    {"on_time_rate", "dpd7_rate", "dpd30_rate", "dpd90_rate", "fpd30_rate"}
)


def for_band(df: pd.DataFrame, band: str | None) -> pd.DataFrame:
    """Per metric: the band's rows where the metric is published per band, else 'all'.

    Never mixes the two within one metric, so a trend line is one population throughout; a
    metric published per band shows no rows rather than all accounts' when the band has none.
    """
    if df.empty:
        return df
    seg = f"score_band={band}" if band else "all"
    banded = set(df.loc[df["segment"] == seg, "metric"]) | (set(BANDED) if band else set())
    keep = (df["segment"] == seg) | ((df["segment"] == "all") & ~df["metric"].isin(banded))
    return df[keep].sort_values(["metric", "period"]).reset_index(drop=True)

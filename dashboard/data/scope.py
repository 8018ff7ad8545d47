"""The sidebar's filters and how they scope a query, the filter options, the settings the
pages read, and the periods a headline may use (complete months)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import pandas as pd

from dashboard.data.connection import meta, query

# A rate whose denominator is below this is shown as "too few" (NUDGESCOPE_MIN_DENOMINATOR).
DEFAULT_MIN_DENOMINATOR = 30
# What one billed SMS segment costs, in yuan (NUDGESCOPE_SMS_PRICE_PER_SEGMENT).
DEFAULT_PRICE_PER_SEGMENT = 0.04


# A source whose latest loaded partition is more than LATE days behind as_of is late, more
# than STALE days stale (NUDGESCOPE_FRESHNESS_LATE_DAYS / NUDGESCOPE_FRESHNESS_STALE_DAYS).
DEFAULT_FRESHNESS_DAYS = (1, 3)


def freshness_days() -> tuple[int, int]:
    late = int(os.environ.get("NUDGESCOPE_FRESHNESS_LATE_DAYS", DEFAULT_FRESHNESS_DAYS[0]))
    stale = int(os.environ.get("NUDGESCOPE_FRESHNESS_STALE_DAYS", DEFAULT_FRESHNESS_DAYS[1]))
    return late, max(late, stale)


def min_denominator() -> int:
    return int(os.environ.get("NUDGESCOPE_MIN_DENOMINATOR", DEFAULT_MIN_DENOMINATOR))


def price_per_segment() -> float:
    return float(os.environ.get("NUDGESCOPE_SMS_PRICE_PER_SEGMENT", DEFAULT_PRICE_PER_SEGMENT))


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


# A user is in scope when the band / experiment filters allow them (unknown users: only when
# no band or experiment is chosen).
USER_IN_SCOPE = """(
    ($band is null or {col} in (select user_id from core.users where score_band = $band))
    and ($experiment is null or {col} in (
        select user_id from core.experiment_assignments where experiment_id = $experiment))
)"""


def scoped(sql: str, col: str = "user_id") -> str:
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
        "first": to_date(bounds["first"]),
        "as_of": to_date(bounds["as_of"]),
    }


def to_date(v: object) -> dt.date | None:
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NaT:
        return None
    return pd.Timestamp(v).date()


def month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def month_end(d: dt.date) -> dt.date:
    return (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def published_as_of(default: dt.date | None = None) -> dt.date | None:
    """The published data's `as_of` (its last loaded day), or `default` when nothing is
    published or the row has none."""
    value = (meta() or {}).get("as_of")
    return default if value is None or pd.isna(value) else pd.Timestamp(value).date()


def latest_complete_month(end: dt.date, as_of: dt.date) -> dt.date:
    """The first day of the latest month that is complete (its last day <= as_of) and does
    not end after `end`: the headline period by default."""
    last = min(end, as_of)
    if month_end(last) <= as_of and month_end(last) <= end:
        return month_start(last)
    return month_start(month_start(last) - dt.timedelta(days=1))


@dataclass(frozen=True)
class PartialMonth:
    """The month after the latest complete one, as far as a range reaches into it."""

    start: dt.date  # its first day
    days: int  # its days up to the range's end or as_of, whichever is first
    total: int  # its days in all


def partial_month(end: dt.date, as_of: dt.date) -> PartialMonth | None:
    """The month still running (or cut by the range's `end`) after `latest_complete_month`, or
    None when the range stops at a month's end. A monthly figure of it holds only those days:
    a page leaves it out of its monthly trends and says so."""
    complete_end = month_end(latest_complete_month(end, as_of))
    last = min(end, as_of)
    if last <= complete_end:
        return None
    start = complete_end + dt.timedelta(days=1)
    return PartialMonth(start, (last - start).days + 1, (month_end(start) - start).days + 1)

"""How the SQL sandbox's results read, for `nudgescope sql` and the dashboard's SQL page.

- instants (TIMESTAMP WITH TIME ZONE) in Asia/Shanghai with the offset shown
  (2026-04-01 02:05:00+08:00), whatever the session's time zone;
- integral floats as integers (a count that DuckDB returns as DOUBLE prints as 12078, not
  12078.0); other floats at full precision;
- dates as ISO dates, lists and structs as JSON.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any
from zoneinfo import ZoneInfo

from pipelines.settings import TIMEZONE

ZONE = ZoneInfo(TIMEZONE)
_MAX_EXACT = 2**53


def local(v: dt.datetime) -> dt.datetime:
    """An aware instant in Asia/Shanghai; a naive timestamp as it is (it has no zone)."""
    return v.astimezone(ZONE) if v.tzinfo is not None else v


def value(v: Any) -> Any:
    """A result value for JSON: numbers as numbers (integral floats as int), times as text."""
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return int(v) if v.is_integer() and abs(v) < _MAX_EXACT else v
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, dt.datetime):
        return local(v).isoformat(sep=" ")
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return str(v)
    if isinstance(v, list | tuple):
        return [value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): value(x) for k, x in v.items()}
    return str(v)


def text(v: Any) -> str:
    """A result value as text (table cells, CSV): empty for NULL, full precision."""
    if v is None:
        return ""
    out = value(v)
    if isinstance(out, list | dict):
        return json.dumps(out, ensure_ascii=False)
    return str(out)


def zone_note(types: list[str]) -> str | None:
    """A note when a column holds instants: they are shown in Asia/Shanghai."""
    if any("WITH TIME ZONE" in t.upper() or t.upper() == "TIMESTAMPTZ" for t in types):
        return f"times with a zone are shown in {TIMEZONE} (UTC+8)"
    return None

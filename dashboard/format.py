"""How values look, in one place: one colour per code, numbers, rates, dates and times.

Every page formats through these, so a code has the same colour and a number the same shape
everywhere, in both languages:

- colours: `color(kind, code)`, `color_map(kind, codes)` (for Plotly's `color_discrete_map`
  on a column of labels), `metric_color(metric)`;
- numbers: `num`, `pct`, `pp` (percentage points), `yuan`, `signed`, `rate` (a rate with
  "too few" below the minimum denominator);
- time: `date`, `month`, `local_time` (Asia/Shanghai, with the zone named), `tz_local`
  (a column of instants as Asia/Shanghai wall time), `day_tick`, `month_tick` (Plotly axis
  tick formats for the language).
"""

from __future__ import annotations

import zlib

import pandas as pd

from dashboard.i18n import code, codes, lang, t
from pipelines.settings import TIMEZONE

# Twelve hues that stay apart from each other (Tableau 10 + two), in the order the codes of a
# kind take them: the first code of a kind is always blue, the second orange, ...
PALETTE = (
    "#4e79a7",  # blue
    "#f28e2b",  # orange
    "#59a14f",  # green
    "#e15759",  # red
    "#76b7b2",  # teal
    "#b07aa1",  # purple
    "#edc948",  # yellow
    "#9c755f",  # brown
    "#ff9da7",  # pink
    "#bab0ac",  # grey
    "#1f3a93",  # navy
    "#8cd17d",  # light green
)

# Metrics take a colour each the same way (a line of on-time rate is blue on every page).
METRICS = (
    "on_time_rate",
    "dpd7_rate",
    "dpd30_rate",
    "dpd90_rate",
    "fpd30_rate",
    "cure_rate_30",
    "dpd30_balance_ratio",
    "sms_per_active_account",
    "complaints_per_10k_active",
    "opt_outs",
    "bnpl_active_users",
    "bnpl_orders",
    "bnpl_take_rate",
    "marketing_sms_conversion_72h",
    "bnpl_repeat_rate",
    "dau_mau_ratio",
    "sms_complaints_per_100k_sms",
    "opt_outs_per_1k_marketing_sms",
    "complaint_resolution_hours_p50",
    "sms_delivery_rate",
)


def color(kind: str, value: object) -> str:
    """The colour of a code: by its place in its kind's table, else by a hash of it."""
    known = codes(kind) if kind != "metric" else list(METRICS)
    text = str(value)
    if text in known:
        return PALETTE[known.index(text) % len(PALETTE)]
    return PALETTE[zlib.crc32(text.encode()) % len(PALETTE)]


def metric_color(metric: str) -> str:
    return color("metric", metric)


def color_map(kind: str, values) -> dict[str, str]:
    """{label: colour} for the codes `values` of a kind: Plotly's color_discrete_map for a
    column of labels made with `code(kind, ...)` (or `t('m_' + metric)` for kind "metric")."""
    out = {}
    for v in values:
        label = t(f"m_{v}") if kind == "metric" else code(kind, v)
        out[label] = color(kind, v)
    return out


MISSING = "—"  # how every page shows a value that is not there


def is_missing(v: object) -> bool:
    """None, NaN, NaT or NA."""
    return v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NaT or v is pd.NA


def num(v: object, digits: int = 0) -> str:
    """12,345 / 17.9 — thousands separated, `digits` decimals."""
    return MISSING if is_missing(v) else f"{float(v):,.{digits}f}"


def pct(v: object, digits: int = 1) -> str:
    """A share as a percentage: 0.9345 -> 93.5%."""
    return MISSING if is_missing(v) else f"{float(v) * 100:.{digits}f}%"


def pp(v: object, digits: int = 1) -> str:
    """A difference of two shares in percentage points: 0.0125 -> +1.3 pp (zero: no sign)."""
    if is_missing(v):
        return MISSING
    x = round(float(v) * 100, digits)
    unit = t("unit_pp")
    return (
        f"0{'.' + '0' * digits if digits else ''} {unit}" if x == 0 else f"{x:+.{digits}f} {unit}"
    )


def yuan(v: object, digits: int = 0) -> str:
    return MISSING if is_missing(v) else f"¥{float(v):,.{digits}f}"


def signed(v: object, digits: int = 0) -> str:
    """+1,234 / -12.5 (zero: no sign)."""
    if is_missing(v):
        return MISSING
    x = round(float(v), digits)
    return f"{0:.{digits}f}" if x == 0 else f"{x:+,.{digits}f}"


def too_few(denominator: object, minimum: int) -> bool:
    """A rate on fewer than `minimum` cases is not shown as a number."""
    return is_missing(denominator) or float(denominator) < minimum


def hide_small(df: pd.DataFrame, minimum: int, value: str = "value") -> pd.DataFrame:
    """Rows of mart.metrics for a chart: a ratio whose denominator is below `minimum` becomes
    a gap (no point), as a headline shows "too few". Counts (no denominator) stay."""
    out = df.copy()
    if "denominator" in out.columns and len(out):
        den = pd.to_numeric(out["denominator"], errors="coerce")
        out.loc[den.notna() & (den < minimum), value] = float("nan")
    return out


def rate(value: object, denominator: object, minimum: int, digits: int = 1) -> str:
    """A rate as a percentage, or "too few (n = 12)" when its denominator is below `minimum`."""
    if not is_missing(denominator) and too_few(denominator, minimum):
        return t("too_few")
    return pct(value, digits)


def date(d: object) -> str:
    """2026-03-09 (ISO in both languages: unambiguous, sorts)."""
    return MISSING if is_missing(d) else pd.Timestamp(d).strftime("%Y-%m-%d")


def month(d: object) -> str:
    """2026年3月 / Mar 2026."""
    if is_missing(d):
        return MISSING
    ts = pd.Timestamp(d)
    return f"{ts.year}年{ts.month}月" if lang() == "zh" else ts.strftime("%b %Y")


def local_time(ts: object, with_zone: bool = True) -> str:
    """An instant as Asia/Shanghai wall time, 2026-04-01 02:05, with the zone named."""
    if is_missing(ts):
        return MISSING
    stamp = pd.Timestamp(ts)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    text = stamp.tz_convert(TIMEZONE).strftime("%Y-%m-%d %H:%M")
    return f"{text} {t('zone_short')}" if with_zone else text


def tz_local(series: pd.Series) -> pd.Series:
    """A column of instants as Asia/Shanghai wall-clock timestamps (naive: what to plot)."""
    s = pd.to_datetime(series, utc=True)
    return s.dt.tz_convert(TIMEZONE).dt.tz_localize(None)


def day_tick() -> str:
    """Plotly tick format of a daily axis: 3月9日 / Mar 9."""
    return "%-m月%-d日" if lang() == "zh" else "%b %-d"


def month_tick(two_lines: bool = False) -> str:
    """Plotly tick format of a monthly axis: 2026年3月 / Mar 2026; `two_lines`, for narrow
    axes: the month over the year (3月 / 2026, Mar / 2026)."""
    if two_lines:
        return "%-m月\n%Y" if lang() == "zh" else "%b\n%Y"
    return "%Y年%-m月" if lang() == "zh" else "%b %Y"


def day_hover() -> str:
    """Plotly hover format of a date on a daily axis: 2026年3月9日 / Mar 9, 2026 (Plotly's own
    would name the month in English on a Chinese page)."""
    return "%Y年%-m月%-d日" if lang() == "zh" else "%b %-d, %Y"


# How each metric's value reads: a share (pct), a count (int), a yuan amount, or a ratio.
METRIC_KIND = {
    "active_accounts": "int",
    "bnpl_gmv": "yuan",
    "complaints_per_10k_active": "dec1",
    "sms_per_active_account": "dec2",
    "opt_outs": "int",
    "complaints": "int",
    "bnpl_active_users": "int",
    "bnpl_orders": "int",
    "checkout_sessions": "int",
    "sms_sent": "int",
    "sms_complaints_per_100k_sms": "dec1",
    "opt_outs_per_1k_marketing_sms": "dec2",
    "complaint_resolution_hours_p50": "dec1",
}


def metric_kind(metric: str) -> str:
    return METRIC_KIND.get(metric, "pct")


def metric_value(metric: str, v: object) -> str:
    """A metric's value as a headline shows it."""
    kind = metric_kind(metric)
    if kind == "pct":
        return pct(v)
    if kind == "yuan":
        return yuan(v)
    return num(v, {"int": 0, "dec1": 1, "dec2": 2}[kind])


def metric_delta(metric: str, v: object) -> str | None:
    """A change of a metric between two periods: pp for shares, else in its own unit;
    None for no change (no arrow for a zero)."""
    if is_missing(v):
        return None
    kind = metric_kind(metric)
    digits = {"pct": 1, "int": 0, "yuan": 0, "dec1": 1, "dec2": 2}[kind]
    scaled = float(v) * 100 if kind == "pct" else float(v)
    if round(scaled, digits) == 0:
        return None
    return pp(v) if kind == "pct" else signed(v, digits)


def metric_unit(metric: str) -> str:
    """The unit of a metric: the y axis title of a panel whose own title names the metric."""
    return t(f"u_{metric}")


def metric_axis(metric: str) -> str:
    """The axis title of a metric, with its unit."""
    unit = t(f"u_{metric}")
    return f"{t(f'm_{metric}')}（{unit}）" if lang() == "zh" else f"{t(f'm_{metric}')} ({unit})"

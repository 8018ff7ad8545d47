"""Overview: headline figures of the latest complete month against the month before, the
month to date (labelled partial) when the range reaches into one, and small trends."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard import format as fmt
from dashboard.i18n import t

f: data.Filters = st.session_state["filters"]
st.title(t("page_overview"))

# (metric, lower is better)
HEADLINES = [
    ("active_accounts", False),
    ("bnpl_gmv", False),
    ("on_time_rate", False),
    ("dpd30_rate", True),
    ("complaints_per_10k_active", True),
    ("sms_per_active_account", True),
    ("opt_outs", True),
]
BANDED = {"on_time_rate", "dpd30_rate"}  # published per score band
MIN_N = data.min_denominator()

as_of = data.published_as_of(f.end)
headline = data.latest_complete_month(f.end, as_of)
previous = (pd.Timestamp(headline) - pd.DateOffset(months=1)).date()
partial = data.partial_month(f.end, as_of)  # the range reaches into an incomplete month

names = [m for m, _ in HEADLINES]
df = data.for_band(data.metrics(names, f, lookback_months=1), f.band)
df["period"] = pd.to_datetime(df["period"]).dt.date

if headline < f.start.replace(day=1):
    st.info(t("no_complete_month"))
st.caption(t("period_caption", period=fmt.month(headline), previous=fmt.month(previous)))


def basis(row: pd.Series) -> str | None:
    """What a rate rests on: numerator / denominator of its month."""
    num, den = row.get("numerator"), row.get("denominator")
    if den is None or pd.isna(den) or num is None or pd.isna(num):
        return None
    return t("basis", month=fmt.month(row["period"]), num=num, den=den)


def small(row: pd.Series) -> bool:
    """A ratio on fewer than the minimum cases (counts have no denominator)."""
    den = row.get("denominator")
    return den is not None and not pd.isna(den) and float(den) < MIN_N


def card(
    col, metric: str, lower_better: bool, series: pd.DataFrame, compare: bool, lags: bool = False
) -> None:
    """One metric card: the latest row of `series`, compared with the month before. `lags`:
    that row is of an earlier month than the period (the card then names its month)."""
    label = t(f"m_{metric}")
    if lags:
        label = t("metric_of_month", metric=label, month=fmt.month(series.iloc[-1]["period"]))
    if series.empty:
        col.metric(label, "—", border=True)
        return
    latest = series.iloc[-1]
    value = float(latest["value"])
    if small(latest):
        col.metric(label, t("too_few"), border=True,
                   help=t("too_few_help", basis=basis(latest), min=MIN_N))  # fmt: skip
        return
    delta = None
    if compare:
        before = series[series["period"] == (pd.Timestamp(latest["period"]) - pd.DateOffset(
            months=1)).date()]  # fmt: skip
        if not before.empty and not small(before.iloc[0]):
            delta = fmt.metric_delta(metric, value - float(before.iloc[0]["value"]))
    trend = series[series["period"] >= f.start.replace(day=1)]["value"].astype(float).tolist()
    col.metric(
        label,
        fmt.metric_value(metric, value),
        delta=delta,
        delta_color="inverse" if lower_better else "normal",
        chart_data=trend if compare and len(trend) > 1 else None,
        border=True,
        help=basis(latest),
    )


notes = []
cols = st.columns(4)
for i, (metric, lower_better) in enumerate(HEADLINES):
    series = df[(df["metric"] == metric) & (df["period"] <= headline)].sort_values("period")
    # a rate whose latest month lags the period (30+ DPD needs 30 days past due): the card
    # names its month, and a note under the cards says why
    lags = not series.empty and series.iloc[-1]["period"] != headline
    if lags:
        notes.append(
            t(
                "latest_month_note",
                metric=t(f"m_{metric}"),
                month=fmt.month(series.iloc[-1]["period"]),
            )
        )
    card(cols[i % 4], metric, lower_better, series, compare=True, lags=lags)
for note in notes:
    st.caption(note)
st.caption(t("too_few_note", min=MIN_N))

if partial:
    st.subheader(
        t("partial_title", month=fmt.month(partial.start), days=partial.days, total=partial.total)
    )
    st.caption(t("partial_note"))
    cols = st.columns(4)
    for i, (metric, lower_better) in enumerate(HEADLINES):
        series = df[(df["metric"] == metric) & (df["period"] == partial.start)]
        card(cols[i % 4], metric, lower_better, series, compare=False)

st.caption(t("overview_scope"))

# Trends: complete months only, one panel per metric (each its own axis and unit)
st.subheader(t("trends"))
trend = fmt.hide_small(
    df[(df["period"] >= f.start.replace(day=1)) & (df["period"] <= headline)], MIN_N
)
panels = [
    charts.Panel(m, t(f"m_{m}"), fmt.metric_unit(m), fmt.metric_kind(m), fmt.metric_color(m))
    for m in ("on_time_rate", "dpd30_rate", "sms_per_active_account", "complaints_per_10k_active")
]  # fmt: skip
fig = charts.small_multiples(trend, "period", "value", "metric", panels, t("trends_title"))
charts.show(
    fig,
    trend[trend["metric"].isin([p.key for p in panels])][
        ["metric", "period", "segment", "value", "numerator", "denominator"]
    ],
    "overview_trends",
)

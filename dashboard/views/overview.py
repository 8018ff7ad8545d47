"""Overview: headline figures for the selected month against the previous one, small trends."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.i18n import t

f: data.Filters = st.session_state["filters"]
st.title(t("page_overview"))

# (metric, format, lower is better)
HEADLINES = [
    ("active_accounts", "int", False),
    ("bnpl_gmv", "yuan", False),
    ("on_time_rate", "pct", False),
    ("dpd30_rate", "pct", True),
    ("complaints_per_10k_active", "dec1", True),
    ("sms_per_active_account", "dec2", True),
    ("opt_outs", "int", True),
]
BANDED = {"on_time_rate", "dpd30_rate"}

df = data.for_band(data.metrics([m for m, _, _ in HEADLINES], f, lookback_months=1), f.band)
end_month = pd.Timestamp(f.end.replace(day=1))
prev_month = end_month - pd.DateOffset(months=1)
st.caption(
    t("period_caption", period=end_month.strftime("%Y-%m"), previous=prev_month.strftime("%Y-%m"))
)


def fmt(v: float | None, kind: str) -> str:
    if v is None or pd.isna(v):
        return "—"
    return {
        "int": f"{v:,.0f}",
        "yuan": f"¥{v:,.0f}",
        "pct": f"{v * 100:.1f}%",
        "dec1": f"{v:,.1f}",
        "dec2": f"{v:,.2f}",
    }[kind]


def fmt_delta(v: float, kind: str) -> str:
    if kind == "pct":
        return f"{v * 100:+.1f} pp"
    if kind == "yuan":
        return f"{v:+,.0f}"
    return f"{v:+,.2f}" if kind.startswith("dec") else f"{v:+,.0f}"


def basis(row: pd.Series) -> str | None:
    """What a rate rests on: numerator / denominator of its month (small months show)."""
    num, den = row.get("numerator"), row.get("denominator")
    if den is None or pd.isna(den) or num is None or pd.isna(num):
        return None
    return t("basis", month=pd.Timestamp(row["period"]).strftime("%Y-%m"), num=num, den=den)


notes = []
cols = st.columns(4)
for i, (metric, kind, lower_better) in enumerate(HEADLINES):
    series = df[(df["metric"] == metric) & (pd.to_datetime(df["period"]) <= end_month)]
    series = series.sort_values("period")
    col = cols[i % 4]
    if series.empty:
        col.metric(t(f"m_{metric}"), "—")
        continue
    latest = series.iloc[-1]
    latest_period = pd.Timestamp(latest["period"])
    if latest_period != end_month:
        notes.append(
            t("latest_month_note", metric=t(f"m_{metric}"), month=latest_period.strftime("%Y-%m"))
        )
    before = series[pd.to_datetime(series["period"]) == latest_period - pd.DateOffset(months=1)]
    delta = None
    if not before.empty:
        delta = fmt_delta(float(latest["value"]) - float(before.iloc[0]["value"]), kind)
    in_range = series[pd.to_datetime(series["period"]) >= pd.Timestamp(f.start.replace(day=1))]
    col.metric(
        t(f"m_{metric}"),
        fmt(float(latest["value"]), kind),
        delta=delta,
        delta_color="inverse" if lower_better else "normal",
        chart_data=in_range["value"].astype(float).tolist() if len(in_range) > 1 else None,
        border=True,
        help=basis(latest),
    )
for note in notes:
    st.caption(note)
if f.band:
    st.caption(
        t("band_fallback")
        + f" ({', '.join(t('m_' + m) for m, _, _ in HEADLINES if m not in BANDED)})"
    )

st.subheader(t("trends"))
trend = df[pd.to_datetime(df["period"]) >= pd.Timestamp(f.start.replace(day=1))].copy()
trend["label"] = trend["metric"].map(lambda m: t(f"m_{m}"))
left, right = st.columns(2)
with left:
    rates = trend[trend["metric"].isin(["on_time_rate", "dpd30_rate"])]
    fig = charts.line(
        rates,
        "period",
        "value",
        t("m_on_time_rate") + " · " + t("m_dpd30_rate"),
        color="label",
        y_pct=True,
        labels={"period": t("month"), "value": t("rate")},
    )
    charts.monthly(fig)
    charts.show(
        fig,
        rates[["metric", "period", "segment", "value", "numerator", "denominator"]],
        "overview_rates",
    )
with right:
    vol = trend[trend["metric"].isin(["sms_per_active_account", "complaints_per_10k_active"])]
    fig = charts.line(
        vol,
        "period",
        "value",
        t("m_sms_per_active_account") + " · " + t("m_complaints_per_10k_active"),
        color="label",
        labels={"period": t("month"), "value": ""},
    )
    charts.monthly(fig)
    charts.show(
        fig,
        vol[["metric", "period", "segment", "value", "numerator", "denominator"]],
        "overview_volume",
    )

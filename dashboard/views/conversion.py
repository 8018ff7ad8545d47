"""Conversion & stickiness: checkout conversion, take rate, SMS conversion, actives, retention."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard import format as fmt
from dashboard.i18n import code, t

f: data.Filters = st.session_state["filters"]
st.title(t("page_conversion"))
COLS = ["metric", "period", "segment", "value", "numerator", "denominator"]

conv = data.metrics(
    ["checkout_conversion_rate"],
    f,
    grain="day",
    segments=["bnpl_offered=true", "bnpl_offered=false"],
)
MIN_N = data.min_denominator()
conv = fmt.hide_small(conv[conv["segment"] != "all"], MIN_N)
if conv.empty:
    st.info(t("empty"))
else:
    conv["offered"] = (
        conv["segment"].str.removeprefix("bnpl_offered=").map(lambda v: code("offered", v))
    )
    fig = charts.line(
        conv, "period", "value", t("conversion_title"),
        y_title=fmt.metric_axis("checkout_conversion_rate"), color="offered",
        colors=fmt.color_map("offered", ["true", "false"]), y_format="pct", grain="day",
    )  # fmt: skip
    charts.show(fig, conv[COLS], "conversion_checkout")


def panels_of(names: list[str]) -> list[charts.Panel]:
    return [
        charts.Panel(m, t(f"m_{m}"), fmt.metric_unit(m), fmt.metric_kind(m), fmt.metric_color(m))
        for m in names
    ]


DAILY = ["bnpl_take_rate", "marketing_sms_conversion_72h"]
daily = data.metrics(DAILY, f, grain="day")
daily = fmt.hide_small(daily[daily["segment"] == "all"], MIN_N)
if not daily.empty:
    fig = charts.small_multiples(
        daily, "period", "value", "metric", panels_of(DAILY),
        f"{t('m_bnpl_take_rate')} · {t('m_marketing_sms_conversion_72h')}", grain="day",
    )  # fmt: skip
    charts.show(fig, daily[COLS], "conversion_take_rate")
    # a day counts once its marketing messages have had 72 hours: the line stops that much
    # before the take rate's, which is no gap in the data
    newest = daily.groupby("metric")["period"].max()
    lagging = "marketing_sms_conversion_72h"
    if lagging in newest and newest[lagging] < newest.max():
        st.caption(
            t("latest_day_72h_note", metric=t(f"m_{lagging}"), day=fmt.date(newest[lagging]))
        )

# a month still running is no trend point (as on the overview and the complaints page): three
# days of July drew active users and orders falling to a tenth, DAU/MAU rising to 100 %
MONTHLY = ["bnpl_active_users", "bnpl_orders", "bnpl_repeat_rate", "dau_mau_ratio"]
as_of = data.published_as_of(f.end)
complete = data.latest_complete_month(f.end, as_of)
monthly = data.metrics(MONTHLY, f)
monthly = monthly[
    (monthly["segment"] == "all") & (pd.to_datetime(monthly["period"]).dt.date <= complete)
]
monthly = fmt.hide_small(monthly, MIN_N)
if not monthly.empty:
    fig = charts.small_multiples(
        monthly, "period", "value", "metric", panels_of(MONTHLY), t("stickiness_title"),
    )  # fmt: skip
    charts.show(fig, monthly[COLS], "conversion_actives")
if partial := data.partial_month(f.end, as_of):
    st.caption(
        t("partial_left_out_monthly", month=fmt.month(partial.start), days=partial.days,
          total=partial.total)
    )  # fmt: skip

ret = data.retention(f)
if ret.empty:
    st.info(t("empty"))
else:
    pivot = ret.pivot(index="cohort", columns="months_since", values="retention")
    text = pivot.map(lambda v: fmt.pct(v, 0) if v == v else "")
    fig = charts.heatmap(
        pivot, t("retention_title"), t("months_since"), t("cohort"), text=text,
        value_title=charts.axis_title(t("retention"), "%"), value_format=".0%",
        y_labels=[fmt.month(c) for c in pivot.index],
    )  # fmt: skip
    charts.show(fig, ret, "conversion_retention")
charts.filters_note(["date"], {"band": "why_not_per_band", "experiment": "why_not_per_experiment"})

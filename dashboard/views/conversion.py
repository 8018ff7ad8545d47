"""Conversion & stickiness: checkout conversion, take rate, SMS conversion, actives, retention."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data
from dashboard.i18n import t

f: data.Filters = st.session_state["filters"]
st.title(t("page_conversion"))
COLS = ["metric", "period", "segment", "value", "numerator", "denominator"]

conv = data.metrics(
    ["checkout_conversion_rate"],
    f,
    grain="day",
    segments=["bnpl_offered=true", "bnpl_offered=false"],
)
conv = conv[conv["segment"] != "all"].copy()
if conv.empty:
    st.info(t("empty"))
else:
    conv["offered"] = conv["segment"].map(
        {"bnpl_offered=true": t("offered_true"), "bnpl_offered=false": t("offered_false")}
    )
    fig = charts.line(
        conv, "period", "value", t("conversion_title"), color="offered", y_pct=True,
        labels={"period": t("day"), "value": t("m_checkout_conversion_rate")},
    )  # fmt: skip
    charts.show(fig, conv[COLS], "conversion_checkout")

daily = data.metrics(["bnpl_take_rate", "marketing_sms_conversion_72h"], f, grain="day")
daily = daily[daily["segment"] == "all"].copy()
if not daily.empty:
    daily["label"] = daily["metric"].map(lambda m: t(f"m_{m}"))
    fig = charts.line(
        daily, "period", "value",
        f"{t('m_bnpl_take_rate')} · {t('m_marketing_sms_conversion_72h')}",
        color="label", y_pct=True, labels={"period": t("day"), "value": t("rate")},
    )  # fmt: skip
    charts.show(fig, daily[COLS], "conversion_take_rate")

left, right = st.columns(2)
monthly = data.metrics(["bnpl_active_users", "bnpl_orders"], f)
monthly = monthly[monthly["segment"] == "all"].copy()
with left:
    if not monthly.empty:
        monthly["label"] = monthly["metric"].map(lambda m: t(f"m_{m}"))
        fig = charts.bar(
            monthly, "period", "value", f"{t('m_bnpl_active_users')} · {t('m_bnpl_orders')}",
            color="label", barmode="group", labels={"period": t("month"), "value": ""},
        )  # fmt: skip
        charts.monthly(fig)
        charts.show(fig, monthly[COLS], "conversion_actives")
sticky = data.metrics(["bnpl_repeat_rate", "dau_mau_ratio"], f)
sticky = sticky[sticky["segment"] == "all"].copy()
with right:
    if not sticky.empty:
        sticky["label"] = sticky["metric"].map(lambda m: t(f"m_{m}"))
        fig = charts.line(
            sticky, "period", "value", f"{t('m_bnpl_repeat_rate')} · {t('m_dau_mau_ratio')}",
            color="label", y_pct=True, labels={"period": t("month"), "value": t("rate")},
        )  # fmt: skip
        charts.monthly(fig)
        charts.show(fig, sticky[COLS], "conversion_stickiness")

ret = data.retention(f)
if ret.empty:
    st.info(t("empty"))
else:
    pivot = ret.pivot(index="cohort", columns="months_since", values="retention")
    fig = charts.heatmap(pivot, t("retention_title"), t("months_since"), t("cohort"), pct=True)
    charts.show(fig, ret, "conversion_retention")
st.caption(t("filters_apply", which=t("filter_date")))

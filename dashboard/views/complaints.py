"""Complaints & opt-outs: by category and source, rates, resolution time, masked narratives."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import charts, data
from dashboard.i18n import t

f: data.Filters = st.session_state["filters"]
st.title(t("page_complaints"))
COLS = ["metric", "period", "segment", "value", "numerator", "denominator"]

monthly = data.complaints_monthly(f)
if monthly.empty:
    st.info(t("empty"))
else:
    left, right = st.columns(2)
    by_cat = monthly.groupby(["month", "category"], as_index=False)["complaints"].sum()
    by_src = monthly.groupby(["month", "source"], as_index=False)["complaints"].sum()
    with left:
        fig = charts.bar(
            by_cat, "month", "complaints", f"{t('m_complaints')} · {t('by_category')}",
            color="category", labels={"month": t("month"), "complaints": t("m_complaints")},
        )  # fmt: skip
        charts.monthly(fig)
        charts.show(fig, by_cat, "complaints_by_category")
    with right:
        fig = charts.bar(
            by_src, "month", "complaints", f"{t('m_complaints')} · {t('by_source')}",
            color="source", labels={"month": t("month"), "complaints": t("m_complaints")},
        )  # fmt: skip
        charts.monthly(fig)
        charts.show(fig, by_src, "complaints_by_source")

RATES = [
    "complaints_per_10k_active",
    "sms_complaints_per_100k_sms",
    "opt_outs_per_1k_marketing_sms",
    "complaint_resolution_hours_p50",
]
rates = data.metrics(RATES + ["opt_outs"], f)
rates = rates[rates["segment"] == "all"].copy()
if not rates.empty:
    rates["label"] = rates["metric"].map(lambda m: t(f"m_{m}"))
    fig = px.line(
        rates, x="period", y="value", facet_col="label", facet_col_wrap=3, markers=True,
        labels={"period": t("month"), "value": ""},
    )  # fmt: skip
    fig.update_yaxes(matches=None, showticklabels=True)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    charts.style(fig, t("rates_title"), height=480)
    charts.monthly(fig)
    charts.show(fig, rates[COLS], "complaints_rates")

st.subheader(t("resolution_title"))
charts.table(data.resolution(f), "complaints_resolution")

st.subheader(t("narratives"))
charts.table(data.narratives(f), "complaints_narratives")
st.caption(
    t("filters_apply", which=f"{t('filter_date')}, {t('filter_band')}, {t('filter_experiment')}")
)

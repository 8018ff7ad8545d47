"""SMS health & compliance: flags over time, duplicate incidents, hour x weekday, templates."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard import charts, data
from dashboard.i18n import t
from dashboard.views import gateway

f: data.Filters = st.session_state["filters"]
st.title(t("page_sms"))
FLAGS = [
    "is_duplicate",
    "is_quiet_hours",
    "is_after_opt_out",
    "is_over_daily_cap",
    "is_marketing_in_service",
    "is_marketing_without_consent",
]

daily = data.flags_daily(f)
if daily.empty:
    st.info(t("empty"))
else:
    cols = st.columns(len(FLAGS))
    for col, flag in zip(cols, FLAGS, strict=True):
        col.metric(t(f"f_{flag}"), f"{int(daily[flag].sum()):,}")
    long = daily.melt(id_vars=["local_date", "messages"], value_vars=FLAGS, var_name="flag",
                      value_name="count")  # fmt: skip
    long["label"] = long["flag"].map(lambda x: t(f"f_{x}"))
    fig = charts.line(
        long, "local_date", "count", t("flags_title"), color="label",
        labels={"local_date": t("day"), "count": ""},
    )  # fmt: skip
    charts.show(fig, long.drop(columns="label"), "sms_flags")

inc = data.incidents(f)
if inc.empty:
    st.info(t("no_incidents"))
else:
    inc = inc.copy()
    inc["start"] = (
        pd.to_datetime(inc["started_at"]).dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    )
    inc["minutes"] = (
        pd.to_datetime(inc["ended_at"]) - pd.to_datetime(inc["started_at"])
    ).dt.total_seconds() / 60
    fig = px.scatter(
        inc, x="start", y="duplicate_messages", size="messages", color="duplicate_rate",
        color_continuous_scale="OrRd", size_max=30,
        hover_data=["incident_id", "minutes", "messages", "users", "templates",
                    "gateway_duplicates"],
        labels={"start": t("incident_start"), "duplicate_messages": t("duplicate_messages"),
                "duplicate_rate": t("duplicate_rate"),
                "gateway_duplicates": t("gateway_duplicates")},
    )  # fmt: skip
    fig.update_traces(marker={"line": {"width": 1, "color": "#444"}})
    charts.style(fig, t("incidents_title"))
    charts.show(fig, inc.drop(columns=["start"]), "sms_incidents")

hw = data.hour_weekday(f)
if not hw.empty:
    pivot = (
        hw.pivot(index="local_weekday", columns="local_hour", values="messages")
        .reindex(index=range(1, 8), columns=range(24))
        .fillna(0)
        .astype(int)
    )
    fig = charts.heatmap(pivot, t("heatmap_title"), t("hour"), t("weekday"))
    charts.show(fig, hw, "sms_hour_weekday")

gateway.section(f)  # the send log against the gateways' receipts

st.subheader(t("worst_templates"))
tpl = data.worst_templates(f)
if not tpl.empty:
    fig = charts.bar(tpl, "template_code", "flagged", t("worst_templates"),
                     labels={"template_code": t("template"), "flagged": t("flagged")})  # fmt: skip
    charts.show(fig, tpl, "sms_templates")

st.subheader(t("non_permitted"))
charts.table(data.non_permitted_marketing(f), "sms_non_permitted")
st.caption(
    t("filters_apply", which=f"{t('filter_date')}, {t('filter_band')}, {t('filter_experiment')}")
)

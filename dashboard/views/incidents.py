"""Incidents: open ones first, a timeline, and per incident its templates, users, hourly
counts and the messages behind it (from the published alerts schema, pipelines.alerts)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard import charts, data
from dashboard import format as fmt
from dashboard.data import alerts as alerts_data
from dashboard.i18n import code, col, t

f: data.Filters = st.session_state["filters"]
st.title(t("page_incidents"))

if not alerts_data.available():
    st.info(t("inc_not_published"))
    st.stop()


def _local(col: pd.Series) -> pd.Series:
    return pd.to_datetime(col).dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)


inc = alerts_data.incidents(f.start, f.end)
status = alerts_data.notification_status()
n_open = int((inc["status"] == "open").sum()) if not inc.empty else 0
c1, c2, c3, c4 = st.columns(4)
# every count with thousands separators, as the incident detail's below
c1.metric(t("inc_open"), fmt.num(n_open))
c2.metric(t("inc_in_range"), fmt.num(len(inc)))
c3.metric(t("inc_pending"), fmt.num(status.get("pending", 0)))
c4.metric(t("inc_failed"), fmt.num(status.get("failed", 0)))
if status.get("pending") or status.get("failed"):
    st.warning(t("inc_delivery_warning"))

if inc.empty:
    st.info(t("inc_none"))
    st.stop()

inc = inc.copy()
inc["kind_label"] = inc["kind"].map(lambda k: t(f"inc_kind_{k}"))
inc["status_label"] = inc["status"].map(lambda s: t(f"inc_status_{s}"))
# a provider subject reads as the gateway section names it (阿里云 on a Chinese page)
inc["subject"] = inc["subject"].map(
    lambda s: t("inc_subject_all") if s == "all" else code("provider", s)
)
inc["first_local"] = _local(inc["first_seen"])
inc["last_local"] = _local(inc["last_seen"])
# a short incident still shows as a bar: at least 1/150 of the time axis (10 minutes at least)
span = inc["last_local"].max() - inc["first_local"].min()
least = max(pd.Timedelta(minutes=10), span / 150)
inc["bar_end"] = inc["last_local"].where(
    inc["last_local"] - inc["first_local"] >= least, inc["first_local"] + least
)

st.subheader(t("inc_list"))
shown = inc[
    [
        "incident_id", "status_label", "kind_label", "subject", "first_local", "last_local",
        "messages", "users", "templates",
    ]
].rename(
    columns={
        "incident_id": "#", "status_label": t("inc_status"), "kind_label": t("inc_kind"),
        "subject": t("inc_subject"), "first_local": t("inc_first_seen"),
        "last_local": t("inc_last_seen"), "messages": t("inc_messages"),
        "users": t("inc_users"), "templates": t("inc_templates"),
    }
)  # fmt: skip
charts.table(shown, "incidents_list")

st.subheader(t("inc_timeline"))
inc["first_text"] = inc["first_seen"].map(lambda v: fmt.local_time(v, with_zone=False))
inc["last_text"] = inc["last_seen"].map(lambda v: fmt.local_time(v, with_zone=False))
fig = px.timeline(
    inc, x_start="first_local", x_end="bar_end", y="kind_label", color="status_label",
    custom_data=["incident_id", "subject", "messages", "users", "first_text", "last_text"],
    labels={"kind_label": t("inc_kind"), "status_label": t("inc_status")},
    color_discrete_map={t("inc_status_open"): "#d62728", t("inc_status_resolved"): "#7f7f7f"},
)  # fmt: skip
# the hover in the page's words (px names the data frame's columns), times to the minute
c = t("colon")
fig.update_traces(
    hovertemplate=(
        "#%{customdata[0]} · %{y}<br>"
        f"{t('inc_subject')}{c}%{{customdata[1]}}<br>"
        f"{t('inc_first_seen')}{c}%{{customdata[4]}}<br>"
        f"{t('inc_last_seen')}{c}%{{customdata[5]}}<br>"
        f"{t('inc_messages')}{c}%{{customdata[2]:,d}} · {t('inc_users')}{c}%{{customdata[3]:,d}}"
        "<extra>%{fullData.name}</extra>"
    )
)
charts.style(fig, t("inc_timeline"))
# 4月6日 on a Chinese page, not Apr 6 (the hover gives the times itself, above)
charts.time_axis(fig, "day", title=t("inc_span"))
fig.update_yaxes(autorange="reversed")
charts.show(fig, inc.drop(columns=["bar_end", "first_text", "last_text"]), "incidents_timeline")

st.subheader(t("inc_detail"))
choices = inc["incident_id"].tolist()
labels = {
    row.incident_id: f"#{row.incident_id} · {row.status_label} · {row.kind_label} · {row.subject}"
    for row in inc.itertuples()
}
picked = st.selectbox(t("inc_pick"), choices, format_func=labels.get, key="incident_pick")
row = inc.loc[inc["incident_id"] == picked].iloc[0]
d1, d2, d3 = st.columns(3)
d1.metric(t("inc_messages"), fmt.num(row["messages"]))
d2.metric(t("inc_users"), fmt.num(row["users"]))
d3.metric(t("inc_hours"), fmt.num(row["hours"]))
# every provider with its messages (an incident about all providers has several; the one
# stored with the incident, the most frequent, could be one of a tie)
sent_by = alerts_data.providers(int(picked))
st.caption(
    t(
        "inc_window",
        first=row["first_local"].strftime("%Y-%m-%d %H:%M"),
        last=row["last_local"].strftime("%Y-%m-%d %H:%M"),
    )
    + " · "
    + t(
        "inc_providers",
        which=" · ".join(
            f"{code('provider', p)} {n:,}"
            for p, n in zip(sent_by["provider"], sent_by["messages"], strict=True)
        )
        or "—",
    )
)
if not row["notify"]:
    st.caption(t("inc_history_note"))

hourly = alerts_data.hourly(int(picked))
if hourly.empty:
    st.info(t("inc_no_messages"))
else:
    hourly = hourly.assign(hour=pd.to_datetime(hourly["hour"]).dt.strftime("%Y-%m-%d %H:00"))
    fig = charts.bar(
        hourly, "hour", "messages", t("inc_hourly"),
        labels={"hour": t("inc_hour"), "messages": t("inc_messages")},
    )  # fmt: skip
    fig.update_xaxes(type="category")
    charts.show(fig, hourly, "incident_hourly")
    st.markdown(f"**{t('inc_templates')}**")
    names = {
        "template_code": col("template_code"), "messages": t("inc_messages"),
        "users": t("inc_users"), "sent": t("inc_sent"), "message_id": "message_id",
        "user_id": "user_id", "provider": t("inc_provider"),
    }  # fmt: skip
    charts.table(alerts_data.templates(int(picked)).rename(columns=names), "incident_templates")
    st.markdown(f"**{t('inc_messages_behind')}**")
    behind = alerts_data.messages(int(picked))
    behind["provider"] = behind["provider"].map(lambda v: code("provider", v))
    charts.table(behind.rename(columns=names), "incident_messages")

st.subheader(t("inc_notifications"))
log = alerts_data.notifications()
if log.empty:
    st.info(t("inc_no_notifications"))
else:
    charts.table(log, "incident_notifications")

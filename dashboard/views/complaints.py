"""Complaints & opt-outs: by category and source, rates, resolution time, masked narratives,
and the compliance drill-down (a complaint -> the messages its user received before it)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, drilldown
from dashboard import format as fmt
from dashboard.i18n import code, codes, t
from pipelines.settings import TIMEZONE

f: data.Filters = st.session_state["filters"]
st.title(t("page_complaints"))
COLS = ["metric", "period", "segment", "value", "numerator", "denominator"]

monthly = data.complaints_monthly(f)
if monthly.empty:
    st.info(t("empty"))
else:
    figures = []
    for dim, kind, key in (
        ("category", "category", "complaints_by_category"),
        ("source", "complaint_source", "complaints_by_source"),
    ):
        part = monthly.groupby(["month", dim], as_index=False)["complaints"].sum()
        part["label"] = part[dim].map(lambda v, k=kind: code(k, v))
        order = [c for c in codes(kind) if c in set(part[dim])]
        order += sorted(set(part[dim]) - set(order))
        title = t("by_category") if dim == "category" else t("by_source")
        fig = charts.bar(
            part, "month", "complaints", f"{t('m_complaints')} · {title}",
            y_title=t("complaints_axis"),
            color="label", colors=fmt.color_map(kind, order), grain="month", columns=2,
        )  # fmt: skip
        fig.update_traces(hovertemplate="%{x|%Y-%m}: %{y:,d}")
        figures.append((fig, part.drop(columns="label"), key))
    charts.align_tops([fig for fig, _, _ in figures])  # side by side: the same plot height
    for col_, (fig, part, key) in zip(st.columns(2), figures, strict=True):
        with col_:
            charts.show(fig, part, key)

# a month still running is no trend point: its rates stop at the latest complete month (as
# the overview's trends do), and the caption says what its bars hold
as_of = data.published_as_of(f.end)
complete = data.latest_complete_month(f.end, as_of)

RATES = [
    "complaints_per_10k_active",
    "sms_complaints_per_100k_sms",
    "opt_outs",
    "opt_outs_per_1k_marketing_sms",
    "complaint_resolution_hours_p50",
]
rates = data.metrics(RATES, f)
rates = rates[(rates["segment"] == "all") & (pd.to_datetime(rates["period"]).dt.date <= complete)]
rates = fmt.hide_small(rates, data.min_denominator())
if not rates.empty:
    panels = [
        charts.Panel(m, t(f"m_{m}"), fmt.metric_unit(m), fmt.metric_kind(m), fmt.metric_color(m))
        for m in RATES
    ]
    fig = charts.small_multiples(
        rates, "period", "value", "metric", panels, t("rates_title"), cols=3
    )
    charts.show(fig, rates[COLS], "complaints_rates")
    st.caption(t("rates_scope"))
if partial := data.partial_month(f.end, as_of):
    st.caption(
        t("partial_left_out", month=fmt.month(partial.start), days=partial.days,
          total=partial.total)
    )  # fmt: skip
    st.caption(t("too_few_chart_note", min=data.min_denominator()))

st.subheader(t("resolution_title"))
charts.table(
    data.resolution(f),
    "complaints_resolution",
    codes={"source": "complaint_source"},
    formats={"median_hours": "dec1", "p90_hours": "dec1"},
)

st.subheader(t("narratives"))
charts.table(
    data.narratives(f),
    "complaints_narratives",
    codes={"source": "complaint_source", "category": "category", "status": "complaint_status"},
)
charts.filters_note(["date", "band", "experiment"])

# ---- compliance drill-down -----------------------------------------------------------------
st.header(t("drill_title"))
st.caption(t("drill_intro"))
choices = data.complaint_choices(f)
ids = choices["complaint_id"].tolist()
if "drill_complaint" not in st.session_state:
    wanted = st.query_params.get("complaint")
    st.session_state["drill_complaint"] = wanted if wanted in ids else (ids[0] if ids else None)
elif st.session_state["drill_complaint"] not in ids:
    st.session_state["drill_complaint"] = ids[0] if ids else None
if not ids:
    st.info(t("empty"))
else:
    rows = choices.set_index("complaint_id")
    # labels made now, in this run's language (Streamlit may call format_func outside the run)
    labels = {
        c: " · ".join([
            c, fmt.local_time(rows.loc[c, "received_at"], with_zone=False),
            code("complaint_source", rows.loc[c, "source"]),
            code("category", rows.loc[c, "category"]),
        ])
        for c in ids
    }  # fmt: skip
    pick_col, days_col = st.columns([3, 1])
    picked = pick_col.selectbox(
        t("drill_pick"),
        ids,
        key="drill_complaint",
        format_func=labels.get,
    )
    days = days_col.number_input(t("drill_days"), 1, 60, 7, key="drill_days")
    st.query_params["complaint"] = picked
    one = data.complaint(picked)
    if not one.empty:
        c = one.iloc[0]
        st.markdown(
            t(
                "drill_complaint",
                id=picked,
                user=c["user_id"],
                at=fmt.local_time(c["received_at"]),
                source=code("complaint_source", c["source"]),
                category=code("category", c["category"]),
            )
        )
        st.markdown(f"> {c['narrative']}")
        drilldown.messages_before(str(c["user_id"]), pd.Timestamp(c["received_at"]),
                                  key="complaints_drill", days=int(days))  # fmt: skip

# ... or from a user: their messages in the days up to the end of the date range
with st.expander(t("drill_user_title")):
    user = st.text_input(t("drill_user"), key="drill_user").strip()
    if user:
        until = pd.Timestamp(f.end).tz_localize(TIMEZONE) + pd.Timedelta(days=1)
        st.caption(t("drill_user_until", until=fmt.date(f.end)))
        drilldown.messages_before(user, until, key="complaints_drill_user",
                                  days=int(st.session_state.get("drill_days", 7)))  # fmt: skip

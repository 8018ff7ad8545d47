"""SMS health & compliance: flags over time, delivery and spend per provider, duplicate
incidents, hour x weekday, worst templates, marketing that was not permitted."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard import charts, data
from dashboard import format as fmt
from dashboard.i18n import code, codes, lang, t
from dashboard.views import gateway, preferences

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
MIN_N = data.min_denominator()
PRICE = data.price_per_segment()

# ---- flags ----------------------------------------------------------------------------------
daily = data.flags_daily(f)
if daily.empty:
    st.info(t("empty"))
else:
    total = int(daily["messages"].sum())
    for row in (FLAGS[:3], FLAGS[3:]):
        for col_, flag in zip(st.columns(3), row, strict=True):
            n = int(daily[flag].sum())
            col_.metric(
                code("flag", flag),
                fmt.num(n),
                help=t("flag_share", share=fmt.pct(n / total, 2) if total else "—",
                       total=fmt.num(total)),
                border=True,
            )  # fmt: skip
    long = daily.melt(id_vars=["local_date", "messages"], value_vars=FLAGS, var_name="flag",
                      value_name="count")  # fmt: skip
    panels = [
        charts.Panel(flag, code("flag", flag), charts.axis_title(t("unit_messages_count"),
                     t("unit_msgs_per_day")), "int", fmt.color("flag", flag))
        for flag in FLAGS
    ]  # fmt: skip
    fig = charts.small_multiples(
        long, "local_date", "count", "flag", panels, t("flags_title"), grain="day", cols=3,
        panel_height=200,
    )  # fmt: skip
    charts.show(fig, long, "sms_flags")

# ---- delivery and spend ---------------------------------------------------------------------
st.header(t("delivery_title"))
dl = data.delivery(f)
if dl.empty:
    st.info(t("empty"))
else:
    messages = int(dl["messages"].sum())
    delivered = int(dl["delivered"].sum())
    segments = int(dl["segments"].sum())
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("m_sms_sent"), fmt.num(messages), border=True)
    c2.metric(
        t("m_sms_delivery_rate"),
        fmt.rate(delivered / messages if messages else None, messages, MIN_N),
        help=t("basis_plain", num=fmt.num(delivered), den=fmt.num(messages)),
        border=True,
    )
    c3.metric(t("billed_segments"), fmt.num(segments), border=True,
              help=t("billed_help"))  # fmt: skip
    c4.metric(t("sms_spend"), fmt.yuan(segments * PRICE, 2), border=True,
              help=t("spend_help", price=f"{PRICE:g}"))  # fmt: skip
    by_provider = (
        dl.groupby("provider", as_index=False)[
            ["messages", "delivered", "failed", "billed_messages", "segments"]
        ]
        .sum()
        .sort_values("messages", ascending=False)
    )
    by_provider["delivery_rate"] = by_provider["delivered"] / by_provider["messages"].where(
        by_provider["messages"] >= MIN_N
    )
    by_provider["spend"] = by_provider["segments"] * PRICE
    charts.table(
        by_provider[["provider", "messages", "delivered", "failed", "delivery_rate", "segments",
                     "spend"]],
        "sms_delivery_providers",
        codes={"provider": "provider"},
        formats={"delivery_rate": "pct", "spend": "yuan2"},
    )  # fmt: skip
    st.caption(t("delivery_scope", min=MIN_N))
    day = dl.copy()
    day["provider_label"] = day["provider"].map(lambda p: code("provider", p))
    day["rate"] = day["delivered"] / day["messages"].where(day["messages"] >= MIN_N)
    day["spend"] = day["segments"] * PRICE
    provs = [p for p in codes("provider") if p in set(day["provider"])]
    provs += sorted(set(day["provider"]) - set(provs))
    long = pd.concat(
        [
            day.assign(panel="rate", value=day["rate"]),
            day.assign(panel="spend", value=day["spend"]),
        ]
    )
    panels = [
        charts.Panel("rate", t("m_sms_delivery_rate"), fmt.metric_unit("sms_delivery_rate")),
        charts.Panel("spend", t("sms_spend"), charts.axis_title(t("sms_spend"),
                     t("unit_yuan_per_day")), "dec2"),
    ]  # fmt: skip
    fig = charts.small_multiples(
        long, "local_date", "value", "panel", panels, t("delivery_chart_title"), grain="day",
        series="provider_label", series_colors=fmt.color_map("provider", provs),
    )  # fmt: skip
    charts.show(fig, day.drop(columns=["provider_label"]), "sms_delivery_daily")

# ---- duplicate incidents --------------------------------------------------------------------
st.header(t("incidents_title"))
inc = data.incidents(f)
if inc.empty:
    st.info(t("no_incidents"))
else:
    inc = inc.copy()
    inc["start"] = fmt.tz_local(inc["started_at"])
    inc["minutes"] = (
        pd.to_datetime(inc["ended_at"]) - pd.to_datetime(inc["started_at"])
    ).dt.total_seconds() / 60
    fig = px.scatter(
        inc, x="start", y="duplicate_messages", size="messages", color="duplicate_rate",
        color_continuous_scale="OrRd", size_max=30,
        custom_data=["incident_id", "minutes", "messages", "users", "templates",
                     "gateway_duplicates"],
    )  # fmt: skip
    fig.update_traces(
        marker={"line": {"width": 1, "color": "#444"}},
        hovertemplate=(
            f"{t('incident')} %{{customdata[0]}}<br>%{{x|%Y-%m-%d %H:%M}} {t('zone_short')}"
            f"<br>{t('duplicate_messages')} %{{y:,d}} / %{{customdata[2]:,d}}"
            f"<br>%{{customdata[1]:.0f}} {t('minutes_unit')} · %{{customdata[3]:,d}} "
            f"{t('users_unit')}<br>{t('template')} %{{customdata[4]}}"
            f"<br>{t('gateway_duplicates')} %{{customdata[5]:,d}}<extra></extra>"
        ),
    )
    charts.style(fig, t("incidents_chart_title"), legend=False)
    fig.update_xaxes(title=t("incident_start"), tickformat=fmt.day_tick())
    starts = pd.to_datetime(inc["start"])
    if starts.max() - starts.min() < pd.Timedelta(days=2):  # one day: a week around it, not hours
        mid = starts.min() + (starts.max() - starts.min()) / 2
        fig.update_xaxes(range=[mid - pd.Timedelta(days=3), mid + pd.Timedelta(days=3)])
    fig.update_yaxes(title=charts.axis_title(t("duplicate_messages"), t("unit_messages")),
                     tickformat=",d", rangemode="tozero")  # fmt: skip
    top = int(inc["duplicate_messages"].max())
    if top <= 5:  # whole messages: no repeated "1, 1, 1" ticks for small counts
        fig.update_yaxes(dtick=1, range=[0, top + 1])
    fig.update_coloraxes(colorbar={"title": {"text": charts.axis_title(t("duplicate_rate"), "%")},
                                   "tickformat": ".0%"})  # fmt: skip
    charts.show(fig, inc.drop(columns=["start"]), "sms_incidents")
    st.caption(t("incidents_scope"))

# ---- hour x weekday -------------------------------------------------------------------------
hw = data.hour_weekday(f)
if not hw.empty:
    pivot = (
        hw.pivot(index="local_weekday", columns="local_hour", values="messages")
        .reindex(index=range(1, 8), columns=range(24))
        .fillna(0)
        .astype(int)
    )
    # every cell and the colour bar in one unit: messages, or thousands (en) / 万 (zh)
    if int(pivot.to_numpy().max()) >= 10_000:
        scale, unit = (10_000, "万条") if lang() == "zh" else (1_000, "thousands")
        shown, text_fmt, bar_fmt = pivot / scale, "{:,.1f}", ",.1f"
    else:
        unit, shown, text_fmt, bar_fmt = t("unit_messages"), pivot, "{:,.0f}", ",d"
    fig = charts.heatmap(
        shown, t("heatmap_title"), t("hour"), t("weekday"), text=shown.map(text_fmt.format),
        value_title=charts.axis_title(t("unit_messages_count"), unit), value_format=bar_fmt,
        y_labels=[t(f"weekday_{d}") for d in range(1, 8)],
        x_labels=[f"{h:02d}" for h in range(24)], height=420,
    )  # fmt: skip
    charts.show(fig, hw, "sms_hour_weekday")

gateway.section(f)  # the send log against the gateways' receipts

# ---- worst templates ------------------------------------------------------------------------
st.header(t("worst_templates"))
tpl = data.worst_templates(f)
if not tpl.empty:
    tpl = tpl.copy()
    tpl["purpose_label"] = tpl["purpose"].map(lambda p: code("purpose", p))
    fig = charts.bar(
        tpl, "template_code", "flagged", t("worst_templates_chart"),
        y_title=charts.axis_title(t("flagged"), t("unit_messages")), color="purpose_label",
        colors=fmt.color_map("purpose", codes("purpose")), x_title=t("template"),
    )  # fmt: skip
    fig.update_xaxes(categoryorder="array", categoryarray=tpl["template_code"].tolist())
    charts.show(fig, tpl.drop(columns="purpose_label"), "sms_templates")
    charts.table(
        tpl.drop(columns="purpose_label"),
        "sms_templates_table",
        codes={"purpose": "purpose"},
        formats={"flagged_share": "pct"},
    )

st.header(t("non_permitted"))
charts.table(
    data.non_permitted_marketing(f),
    "sms_non_permitted",
    codes={"reason": "non_permitted_reason"},
)

# after settlement, collection before due, against the user's settings; the preference centre
preferences.render_never_sent(f)
preferences.render_centre(f)
charts.filters_note(["date", "band", "experiment"])

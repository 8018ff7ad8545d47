"""Sections of the SMS health & compliance page (called from views/sms_health.py; not a page
of its own): the messages that should never have gone out — after the bill was settled,
collection before the due date, against the user's own settings — over time and by
template, and the preference centre (what users chose, what is in force, and the evidence
before and after they chose).

Its queries are in dashboard/data/preferences.py.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.data.preferences import (
    before_after,
    changed_users,
    changes,
    in_force,
    never_sent_daily,
    never_sent_list,
    never_sent_templates,
)
from dashboard.i18n import t

NEVER_SENT = ("is_after_settlement", "is_collection_before_due", "is_against_preference")


def render_never_sent(f: data.Filters) -> None:
    """The three flags: totals, per day, by template."""
    st.subheader(t("never_sent"))
    daily = never_sent_daily(f)
    if daily.empty:
        st.info(t("empty"))
        return
    cols = st.columns(len(NEVER_SENT))
    for col, flag in zip(cols, NEVER_SENT, strict=True):
        col.metric(t(f"f_{flag}"), f"{int(daily[flag].sum()):,}")
    long = daily.melt(id_vars=["local_date"], value_vars=list(NEVER_SENT), var_name="flag",
                      value_name="count")  # fmt: skip
    long["label"] = long["flag"].map(lambda x: t(f"f_{x}"))
    fig = charts.line(
        long, "local_date", "count", t("never_sent_title"), color="label", grain="day",
        x_title=t("day"),
        y_title=charts.axis_title(t("unit_messages_count"), t("unit_msgs_per_day")),
    )  # fmt: skip
    charts.show(fig, long.drop(columns="label"), "sms_never_sent")
    tpl = never_sent_templates(f)
    if not tpl.empty:
        tl = tpl.melt(id_vars=["template_code"], value_vars=list(NEVER_SENT), var_name="flag",
                      value_name="count")  # fmt: skip
        tl["label"] = tl["flag"].map(lambda x: t(f"f_{x}"))
        fig = charts.bar(
            tl, "template_code", "count", t("never_sent_templates"), color="label",
            labels={"template_code": t("template"),
                    "count": charts.axis_title(t("unit_messages_count"), t("unit_messages"))},
        )  # fmt: skip
        fig.update_xaxes(categoryorder="array", categoryarray=tpl["template_code"].tolist())
        charts.show(fig, tpl, "sms_never_sent_templates")
    st.markdown(f"**{t('never_sent_list')}**")
    charts.table(
        never_sent_list(f),
        "sms_never_sent_list",
        codes={"purpose": "purpose", "reason": "never_sent_reason"},
    )


def render_centre(f: data.Filters) -> None:
    """The preference centre."""
    st.subheader(t("pref_centre"))
    counts = changed_users(f)
    if counts["ever"] == 0:
        st.info(t("no_preferences"))
        return
    against = never_sent_daily(f)
    c1, c2, c3 = st.columns(3)
    c1.metric(t("pref_users_changed"), f"{counts['users']:,}")
    c2.metric(t("pref_changes"), f"{counts['saves']:,}")
    total_against = int(against["is_against_preference"].sum()) if not against.empty else 0
    c3.metric(t("pref_against"), f"{total_against:,}")

    ch = changes(f)
    if not ch.empty:
        ch = ch.copy()
        ch["label"] = ch["change"].map(lambda x: t(f"pc_{x}"))
        fig = charts.bar(
            ch, "changes", "label", t("pref_changes_title"), orientation="h",
            labels={"changes": t("pref_changes"), "label": ""},
        )  # fmt: skip
        fig.update_yaxes(autorange="reversed")
        charts.show(fig, ch.drop(columns="label"), "pref_changes")

    force = in_force(f)
    force["label"] = force["setting"].map(lambda x: t(f"pf_{x}"))
    fig = charts.bar(
        force, "label", "users", t("pref_in_force_title"),
        labels={"label": t("pref_setting"), "users": t("pref_users")},
    )  # fmt: skip
    charts.show(fig, force.drop(columns="label"), "pref_in_force")

    n, ba = before_after(f)
    if n == 0:
        st.info(t("pref_no_complete"))
        return
    per_user_before = ba.loc[ba["measure"] == "messages", "before"].iloc[0] / n
    per_user_after = ba.loc[ba["measure"] == "messages", "after"].iloc[0] / n
    st.metric(
        t("pref_messages_per_user"),
        charts.num(per_user_after, 1),
        charts.signed(per_user_after - per_user_before, 1),
        delta_color="inverse",
    )
    # Messages against a setting have no "before" (there was no setting to go against): in
    # the same chart its after-bar dwarfed the others and read as an effect of choosing. It is
    # the metric above; the CSV keeps its row.
    shown = ba[ba["measure"].isin(["complaints", "sms_complaints", "opt_outs"])]
    long = pd.concat(
        [
            pd.DataFrame({"measure": shown["measure"], "period": t(period),
                          "per_1k": shown[f"{when}_per_1k"], "events": shown[when]})
            for when, period in (("before", "pref_before"), ("after", "pref_after"))
        ],
        ignore_index=True,
    )  # fmt: skip
    long["label"] = long["measure"].map(lambda x: t(f"pm_{x}"))
    # the rate and, in brackets, the events behind it: a few complaints move the rate a lot
    long["text"] = [
        f"{r:,.1f} ({int(e):,})" for r, e in long[["per_1k", "events"]].itertuples(index=False)
    ]
    fig = charts.bar(
        long, "label", "per_1k", t("pref_before_after_title"), color="period",
        barmode="group", labels={"label": t("pref_measure"), "per_1k": t("pref_per_1k")},
    )  # fmt: skip
    for trace in fig.data:
        trace.text = long.loc[long["period"] == trace.name, "text"].tolist()
        trace.textposition = "outside"
    charts.show(fig, ba, "pref_before_after")
    st.caption(t("pref_before_after_caption", n=f"{n:,}"))

"""Sections of the SMS health & compliance page (called from views/sms_health.py; not a page
of its own): the messages that should never have gone out — after the bill was settled,
collection before the due date, against the user's own settings — over time and by
template, and the preference centre (what users chose, what is in force, and the evidence
before and after they chose).

Reads only small tables: mart.sms_daily_flags, mart.preference_changes and
mart.preference_users (sql/marts/). Every query takes the page's date range, score band and
experiment.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.i18n import t

NEVER_SENT = ("is_after_settlement", "is_collection_before_due", "is_against_preference")

NEVER_SENT_DAILY_SQL = """
select local_date,
       coalesce(sum(messages) filter (where is_after_settlement), 0)::bigint
           as is_after_settlement,
       coalesce(sum(messages) filter (where is_collection_before_due), 0)::bigint
           as is_collection_before_due,
       coalesce(sum(messages) filter (where is_against_preference), 0)::bigint
           as is_against_preference
from mart.sms_daily_flags
where local_date between $start and $end and {in_scope}
group by local_date
order by local_date
""".replace("{in_scope}", data.IN_SCOPE)

NEVER_SENT_TEMPLATES_SQL = """
with by_template as (
    select template_code,
           coalesce(sum(messages) filter (where is_after_settlement), 0)::bigint
               as is_after_settlement,
           coalesce(sum(messages) filter (where is_collection_before_due), 0)::bigint
               as is_collection_before_due,
           coalesce(sum(messages) filter (where is_against_preference), 0)::bigint
               as is_against_preference,
           coalesce(sum(messages) filter (where is_after_settlement or is_collection_before_due
                                          or is_against_preference), 0)::bigint as flagged
    from mart.sms_daily_flags
    where local_date between $start and $end and {in_scope}
    group by template_code
)
select * from by_template
where flagged > 0
order by flagged desc, template_code
limit 10
""".replace("{in_scope}", data.IN_SCOPE)

# the latest 200 first, then formatted (as the list of non-permitted marketing)
NEVER_SENT_LIST_SQL = """
with latest as (
    select sent_at, message_id, user_id, purpose, template_code, bill_id, is_after_settlement,
           is_collection_before_due, is_against_preference
    from mart.sms_never_sent
    where local_date between $start and $end and {in_scope}
    order by sent_at desc, message_id
    limit 200
)
select strftime(timezone('Asia/Shanghai', sent_at), '%Y-%m-%d %H:%M') as sent,
       message_id, user_id, purpose, template_code, bill_id,
       concat_ws('+',
           case when is_after_settlement then 'after_settlement' end,
           case when is_collection_before_due then 'collection_before_due' end,
           case when is_against_preference then 'against_preference' end) as reason
from latest
order by sent_at desc, message_id
""".replace("{in_scope}", data.IN_SCOPE)

# users in the page's scope (score band and experiment of core, as elsewhere)
CHANGES_SQL = """
select change, count(*)::bigint as changes, count(distinct user_id)::bigint as users
from mart.preference_changes
where local_date between $start and $end and {user_in_scope}
group by change
order by changes desc, change
"""

CHANGED_USERS_SQL = """
select count(distinct user_id)::bigint as users, count(distinct (user_id, updated_at))::bigint
       as saves, (select count(*) from mart.preference_users)::bigint as ever
from mart.preference_changes
where local_date between $start and $end and {user_in_scope}
"""

# what is in force now for the users whose first choice was on or before the range's end
IN_FORCE_SQL = """
select count(*) filter (where not marketing)::bigint as marketing_off,
       count(*) filter (where not reminders)::bigint as reminders_off,
       count(*) filter (where quiet_start_hour is not null)::bigint as quiet_window,
       count(*) filter (where max_per_day is not null)::bigint as daily_max
from mart.preference_users
where chosen_date <= $end and {user_in_scope}
"""

BEFORE_AFTER_SQL = """
select count(*)::bigint as users,
       coalesce(sum(messages_before), 0)::bigint as messages_before,
       coalesce(sum(messages_after), 0)::bigint as messages_after,
       coalesce(sum(against_preference_after), 0)::bigint as against_after,
       coalesce(sum(complaints_before), 0)::bigint as complaints_before,
       coalesce(sum(complaints_after), 0)::bigint as complaints_after,
       coalesce(sum(sms_complaints_before), 0)::bigint as sms_complaints_before,
       coalesce(sum(sms_complaints_after), 0)::bigint as sms_complaints_after,
       coalesce(sum(opt_outs_before), 0)::bigint as opt_outs_before,
       coalesce(sum(opt_outs_after), 0)::bigint as opt_outs_after
from mart.preference_users
where chosen_date between $start and $end and before_complete and after_complete
  and {user_in_scope}
"""


def never_sent_daily(f: data.Filters) -> pd.DataFrame:
    return data.query(NEVER_SENT_DAILY_SQL, f.params())


def never_sent_templates(f: data.Filters) -> pd.DataFrame:
    return data.query(NEVER_SENT_TEMPLATES_SQL, f.params())


def never_sent_list(f: data.Filters) -> pd.DataFrame:
    return data.query(NEVER_SENT_LIST_SQL, f.params())


def changes(f: data.Filters) -> pd.DataFrame:
    return data.query(data._scoped(CHANGES_SQL), f.params())


def changed_users(f: data.Filters) -> dict[str, int]:
    row = data.query(data._scoped(CHANGED_USERS_SQL), f.params()).iloc[0]
    return {k: int(v) for k, v in row.items()}


def in_force(f: data.Filters) -> pd.DataFrame:
    row = data.query(data._scoped(IN_FORCE_SQL), f.params()).iloc[0]
    return pd.DataFrame({"setting": list(row.index), "users": [int(v) for v in row.to_numpy()]})


def before_after(f: data.Filters) -> tuple[int, pd.DataFrame]:
    """(users, one row per measure: before, after, per 1,000 users each)."""
    row = data.query(data._scoped(BEFORE_AFTER_SQL), f.params()).iloc[0]
    n = int(row["users"])
    measures = ("messages", "complaints", "sms_complaints", "opt_outs")
    out = pd.DataFrame(
        {
            "measure": list(measures),
            "before": [int(row[f"{m}_before"]) for m in measures],
            "after": [int(row[f"{m}_after"]) for m in measures],
        }
    )
    # before the first choice there is no setting to go against: no value, not 0
    out.loc[len(out)] = ["against", float("nan"), int(row["against_after"])]
    for side in ("before", "after"):
        out[f"{side}_per_1k"] = out[side] * 1000 / n if n else float("nan")
    return n, out


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
        long, "local_date", "count", t("never_sent_title"), color="label",
        labels={"local_date": t("day"), "count": ""},
    )  # fmt: skip
    charts.show(fig, long.drop(columns="label"), "sms_never_sent")
    tpl = never_sent_templates(f)
    if not tpl.empty:
        tl = tpl.melt(id_vars=["template_code"], value_vars=list(NEVER_SENT), var_name="flag",
                      value_name="count")  # fmt: skip
        tl["label"] = tl["flag"].map(lambda x: t(f"f_{x}"))
        fig = charts.bar(
            tl, "template_code", "count", t("never_sent_templates"), color="label",
            labels={"template_code": t("template"), "count": ""},
        )  # fmt: skip
        fig.update_xaxes(categoryorder="array", categoryarray=tpl["template_code"].tolist())
        charts.show(fig, tpl, "sms_never_sent_templates")
    st.markdown(f"**{t('never_sent_list')}**")
    charts.table(never_sent_list(f), "sms_never_sent_list")


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
    shown = ba[ba["measure"].isin(["complaints", "sms_complaints", "opt_outs", "against"])]
    long = shown.melt(id_vars=["measure"], value_vars=["before_per_1k", "after_per_1k"],
                      var_name="period", value_name="per_1k")  # fmt: skip
    long["label"] = long["measure"].map(lambda x: t(f"pm_{x}"))
    long["period_label"] = long["period"].map(
        {"before_per_1k": t("pref_before"), "after_per_1k": t("pref_after")}
    )
    fig = charts.bar(
        long, "label", "per_1k", t("pref_before_after_title"), color="period_label",
        barmode="group", labels={"label": t("pref_measure"), "per_1k": t("pref_per_1k")},
    )  # fmt: skip
    charts.show(fig, ba, "pref_before_after")
    st.caption(t("pref_before_after_caption", n=n))

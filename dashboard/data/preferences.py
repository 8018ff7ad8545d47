"""Queries of the SMS health page's sections on messages that should never have gone out and
the preference centre (mart.sms_daily_flags, mart.sms_never_sent, mart.preference_changes,
mart.preference_users). Every query takes the page's date range, score band and experiment."""

from __future__ import annotations

import pandas as pd

from dashboard.data.connection import query
from dashboard.data.scope import IN_SCOPE, Filters, scoped

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
""".replace("{in_scope}", IN_SCOPE)

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
""".replace("{in_scope}", IN_SCOPE)

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
""".replace("{in_scope}", IN_SCOPE)

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


def never_sent_daily(f: Filters) -> pd.DataFrame:
    return query(NEVER_SENT_DAILY_SQL, f.params())


def never_sent_templates(f: Filters) -> pd.DataFrame:
    return query(NEVER_SENT_TEMPLATES_SQL, f.params())


def never_sent_list(f: Filters) -> pd.DataFrame:
    return query(NEVER_SENT_LIST_SQL, f.params())


def changes(f: Filters) -> pd.DataFrame:
    return query(scoped(CHANGES_SQL), f.params())


def changed_users(f: Filters) -> dict[str, int]:
    row = query(scoped(CHANGED_USERS_SQL), f.params()).iloc[0]
    return {k: int(v) for k, v in row.items()}


def in_force(f: Filters) -> pd.DataFrame:
    row = query(scoped(IN_FORCE_SQL), f.params()).iloc[0]
    return pd.DataFrame({"setting": list(row.index), "users": [int(v) for v in row.to_numpy()]})


def before_after(f: Filters) -> tuple[int, pd.DataFrame]:
    """(users, one row per measure: before, after, per 1,000 users each)."""
    row = query(scoped(BEFORE_AFTER_SQL), f.params()).iloc[0]
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

"""Queries of the SMS health & compliance page (aggregate marts only, except the drill-down
of one user)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dashboard.data.connection import query
from dashboard.data.masking import mask_frame
from dashboard.data.scope import IN_SCOPE, Filters, scoped
from pipelines.settings import TIMEZONE

FLAGS_DAILY_SQL = """
select local_date,
       sum(messages)::bigint as messages,
       coalesce(sum(messages) filter (where is_duplicate), 0)::bigint as is_duplicate,
       coalesce(sum(messages) filter (where is_quiet_hours), 0)::bigint as is_quiet_hours,
       coalesce(sum(messages) filter (where is_after_opt_out), 0)::bigint as is_after_opt_out,
       coalesce(sum(messages) filter (where is_over_daily_cap), 0)::bigint as is_over_daily_cap,
       coalesce(sum(messages) filter (where is_marketing_in_service), 0)::bigint
           as is_marketing_in_service,
       coalesce(sum(messages) filter (where is_marketing_without_consent), 0)::bigint
           as is_marketing_without_consent
from mart.sms_daily_flags
where local_date between $start and $end and {in_scope}
group by local_date
order by local_date
""".replace("{in_scope}", IN_SCOPE)


def flags_daily(f: Filters) -> pd.DataFrame:
    return query(FLAGS_DAILY_SQL, f.params())


HOUR_WEEKDAY_SQL = """
select isodow(local_date) as local_weekday, local_hour, sum(messages)::bigint as messages
from mart.sms_day_hour
where local_date between $start and $end and {in_scope}
group by all
order by all
""".replace("{in_scope}", IN_SCOPE)


def hour_weekday(f: Filters) -> pd.DataFrame:
    return query(HOUR_WEEKDAY_SQL, f.params())


INCIDENTS_SQL = """
select incident_id, started_at, ended_at, messages, duplicate_messages, duplicate_rate, users,
       array_to_string(templates, ', ') as templates, gateway_duplicates
from mart.duplicate_incidents
where cast(timezone('Asia/Shanghai', started_at) as date) between $start and $end
order by started_at
"""


def incidents(f: Filters) -> pd.DataFrame:
    return query(INCIDENTS_SQL, f.params())


TEMPLATES_SQL = """
select template_code, any_value(purpose) as purpose, sum(messages)::bigint as messages,
       coalesce(sum(messages) filter (where is_duplicate or is_quiet_hours or is_after_opt_out
                                      or is_over_daily_cap or is_marketing_in_service
                                      or is_marketing_without_consent), 0)::bigint as flagged,
       flagged / sum(messages) as flagged_share
from mart.sms_daily_flags
where local_date between $start and $end and {in_scope}
group by template_code
order by flagged desc, flagged_share desc, template_code
limit 10
""".replace("{in_scope}", IN_SCOPE)


def worst_templates(f: Filters) -> pd.DataFrame:
    return query(TEMPLATES_SQL, f.params())


# The latest 200 first, then formatted (formatting every row in scope costs more than the rest).
NON_PERMITTED_SQL = """
with latest as (
    select sent_at, message_id, user_id, template_code, is_after_opt_out,
           is_marketing_without_consent
    from mart.sms_non_permitted
    where local_date between $start and $end and {in_scope}
    order by sent_at desc, message_id
    limit 200
)
select strftime(timezone('Asia/Shanghai', sent_at), '%Y-%m-%d %H:%M') as sent,
       message_id, user_id, template_code,
       case when is_after_opt_out and is_marketing_without_consent then 'opt_out+no_consent'
            when is_after_opt_out then 'after_opt_out' else 'no_consent' end as reason
from latest
order by sent_at desc, message_id
""".replace("{in_scope}", IN_SCOPE)


def non_permitted_marketing(f: Filters) -> pd.DataFrame:
    return query(NON_PERMITTED_SQL, f.params())


# Delivery and spend per provider and day (mart.sms_daily_delivery). Verification messages are
# billed, so they count towards segments; the delivery rate leaves them out (sms_delivery_rate).
DELIVERY_SQL = """
select local_date, provider,
       sum(messages) filter (where purpose <> 'verification')::bigint as messages,
       coalesce(sum(messages) filter (where purpose <> 'verification'
                                      and delivery_status = 'delivered'), 0)::bigint
           as delivered,
       coalesce(sum(messages) filter (where purpose <> 'verification'
                                      and delivery_status = 'failed'), 0)::bigint as failed,
       sum(messages)::bigint as billed_messages,
       sum(segments)::bigint as segments
from mart.sms_daily_delivery
where local_date between $start and $end and {in_scope}
group by local_date, provider
order by local_date, provider
""".replace("{in_scope}", IN_SCOPE)


def delivery(f: Filters) -> pd.DataFrame:
    """Per local day and provider: messages (no verification), delivered, failed, and every
    billed message with its segments."""
    return query(DELIVERY_SQL, f.params())


# The compliance drill-down: every message one user received in the days up to a moment (a
# complaint's receipt), with its flags, content (masked at ingestion, masked again on show)
# and delivery. Two selective reads bounded by the window, not a join of whole tables: the
# flags mart carries no content, and joining core.sms_logs on message_id alone read all of it
# (5.4 M rows, 240 of the 300 ms at scale m; message ids say nothing about where a row lies).
# A log row has the user and send time of the message it matches (core.sms_messages copies
# them; message_id is unique there, sql/checks/sms_message_flags_grain.sql), so reading the
# log by the same user and window finds the same rows, through zone maps on sent_at (and
# only the month segments the window touches; the log is loaded day by day, so roughly in
# order of sent_at). $from_ts is the start of local day $since: the sent_at bounds say what
# the local_date bounds say, in the log's own column. Gateway-only sends (a retry the log
# does not know) have no log row: no content, as before.
USER_MESSAGES_SQL = """
with logs as (
    select message_id, content
    from core.sms_logs
    where user_id = $user_id
      and sent_at >= $from_ts
      and sent_at <= $before
)
select f.sent_at, f.message_id, f.purpose, f.template_code, f.bill_id, f.delivery_status,
       f.is_duplicate, f.is_quiet_hours, f.is_after_opt_out, f.is_over_daily_cap,
       f.is_marketing_in_service, f.is_marketing_without_consent, logs.content
from mart.sms_message_flags as f
left join logs
    on logs.message_id = f.message_id
where f.user_id = $user_id
  and f.local_date between $since and $until
  and f.sent_at >= $from_ts
  and f.sent_at <= $before
order by f.sent_at desc, f.message_id
limit 500
"""

COMPLAINT_SQL = """
select complaint_id, user_id, received_at, local_date, source, category, status, narrative
from mart.complaints_classified
where complaint_id = $complaint_id
"""

COMPLAINT_CHOICES_SQL = """
select complaint_id, user_id, received_at, source, category
from mart.complaints_classified
where local_date between $start and $end and {user_in_scope}
order by received_at desc, complaint_id
limit 500
"""


def complaint(complaint_id: str) -> pd.DataFrame:
    return mask_frame(query(COMPLAINT_SQL, {"complaint_id": complaint_id}))


def complaint_choices(f: Filters) -> pd.DataFrame:
    """The latest complaints in scope (at most 500), newest first, to pick one to drill into."""
    return query(scoped(COMPLAINT_CHOICES_SQL), f.params())


def user_messages(user_id: str, before: dt.datetime | pd.Timestamp, days: int = 7) -> pd.DataFrame:
    """The messages `user_id` was sent in the `days` local days up to `before` (inclusive)."""
    before = pd.Timestamp(before)
    if before.tzinfo is None:
        before = before.tz_localize(TIMEZONE)
    until = before.tz_convert(TIMEZONE).date()
    since = until - dt.timedelta(days=days)
    from_ts = pd.Timestamp(since).tz_localize(TIMEZONE)  # local midnight starting `since`
    params = {
        "user_id": user_id,
        "since": since,
        "until": until,
        "from_ts": from_ts.to_pydatetime(),
        "before": before.to_pydatetime(),
    }
    df = query(USER_MESSAGES_SQL, params)
    return mask_frame(df)

"""Data access of the Incidents page (and the alert line of the data status page).

Reads the published `alerts` schema (pipelines.alerts) through `dashboard.data.query`: one
bound, cached, read-only query each. A database published before alerts existed has no such
schema; `available()` says so and the pages show a note instead.
"""

from __future__ import annotations

import pandas as pd

from dashboard.data.connection import query

AVAILABLE_SQL = """
select count(*) as n
from information_schema.tables
where table_schema = 'alerts' and table_name in ('incidents', 'incident_messages', 'notifications')
"""

# open ones first, then the most recent activity; a closed one only when it overlaps the dates
INCIDENTS_SQL = """
select incident_id, kind, subject, status, first_seen, last_seen, messages, users,
       array_to_string(templates, ', ') as templates, provider, hours, notify
from alerts.incidents
where status = 'open'
   or (cast(timezone('Asia/Shanghai', last_seen) as date) >= $start
       and cast(timezone('Asia/Shanghai', first_seen) as date) <= $end)
order by status = 'open' desc, last_seen desc, incident_id desc
"""

HOURLY_SQL = """
select date_trunc('hour', timezone('Asia/Shanghai', sent_at)) as hour, count(*) as messages,
       count(distinct user_id) as users
from alerts.incident_messages
where incident_id = $incident_id
group by all
order by hour
"""

TEMPLATES_SQL = """
select template_code, count(*) as messages, count(distinct user_id) as users
from alerts.incident_messages
where incident_id = $incident_id
group by all
order by messages desc, template_code
"""

PROVIDERS_SQL = """
select provider, count(*) as messages
from alerts.incident_messages
where incident_id = $incident_id
group by all
order by messages desc, provider
"""

MESSAGES_SQL = """
select strftime(timezone('Asia/Shanghai', sent_at), '%Y-%m-%d %H:%M:%S') as sent,
       message_id, user_id, template_code, provider
from alerts.incident_messages
where incident_id = $incident_id
order by sent_at, message_id
limit $limit
"""

NOTIFICATIONS_SQL = """
select notification_id, incident_id, event, endpoint, format, status, attempts, last_error,
       created_at, last_attempt_at, delivered_at
from alerts.notifications
order by notification_id desc
limit 200
"""

NOTIFICATION_STATUS_SQL = """
select status, count(*) as n
from alerts.notifications
group by status
"""


def available() -> bool:
    df = query(AVAILABLE_SQL)
    return not df.empty and int(df["n"].iloc[0]) == 3


def incidents(start, end) -> pd.DataFrame:
    return query(INCIDENTS_SQL, {"start": start, "end": end})


def hourly(incident_id: int) -> pd.DataFrame:
    return query(HOURLY_SQL, {"incident_id": incident_id})


def templates(incident_id: int) -> pd.DataFrame:
    return query(TEMPLATES_SQL, {"incident_id": incident_id})


def providers(incident_id: int) -> pd.DataFrame:
    """The providers of an incident's messages, most messages first."""
    return query(PROVIDERS_SQL, {"incident_id": incident_id})


def messages(incident_id: int, limit: int = 1000) -> pd.DataFrame:
    return query(MESSAGES_SQL, {"incident_id": incident_id, "limit": limit})


def notifications() -> pd.DataFrame:
    return query(NOTIFICATIONS_SQL)


def notification_status() -> dict[str, int]:
    """{status: count} of the notification log; empty when alerts are not published."""
    if not available():
        return {}
    df = query(NOTIFICATION_STATUS_SQL)
    return {str(s): int(n) for s, n in zip(df["status"], df["n"], strict=True)}

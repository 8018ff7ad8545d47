"""One evaluation: rules over what the run loaded, incident state, notifications.

Called by the Dagster asset `["alerts", "incidents"]` after the marts are built (so sensor,
schedule and `nudgescope run` all evaluate). Everything about the data is set-based SQL in
`sql/alerts/`; Python only loops over the incidents that changed (a handful) to word and send
their notifications.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from pipelines import sqlfiles
from pipelines.alerts import notify
from pipelines.alerts.settings import AlertSettings
from pipelines.settings import TIMEZONE

SETUP = (
    "alerts/schema",
    "alerts/create_incidents",
    "alerts/create_incident_messages",
    "alerts/create_notifications",
    "alerts/create_evaluations",
)
RULES = (
    "alerts/rule_duplicate_burst",
    "alerts/rule_night_batch",
    "alerts/rule_promo_in_service",
    "alerts/rule_after_opt_out",
    "alerts/rule_over_cap_surge",
    "alerts/rule_delivery_drop",
)


@dataclass
class AlertResult:
    evaluation_id: str
    window_dates: int = 0
    first_load: bool = False
    hits: int = 0
    opened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    quiet_history: int = 0  # incidents of a first load kept without a notification
    delivered: int = 0
    failed: list[str] = field(default_factory=list)  # "#id event → endpoint: error"
    pending: int = 0  # still undelivered after this run (retried at the next)
    given_up: int = 0
    open_incidents: list[tuple] = field(default_factory=list)
    seconds: float = 0.0

    def as_metadata(self) -> dict:
        return {
            "window_dates": self.window_dates,
            "first_load": self.first_load,
            "opened": len(self.opened),
            "resolved": len(self.resolved),
            "open_incidents": len(self.open_incidents),
            "notifications_delivered": self.delivered,
            "notifications_pending": self.pending,
            "notifications_failed": len(self.failed),
            "seconds": round(self.seconds, 3),
        }


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    for name in SETUP:
        sqlfiles.run(con, name)


def pending_count(warehouse: Path) -> int:
    """Undelivered notifications in the warehouse (0 when there is no warehouse or table)."""
    if not Path(warehouse).exists():
        return 0
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            rows = sqlfiles.run(con, "alerts/notification_status").fetchall()
    except duckdb.Error:
        return 0
    return sum(n for status, n in rows if status == "pending")


def _has_marts(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where database_name = current_database() "
            "and schema_name = 'mart' and table_name = 'sms_message_flags'"
        ).fetchone()[0]
    )


def evaluate(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    settings: AlertSettings | None = None,
    now: datetime | None = None,
    log=None,
) -> AlertResult:
    """Evaluate the rules over what was loaded since the last evaluation, update incidents,
    queue and deliver notifications. Never raises for an endpoint that fails."""
    t0 = time.monotonic()
    settings = settings or AlertSettings.from_env()
    now = now or datetime.now(UTC)
    result = AlertResult(evaluation_id=str(uuid.uuid4()))
    ensure(con)
    if _has_marts(con):
        _evaluate(con, run_id, settings, now, result)
    _deliver(con, settings, now, result, log)
    result.open_incidents = sqlfiles.run(con, "alerts/open_incidents").fetchall()
    result.seconds = time.monotonic() - t0
    return result


def _date_bounds(con: duckdb.DuckDBPyConnection) -> tuple[dict, dict]:
    """The range of the dates in alert_dates (local days, Asia/Shanghai), as dates and as the
    `sent_at` range they cover: constant filters of the scans, which DuckDB checks against each
    row group's min/max and applies before it reads the other columns. The provider hours and
    the flagged messages' providers read the log's recent row groups only (0.75 → 0.1 and
    0.4-0.65 → 0.17 CPU-s at m). The exact date tests stay."""
    first, last = con.execute("select min(local_date), max(local_date) from alert_dates").fetchone()
    zone = ZoneInfo(TIMEZONE)
    sent = {
        "sent_from": datetime.combine(first, dtime(0), zone),
        "sent_before": datetime.combine(last + timedelta(days=1), dtime(0), zone),
    }
    return {"first_date": first, "last_date": last}, sent


def _evaluate(con, run_id, settings: AlertSettings, now, result: AlertResult) -> None:
    since, first_load = sqlfiles.run(con, "alerts/watermark").fetchone()
    sqlfiles.run(con, "alerts/window", {"since": since})
    result.window_dates = con.execute("select count(*) from alert_window").fetchone()[0]
    result.first_load = bool(first_load)
    loaded_through, data_now = sqlfiles.run(con, "alerts/loaded_through").fetchone()
    params = settings.rule_params()
    sqlfiles.run(con, "alerts/create_hits")
    if result.window_dates:
        sqlfiles.run(con, "alerts/dates")
        dates, sent = _date_bounds(con)
        sqlfiles.run(con, "alerts/flagged", dates | sent)
        sqlfiles.run(con, "alerts/provider_hours", sent)
        for name in RULES:
            sqlfiles.run(con, name, _used(name, params))
    sources = sorted(settings.stale_hours)
    sqlfiles.run(
        con,
        "alerts/rule_stale_source",
        {
            "stale_sources": sources,
            "stale_hours": [settings.stale_hours[s] for s in sources],
            "now": now,
        },
    )
    result.hits = con.execute("select count(*) from alert_hits").fetchone()[0]
    state = {
        "quiet_minutes": settings.quiet_minutes,
        "now": now,
        "evaluation_id": result.evaluation_id,
        "data_now": data_now,
    }
    con.execute("begin transaction")
    try:
        sqlfiles.run(con, "alerts/hit_episodes", {"quiet_minutes": settings.quiet_minutes})
        sqlfiles.run(con, "alerts/episodes", {"quiet_minutes": settings.quiet_minutes})
        sqlfiles.run(
            con,
            "alerts/insert_incidents",
            {
                "first_load": result.first_load,
                "data_now": data_now,
                "history_hours": settings.history_hours,
                "now": now,
                "evaluation_id": result.evaluation_id,
            },
        )
        sqlfiles.run(con, "alerts/insert_members")
        sqlfiles.run(con, "alerts/update_incidents", {"now": now})
        sqlfiles.run(con, "alerts/resolve", state)
        changes = sqlfiles.run(
            con, "alerts/changes", {"evaluation_id": result.evaluation_id}
        ).fetchall()
        for row in changes:
            *fields, notify_flag = row
            event = notify.Event(*fields)
            (result.opened if event.event == "open" else result.resolved).append(event.incident_id)
            if not notify_flag:
                result.quiet_history += event.event == "open"
                continue
            _queue(con, event, settings, now, run_id)
        if result.window_dates or changes:
            sqlfiles.run(
                con,
                "alerts/insert_evaluation",
                {
                    "evaluation_id": result.evaluation_id,
                    "run_id": run_id,
                    "now": now,
                    "loaded_through": loaded_through,
                    "data_now": data_now,
                    "first_load": result.first_load,
                    "window_dates": result.window_dates,
                    "hits": result.hits,
                    "opened": len(result.opened),
                    "resolved": len(result.resolved),
                    "seconds": None,
                },
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _used(name: str, params: dict) -> dict:
    """The parameters a rule file names (DuckDB rejects unused named parameters)."""
    text = sqlfiles.load(name)
    return {k: v for k, v in params.items() if f"${k}" in text}


def _queue(con, event: notify.Event, settings: AlertSettings, now, run_id: str) -> None:
    data = json.dumps(
        notify.body(event, settings.format, settings.lang, settings.quiet_minutes),
        ensure_ascii=False,
    )
    for url in settings.webhooks:
        sqlfiles.run(
            con,
            "alerts/insert_notification",
            {
                "incident_id": event.incident_id,
                "event": event.event,
                "endpoint": notify.endpoint_label(url),
                "endpoint_hash": notify.endpoint_hash(url),
                "format": settings.format,
                "body": data,
                "now": now,
                "run_id": run_id,
            },
        )


def _deliver(con, settings: AlertSettings, now, result: AlertResult, log) -> None:
    """Send every pending notification in order; an endpoint that fails all its attempts is
    not tried again in this run (its later notifications wait, so they keep their order)."""
    urls = {notify.endpoint_hash(u): u for u in settings.webhooks}
    down: set[str] = set()
    give_up_before = now - timedelta(hours=settings.retry_hours)
    for nid, incident_id, event, endpoint, ehash, body, _attempts, created_at in sqlfiles.run(
        con, "alerts/pending_notifications"
    ).fetchall():
        url = urls.get(ehash)
        status, attempts, error = "pending", 0, None
        if url is None:
            status, error = "failed", "endpoint no longer in NUDGESCOPE_ALERT_WEBHOOK"
        elif created_at < give_up_before:
            status, error = "failed", f"undelivered for {settings.retry_hours:g} h, given up"
        elif ehash in down:
            result.pending += 1
            continue
        else:
            outcome = notify.post(
                url,
                body.encode("utf-8"),
                _format_of(body),
                settings.retries,
                settings.backoff_seconds,
                settings.timeout_seconds,
            )
            attempts, error = outcome.attempts, outcome.error
            if outcome.ok:
                status = "delivered"
                result.delivered += 1
            else:
                down.add(ehash)
                result.pending += 1
        if error:
            line = f"#{incident_id} {event} → {endpoint}: {error}"
            result.failed.append(line)
            if status == "failed":
                result.given_up += 1
            if log is not None:
                log(line)
        sqlfiles.run(
            con,
            "alerts/update_notification",
            {
                "status": status,
                "attempts": attempts,
                "error": error,
                "now": now,
                "notification_id": nid,
            },
        )


def _format_of(body: str) -> str:
    """Which robot a stored body is for (its shape), to read the robot's answer."""
    data = json.loads(body)
    if "msgtype" in data:
        return "dingtalk"
    if "msg_type" in data:
        return "feishu"
    return "json"

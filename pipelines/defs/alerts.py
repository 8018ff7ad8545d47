"""Incident alerts as a Dagster asset, downstream of the marts (so sensor, schedule and
`nudgescope run` all evaluate), upstream of the publish (so readers see the incidents).

The asset `["alerts", "incidents"]` runs `pipelines.alerts.evaluate` on the warehouse: the
rules over what was loaded since the last evaluation, incident state in schema `alerts`,
notifications to NUDGESCOPE_ALERT_WEBHOOK. Two WARN checks show in the UI: open incidents
and undelivered notifications. A failing endpoint never fails the step.
Self-contained: it names its upstream assets by key, nothing else in defs/ imports it.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.alerts import AlertSettings, AlertSettingsError, evaluate

ALERTS_KEY = dg.AssetKey(["alerts", "incidents"])
UPSTREAM = [
    dg.AssetKey(["mart", "sms_message_flags"]),
    dg.AssetKey(["mart", "run_context"]),
    dg.AssetKey(["core", "sms_logs"]),
]
OPEN_CHECK = "no_open_incidents"
DELIVERY_CHECK = "notifications_delivered"


def _open_table(rows) -> str:
    if not rows:
        return "no open incidents"
    lines = [
        "| id | kind | subject | first seen | last seen | messages | users | templates |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for incident_id, kind, subject, first, last, messages, users, templates in rows[:50]:
        lines.append(
            f"| {incident_id} | {kind} | {subject} | {first:%Y-%m-%d %H:%M} | "
            f"{last:%Y-%m-%d %H:%M} | {messages} | {users} | {', '.join(templates or [])} |"
        )
    return "\n".join(lines)


def _by_kind(rows) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[1]] = counts.get(row[1], 0) + 1
    return dict(sorted(counts.items()))


@dg.asset(
    key=ALERTS_KEY,
    deps=UPSTREAM,
    pool="warehouse",
    kinds={"duckdb"},
    group_name="alerts",
    description="Incident rules over each run's loads; incidents kept in alerts.* across "
    "runs and rebuilds; one webhook POST per open and per resolve (docs/alerts.md).",
    check_specs=[
        dg.AssetCheckSpec(
            OPEN_CHECK,
            asset=ALERTS_KEY,
            description="No incident is open (a warning listing the open ones otherwise).",
        ),
        dg.AssetCheckSpec(
            DELIVERY_CHECK,
            asset=ALERTS_KEY,
            description="Every notification was delivered (undelivered ones are retried "
            "at the next run).",
        ),
    ],
)
def incidents(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    try:
        settings = AlertSettings.from_env()
    except AlertSettingsError as exc:
        raise dg.Failure(description=f"alert settings: {exc}") from None
    with duckdb.get_connection() as con:
        result = evaluate(con, context.run.run_id, settings, log=context.log.warning)
    open_rows = result.open_incidents
    context.log.info(
        f"alerts: {result.window_dates} loaded date(s) evaluated, {len(result.opened)} opened, "
        f"{len(result.resolved)} resolved, {len(open_rows)} open; notifications "
        f"{result.delivered} delivered, {result.pending} pending"
        + (
            f" ({result.quiet_history} past incidents kept without alert)"
            if result.quiet_history
            else ""
        )
    )
    yield dg.MaterializeResult(
        metadata={
            **result.as_metadata(),
            "open": dg.MetadataValue.md(_open_table(open_rows)),
            "delivery_failures": dg.MetadataValue.md(
                "\n".join(f"- {line}" for line in result.failed) or "none"
            ),
        }
    )
    yield dg.AssetCheckResult(
        asset_key=ALERTS_KEY,
        check_name=OPEN_CHECK,
        passed=not open_rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={kind: n for kind, n in _by_kind(open_rows).items()},
    )
    yield dg.AssetCheckResult(
        asset_key=ALERTS_KEY,
        check_name=DELIVERY_CHECK,
        passed=not result.failed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"pending": result.pending, "given_up": result.given_up},
    )

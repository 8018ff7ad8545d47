"""What starts runs under the Dagster daemon: a sensor on the landing folder, the daily run, the
daily checks over whole tables and the nightly compaction of the published segments.

Both ask the planner (pipelines.orchestration.planner), the same code `nudgescope run` uses, what
is new compared with the ledger, and request one run of the `pipeline` job for it (see
pipelines.orchestration.jobs). They keep no cursor: right after any run, whoever started it,
there is nothing to request.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines import settings
from pipelines.errors import UserError
from pipelines.orchestration import planner
from pipelines.orchestration.jobs import (
    busy_run,
    checks_job,
    compact_job,
    fail_dead_cli_runs,
    pipeline_job,
    run_request,
)
from pipelines.settings import TIMEZONE


def _plan_or_skip(context, label: str) -> planner.Plan | dg.SkipReason:
    fail_dead_cli_runs(context.instance)  # a killed `nudgescope run` must not block the pool
    busy = busy_run(context.instance)
    if busy is not None:
        return dg.SkipReason(
            f"run {busy.run_id} is {busy.status.value.lower()}: planning after it ends"
        )
    try:
        todo = planner.plan(settings.paths())
    except UserError as exc:
        return dg.SkipReason(str(exc))
    outside = [x for x in todo.scan.ignored if planner.OUTSIDE in x]
    if outside:
        context.log.warning(f"ignored: {', '.join(outside)}")
    if not todo.has_work:
        return dg.SkipReason(f"{label}: nothing new under {settings.paths().landing}")
    return todo


@dg.sensor(
    job=pipeline_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a run when the planner finds new, changed or removed landing files "
    "(only those sources and dates are staged) or an unfinished publish.",
)
def landing_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    todo = _plan_or_skip(context, "landing_sensor")
    if isinstance(todo, dg.SkipReason):
        return todo
    context.log.info(f"requesting a run: {todo.reason}")
    # the key names the state planned from: a run that failed is not requested again for the
    # same files (a new or fixed file makes a new key; re-execute it from the UI otherwise)
    return run_request(todo, run_key=f"landing-{todo.digest}")


@dg.schedule(
    job=pipeline_job,
    cron_schedule="0 6 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 06:00 Asia/Shanghai: whatever the planner finds (usually the "
    "previous day's files, if the sensor has not loaded them yet), checked on whole tables.",
)
def daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    local = context.scheduled_execution_time.astimezone(ZoneInfo(TIMEZONE))
    day = (local.date() - timedelta(days=1)).isoformat()
    todo = _plan_or_skip(context, f"daily_schedule for {day}")
    if isinstance(todo, dg.SkipReason):
        return todo
    return run_request(todo, run_key=f"daily-{day}-{todo.digest}", full_checks=True)


@dg.schedule(
    job=checks_job,
    cron_schedule="30 6 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 06:30 Asia/Shanghai: every check over whole tables (staging, "
    "core, marts), building and publishing nothing, so they run even on a day the sensor "
    "already loaded everything.",
)
def full_checks_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    local = context.scheduled_execution_time.astimezone(ZoneInfo(TIMEZONE))
    return dg.RunRequest(run_key=f"checks-{local.date().isoformat()}")


@dg.schedule(
    job=compact_job,
    cron_schedule="30 4 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 04:30 Asia/Shanghai, when a month has ended: its three segment "
    "files (thirds) are written once more as one and published, off the daily data run.",
)
def compact_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    busy = busy_run(context.instance)
    if busy is not None:
        return dg.SkipReason(f"run {busy.run_id} is {busy.status.value.lower()}")
    try:
        months, reason = planner.compaction_due(settings.paths())
    except UserError as exc:
        return dg.SkipReason(str(exc))
    if reason is not None:
        return dg.SkipReason(f"compact_schedule: {reason}")
    local = context.scheduled_execution_time.astimezone(ZoneInfo(TIMEZONE))
    return dg.RunRequest(run_key=f"compact-{local.date().isoformat()}-{'-'.join(months)}")

"""What starts runs: a sensor on the landing folder and a daily schedule.

Both target one job over every asset (staging → core → marts → serve_db). A run covers a range
of dt partitions in one go (the staging assets have a single-run backfill policy), and within
that range only new, changed or removed files do any work.
"""

import hashlib
import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines import settings
from pipelines.defs.ingest import DAILY, FULL_CHECKS_TAG
from pipelines.ingest import files
from pipelines.settings import TIMEZONE

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

pipeline_job = dg.define_asset_job(
    "pipeline",
    selection=dg.AssetSelection.all(),
    # one process for the whole run: DuckDB has a single writer anyway (pool "warehouse"), and
    # a subprocess per step would re-import the code location for every step
    executor_def=dg.in_process_executor,
    description="Stage the requested dt partitions, merge core, rebuild the marts, publish.",
)


def range_tags(start: str, end: str) -> dict[str, str]:
    """Run tags that make one run cover the partitions start … end (inclusive)."""
    return {RANGE_START: start, RANGE_END: end}


def landing_fingerprints(landing) -> dict[str, str]:
    """dt -> short digest of (path, size, mtime) of every landing file with that dt."""
    per_dt: dict[str, list[str]] = {}
    for f in files.scan(landing).files:
        per_dt.setdefault(f.dt.isoformat(), []).append(f"{f.path}\0{f.size}\0{f.mtime_ns}")
    return {
        dt: hashlib.sha1("\n".join(sorted(items)).encode()).hexdigest()[:16]
        for dt, items in per_dt.items()
    }


@dg.sensor(
    job=pipeline_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a run for the dt partitions whose landing files are new or changed.",
)
def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    landing = settings.paths().landing
    current = landing_fingerprints(landing)
    seen = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(dt for dt in set(current) | set(seen) if current.get(dt) != seen.get(dt))
    valid = set(DAILY.get_partition_keys())
    outside = [dt for dt in changed if dt not in valid]
    changed = [dt for dt in changed if dt in valid]
    if outside:
        context.log.warning(f"dt folders outside the partitions, ignored: {', '.join(outside)}")
    if not changed:
        return dg.SkipReason(f"no new or changed files under {landing}")
    start, end = changed[0], changed[-1]
    digest = hashlib.sha1(
        json.dumps({dt: current.get(dt) for dt in changed}, sort_keys=True).encode()
    ).hexdigest()[:16]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"landing-{start}-{end}-{digest}", tags=range_tags(start, end))
        ],
        cursor=json.dumps(current, sort_keys=True),
    )


@dg.schedule(
    job=pipeline_job,
    cron_schedule="0 6 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 06:00 Asia/Shanghai: load the previous day's partition; its "
    "checks cover whole tables (other runs check only what they changed).",
)
def daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    local = context.scheduled_execution_time.astimezone(ZoneInfo(TIMEZONE))
    day = (local.date() - timedelta(days=1)).isoformat()
    return dg.RunRequest(run_key=f"daily-{day}", partition_key=day, tags={FULL_CHECKS_TAG: "true"})

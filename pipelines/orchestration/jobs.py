"""The one job every run goes through, and how a plan becomes a run of it.

`pipeline` covers every asset (staging → core → marts → serve_db). A plan (pipelines.
orchestration.planner) becomes one run of it: the staging assets of the sources with new,
changed or removed files, over the plan's dt range (in the run's tags DT_START_TAG and
DT_END_TAG; the staging assets are not partitioned, so each is materialized once per run),
then every core table, the marts and the publish step.
The sensor, the schedule and `nudgescope run` all build their runs here.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable

import dagster as dg

from pipelines.defs.alerts import ALERTS_KEY
from pipelines.defs.ingest import (
    CORE_KEYS,
    DT_END_TAG,
    DT_START_TAG,
    FULL_CHECKS_TAG,
    STAGING_KEYS,
)
from pipelines.defs.marts import HELPER_ASSET_KEYS, MART_ASSET_KEYS
from pipelines.defs.publish import COMPACT_TAG
from pipelines.engines import engine_name
from pipelines.orchestration.planner import Plan

JOB_NAME = "pipeline"
COMPACT_JOB_NAME = "compact_segments"
WRITING_JOBS = (JOB_NAME, COMPACT_JOB_NAME)  # the jobs whose runs write the published files
SERVE_KEY = dg.AssetKey(["serve_db"])
# Tags of a run started by `nudgescope run`: the process that executes it in-process (a run
# whose process is gone is not "in flight", see busy_run).
LAUNCHED_BY_TAG = "nudgescope/launched_by"
PID_TAG = "nudgescope/pid"
HOST_TAG = "nudgescope/host"
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def run_config(engine: str | None = None, *, log_level: str = "INFO") -> dict:
    """Run config of a pipeline run: the engine of the marts (resolved now, so the run records
    it), and the console log level: INFO is a line per step, DEBUG adds every Dagster event."""
    return {
        "loggers": {"console": {"config": {"log_level": log_level}}},
        "ops": {"marts": {"config": {"engine": engine_name(engine)}}},
    }


pipeline_job = dg.define_asset_job(
    JOB_NAME,
    selection=dg.AssetSelection.all(),
    # one process for the whole run: DuckDB has a single writer anyway (pool "warehouse"), and
    # a subprocess per step would re-import the code location for every step
    executor_def=dg.in_process_executor,
    # the launchpad's default; runs from the sensor, the schedule and the CLI pass their own
    config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    description="Stage the sources and dates with new, changed or removed files, merge core, "
    "rebuild the marts, publish.",
)


# Every asset check over whole tables, nothing materialized or published: what the daily
# `full_checks_schedule` runs (the planned runs of the sensor check only what they changed).
checks_job = dg.define_asset_job(
    "full_checks",
    # the alerts asset evaluates its two checks while it runs (they are not separate steps)
    selection=dg.AssetSelection.all_asset_checks()
    - dg.AssetSelection.checks_for_assets(ALERTS_KEY),
    executor_def=dg.in_process_executor,
    config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    tags={FULL_CHECKS_TAG: "true"},
    description="Every check on staging, core and the marts over whole tables; builds nothing.",
)


# Publishes the warehouse as it is with the months before the latest one merged into one
# segment file each (a data run leaves a month that ended in thirds: merging them cost the first
# day of every month). Only when the planner finds no work; the step refuses otherwise.
compact_job = dg.define_asset_job(
    COMPACT_JOB_NAME,
    selection=dg.AssetSelection.assets(SERVE_KEY),
    executor_def=dg.in_process_executor,
    config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    tags={COMPACT_TAG: "true"},
    description="Merge the thirds of the months that ended into one segment file each and "
    "publish; nothing is loaded or built.",
)


def range_tags(start: str, end: str) -> dict[str, str]:
    """Run tags that make a run stage the dt folders start … end (ISO dates, inclusive)."""
    return {DT_START_TAG: start, DT_END_TAG: end}


def selection(todo: Plan) -> list[dg.AssetKey]:
    """The assets a plan runs: staging of the changed sources, then every core table (a merge
    with nothing pending is quick, and one left by a failed run is finished), the marts (with
    their intermediate tables: one multi-asset), the incident alerts, publish."""
    staging = [k for k in STAGING_KEYS if k.path[-1] in todo.sources]
    return [*staging, *CORE_KEYS, *MART_ASSET_KEYS, *HELPER_ASSET_KEYS, ALERTS_KEY, SERVE_KEY]


def tags(todo: Plan, *, full_checks: bool = False) -> dict[str, str]:
    out = range_tags(*todo.range) if todo.range else {}
    if full_checks:
        out[FULL_CHECKS_TAG] = "true"
    return out


def run_request(
    todo: Plan, run_key: str, *, full_checks: bool = False, engine: str | None = None
) -> dg.RunRequest:
    """The run a plan asks for, as the sensor and the schedule request it."""
    return dg.RunRequest(
        run_key=run_key,
        run_config=run_config(engine),
        tags=tags(todo, full_checks=full_checks),
        asset_selection=selection(todo),
    )


def cli_tags() -> dict[str, str]:
    return {LAUNCHED_BY_TAG: "cli", PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _alive(run: dg.DagsterRun) -> bool:
    """False for a `nudgescope run` whose process is gone (killed): its record stays STARTED."""
    pid, host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
    if not pid or host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def busy_run(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    """A run of the pipeline or of the compaction queued or in progress on this instance, if
    any: planning waits for it
    (mid-run, the ledger and the published database disagree and would look like work)."""
    for job in WRITING_JOBS:
        runs: Iterable[dg.DagsterRun] = instance.get_runs(
            filters=dg.RunsFilter(job_name=job, statuses=IN_FLIGHT), limit=20
        )
        busy = next((r for r in runs if _alive(r)), None)
        if busy is not None:
            return busy
    return None


def fail_dead_cli_runs(instance: dg.DagsterInstance) -> None:
    """Mark failed the runs of `nudgescope run` processes that were killed mid-run (their
    record would show "started" for ever) and free the pool slots they held."""
    runs = [
        run
        for job in WRITING_JOBS
        for run in instance.get_runs(
            filters=dg.RunsFilter(job_name=job, statuses=IN_FLIGHT, tags={LAUNCHED_BY_TAG: "cli"}),
            limit=20,
        )
    ]
    for run in runs:
        if not _alive(run):
            instance.report_run_failed(run, "the `nudgescope run` process ended mid-run")
            # the "warehouse" pool slot its step held would block every later run
            if instance.event_log_storage.supports_global_concurrency_limits:
                instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)

"""The Dagster code location: the assets, checks and resources autoloaded from pipelines/defs/,
plus the jobs, sensor and schedules of pipelines.orchestration."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.orchestration.automation import (
    compact_schedule,
    daily_schedule,
    full_checks_schedule,
    landing_sensor,
)
from pipelines.orchestration.instance import relax_for_dagster_home
from pipelines.orchestration.jobs import checks_job, compact_job, pipeline_job
from pipelines.orchestration.process import fewer_gc_passes

# runs launched by the daemon write their events from the process that loads this module
relax_for_dagster_home()
# and execute runs: fewer garbage-collector passes over Dagster's many small objects
fewer_gc_passes()


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent.parent / "defs"),
        dg.Definitions(
            jobs=[pipeline_job, checks_job, compact_job],
            sensors=[landing_sensor],
            schedules=[daily_schedule, full_checks_schedule, compact_schedule],
        ),
    )

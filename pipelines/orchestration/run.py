"""`nudgescope run` as a library call: plan (pipelines.orchestration.planner), then one run of
the `pipeline` job in this process, recorded in the data folder's Dagster instance
(<data-dir>/dagster, the one `make dagster` serves), so the UI shows CLI runs next to the
sensor's and the schedule's, with the same materializations and check results."""

from __future__ import annotations

import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines import settings
from pipelines.ingest import progress
from pipelines.ingest.readers import clean_error
from pipelines.ingest.warehouse import connect
from pipelines.orchestration import planner
from pipelines.orchestration.instance import instance_for

if TYPE_CHECKING:  # Dagster is imported only when there is work to run (about 9 s)
    import dagster as dg

EXIT_OK, EXIT_ERROR, EXIT_USER, EXIT_DATA = 0, 1, 2, 3

StepListener = Callable[[str, str], None]  # (step key, "start" | "success" | "failure")


@dataclass
class RunSummary:
    run_id: str
    success: bool
    seconds: float
    partitions: tuple[str, str] | None
    files_seen: int = 0
    files_processed: int = 0
    files_failed: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_superseded: int = 0
    failed_files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # failed WARN checks, with counts
    run_ids: list[str] = field(default_factory=list)  # every Dagster run of this command
    ignored: list[str] = field(default_factory=list)
    error: str | None = None
    serve: Path | None = None
    up_to_date: bool = False  # nothing changed and serve.duckdb was current: nothing ran

    @property
    def exit_code(self) -> int:
        if not self.success:
            return EXIT_ERROR
        if self.files_failed or self.rows_quarantined:
            return EXIT_DATA
        return EXIT_OK

    @property
    def reason(self) -> str:
        if not self.success:
            return f"pipeline error: {self.error}"
        parts = []
        if self.files_failed:
            parts.append(f"{self.files_failed} file(s) failed to load")
        if self.rows_quarantined:
            parts.append(f"{self.rows_quarantined} row(s) quarantined")
        return "; ".join(parts) + " (data published; see ingest.file_ledger / ingest.quarantine)"


def _watch(
    instance: dg.DagsterInstance,
    run_id: str,
    listener: StepListener,
    stop: threading.Event,
    steps: set[str],
) -> None:
    import dagster as dg

    kinds = {
        dg.DagsterEventType.STEP_START: "start",
        dg.DagsterEventType.STEP_SUCCESS: "success",
        dg.DagsterEventType.STEP_FAILURE: "failure",
    }
    cursor = None
    while True:
        done = stop.is_set()
        try:
            conn = instance.get_records_for_run(run_id, cursor=cursor, of_type=set(kinds))
        except Exception:  # the run is not registered yet
            conn = None
        if conn is not None:
            for rec in conn.records:
                ev = rec.event_log_entry.dagster_event
                if ev is not None and ev.step_key and (not steps or ev.step_key in steps):
                    listener(ev.step_key, kinds[ev.event_type])
            cursor = conn.cursor
        if done:
            return
        stop.wait(0.5)


def _cli_paths(data_dir: Path | str | None) -> settings.Paths:
    """The paths of a run started here, with --data-dir applied (the code location's resources
    read them from the environment)."""
    warnings.filterwarnings("ignore", message=".*currently in beta")
    if data_dir is not None:
        os.environ["NUDGESCOPE_DATA_DIR"] = str(Path(data_dir).resolve())
    return settings.paths()


def run_pipeline(
    data_dir: Path | str | None = None,
    listener: StepListener | None = None,
    reporter: progress.Reporter | None = None,
    engine: str | None = None,
) -> RunSummary:
    """Plan, then run the plan: stage the changed sources over their dt range, then core,
    marts and publish, as one run of the `pipeline` job (the run the sensor would request).

    `engine` builds the marts (duckdb | spark; default $NUDGESCOPE_ENGINE, else duckdb); it
    goes into the run's config. Nothing to do (every file loaded, serve.duckdb current): no
    Dagster import, no run, `up_to_date`.
    """
    from pipelines.ingest import vacuum
    from pipelines.marts import MetricSettings

    t0 = time.monotonic()
    paths = _cli_paths(data_dir)
    vacuum.every()  # a bad NUDGESCOPE_VACUUM_EVERY is a UserError here, before any run
    # a CLI run always builds with the default settings: a publish made with others is stale
    todo = planner.plan(paths, MetricSettings().as_params(), retry_notifications=True)
    summary = RunSummary("", False, 0.0, todo.range, ignored=todo.scan.ignored, serve=paths.serve)
    summary.files_seen = len(todo.scan.files)
    if not todo.has_work:
        summary.success = summary.up_to_date = True
        summary.seconds = time.monotonic() - t0
        _add_unlisted(summary, todo.scan)
        return summary
    # the slow imports (Dagster, about 9 s), only when there is work
    from pipelines.orchestration import jobs
    from pipelines.orchestration.definitions import defs

    job = defs().resolve_job_def(jobs.JOB_NAME)
    with instance_for(paths) as instance, progress.listening(reporter or (lambda *_: None)):
        jobs.fail_dead_cli_runs(instance)
        run_id = str(uuid.uuid4())
        summary.run_id = run_id
        summary.run_ids.append(run_id)
        result = _execute(
            job,
            instance,
            run_id,
            jobs.selection(todo),
            {**jobs.tags(todo), **jobs.cli_tags()},
            # quiet console: the CLI shows progress bars; the instance keeps every event
            jobs.run_config(engine, log_level="ERROR"),
            listener,
        )
        summary.warnings.extend(_check_warnings(result))
        if result.success:
            summary.success = True
        else:
            summary.error = _first_failure(result)
    summary.seconds = time.monotonic() - t0
    _fill_counts(summary, paths.warehouse)
    _add_unlisted(summary, todo.scan)
    return summary


@dataclass
class CompactSummary:
    """What `nudgescope compact` did: the months merged into one segment file each."""

    success: bool
    seconds: float
    months: list[str] = field(default_factory=list)
    run_id: str = ""
    skipped: str | None = None  # why nothing ran (nothing to merge, or the pipeline has work)
    error: str | None = None
    serve: Path | None = None


def compact_segments(data_dir: Path | str | None = None) -> CompactSummary:
    """Merge the thirds of every month before the latest one into one segment file each and
    publish, as one run of the `compact_segments` job in this process (the run its schedule
    requests). Nothing runs when every such month is one file already, or when the planner
    finds work: the warehouse must be what is published (run `nudgescope run` first)."""
    t0 = time.monotonic()
    paths = _cli_paths(data_dir)
    months, reason = planner.compaction_due(paths)
    summary = CompactSummary(False, 0.0, months, serve=paths.serve)
    if reason is not None:
        summary.success = not months  # nothing to merge is fine; work first is not
        summary.skipped = reason
        summary.seconds = time.monotonic() - t0
        return summary
    from pipelines.orchestration import jobs
    from pipelines.orchestration.definitions import defs

    job = defs().resolve_job_def(jobs.COMPACT_JOB_NAME)
    with instance_for(paths) as instance:
        jobs.fail_dead_cli_runs(instance)
        summary.run_id = str(uuid.uuid4())
        result = _execute(
            job,
            instance,
            summary.run_id,
            None,
            jobs.cli_tags(),
            {"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            None,
        )
        summary.success = result.success
        if not result.success:
            summary.error = _first_failure(result)
    summary.seconds = time.monotonic() - t0
    return summary


def _add_unlisted(summary: RunSummary, scan) -> None:
    """Source folders that cannot be listed have no dt folder to be recorded under in the
    ledger (dt folders and files do): they count as failed files of this run."""
    for path, dt, reason in scan.unreadable:
        if dt is None:
            summary.files_failed += 1
            summary.failed_files.append(f"{path}: {reason}")


def _execute(job, instance, run_id, selection, tags, run_config, listener):
    stop = threading.Event()
    watcher = None
    if listener:
        watcher = threading.Thread(
            target=_watch, args=(instance, run_id, listener, stop, set()), daemon=True
        )
        watcher.start()
    try:
        return job.execute_in_process(
            run_config=run_config,
            instance=instance,
            run_id=run_id,
            tags=tags,
            raise_on_error=False,
            asset_selection=selection,
        )
    finally:
        stop.set()
        if watcher:
            watcher.join()


def _check_warnings(result) -> list[str]:
    import dagster as dg

    out = []
    for ev in result.all_events:
        if ev.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            data = ev.event_specific_data
            if not data.passed and data.severity == dg.AssetCheckSeverity.WARN:
                counts = ", ".join(
                    f"{k}: {v.value}"
                    for k, v in sorted(data.metadata.items())
                    if getattr(v, "value", 0)
                )
                out.append(f"{data.asset_key.to_user_string()} {data.check_name}: {counts}")
    return out


def _error_text(err) -> str:
    """What went wrong, in the failing code's words: Dagster's wrappers ("Error occurred while
    executing op …") are skipped for their cause, and the exception's qualified class name
    before its message is dropped."""
    while err.cause is not None and err.cls_name.startswith("Dagster"):
        err = err.cause
    head, sep, rest = err.message.partition(": ")
    return clean_error(rest if sep and head.rsplit(".", 1)[-1] == err.cls_name else err.message)


def _first_failure(result) -> str:
    import dagster as dg

    for ev in result.all_events:
        if ev.is_step_failure:
            err = ev.step_failure_data.error
            return f"{ev.step_key}: {_error_text(err) if err else 'step failed'}"
        if ev.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            data = ev.event_specific_data
            if not data.passed and data.severity == dg.AssetCheckSeverity.ERROR:
                return clean_error(
                    f"check {data.check_name} on {data.asset_key.to_user_string()} failed"
                )
        if ev.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE:
            # a resource failed before any step (the warehouse could not be opened, …)
            err = getattr(ev.event_specific_data, "error", None)
            return f"resources: {_error_text(err) if err else 'failed to start'}"
    return "the run failed"


def _fill_counts(summary: RunSummary, warehouse: Path) -> None:
    if not warehouse.exists():
        return
    try:
        con = connect(warehouse, read_only=True)
    except duckdb.Error:
        return
    try:
        row = con.execute(
            """select count(*), count(*) filter (where status = 'failed'),
                coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0),
                coalesce(sum(rows_quarantined), 0), coalesce(sum(rows_superseded), 0)
            from ingest.file_ledger where list_contains($r, run_id)""",
            {"r": summary.run_ids},
        ).fetchone()
        (
            summary.files_processed,
            summary.files_failed,
            summary.rows_read,
            summary.rows_loaded,
            summary.rows_quarantined,
            summary.rows_superseded,
        ) = row
        summary.failed_files = [
            f"{p}: {e}"
            for p, e in con.execute(
                "select path, error from ingest.file_ledger "
                "where list_contains($r, run_id) and status = 'failed' order by path",
                {"r": summary.run_ids},
            ).fetchall()
        ]
    except duckdb.CatalogException:
        pass
    finally:
        con.close()

"""`nudgescope run` as a library call: one in-process Dagster run over every partition that has
landing files (only new, changed or removed files do any work), then core, marts and publish."""

from __future__ import annotations

import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb

from pipelines import settings
from pipelines.cli import UserError
from pipelines.ingest import files, progress
from pipelines.ingest.readers import clean_error
from pipelines.ingest.warehouse import connect

EXIT_OK, EXIT_ERROR, EXIT_USER, EXIT_DATA = 0, 1, 2, 3
JOB_NAME = "pipeline"

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
    ignored: list[str] = field(default_factory=list)
    error: str | None = None
    serve: Path | None = None

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


def _ledger_range(warehouse: Path) -> tuple[str, str] | None:
    """min/max dt the ledger knows, so files removed from landing are withdrawn too."""
    if not warehouse.exists():
        return None
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise UserError(f"cannot open the warehouse {warehouse}: {clean_error(exc)}") from exc
    try:
        row = con.execute(
            "select min(dt)::varchar, max(dt)::varchar from ingest.file_ledger"
        ).fetchone()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()
    return (row[0], row[1]) if row and row[0] else None


def plan(paths: settings.Paths) -> tuple[tuple[str, str] | None, files.Scan]:
    """The partition range to run: every dt with landing files or ledger rows."""
    landing = paths.landing
    if not landing.is_dir():
        raise UserError(
            f"landing folder {landing} does not exist "
            "(run `nudgescope simulate` or point --data-dir at your data)"
        )
    from pipelines.defs.ingest import DAILY

    scan = files.scan(landing)
    valid = set(DAILY.get_partition_keys())
    dts = {f.dt.isoformat() for f in scan.files}
    outside = sorted(dt for dt in dts if dt not in valid)
    scan.ignored.extend(
        f"dt={dt} (outside the partitions {valid and min(valid)} … today)" for dt in outside
    )
    dts = {dt for dt in dts if dt in valid}
    known = _ledger_range(paths.warehouse)
    if known:
        dts |= {dt for dt in known if dt in valid}
    if not dts:
        if not scan.files:
            raise UserError(f"no landing files under {landing}")
        return None, scan
    return (min(dts), max(dts)), scan


def _watch(
    instance: dg.DagsterInstance,
    run_id: str,
    listener: StepListener,
    stop: threading.Event,
    steps: set[str],
) -> None:
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
                if ev is not None and ev.step_key in steps:
                    listener(ev.step_key, kinds[ev.event_type])
            cursor = conn.cursor
        if done:
            return
        stop.wait(0.2)


def run_pipeline(
    data_dir: Path | str | None = None,
    listener: StepListener | None = None,
    reporter: progress.Reporter | None = None,
) -> RunSummary:
    """Execute the pipeline job in-process over every partition with landing files."""
    t0 = time.monotonic()
    warnings.filterwarnings("ignore", message=".*currently in beta")
    if data_dir is not None:
        os.environ["NUDGESCOPE_DATA_DIR"] = str(Path(data_dir).resolve())
    paths = settings.paths()
    rng, scan = plan(paths)
    from pipelines.definitions import defs
    from pipelines.defs.automation import range_tags

    job = defs().resolve_job_def(JOB_NAME)
    run_id = str(uuid.uuid4())
    summary = RunSummary(run_id, False, 0.0, rng, ignored=scan.ignored, serve=paths.serve)
    summary.files_seen = len(scan.files)
    tags = range_tags(*rng) if rng else {}
    asset_steps = {"__".join(k.path) for k in job.asset_layer.executable_asset_keys}
    selection = (
        None
        if rng
        else [k for k in job.asset_layer.executable_asset_keys if k.path[0] != "staging"]
    )
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    with dg.DagsterInstance.ephemeral() as instance:
        stop = threading.Event()
        watcher = None
        if listener:
            watcher = threading.Thread(
                target=_watch,
                args=(instance, run_id, listener, stop, asset_steps),
                daemon=True,
            )
            watcher.start()
        try:
            with progress.listening(reporter or (lambda *_: None)):
                result = job.execute_in_process(
                    run_config=quiet,
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
        summary.success = result.success
        if not result.success:
            summary.error = _first_failure(result)
    summary.seconds = time.monotonic() - t0
    if summary.success or paths.warehouse.exists():
        _fill_counts(summary, paths.warehouse)
    return summary


def _first_failure(result) -> str:
    for ev in result.all_events:
        if ev.is_step_failure:
            err = ev.step_failure_data.error
            msg = err.message if err else "step failed"
            return clean_error(f"{ev.step_key}: {msg}")
        if ev.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            data = ev.event_specific_data
            if not data.passed and data.severity == dg.AssetCheckSeverity.ERROR:
                return clean_error(
                    f"check {data.check_name} on {data.asset_key.to_user_string()} failed"
                )
    return "the run failed"


def _fill_counts(summary: RunSummary, warehouse: Path) -> None:
    try:
        con = connect(warehouse, read_only=True)
    except duckdb.Error:
        return
    try:
        row = con.execute(
            """select count(*), count(*) filter (where status = 'failed'),
                coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0),
                coalesce(sum(rows_quarantined), 0), coalesce(sum(rows_superseded), 0)
            from ingest.file_ledger where run_id = $r""",
            {"r": summary.run_id},
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
                "where run_id = $r and status = 'failed' order by path",
                {"r": summary.run_id},
            ).fetchall()
        ]
    except duckdb.CatalogException:
        pass
    finally:
        con.close()

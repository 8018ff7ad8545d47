"""One planner, one job: `nudgescope run`, the sensor and the schedule plan with the same code
from the ledger, run the same job, and all record their runs in <data-dir>/dagster."""

from __future__ import annotations

import shutil
import socket
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from test_ingest_run import ORDERS_HEADER, USERS, _landing

from pipelines import settings
from pipelines.definitions import defs
from pipelines.defs.ingest import DT_END_TAG, DT_START_TAG, FULL_CHECKS_TAG, dt_range
from pipelines.orchestration.automation import daily_schedule, full_checks_schedule, landing_sensor
from pipelines.orchestration.instance import instance_for
from pipelines.orchestration.jobs import (
    HOST_TAG,
    LAUNCHED_BY_TAG,
    PID_TAG,
    SERVE_KEY,
    busy_run,
)
from pipelines.orchestration.run import run_pipeline
from pipelines.serve.segments import open_published, relations
from tests.fixtures.ingest.helpers import put, query

SHANGHAI = ZoneInfo("Asia/Shanghai")
APRIL_ORDER = "o9,u1,2025-04-02 10:00:00,3,card,1,,paid\n"
LATE_ORDER = "o8,u2,2025-04-02 11:00:00,4,card,1,,paid\n"


def _staging(request: dg.RunRequest) -> list[str]:
    return sorted(k.path[1] for k in request.asset_selection if k.path[0] == "staging")


def _range(request: dg.RunRequest) -> tuple[str, str]:
    return request.tags[DT_START_TAG], request.tags[DT_END_TAG]


def _instance(data) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(data / "dagster"))


def test_dt_bounds_end_on_the_current_day_in_shanghai():
    # 23:30 UTC on 1 March is already 2 March in Shanghai
    late = datetime(2025, 3, 1, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert settings.dt_bounds(late) == ("2020-01-01", "2025-03-02")
    early = datetime(2025, 3, 1, 15, 59, tzinfo=ZoneInfo("UTC"))  # 23:59 in Shanghai
    assert settings.dt_bounds(early) == ("2020-01-01", "2025-03-01")


def test_the_dt_range_of_a_run_comes_from_its_tags():
    tagged = {DT_START_TAG: "2025-03-01", DT_END_TAG: "2025-03-02", "other": "x"}
    assert dt_range(tagged) == (date(2025, 3, 1), date(2025, 3, 2))
    # no tags (materialized from the UI): every date a run loads
    first, last = settings.dt_bounds()
    assert dt_range({}) == (date.fromisoformat(first), date.fromisoformat(last))
    for bad, message in (
        ({DT_START_TAG: "2025-03-01"}, "only one of the tags"),
        ({DT_END_TAG: "2025-03-01"}, "only one of the tags"),
        ({DT_START_TAG: "2025-03-01", DT_END_TAG: "March 2"}, "must be dates"),
        ({DT_START_TAG: "2025-03-02", DT_END_TAG: "2025-03-01"}, "is after"),
    ):
        with pytest.raises(dg.Failure, match=message):
            dt_range(bad)


def test_cli_run_is_recorded_and_then_the_sensor_requests_nothing(_isolated_data_dir):
    data = _isolated_data_dir
    landing = _landing(data)  # users 03-01; orders 03-01 and 03-02
    s = run_pipeline(data)
    assert s.success, s.error
    assert s.partitions == ("2025-03-01", "2025-03-02") and len(s.run_ids) == 1

    # the run is in the data folder's instance, with its materializations and checks
    instance = _instance(data)
    runs = instance.get_runs()
    assert [r.run_id for r in runs] == [s.run_id]
    run = runs[0]
    assert run.status == dg.DagsterRunStatus.SUCCESS and run.job_name == "pipeline"
    assert run.tags[LAUNCHED_BY_TAG] == "cli"
    assert (run.tags[DT_START_TAG], run.tags[DT_END_TAG]) == ("2025-03-01", "2025-03-02")
    assert run.run_config["ops"]["marts"]["config"]["engine"] == "duckdb"

    # one materialization per asset the run built, none per day; staging only for the two
    # sources with new files, each with the run's dt range in its metadata
    recs = instance.get_records_for_run(
        s.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    built = [r.event_log_entry.dagster_event.asset_key.to_user_string() for r in recs]
    assert len(built) == len(set(built))
    staging = sorted(k for k in built if k.startswith("staging/"))
    assert staging == ["staging/orders", "staging/users"]
    assert {"core/orders", "core/users", "mart/metrics", "serve_db"} <= set(built)
    assert all(r.event_log_entry.dagster_event.partition is None for r in recs)
    assert not any(t.startswith("dagster/asset_partition") for t in run.tags)

    def staged(source: str) -> dict:
        [rec] = instance.fetch_materializations(dg.AssetKey(["staging", source]), limit=10).records
        meta = rec.asset_materialization.metadata
        return {k: meta[k].value for k in ("dt_start", "dt_end", "files_read", "rows_read")} | {
            "quarantined": meta["rows_quarantined"].value
        }

    # orders: 2 files of 2 rows each, o2 quarantined; users: 1 file of 2 rows (its 03-01 is in
    # the run's range 03-01 … 03-02, which is what its metadata says)
    assert staged("orders") == {
        "dt_start": "2025-03-01",
        "dt_end": "2025-03-02",
        "files_read": 2,
        "rows_read": 4,
        "quarantined": 1,
    }
    assert staged("users") == {
        "dt_start": "2025-03-01",
        "dt_end": "2025-03-02",
        "files_read": 1,
        "rows_read": 2,
        "quarantined": 0,
    }
    complaints = dg.AssetKey(["staging", "complaints"])
    assert instance.fetch_materializations(complaints, limit=1).records == []
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in (
            rec.event_log_entry.dagster_event.event_specific_data
            for rec in instance.get_records_for_run(
                s.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            ).records
        )
    }
    assert checks[("staging/orders", "reconciles_with_ledger")] is True
    assert checks[("core/orders", "references_known")] is False  # o3's user is unknown (WARN)
    assert checks[("mart/metrics", "unique_grain")] is True
    assert checks[("mart/metrics", "flag_counts_match_messages")] is True
    version = query(data / "serve.duckdb", "select data_version from meta")[0][0]

    # right after the CLI run the sensor and the schedule find nothing to do
    assert busy_run(instance) is None
    skip = landing_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(skip, dg.SkipReason) and "nothing new" in skip.skip_message
    at_six = datetime(2025, 3, 3, 6, 0, tzinfo=SHANGHAI)
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=at_six) as ctx:
        assert isinstance(daily_schedule(ctx), dg.SkipReason)
    # and so does the CLI: no run, no new data_version
    again = run_pipeline(data)
    assert again.up_to_date and again.run_ids == []
    assert len(instance.get_runs()) == 1
    assert query(data / "serve.duckdb", "select data_version from meta")[0][0] == version

    # a new file: exactly its source and day
    new_order = "o9,u1,2025-03-05 10:00:00,3,card,1,,paid\n"
    put(landing, "orders", "2025-03-05", "o.csv", ORDERS_HEADER + new_order)
    request = landing_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(request, dg.RunRequest)
    assert _range(request) == ("2025-03-05", "2025-03-05") and _staging(request) == ["orders"]
    selected = set(request.asset_selection)
    assert SERVE_KEY in selected and dg.AssetKey(["core", "users"]) in selected
    assert dg.AssetKey(["mart", "metrics"]) in selected
    assert FULL_CHECKS_TAG not in request.tags
    # the same state plans the same run key (Dagster does not request a run key twice)
    twice = landing_sensor(dg.build_sensor_context(instance=instance))
    assert twice.run_key == request.run_key
    # the schedule plans the same run, checked on whole tables
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=at_six) as ctx:
        scheduled = daily_schedule(ctx)
    assert _range(scheduled) == ("2025-03-05", "2025-03-05") and _staging(scheduled) == ["orders"]
    assert scheduled.tags[FULL_CHECKS_TAG] == "true"

    # a removed file counts too: users of 03-01 withdrawn, orders of 03-05 new
    (landing / "users" / "dt=2025-03-01" / "u.csv").unlink()
    both = landing_sensor(dg.build_sensor_context(instance=instance))
    assert _range(both) == ("2025-03-01", "2025-03-05")
    assert _staging(both) == ["orders", "users"]
    assert both.run_key != request.run_key


def test_staging_covers_the_tagged_range_or_every_date(_isolated_data_dir):
    landing = _isolated_data_dir / "landing"
    first, today = settings.dt_bounds()
    put(landing, "users", first, "a.csv", USERS)
    put(landing, "users", today, "b.csv", USERS)
    put(landing, "users", "2019-12-31", "c.csv", USERS)  # before the first date: never loaded
    job = defs().resolve_job_def("pipeline")
    users = dg.AssetKey(["staging", "users"])

    def stage(tags: dict[str, str], instance) -> tuple[dict, str | None]:
        """The staging materialization's metadata, and the step failure's message."""
        result = job.execute_in_process(
            asset_selection=[users], tags=tags, instance=instance, raise_on_error=False
        )
        events = result.get_asset_materialization_events()
        meta = events[0].materialization.metadata if events else {}
        wanted = ("dt_start", "dt_end", "files_read", "files_unchanged")
        failures = [
            e.step_failure_data.error.message for e in result.all_events if e.is_step_failure
        ]
        return {k: meta[k].value for k in wanted if k in meta}, (failures or [None])[0]

    with dg.instance_for_test() as instance:
        # the run's tags: only the first day
        assert stage({DT_START_TAG: first, DT_END_TAG: first}, instance) == (
            {"dt_start": first, "dt_end": first, "files_read": 1, "files_unchanged": 0},
            None,
        )
        # no tags (materialized from the UI): every date; the first day's file is unchanged
        assert stage({}, instance) == (
            {"dt_start": first, "dt_end": today, "files_read": 1, "files_unchanged": 1},
            None,
        )
        # half a range is refused with a message, nothing staged
        meta, failure = stage({DT_START_TAG: first}, instance)
        assert meta == {} and "only one of the tags" in failure
    loaded = query(
        _isolated_data_dir / "warehouse.duckdb", "select path from ingest.file_ledger order by 1"
    )
    assert loaded == [(f"users/dt={first}/a.csv",), (f"users/dt={today}/b.csv",)]


def test_a_killed_cli_run_does_not_block_the_sensor(_isolated_data_dir):
    data = _isolated_data_dir
    _landing(data)
    instance = instance_for(settings.paths())
    job = defs().resolve_job_def("pipeline")
    # a run record left STARTED by a process that no longer exists (pid 2**22 + 1 is above
    # Linux's pid_max)
    run = instance.create_run_for_job(
        job,
        status=dg.DagsterRunStatus.STARTED,
        tags={LAUNCHED_BY_TAG: "cli", PID_TAG: str(2**22 + 1), HOST_TAG: socket.gethostname()},
    )
    assert busy_run(instance) is None
    # the sensor marks it failed (and frees any pool slot it held), then plans as usual
    assert isinstance(landing_sensor(dg.build_sensor_context(instance=instance)), dg.RunRequest)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    # a run in progress from the daemon (no pid of ours) does block it
    instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED)
    skip = landing_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(skip, dg.SkipReason) and "is started" in skip.skip_message


def _published(serve) -> dict[str, list]:
    """Every published core and mart table, and the ledger and quarantine without run ids."""
    con = open_published(serve)
    try:
        tables = relations(con, ("core", "mart"))
        out = {
            f"{s}.{t}": sorted(con.execute(f'select * from {s}."{t}"').fetchall(), key=repr)
            for s, t in tables
        }
        out["ledger"] = sorted(
            con.execute(
                "select path, content_hash, status, rows_read, rows_loaded, rows_quarantined, "
                "rows_superseded from ingest.file_ledger"
            ).fetchall()
        )
        out["quarantine"] = sorted(
            con.execute("select path, row_number, reason_code from ingest.quarantine").fetchall()
        )
    finally:
        con.close()
    return out


def test_the_sensor_path_publishes_what_the_cli_publishes(tmp_path, monkeypatch):
    cli_dir, sensor_dir = tmp_path / "cli", tmp_path / "sensor"
    _landing(cli_dir)
    shutil.copytree(cli_dir / "landing", sensor_dir / "landing")
    assert run_pipeline(cli_dir).success

    # the sensor's request, run as the daemon would: that job, those tags, selection and config
    monkeypatch.setenv("NUDGESCOPE_DATA_DIR", str(sensor_dir))
    with dg.DagsterInstance.ephemeral() as instance:
        request = landing_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(request, dg.RunRequest)
        job = defs().resolve_job_def("pipeline")
        result = job.execute_in_process(
            run_config=request.run_config,
            tags=request.tags,
            asset_selection=list(request.asset_selection),
            instance=instance,
            raise_on_error=False,
        )
        assert result.success
        assert _published(sensor_dir / "serve.duckdb") == _published(cli_dir / "serve.duckdb")
        version = query(sensor_dir / "serve.duckdb", "select data_version from meta")[0][0]
        # nothing new on either path afterwards: no run, same data_version
        assert isinstance(landing_sensor(dg.build_sensor_context(instance=instance)), dg.SkipReason)
    assert run_pipeline(sensor_dir).up_to_date
    assert query(sensor_dir / "serve.duckdb", "select data_version from meta")[0][0] == version


def test_the_daily_full_checks_run_builds_nothing(_isolated_data_dir):
    data = _isolated_data_dir
    _landing(data)
    assert run_pipeline(data).success
    version = query(data / "serve.duckdb", "select data_version from meta")[0][0]
    at = datetime(2025, 3, 3, 6, 30, tzinfo=SHANGHAI)
    with dg.instance_for_test() as instance:
        with dg.build_schedule_context(instance=instance, scheduled_execution_time=at) as ctx:
            request = full_checks_schedule(ctx)
        assert request.run_key == "checks-2025-03-03"
        job = defs().resolve_job_def("full_checks")
        result = job.execute_in_process(instance=instance, tags=request.tags, raise_on_error=False)
        assert result.success
        assert result.get_asset_materialization_events() == []
        evaluations = result.get_asset_check_evaluations()
        # 2 checks per staging table and unique_key on each core table (the nine contract
        # sources, sms_preferences and sms_receipts), references_known on the 8 that reference
        # another, 8 on the marts (the alerts asset's own checks run only with it)
        assert len(evaluations) == 2 * 11 + 11 + 8 + 8
        failed = {(e.asset_key.to_user_string(), e.check_name) for e in evaluations if not e.passed}
        assert failed == {("core/orders", "references_known")}  # o3's user is unknown (WARN)
        # two messages, and a flags row twice for one of them, written behind the pipeline's
        # back (no change-log note, which a run's own grain check relies on; the row counts
        # agree): the daily run checks whole tables and finds the repeated message_id
        import duckdb

        con = duckdb.connect(str(data / "warehouse.duckdb"))
        assert con.execute("select count(*) from changes.dates").fetchone()[0] == 0
        con.execute(
            "insert into core.sms_messages (message_id, user_id) "
            "values ('mx1', 'u1'), ('mx2', 'u1')"
        )
        con.execute(
            "insert into mart.sms_message_flags (message_id, user_id, local_date) "
            "values ('mx1', 'u1', date '2025-03-01'), ('mx1', 'u1', date '2025-03-01')"
        )
        con.close()
        again = job.execute_in_process(instance=instance, tags=request.tags, raise_on_error=False)
        failed = {
            (e.asset_key.to_user_string(), e.check_name)
            for e in again.get_asset_check_evaluations()
            if not e.passed
        }
        assert ("mart/sms_message_flags", "one_row_per_message") in failed
    assert query(data / "serve.duckdb", "select data_version from meta")[0][0] == version


def test_the_instance_event_log_keeps_one_engine_per_file(_isolated_data_dir, monkeypatch):
    """The persistent instance stores and reads a run's events through one pooled engine per
    sqlite file (Dagster's own storage opened an engine per write, and per `has_table` check
    of every asset or check event), and keeps only a few. Dagster's own engine factory is
    made to fail: nothing of the run may need it."""
    from dagster._core.storage.event_log.sqlite import sqlite_event_log as sel
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    from pipelines.orchestration import instance as instance_module

    instance = instance_for(settings.paths())
    engines = SqliteEventLogStorage._nudgescope_engines

    def no_new_engine(*args, **kwargs):
        raise AssertionError("an sqlite engine opened outside the kept ones")

    monkeypatch.setattr(sel, "create_engine", no_new_engine)

    @dg.asset
    def one() -> int:
        return 1

    result = dg.materialize([one], instance=instance)
    assert result.success
    shard = [k for k in engines if result.run_id in k]
    assert len(shard) == 1  # every event of the run through one engine
    engine = engines[shard[0]]
    events = instance.all_logs(result.run_id)
    assert {e.dagster_event_type for e in events if e.is_dagster_event} >= {
        dg.DagsterEventType.RUN_SUCCESS,
        dg.DagsterEventType.ASSET_MATERIALIZATION,
    }
    assert instance.get_latest_materialization_event(dg.AssetKey("one")) is not None
    assert engines[shard[0]] is engine  # read back through the same engine
    storage = instance.event_log_storage
    assert storage.has_table("asset_check_executions")
    assert not storage.has_table("no_such_table")
    assert len(engines) <= instance_module._ENGINES_KEPT


def test_a_month_that_ended_is_merged_by_the_compaction_not_by_the_data_run(
    _isolated_data_dir, capsys
):
    """A data run leaves March in thirds when April starts; `nudgescope compact` (the run the
    nightly schedule requests) writes March as one file, publishes the same rows, and refuses
    while the pipeline has work."""
    from pipelines import cli
    from pipelines.defs.publish import COMPACT_TAG
    from pipelines.orchestration.automation import compact_schedule
    from pipelines.orchestration.run import compact_segments

    data = _isolated_data_dir
    landing = _landing(data)  # orders on 03-01 and 03-02 (o1 of 03-02 supersedes 03-01's)
    assert compact_segments(data).skipped.startswith("nothing is published yet")
    assert run_pipeline(data).success
    # nothing has ended yet: March is the latest month, and its first third the latest, held
    # by day (every row left is of 2 March)
    assert query(data / "serve.duckdb", "select slice from main.segments") == [("2025-03-02",)]
    assert compact_segments(data).skipped.startswith("every month before the latest")

    put(landing, "orders", "2025-04-02", "o.csv", ORDERS_HEADER + APRIL_ORDER)
    assert run_pipeline(data).success
    slices = "select slice, rows from main.segments order by slice"
    # the data run wrote April's day and March's first third (its days until now) as one
    # file: March stays in thirds. Rows of every segmented table: March has core.orders o1
    # (03-02's) and o3, and mart.bnpl_orders o1; April core.orders o9 (a card order: no BNPL
    # row)
    assert query(data / "serve.duckdb", slices) == [("2025-03-1", 3), ("2025-04-02", 1)]
    before = _published(data / "serve.duckdb")
    at = datetime(2025, 4, 3, 4, 30, tzinfo=SHANGHAI)
    instance = _instance(data)
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=at) as ctx:
        request = compact_schedule(ctx)
    assert request.run_key == "compact-2025-04-03-2025-03"

    # a new file: the pipeline first; the compaction neither runs nor publishes
    late = data / "landing" / "orders" / "dt=2025-04-02" / "late.csv"
    put(landing, "orders", "2025-04-02", "late.csv", ORDERS_HEADER + LATE_ORDER)
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=at) as ctx:
        skipped = compact_schedule(ctx)
    assert isinstance(skipped, dg.SkipReason) and "pipeline has work" in skipped.skip_message
    assert cli.main(["compact", "--data-dir", str(data)]) == 2
    assert "not now: the pipeline has work first" in capsys.readouterr().err
    late.unlink()

    assert cli.main(["compact", "--data-dir", str(data)]) == 0
    assert "merged 2025-03 into one segment file each" in capsys.readouterr().out
    assert query(data / "serve.duckdb", slices) == [("2025-03", 3), ("2025-04-02", 1)]
    assert _published(data / "serve.duckdb") == before
    # recorded like any run: its own job, the compact tag, the publish's materialization
    [run] = instance.get_runs(filters=dg.RunsFilter(job_name="compact_segments"))
    assert run.status == dg.DagsterRunStatus.SUCCESS and run.tags[COMPACT_TAG] == "true"
    [rec] = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    meta = rec.event_log_entry.dagster_event.event_specific_data.materialization.metadata
    assert meta["months_merged"].value == ["2025-03"] and meta["segments_written"].value == 1
    # and afterwards nothing is due on any path
    assert run_pipeline(data).up_to_date
    assert compact_segments(data).skipped.startswith("every month before the latest")
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=at) as ctx:
        assert isinstance(compact_schedule(ctx), dg.SkipReason)


def test_the_compaction_step_refuses_a_warehouse_ahead_of_the_publish(_isolated_data_dir):
    """The guard inside the step (it holds the warehouse's pool slot): a write the publish does
    not show yet fails the compaction with a message, and nothing is published."""
    import duckdb

    from pipelines.ingest import changes
    from pipelines.orchestration.run import compact_segments

    data = _isolated_data_dir
    landing = _landing(data)
    assert run_pipeline(data).success
    put(landing, "orders", "2025-04-02", "o.csv", ORDERS_HEADER + APRIL_ORDER)
    assert run_pipeline(data).success  # March in thirds, April begun: March is due
    # as if a run had written March and not published yet (the planner sees no new file)
    version = query(data / "serve.duckdb", "select data_version from meta")[0][0]
    con = duckdb.connect(str(data / "warehouse.duckdb"))
    changes.record(con, "core.orders", "select date '2025-03-02'")
    con.close()
    s = compact_segments(data)
    assert s.months == ["2025-03"] and s.run_id
    assert not s.success and "compaction refused: the warehouse has writes" in s.error
    assert query(data / "serve.duckdb", "select data_version from meta")[0][0] == version


def test_a_failed_step_is_reported_in_the_failing_codes_words():
    # Dagster wraps what a step raised ("Error occurred while executing op …"); the summary
    # gives the cause, without its qualified class name
    import duckdb

    from pipelines.errors import UserError
    from pipelines.orchestration.run import _first_failure

    @dg.asset
    def settings_step() -> None:
        raise UserError("NUDGESCOPE_MEMORY_LIMIT='lots' is not a DuckDB memory size")

    @dg.asset
    def full_disk() -> None:
        raise duckdb.IOException('IO Error: Could not write file "w.tmp": No space left on device')

    first = dg.materialize([settings_step], raise_on_error=False)
    second = dg.materialize([full_disk], raise_on_error=False)
    assert _first_failure(first) == (
        "settings_step: NUDGESCOPE_MEMORY_LIMIT='lots' is not a DuckDB memory size"
    )
    assert _first_failure(second) == (
        'full_disk: IO Error: Could not write file "w.tmp": No space left on device'
    )

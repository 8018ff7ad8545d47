"""Checks on the marts (sql/checks, pipelines/defs/mart_checks.py): they pass on good data, and
fail on a duplicated row, a flag count that does not reconcile, or a share above 1."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource
from test_ingest_run import _landing

from pipelines.defs import mart_checks as mc
from pipelines.defs.marts import marts
from pipelines.defs.spark import SparkResource
from pipelines.orchestration.run import run_pipeline
from tests.fixtures.metrics.warehouse import Warehouse

CHECKS = {(c.table, c.name): c for c in mc.MART_CHECKS}


def _warehouse(path: str) -> Warehouse:
    """One user, four messages on 5 March 2024 (Shanghai): T0 at 09:00 and again at 09:05 (a
    duplicate), T2 at 10:00, T1 at 23:00 (quiet hours, and the 4th of the day: over the cap of
    3). One verification message at 12:00, which no flag counts."""
    w = Warehouse(as_of="2024-03-31", database=path)
    w.add("users", user_id="u1")
    for code, at in (("T0", "09:00"), ("T0", "09:05"), ("T2", "10:00"), ("T1", "23:00")):
        w.add("sms_logs", user_id="u1", sent_at=f"2024-03-05 {at}:00+08", template_code=code)
    w.add("sms_logs", user_id="u1", sent_at="2024-03-05 12:00:00+08", template_code="V",
          purpose="verification")  # fmt: skip
    return w


def _counts(con) -> dict[tuple[str, str], dict[str, int]]:
    return {key: mc.evaluate(con, check) for key, check in CHECKS.items()}


def test_checks_pass_on_good_data_and_fail_on_broken_marts(tmp_path):
    w = _warehouse(str(tmp_path / "w.duckdb"))
    w.build()
    # hand-worked: 1 duplicate, 1 quiet-hours and 1 over-cap message on 2024-03-05
    assert w.values("sms_duplicate") == {"2024-03-05": 1}
    assert w.values("sms_quiet_hours") == {"2024-03-05": 1}
    assert w.values("sms_over_daily_cap") == {"2024-03-05": 1}
    assert w.values("sms_after_opt_out") == {"2024-03-05": 0}
    assert all(v == 0 for counts in _counts(w.con).values() for v in counts.values())

    # a duplicated metrics row breaks the grain (and only that)
    w.con.execute(
        "insert into mart.metrics select * from mart.metrics where metric = 'sms_duplicate'"
    )
    assert mc.evaluate(w.con, CHECKS[("metrics", "unique_grain")]) == {"duplicate_keys": 1}
    w.con.execute(
        "delete from mart.metrics where metric = 'sms_duplicate'; "
        "insert into mart.metrics values "
        "('sms_duplicate', 'day', date '2024-03-05', 'all', 1, 1, null)"
    )
    assert not any(v for c in _counts(w.con).values() for v in c.values())

    # a flag count that differs from the messages: one mismatched (metric, day)
    w.con.execute(
        "update mart.metrics set value = 2, numerator = 2 where metric = 'sms_quiet_hours'"
    )
    assert mc.evaluate(w.con, CHECKS[("metrics", "flag_counts_match_messages")]) == {
        "mismatched_days": 1
    }
    # a flag count missing for a day with messages is a mismatch too
    w.con.execute("delete from mart.metrics where metric = 'sms_quiet_hours'")
    assert mc.evaluate(w.con, CHECKS[("metrics", "flag_counts_match_messages")]) == {
        "mismatched_days": 1
    }

    # a share above 1; a duplicated message row
    w.con.execute("update mart.metrics set value = 1.5 where metric = 'sms_delivery_rate'")
    assert mc.evaluate(w.con, CHECKS[("metrics", "rates_within_0_1")]) == {
        "metrics_outside": 1,
        "volume_outcome_curve_outside": 0,
        "experiment_effects_outside": 0,
    }
    w.con.execute(
        "insert into mart.sms_message_flags "
        "select * from mart.sms_message_flags where template_code = 'T2'"
    )
    assert mc.evaluate(w.con, CHECKS[("sms_message_flags", "one_row_per_message")]) == {
        "duplicate_message_ids": 1,
        "rows_differing_from_messages": 1,
    }
    w.con.close()


def test_the_flags_grain_check_looks_at_the_dates_written_since_the_last_publish(tmp_path):
    """After a full build it looks at every message; after a publish (the change log emptied)
    at the messages of the dates noted since, and finds their twins on any other date."""
    w = _warehouse(str(tmp_path / "w.duckdb"))
    w.add("sms_logs", user_id="u1", sent_at="2024-03-09 10:00:00+08", template_code="T3")
    w.build()
    check = CHECKS[("sms_message_flags", "one_row_per_message")]
    t2 = "from mart.sms_message_flags where template_code = 'T2'"  # the row of 2024-03-05
    w.con.execute(f"insert into mart.sms_message_flags select * {t2}")
    twice = {"duplicate_message_ids": 1, "rows_differing_from_messages": 1}
    assert mc.evaluate(w.con, check) == twice  # the full build noted every date
    # as after a publish: nothing noted, so the duplicate is not looked for (the publish's
    # check passed); the row count is compared in full; the daily full checks look anyway
    w.con.execute("delete from changes.dates")
    assert mc.evaluate(w.con, check) == {
        "duplicate_message_ids": 0,
        "rows_differing_from_messages": 1,
    }
    assert mc.evaluate(w.con, check, full=True) == twice
    # a run writes 2024-03-09 only: its messages are looked at
    w.con.execute(
        "insert into changes.dates values ('mart.sms_message_flags', '2024-03-09', false)"
    )
    assert mc.evaluate(w.con, check)["duplicate_message_ids"] == 0
    # ... and a copy of a 2024-03-05 message written on 2024-03-09 is found with its original
    w.con.execute(
        f"insert into mart.sms_message_flags by name select * replace "
        f"(date '2024-03-09' as local_date) {t2} limit 1"
    )
    assert mc.evaluate(w.con, check) == {
        "duplicate_message_ids": 1,
        "rows_differing_from_messages": 2,
    }
    # a row without a date in the log: every message again
    w.con.execute("insert into changes.dates values ('mart.sms_message_flags', null, false)")
    w.con.execute("delete from mart.sms_message_flags where local_date = '2024-03-09' and "
                  "template_code = 'T2'")  # fmt: skip
    assert mc.evaluate(w.con, check) == twice
    w.con.close()


def test_checks_run_after_the_marts_in_dagster(tmp_path):
    path = str(tmp_path / "w.duckdb")
    _warehouse(path).con.close()
    resources = {"duckdb": DuckDBResource(database=path), "spark": SparkResource()}
    result = dg.materialize([marts, mc.mart_checks], resources=resources)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert {(e.asset_key.path[-1], e.check_name) for e in evaluations} == set(CHECKS)
    assert all(e.passed for e in evaluations)
    severity = {(e.asset_key.path[-1], e.check_name): e.severity for e in evaluations}
    assert severity[("metrics", "unique_grain")] == dg.AssetCheckSeverity.ERROR
    assert severity[("metrics", "rates_within_0_1")] == dg.AssetCheckSeverity.WARN


def test_a_failed_grain_check_withholds_the_publish(_isolated_data_dir, monkeypatch):
    """A blocking mart check that fails stops serve_db: exit 1, the previous publish stays."""
    data = _isolated_data_dir
    _landing(data)
    real = mc.evaluate

    def broken(con, check, **kw):
        if check.name == "unique_grain" and check.table == "metrics":
            return {"duplicate_keys": 2}
        return real(con, check, **kw)

    monkeypatch.setattr(mc, "evaluate", broken)
    s = run_pipeline(data)
    assert not s.success and s.exit_code == 1
    assert "unique_grain" in s.error and "mart/metrics" in s.error
    assert not (data / "serve.duckdb").exists()

    # fixed: the next run (no file changed, the publish is missing) publishes
    monkeypatch.setattr(mc, "evaluate", real)
    s2 = run_pipeline(data)
    assert s2.success, s2.error
    assert s2.partitions is None  # nothing to stage: core, marts and publish only
    assert (data / "serve.duckdb").exists()

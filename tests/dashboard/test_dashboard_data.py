"""dashboard/data.py: per-query connections, cache keyed on the published version, masking."""

from __future__ import annotations

import datetime as dt
import os

import duckdb
import pytest

from dashboard import data
from dashboard.data import connection
from tests.fixtures.dashboard.build import build

GMV_MARCH = (
    "select value from mart.metrics where metric = 'bnpl_gmv' and period = date '2026-03-01'"
)


@pytest.fixture
def serve(_isolated_data_dir):
    return build(_isolated_data_dir / "serve.duckdb")


def _publish(serve, tmp_path, gmv: float, version: str) -> None:
    """Publish a new version the way the pipeline does: build aside, os.replace over."""
    fresh = build(tmp_path / "next.duckdb")
    con = duckdb.connect(str(fresh))
    con.execute("update mart.metrics set value = $v where metric = 'bnpl_gmv'", {"v": gmv})
    con.execute("update main.meta set data_version = $v", {"v": version})
    con.close()
    os.replace(fresh, serve)


def test_a_new_publish_is_picked_up_and_the_file_is_never_held(serve, tmp_path):
    assert data.query(GMV_MARCH)["value"].tolist() == [12345.6]
    assert data.meta()["data_version"] == "fixture-v1"
    # No connection is left open: a writer can open the file read-write in this very process
    # (DuckDB would refuse while a read-only connection with another configuration is open).
    writer = duckdb.connect(str(serve))
    writer.close()
    _publish(serve, tmp_path, 1.0, "fixture-v2")
    assert data.meta()["data_version"] == "fixture-v2"
    assert data.query(GMV_MARCH)["value"].tolist() == [1.0]


def test_a_page_run_opens_the_file_once_and_closes_it_at_the_end(serve, tmp_path, monkeypatch):
    assert data.meta()["data_version"] == "fixture-v1"  # read once per published file
    opened = []
    real_connect = connection.connect

    def counting(db):
        con = real_connect(db)
        opened.append(con)
        return con

    monkeypatch.setattr(connection, "connect", counting)
    with data.page_run():
        assert data.query(GMV_MARCH)["value"].tolist() == [12345.6]
        messages = "select sum(messages) as n from mart.sms_daily_flags where experiment_id = '*'"
        assert data.query(messages)["n"].tolist() == [16]  # 14 in March, 2 in February
        assert data.query("select count(*) as n from core.users")["n"].tolist() == [8]
        assert len(opened) == 1
        # a publish during the run: the run keeps reading the file it opened (one version
        # throughout) and does not cache that result under the new version
        _publish(serve, tmp_path, 2.0, "fixture-v3")
        assert data.query(GMV_MARCH)["value"].tolist() == [12345.6]
        assert len(opened) == 2  # the new file's meta (shared instance: not cached), no reopen
    # closed at the end of the run: a writer can open the file read-write in this process
    writer = duckdb.connect(str(serve))
    writer.close()
    # the next run reads the new version
    with data.page_run():
        assert data.meta()["data_version"] == "fixture-v3"
        assert data.query(GMV_MARCH)["value"].tolist() == [2.0]
    # outside a page run every query opens and closes its own connection
    data.query("select count(*) as n from core.bills")
    assert len(opened) == 5
    writer = duckdb.connect(str(serve))
    writer.close()


def test_the_app_keeps_the_published_instance_between_runs(serve, tmp_path, monkeypatch):
    """hold_between_runs(): page runs join the held instance (no new instance: the segments
    are not attached again); a publish is still picked up, and the old instance let go."""
    from pipelines.serve import segments

    started = []
    real_attach = segments.attach
    monkeypatch.setattr(segments, "attach", lambda con, path: started.append(path) or
                        real_attach(con, path))  # fmt: skip
    connection.hold_between_runs()
    try:
        assert data.meta()["data_version"] == "fixture-v1"
        held = connection._HELD.con
        assert held is not None and len(started) == 2  # the meta read's instance, the held one
        for _ in range(3):
            with data.page_run():
                assert data.query("select count(*) as n from core.users")["n"].tolist() == [8]
                data.query(GMV_MARCH + " and segment = 'all'")
            connection._cached.clear()  # every run reads the file again
        assert len(started) == 2  # three page runs, no new instance
        _publish(serve, tmp_path, 3.0, "fixture-v4")
        with data.page_run():
            assert data.meta()["data_version"] == "fixture-v4"
            assert data.query(GMV_MARCH)["value"].tolist() == [3.0]
        assert connection._HELD.con is not held and connection._HELD.con is not None
        with pytest.raises(duckdb.ConnectionException):
            held.execute("select 1")  # the old instance's connection was closed
    finally:
        connection.hold_between_runs(False)
    assert connection._HELD.con is None
    writer = duckdb.connect(str(serve))  # nothing held any more
    writer.close()


def test_metrics_pick_the_band_per_metric(serve):
    f = data.Filters(dt.date(2026, 1, 1), dt.date(2026, 3, 31), band="E")
    df = data.for_band(data.metrics(["on_time_rate", "bnpl_gmv"], f), f.band)
    on_time = df[df["metric"] == "on_time_rate"]
    # band E is published for February and March only: no January row from 'all' mixed in
    assert on_time["segment"].unique().tolist() == ["score_band=E"]
    assert on_time["value"].tolist() == [0.0, 0.0]
    assert df[df["metric"] == "bnpl_gmv"]["segment"].unique().tolist() == ["all"]


def test_missing_database(_isolated_data_dir):
    assert data.meta() is None


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("回电 13812345678 谢谢", "回电 138****5678 谢谢"),
        ("13812345678", "138****5678"),
        ("已脱敏 138****5678", "已脱敏 138****5678"),
        ("订单 123456789012", "订单 123456789012"),  # 12 digits: not a mobile number
        ("座机 02112345678", "座机 02112345678"),  # does not start with 1[3-9]
        (None, None),
    ],
)
def test_mask_phones(text, masked):
    assert data.mask_phones(text) == masked


def test_masking_is_the_ingestion_s_one_implementation(monkeypatch):
    # the dashboard calls pipelines.ingest.mask.mask_text, never a copy of its own
    from dashboard.data import masking
    from pipelines.ingest import mask

    calls = []
    monkeypatch.setattr(masking, "mask_text", lambda s: calls.append(s) or mask.mask_text(s))
    assert data.mask_phones("回电 13812345678") == "回电 138****5678"
    assert calls == ["回电 13812345678"]


@pytest.mark.parametrize(
    ("end", "as_of", "month"),
    [
        (dt.date(2026, 4, 1), dt.date(2026, 4, 1), dt.date(2026, 3, 1)),  # 1st: previous
        (dt.date(2026, 3, 31), dt.date(2026, 3, 31), dt.date(2026, 3, 1)),  # last day: this
        (dt.date(2026, 3, 31), dt.date(2026, 4, 15), dt.date(2026, 3, 1)),  # range ends first
        (dt.date(2026, 3, 15), dt.date(2026, 4, 15), dt.date(2026, 2, 1)),  # mid-month end
        (dt.date(2026, 1, 10), dt.date(2026, 1, 10), dt.date(2025, 12, 1)),  # across a year
        (dt.date(2024, 2, 29), dt.date(2024, 2, 29), dt.date(2024, 2, 1)),  # leap day
    ],
)
def test_latest_complete_month(end, as_of, month):
    assert data.latest_complete_month(end, as_of) == month


def test_a_banded_metric_never_falls_back_to_all_accounts(serve):
    # fpd30_rate is published per band; the fixture has no band E row for it: with band E the
    # page shows no value rather than all accounts' (cure_rate_30 is not per band: all)
    f = data.Filters(dt.date(2026, 1, 1), dt.date(2026, 3, 31), band="E")
    df = data.for_band(data.metrics(["fpd30_rate", "cure_rate_30"], f), f.band)
    assert df["metric"].tolist() == ["cure_rate_30"]
    assert df["segment"].tolist() == ["all"]


def test_delivery_and_spend_inputs(serve):
    # March + February: 16 messages without verification (M15 failed), 17 billed (M14 too),
    # one segment each (the fixture's sms_logs), all from aliyun
    f = data.Filters(dt.date(2026, 2, 1), dt.date(2026, 3, 31))
    dl = data.delivery(f)
    assert int(dl["messages"].sum()) == 16
    assert int(dl["delivered"].sum()) == 15
    assert int(dl["failed"].sum()) == 1
    assert int(dl["segments"].sum()) == 17
    assert set(dl["provider"]) == {"aliyun"}
    # band E (U05: M10-M13, all delivered)
    dl = data.delivery(data.Filters(f.start, f.end, band="E"))
    assert (int(dl["messages"].sum()), int(dl["delivered"].sum())) == (4, 4)


def test_a_table_shows_a_missing_text_as_the_dash_and_downloads_it_empty():
    import pandas as pd

    from dashboard import charts

    # a marketing message has no bill; a count of 0 is a value, not a missing one
    df = pd.DataFrame({"bill_id": ["b1", None], "purpose": ["due_reminder", "marketing"],
                       "segments": [1, 0]})  # fmt: skip
    shown, _ = charts.display_frame(df)
    assert shown["bill_id"].tolist() == ["b1", "—"]
    assert shown["segments"].tolist() == [1, 0]
    # the CSV download is the frame as it is: the empty cell stays empty
    assert df.to_csv(index=False).splitlines()[2] == ",marketing,0"

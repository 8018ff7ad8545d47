"""The large published tables as month segments: what a publish writes, reuses and removes, and
what readers see (hand-built warehouses with a few rows, so every count is worked by hand)."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from pipelines.contract import LANDING_SOURCES
from pipelines.ingest import changes
from pipelines.serve import sandbox
from pipelines.serve.publish import compactable, publish
from pipelines.serve.segments import (
    SegmentError,
    open_published,
    relations,
    segments_dir,
    slice_key,
    third_of,
    to_compact,
)


def _warehouse(path, logs: list[tuple[str | None, int]], flags: list[tuple[str, int]] = ()):
    """A warehouse with every core table the publish counts (empty but sms_logs), the ledger,
    and mart.sms_message_flags; `logs` are (_dt, id) rows, `flags` (local_date, id) rows (user
    'u<id>', message 'm<id>', sent at noon of the date)."""
    con = duckdb.connect(str(path))
    con.execute("create schema core; create schema ingest; create schema mart")
    for source in LANDING_SOURCES:
        con.execute(f'create table core."{source}" (id integer, _dt date)')
    con.execute(
        "create or replace table core.sms_logs "
        "(id integer, _dt date, user_id varchar, sent_at timestamp, message_id varchar)"
    )
    con.execute(
        "create table mart.sms_message_flags "
        "(id integer, local_date date, user_id varchar, sent_at timestamp, message_id varchar)"
    )
    for table, rows in (("core.sms_logs", logs), ("mart.sms_message_flags", flags)):
        for day, id_ in rows:
            con.execute(
                f"insert into {table} values (?, ?::date, 'u' || ?, ?::date + interval 12 hour, "
                "'m' || ?)",
                [id_, day, id_, day, id_],
            )
    con.execute(
        """create table ingest.file_ledger (path varchar, content_hash varchar, status varchar,
        rows_read bigint, rows_loaded bigint, rows_quarantined bigint, rows_superseded bigint,
        run_id varchar, dt date)"""
    )
    con.execute("insert into ingest.file_ledger values ('a.csv', 'h', 'loaded', 1, 1, 0, 0, "
                "'r', '2025-03-01')")  # fmt: skip
    con.execute("create table ingest.quarantine (path varchar)")
    return con


def _files(serve) -> list[str]:
    return sorted(p.name for p in segments_dir(serve).iterdir())


def _rows(serve, sql: str) -> list[tuple]:
    con = open_published(serve)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_segment_per_month_per_third_of_the_latest_month_and_per_day_of_its_latest_third(
    tmp_path,
):
    serve = tmp_path / "serve.duckdb"
    logs = [("2025-01-31", 1), ("2025-02-01", 2), ("2025-02-28", 3), (None, 4)]
    with _warehouse(tmp_path / "w.duckdb", logs, [("2025-02-03", 9)]) as con:
        result = publish(con, serve, "run-1")
    # January whole; February (the latest month) in thirds: days 1-10 (rows 2 and the flag),
    # none in 11-20, and its latest third (21-28) by day: 28 February (row 3); the row without
    # a date apart: four files
    assert (result.segments, result.segments_written) == (4, 4)
    keys = [f.rsplit("-", 1)[0] for f in _files(serve)]
    assert keys == ["2025-01", "2025-02-1", "2025-02-28", "none"]
    assert _rows(serve, "select id from core.sms_logs order by id") == [(1,), (2,), (3,), (4,)]
    assert _rows(serve, "select id, local_date::varchar from mart.sms_message_flags") == [
        (9, "2025-02-03")
    ]
    # a segment holds its slice of every segmented table
    first_third = segments_dir(serve) / _files(serve)[1]
    with duckdb.connect(str(first_third), read_only=True) as seg:
        assert seg.execute('select id from segment."core__sms_logs"').fetchall() == [(2,)]
        assert seg.execute('select id from segment."mart__sms_message_flags"').fetchall() == [(9,)]
    # readers see tables and views alike; the published list names the four files
    con = open_published(serve)
    try:
        assert ("core", "sms_logs") in relations(con, ("core",))
        assert con.execute("select count(*), sum(rows) from main.segments").fetchone() == (4, 5)
    finally:
        con.close()


def test_a_new_day_rewrites_only_its_slice_and_old_files_go_a_publish_later(tmp_path):
    serve = tmp_path / "serve.duckdb"
    wh = tmp_path / "w.duckdb"
    with _warehouse(wh, [("2025-01-10", 1), ("2025-02-10", 2)]) as con:
        publish(con, serve, "run-1")
    jan, feb10 = _files(serve)
    assert feb10.startswith("2025-02-10-")  # the latest third (1-10) by day
    jan_inode = (segments_dir(serve) / jan).stat().st_ino

    with duckdb.connect(str(wh)) as con:
        con.execute("insert into core.sms_logs (id, _dt) values (3, '2025-02-11')")
        second = publish(con, serve, "run-2")
    # the new row starts February's second third: its day is a file of its own, and the
    # first third, which ended, is written once as one file (its day 10); January stays
    assert (second.segments, second.segments_written) == (3, 2)
    assert [f.rsplit("-", 1)[0] for f in fifth_files(serve)] == [
        "2025-01",
        "2025-02-1",
        "2025-02-11",
    ]
    jan_, feb1, feb11 = fifth_files(serve)
    assert jan_ == jan and (segments_dir(serve) / jan).stat().st_ino == jan_inode
    # run 1's day file stays one publish longer: a reader may have opened run 1's list
    assert set(_files(serve)) == {jan, feb10, feb1, feb11}
    assert _rows(serve, "select count(*) from core.sms_logs") == [(3,)]

    with duckdb.connect(str(wh)) as con:
        # same number of rows, one value changed, its date noted in the change log (as the
        # pipeline's writers do): a different fingerprint, for that day only
        con.execute("update core.sms_logs set id = 30 where id = 3")
        changes.record(con, "core.sms_logs", "select date '2025-02-11'")
        third = publish(con, serve, "run-3")
    assert third.segments_written == 1
    files = _files(serve)
    # run 2's day file stays one publish longer; run 1's goes
    assert feb11 in files and feb10 not in files and len(files) == 4
    assert _rows(serve, "select list(id order by id) from core.sms_logs") == [([1, 2, 30],)]

    with duckdb.connect(str(wh)) as con:
        fourth = publish(con, serve, "run-4")  # nothing changed: nothing written, feb11 goes
    assert fourth.segments_written == 0
    assert feb11 not in _files(serve) and len(_files(serve)) == 3

    with duckdb.connect(str(wh)) as con:
        # March starts: its first day is written, and February's second third (its days held
        # apart until now) as one file; February, which ended, keeps its thirds (merging them
        # is a compaction's work, not a data run's)
        con.execute("insert into core.sms_logs (id, _dt) values (4, '2025-03-01')")
        fifth = publish(con, serve, "run-5")
    assert (fifth.segments, fifth.segments_written) == (4, 2)
    assert [f.rsplit("-", 1)[0] for f in fifth_files(serve)] == [
        "2025-01",
        "2025-02-1",
        "2025-02-2",
        "2025-03-01",
    ]
    assert fifth_files(serve)[:2] == [jan, feb1]

    with duckdb.connect(str(wh)) as con:
        # a late row for 28 February: February's third third is new, the others stay
        con.execute("insert into core.sms_logs (id, _dt) values (5, '2025-02-28')")
        changes.record(con, "core.sms_logs", "select date '2025-02-28'")
        sixth = publish(con, serve, "run-6")
    assert (sixth.segments, sixth.segments_written) == (5, 1)
    assert [f.rsplit("-", 1)[0] for f in fifth_files(serve)][1:4] == [
        "2025-02-1",
        "2025-02-2",
        "2025-02-3",
    ]

    with duckdb.connect(str(wh)) as con:
        # the compaction: February as one file (its rows 2, 30 and 5), January and March's
        # day unchanged; the rows readers see are the same
        compacted = publish(con, serve, "run-7", compact=True)
    assert (compacted.segments, compacted.segments_written) == (3, 1)
    # a data run merges nothing; the compaction reports the month it merged
    assert fifth.months_merged == [] and compacted.months_merged == ["2025-02"]
    listed = fifth_files(serve)
    assert [f.rsplit("-", 1)[0] for f in listed] == ["2025-01", "2025-02", "2025-03-01"]
    assert listed[0] == jan
    assert _rows(serve, "select slice, rows from main.segments order by slice") == [
        ("2025-01", 1),
        ("2025-02", 3),
        ("2025-03-01", 1),
    ]
    assert _rows(serve, "select list(id order by id) from core.sms_logs") == [([1, 2, 4, 5, 30],)]

    with duckdb.connect(str(wh)) as con:
        # a month published whole stays whole: a late row rewrites all of February again
        con.execute("insert into core.sms_logs (id, _dt) values (6, '2025-02-01')")
        changes.record(con, "core.sms_logs", "select date '2025-02-01'")
        late = publish(con, serve, "run-8")
    assert late.segments_written == 1
    assert [f.rsplit("-", 1)[0] for f in fifth_files(serve)] == ["2025-01", "2025-02", "2025-03-01"]
    assert _rows(serve, "select list(id order by id) from core.sms_logs") == [
        ([1, 2, 4, 5, 6, 30],)
    ]


def test_the_slice_of_a_date():
    d = date.fromisoformat
    assert [third_of(d(x)) for x in ("2025-06-10", "2025-06-11", "2025-06-21", "2025-02-28")] == [
        "2025-06-1",
        "2025-06-2",
        "2025-06-3",
        "2025-02-3",
    ]
    latest = d("2025-07-14")  # the latest third: 11-20 July
    assert slice_key(d("2025-05-31"), latest) == "2025-05"  # an earlier month, whole
    assert slice_key(d("2025-05-31"), latest, frozenset({"2025-05"})) == "2025-05-3"  # split
    assert slice_key(d("2025-07-10"), latest) == "2025-07-1"  # the latest month's first third
    assert slice_key(d("2025-07-11"), latest) == "2025-07-11"  # a day of the latest third
    assert slice_key(d("2025-07-14"), latest) == "2025-07-14"
    assert slice_key(None, latest) == "none"
    assert slice_key(d("2025-07-14"), None) == "2025-07-2"  # no latest date: thirds


def test_what_a_compaction_would_merge():
    # the months before the latest one that are held in thirds; the latest month's thirds and
    # the rows without a date are never merged
    assert to_compact(["2025-01", "2025-02-1", "2025-02-3", "2025-03-1", "none"]) == ["2025-02"]
    assert to_compact(["2025-01-1", "2025-01-2", "2025-02-3", "2025-03-1"]) == [
        "2025-01",
        "2025-02",
    ]
    assert to_compact(["2025-01", "2025-02", "2025-03-2"]) == []
    assert to_compact(["2025-03-1", "2025-03-2"]) == []
    # the latest month's days (of its latest third) are never merged either
    assert to_compact(["2025-02-1", "2025-02-2", "2025-03-1", "2025-03-14"]) == ["2025-02"]
    assert to_compact(["2025-03-1", "2025-03-11", "2025-03-12"]) == []
    assert to_compact([]) == []


def fifth_files(serve) -> list[str]:
    """The files the published list names (the previous publish's stay on disk a while)."""
    return [f for (f,) in _rows(serve, "select file from main.segments order by slice")]


def test_stray_and_unlisted_files_are_removed(tmp_path):
    serve = tmp_path / "serve.duckdb"
    with _warehouse(tmp_path / "w.duckdb", [("2025-01-10", 1)]) as con:
        publish(con, serve, "run-1")
        folder = segments_dir(serve)
        (folder / ".2025-03-abc.duckdb.123.writing").write_bytes(b"half")
        (folder / "2024-12-0123456789abcdef0123.duckdb").write_bytes(b"not listed")
        publish(con, serve, "run-2")
    assert len(_files(serve)) == 1


def test_a_missing_segment_is_a_clear_error(tmp_path):
    serve = tmp_path / "serve.duckdb"
    with _warehouse(tmp_path / "w.duckdb", [("2025-01-10", 1)]) as con:
        publish(con, serve, "run-1")
    (only,) = _files(serve)
    (segments_dir(serve) / only).unlink()
    with pytest.raises(SegmentError, match="incomplete.*nudgescope run"):
        open_published(serve)
    with pytest.raises(sandbox.SandboxError, match="incomplete") as err:
        sandbox.connect(serve)
    assert err.value.kind == "error"


def test_the_sandbox_reads_segments_but_no_file(tmp_path):
    serve = tmp_path / "serve.duckdb"
    with _warehouse(tmp_path / "w.duckdb", [("2025-01-10", 1), ("2025-02-10", 2)]) as con:
        publish(con, serve, "run-1")
    result = sandbox.run("select count(*) as n from core.sms_logs", serve)
    assert result.rows == [(2,)]
    seg = segments_dir(serve) / _files(serve)[0]
    with pytest.raises(sandbox.SandboxError):
        sandbox.run(f"select * from read_blob('{seg}')", serve)
    con = sandbox.connect(serve)
    try:
        with pytest.raises(duckdb.Error):
            con.execute(f"attach '{seg}' as again (read_only)")
        assert con.execute("select current_setting('enable_external_access')").fetchone() == (
            False,
        )
    finally:
        con.close()


def test_the_attach_script_opens_the_views_in_a_plain_client(tmp_path):
    serve = tmp_path / "serve.duckdb"
    with _warehouse(tmp_path / "w.duckdb", [("2025-01-10", 1), ("2025-02-10", 2)]) as con:
        publish(con, serve, "run-1")
    script = tmp_path / "serve.attach.sql"
    text = script.read_text(encoding="utf-8")
    assert text.count("attach if not exists") == 2 and "(read_only)" in text
    con = duckdb.connect(str(serve), read_only=True)
    try:
        with pytest.raises(duckdb.Error):  # without the script the views cannot resolve
            con.execute("select count(*) from core.sms_logs").fetchall()
        con.execute(text)
        assert con.execute("select count(*) from core.sms_logs").fetchone() == (2,)
    finally:
        con.close()


def test_the_drill_down_tables_are_sorted_by_user_within_a_segment(tmp_path):
    serve = tmp_path / "serve.duckdb"
    # January, users inserted out of order: u3 on the 2nd, u12 on the 1st, u3 on the 1st
    # (and a row in February, so that January is a month of its own, one file)
    logs = [("2025-01-02", 3), ("2025-01-01", 12), ("2025-01-01", 30), ("2025-01-03", 3)]
    logs.append(("2025-02-15", 99))
    with _warehouse(tmp_path / "w.duckdb", logs, [("2025-01-02", 7), ("2025-01-01", 1)]) as con:
        publish(con, serve, "run-1")
    jan, feb15 = _files(serve)
    assert jan.rsplit("-", 1)[0] == "2025-01" and feb15.rsplit("-", 1)[0] == "2025-02-15"
    with duckdb.connect(str(segments_dir(serve) / jan), read_only=True) as seg:
        # stored order (no order by): user, then send time, as text: u12 < u3 < u30
        assert seg.execute(
            'select user_id, day(sent_at) from segment."core__sms_logs"'
        ).fetchall() == [
            ("u12", 1),
            ("u3", 2),
            ("u3", 3),
            ("u30", 1),
        ]
        assert seg.execute('select id from segment."mart__sms_message_flags"').fetchall() == [
            (1,),
            (7,),
        ]


def test_a_segment_holds_no_freed_blocks_when_its_slice_is_two_runs_of_the_warehouse(tmp_path):
    # April's orders lie in two separate runs of the warehouse table (the end of a first load
    # and the start of a second), 360,000 rows: the two threads writing the segment each end
    # with a partly filled row group, already written to the file. The checkpoint's vacuum
    # would merge them and leave their old blocks free in the file for good (DuckDB 2.0: a
    # block here without `segments.write_once`; 8-36 in the month files at half of scale l).
    serve = tmp_path / "serve.duckdb"
    with _warehouse(tmp_path / "w.duckdb", [("2025-05-10", 1)]) as con:
        con.execute("set threads = 2")
        for first_day in ("2025-03-25", "2025-04-25"):
            con.execute(
                "insert into core.orders select i, date '" + first_day + "' + (i // 40000)::int "
                "from range(400000) as t (i)"
            )
        publish(con, serve, "run-1")
    april = [f for f in _files(serve) if f.startswith("2025-04-")]
    assert len(april) == 1
    with duckdb.connect(str(segments_dir(serve) / april[0]), read_only=True) as seg:
        assert seg.execute('select count(*) from segment."core__orders"').fetchone() == (360000,)
        assert seg.execute("select free_blocks from pragma_database_size()").fetchone() == (0,)
    with duckdb.connect(str(serve), read_only=True) as pub:
        assert pub.execute("select free_blocks from pragma_database_size()").fetchone() == (0,)


def test_a_publish_rehashes_the_dates_the_log_names_or_whose_row_count_moved(tmp_path, monkeypatch):
    serve = tmp_path / "serve.duckdb"
    wh = tmp_path / "w.duckdb"
    with _warehouse(wh, [("2025-01-10", 1), ("2025-02-10", 2)]) as con:
        publish(con, serve, "run-1")
        # the parts of both dates are saved, the log is empty
        assert con.execute(
            "select tbl, d::varchar, rows from changes.parts order by all"
        ).fetchall() == [("core.sms_logs", "2025-01-10", 1), ("core.sms_logs", "2025-02-10", 1)]
        assert con.execute("select count(*) from changes.dates").fetchone() == (0,)
    monkeypatch.delenv("NUDGESCOPE_VERIFY_PUBLISH")
    with duckdb.connect(str(wh)) as con:
        # a value changed on January 10 that nobody noted: the saved parts stand (the log,
        # not a scan of every row, says what to hash again), nothing is written
        con.execute("update core.sms_logs set id = 10 where id = 1")
        assert publish(con, serve, "run-2").segments_written == 0
        assert _rows(serve, "select list(id order by id) from core.sms_logs") == [([1, 2],)]
        # noted: January is hashed again and written
        changes.record(con, "core.sms_logs", "select date '2025-01-10'")
        assert publish(con, serve, "run-3").segments_written == 1
        assert _rows(serve, "select list(id order by id) from core.sms_logs") == [([2, 10],)]
        # a row added on January 11 without a note: the row count of a date moved, so the
        # date is hashed again all the same
        con.execute("insert into core.sms_logs (id, _dt) values (11, '2025-01-11')")
        assert publish(con, serve, "run-4").segments_written == 1
        assert _rows(serve, "select list(id order by id) from core.sms_logs") == [([2, 10, 11],)]
        # a new column: every date of the table is hashed again (and every segment renamed)
        con.execute("alter table core.sms_logs add column extra integer")
        assert publish(con, serve, "run-5").segments_written == 2
    monkeypatch.setenv("NUDGESCOPE_VERIFY_PUBLISH", "1")
    with duckdb.connect(str(wh)) as con:
        # the suite's check: an unnoted change of the same row count fails the publish
        con.execute("update core.sms_logs set id = 20 where id = 2")
        with pytest.raises(RuntimeError, match=r"core.sms_logs: .*2025-02-10"):
            publish(con, serve, "run-6")


def _history(con) -> None:
    """mart.bill_state and mart.user_cycle (statement_date) and alerts.incident_messages
    (sent_at) in the warehouse of `_warehouse`: bills b1 (January), b2 and b3 (February), b4
    (no statement date); incident 1's messages m1 (31 January 23:30 UTC, already 1 February in
    the session's Asia/Shanghai, as the warehouse's connections are set) and m2 (February)."""
    con.execute("set TimeZone = 'Asia/Shanghai'")
    con.execute("create schema alerts")
    for table in ("bill_state", "user_cycle"):
        con.execute(
            f"create table mart.{table} (bill_id varchar, statement_date date, on_time boolean)"
        )
        con.execute(
            f"""insert into mart.{table} values ('b1', '2025-01-05', true),
            ('b2', '2025-02-05', null), ('b3', '2025-02-20', true), ('b4', null, false)"""
        )
    con.execute(
        "create table alerts.incident_messages (incident_id bigint, message_id varchar, "
        "sent_at timestamptz)"
    )
    con.execute(
        """insert into alerts.incident_messages values
        (1, 'm2', '2025-02-01 00:10:00+00'), (1, 'm1', '2025-01-31 23:30:00+00')"""
    )


def _history_files(serve) -> list[str]:
    return [f for f in fifth_files(serve) if f.startswith("history-")]


def test_the_tables_a_day_revises_are_segments_of_their_own_one_per_month(tmp_path):
    serve = tmp_path / "serve.duckdb"
    wh = tmp_path / "w.duckdb"
    with _warehouse(wh, [("2025-02-10", 1)]) as con:
        _history(con)
        first = publish(con, serve, "run-1")
    # January (b1, m1), February (b2, b3, m2) and the bill without a date: three month files,
    # apart from the one date segment of the sms log (10 February, the latest third's day)
    assert (first.segments, first.segments_written) == (1, 1)
    assert (first.history_segments, first.history_written) == (3, 3)
    names = _history_files(serve)
    assert [f.rsplit("-", 1)[0] for f in names] == [
        "history-2025-01",
        "history-2025-02",
        "history-none",
    ]
    jan, feb, none = names
    assert _rows(serve, "select slice, rows from main.segments order by slice") == [
        ("2025-02-10", 1),
        ("history:2025-01", 3),  # b1 twice (both bill tables) and m1
        ("history:2025-02", 5),
        ("history:none", 2),
    ]
    # a month file holds that month of the three tables and nothing else; the incidents' month
    # is the UTC one, and their messages are kept in incident and message order
    with duckdb.connect(str(segments_dir(serve) / feb), read_only=True) as seg:
        tables = seg.execute("select table_name from duckdb_tables() order by 1").fetchall()
        assert tables == [
            ("alerts__incident_messages",),
            ("mart__bill_state",),
            ("mart__user_cycle",),
        ]
        assert seg.execute(
            'select bill_id from segment."mart__bill_state" order by 1'
        ).fetchall() == [("b2",), ("b3",)]
        assert seg.execute(
            'select message_id from segment."alerts__incident_messages"'
        ).fetchall() == [("m2",)]
    # readers see the same rows as the warehouse, through views
    assert _rows(serve, "select list(bill_id order by bill_id) from mart.user_cycle") == [
        (["b1", "b2", "b3", "b4"],)
    ]
    # a plain DuckDB client too, through the attach script, which names the month files
    script = (tmp_path / "serve.attach.sql").read_text(encoding="utf-8")
    assert all(name in script for name in names)
    with duckdb.connect(str(serve), read_only=True) as plain:
        plain.execute(script)
        assert plain.execute("select count(*) from alerts.incident_messages").fetchone() == (2,)
    assert _rows(serve, "select list(message_id order by 1) from alerts.incident_messages") == [
        (["m1", "m2"],)
    ]
    con = open_published(serve)
    try:
        assert ("mart", "bill_state") in relations(con, ("mart",))
        assert con.execute(
            "select table_type from information_schema.tables "
            "where table_schema = 'mart' and table_name = 'bill_state'"
        ).fetchone() == ("VIEW",)
    finally:
        con.close()

    with duckdb.connect(str(wh)) as con:
        # a repayment today settles January's bill late: only January's file is new; the date
        # segments and the other months stay (the writers note nothing in the change log for
        # these tables: every row is hashed)
        con.execute("update mart.bill_state set on_time = false where bill_id = 'b1'")
        second = publish(con, serve, "run-2")
    assert (second.segments_written, second.history_written) == (0, 1)
    jan2, feb2, none2 = _history_files(serve)
    assert (feb2, none2) == (feb, none) and jan2 != jan and jan2.startswith("history-2025-01-")
    assert _rows(serve, "select on_time from mart.bill_state where bill_id = 'b1'") == [(False,)]
    assert _rows(serve, "select on_time from mart.user_cycle where bill_id = 'b1'") == [(True,)]

    with duckdb.connect(str(wh)) as con:
        # a new incident message in March: a new month file, nothing else
        con.execute(
            "insert into alerts.incident_messages values (2, 'm3', '2025-03-02 08:00:00+00')"
        )
        third = publish(con, serve, "run-3")
        assert (third.segments_written, third.history_written) == (0, 1)
        assert [f.rsplit("-", 1)[0] for f in _history_files(serve)] == [
            "history-2025-01",
            "history-2025-02",
            "history-2025-03",
            "history-none",
        ]
        # nothing changed: nothing written; the replaced January file is gone by now
        assert publish(con, serve, "run-4").history_written == 0
    assert jan not in _files(serve) and jan2 in _files(serve)
    # the month files are not slices of the date segments: no month to compact
    assert compactable(serve) == []
    with duckdb.connect(str(wh)) as con:
        compacted = publish(con, serve, "run-5", compact=True)
    assert compacted.months_merged == [] and compacted.history_written == 0


def test_the_history_tables_empty_are_published_as_empty_tables(tmp_path):
    serve = tmp_path / "serve.duckdb"
    with _warehouse(tmp_path / "w.duckdb", [("2025-02-10", 1)]) as con:
        _history(con)
        con.execute("delete from mart.bill_state")
        result = publish(con, serve, "run-1")
    assert result.history_segments == 3  # the other two tables still have rows
    assert _rows(serve, "select count(*) from mart.bill_state") == [(0,)]
    with _warehouse(tmp_path / "w2.duckdb", [("2025-02-10", 1)]) as con:
        _history(con)
        for table in ("mart.bill_state", "mart.user_cycle", "alerts.incident_messages"):
            con.execute(f"delete from {table}")
        result = publish(con, tmp_path / "s2.duckdb", "run-1")
    assert (result.history_segments, result.history_written) == (0, 0)
    assert _rows(tmp_path / "s2.duckdb", "select count(*) from alerts.incident_messages") == [(0,)]

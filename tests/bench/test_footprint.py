"""pipelines.bench.footprint: what a publish wrote, on hand-built published folders."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from pipelines.bench import footprint


def _segment(folder: Path, name: str, rows: int, freed: bool = False) -> None:
    con = duckdb.connect(str(folder / name))
    con.execute(f"create table t as select range as x from range({rows})")
    if freed:
        # a second table written, checkpointed and dropped: its blocks are freed, not returned
        con.execute("create table gone as select range as y from range(300000)")
        con.execute("checkpoint")
        con.execute("drop table gone")
        con.execute("checkpoint")
    con.close()


def _serve(data_dir: Path, files: list[tuple[str, str]]) -> None:
    """A fresh serve.duckdb listing the segments `files` ((file, slice)), as a publish does:
    written under another name and renamed over the old one (a new inode)."""
    tmp = data_dir / "serve.duckdb.new"
    con = duckdb.connect(str(tmp))
    con.execute("create table segments (alias varchar, file varchar, slice varchar, rows bigint)")
    for i, (file, slc) in enumerate(files):
        con.execute("insert into segments values (?, ?, ?, 1)", [f"seg{i}", file, slc])
    con.close()
    os.replace(tmp, data_dir / "serve.duckdb")


def test_a_publish_of_a_day_wrote_serve_and_its_own_slice(tmp_path):
    seg = tmp_path / "serve.segments"
    seg.mkdir()
    june, july_old, july_new = (
        "2025-06-aaaa1111.duckdb",
        "2025-07-1-bbbb2222.duckdb",
        "2025-07-1-cccc3333.duckdb",
    )
    _segment(seg, june, 1000)
    _segment(seg, july_old, 10)
    _serve(tmp_path, [(june, "2025-06"), (july_old, "2025-07-1")])
    before = footprint.snapshot(tmp_path)
    assert set(before) == {
        "serve.duckdb",
        f"serve.segments/{june}",
        f"serve.segments/{july_old}",
    }

    # the day's publish: a new segment for July's first third, a new serve.duckdb listing it;
    # the previous July file stays for readers that opened the previous serve.duckdb
    _segment(seg, july_new, 20)
    _serve(tmp_path, [(june, "2025-06"), (july_new, "2025-07-1")])
    fig = footprint.publish_figures(before, tmp_path, "2025-07-02")

    sizes = {n: (tmp_path / n).stat().st_size for n in fig["written"]}
    assert set(fig["written"]) == {"serve.duckdb", f"serve.segments/{july_new}"}
    assert fig["written"] == sizes and fig["written_bytes"] == sum(sizes.values())
    assert fig["written_files"] == 2
    assert fig["written_slices"] == ["2025-07-1"]
    assert fig["other_slices_written"] == []
    assert fig["live_files"] == 3  # serve.duckdb, June, July's new third
    live = ["serve.duckdb", f"serve.segments/{june}", f"serve.segments/{july_new}"]
    assert fig["live_bytes"] == sum((tmp_path / n).stat().st_size for n in live)
    assert fig["live_free_blocks"] == 0 and fig["live_unreadable"] == []
    assert fig["kept_for_readers"] == 1
    assert fig["kept_for_readers_bytes"] == (seg / july_old).stat().st_size

    # the same publish seen as a day of June: July's slice is another month's
    # (a day's own months are its date's and the next day's: 30 June -> June and July)
    assert footprint.publish_figures(before, tmp_path, "2025-06-15")["other_slices_written"] == [
        "2025-07-1"
    ]
    assert footprint.publish_figures(before, tmp_path, "2025-06-30")["other_slices_written"] == []
    # nothing changed since: nothing written
    again = footprint.publish_figures(footprint.snapshot(tmp_path), tmp_path, "2025-07-02")
    assert (again["written_files"], again["written_bytes"], again["written_slices"]) == (0, 0, [])


def test_freed_blocks_in_a_live_file_are_counted(tmp_path):
    seg = tmp_path / "serve.segments"
    seg.mkdir()
    _segment(seg, "2025-05-dddd4444.duckdb", 1000, freed=True)
    _serve(tmp_path, [("2025-05-dddd4444.duckdb", "2025-05")])
    fig = footprint.publish_figures({}, tmp_path)
    assert fig["live_free_blocks"] > 0
    assert fig["other_slices_written"] is None  # no day given


def test_slice_of_a_segment_file_name():
    assert footprint.slice_of("2025-07-1-886caa8946750ffee120.duckdb") == "2025-07-1"
    assert footprint.slice_of("serve.segments/2025-06-bb7bd99d3749f82f9bc6.duckdb") == "2025-06"
    assert footprint.slice_of("serve.duckdb") is None
    assert footprint.slice_of("2025-07-04-0123abcd.duckdb") == "2025-07-04"  # a day
    assert footprint.slice_of("none-0123abcd.duckdb") == "none"  # rows without a date
    # the month files of the tables a day revises are not slices of the dated tables
    assert footprint.slice_of("history-2025-03-0123abcd.duckdb") is None
    assert footprint.history_month_of("serve.segments/history-2025-03-0123abcd.duckdb") == (
        "2025-03"
    )
    assert footprint.history_month_of("history-none-0123abcd.duckdb") == "none"
    assert footprint.history_month_of("2025-03-0123abcd.duckdb") is None


def test_a_third_that_ended_is_a_merge_not_another_months_slice(tmp_path):
    seg = tmp_path / "serve.segments"
    seg.mkdir()
    # June's last third held by day, as a data run leaves the latest third
    june = [("2025-06-1-aa01.duckdb", "2025-06-1"), ("2025-06-2-aa02.duckdb", "2025-06-2")]
    days = [("2025-06-29-aa29.duckdb", "2025-06-29"), ("2025-06-30-aa30.duckdb", "2025-06-30")]
    for name, _ in june + days:
        _segment(seg, name, 10)
    _serve(tmp_path, june + days)
    before = footprint.snapshot(tmp_path)
    # 1 July's run: July's first day, June's last third as one file from its days, and (a
    # late row) June's second third again
    new = [
        ("2025-06-2-bb02.duckdb", "2025-06-2"),
        ("2025-06-3-bb03.duckdb", "2025-06-3"),
        ("2025-07-01-bb01.duckdb", "2025-07-01"),
    ]
    for name, _ in new:
        _segment(seg, name, 10)
    _serve(tmp_path, [june[0], *new])
    fig = footprint.publish_figures(before, tmp_path, "2025-07-01")
    assert fig["written_slices"] == ["2025-06-2", "2025-06-3", "2025-07-01"]
    assert fig["merged_thirds"] == ["2025-06-3"]  # its days were listed before
    assert fig["other_slices_written"] == ["2025-06-2"]  # rewritten, not a merge
    assert fig["history_months_written"] == []
    assert fig["kept_for_readers"] == 3  # June's old second third and its two days


def test_a_revised_history_month_is_reported_apart_from_the_dated_slices(tmp_path):
    seg = tmp_path / "serve.segments"
    seg.mkdir()
    july, march_old = "2025-07-01-aa01.duckdb", "history-2025-03-aa03.duckdb"
    _segment(seg, july, 10)
    _segment(seg, march_old, 10)
    _serve(tmp_path, [(july, "2025-07-01"), (march_old, "history:2025-03")])
    before = footprint.snapshot(tmp_path)
    # 2 July: its own day, and March's bills again (a late repayment of a March bill)
    new = [("2025-07-02-bb02.duckdb", "2025-07-02"), ("history-2025-03-bb03.duckdb", "h")]
    for name, _ in new:
        _segment(seg, name, 10)
    _serve(tmp_path, [(july, "2025-07-01"), (new[0][0], "2025-07-02"), (new[1][0], "h")])
    fig = footprint.publish_figures(before, tmp_path, "2025-07-02")
    assert fig["written_files"] == 3  # serve.duckdb and the two files
    assert fig["written_slices"] == ["2025-07-02"]
    assert fig["other_slices_written"] == []
    assert fig["history_months_written"] == ["2025-03"]
    assert fig["kept_for_readers"] == 1  # March's previous file

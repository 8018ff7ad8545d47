"""A withdrawn or superseded record is physically gone from serve.duckdb (issue #14, item 9).

The warehouse keeps deleted rows' bytes in its free blocks until they are reused; the published
file is written fresh from the current rows, so nothing deleted can be read back from it — not
even by scanning the file's raw bytes."""

from __future__ import annotations

import json

from pipelines.ingest.warehouse import connect
from pipelines.serve.publish import publish
from tests.fixtures.ingest.helpers import load, put, query

DT = "2025-03-01"
WITHDRAWN = "WITHDRAWN-PERSONAL-RECORD-7f3a9c"
SUPERSEDED = "SUPERSEDED-OLD-VERSION-b41d2e"


def complaint(cid: str, narrative: str) -> str:
    return (
        json.dumps(
            {
                "complaint_id": cid,
                "received_at": "2025-03-01 10:00:00",
                "source": "app",
                "status": "open",
                "narrative": narrative,
            }
        )
        + "\n"
    )


def _publish(wh, serve, run_id):
    con = connect(wh)
    try:
        publish(con, serve, run_id)
    finally:
        con.close()


def test_withdrawn_and_superseded_rows_are_not_in_the_published_bytes(_isolated_data_dir):
    data = _isolated_data_dir
    landing, wh, serve = data / "landing", data / "warehouse.duckdb", data / "serve.duckdb"
    # many copies, so that the text sits in the file even if DuckDB compresses repeats
    gone = put(
        landing,
        "complaints",
        DT,
        "a.jsonl",
        "".join(complaint(f"a{i}", f"{WITHDRAWN}-{i:04d}") for i in range(300)),
    )
    put(
        landing,
        "complaints",
        DT,
        "b.jsonl",
        "".join(complaint(f"b{i}", f"{SUPERSEDED}-{i:04d}") for i in range(300)),
    )
    load(wh, landing, sources=("complaints",))
    _publish(wh, serve, "run-1")
    before = serve.read_bytes()
    assert WITHDRAWN.encode() in before and SUPERSEDED.encode() in before  # the search works

    gone.unlink()  # the complaint is withdrawn
    put(
        landing,
        "complaints",
        DT,
        "b.jsonl",
        "".join(complaint(f"b{i}", f"corrected text {i:04d}") for i in range(300)),
    )  # re-delivered with changed content: the old version is replaced
    load(wh, landing, run_id="run-2", sources=("complaints",))
    _publish(wh, serve, "run-2")

    assert query(serve, "select count(*) from core.complaints") == [(300,)]
    after = serve.read_bytes()
    assert WITHDRAWN.encode() not in after
    assert SUPERSEDED.encode() not in after
    assert not any(p.name.endswith(".wal") for p in data.iterdir() if "serve" in p.name)

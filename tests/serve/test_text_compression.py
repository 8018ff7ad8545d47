"""The SMS content is stored with zstd wherever it is written: staging, core, the messages
(built whole, then added to by the next day's run), and the published segments
(`pipelines.schema.ZSTD_COLUMNS`); no other column is (DuckDB itself chooses zstd only for
strings of 4 KB on average). Compression never changes a value, so the rows read back are the
ones loaded."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.orchestration.run import run_pipeline
from pipelines.serve.segments import open_published, segments_dir
from tests.fixtures.ingest.helpers import put

USERS = (
    "user_id,opened_at,credit_limit,score_band,marketing_consent\nu1,2025-01-01 09:00:00,5000,a,1\n"
)
SMS = (
    "message_id,user_id,template_code,purpose,bill_id,content,sent_at,delivery_status,"
    "delivered_at,provider,err_code\n"
    "m1,u1,T_BILL,bill_notice,b1,您的账单已出，请于3月10日前还款,"
    "2025-03-01 09:00:00,delivered,,aliyun,\n"
    "m2,u1,T_DUE,due_reminder,b1,您的账单即将到期,2025-03-02 09:00:00,delivered,,aliyun,\n"
)


SMS_DAY_3 = (
    "message_id,user_id,template_code,purpose,bill_id,content,sent_at,delivery_status,"
    "delivered_at,provider,err_code\n"
    "m3,u1,T_DUE,due_reminder,b1,账单今日到期，请及时还款,2025-03-03 09:00:00,delivered,,aliyun,\n"
)


def _compression(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, set[str]]:
    """column -> the compression methods of its data segments (validity masks left out)."""
    out: dict[str, set[str]] = {}
    for column, method in con.execute(
        f"select column_name, compression from pragma_storage_info('{table}') "
        "where segment_type <> 'VALIDITY'"
    ).fetchall():
        out.setdefault(column, set()).add(method)
    return out


def _only_content_in_zstd(con: duckdb.DuckDBPyConnection, table: str) -> None:
    methods = _compression(con, table)
    assert methods["content"] == {"ZSTD"}, table
    assert [c for c, m in methods.items() if c != "content" and "ZSTD" in m] == [], table


def test_the_sms_content_is_stored_with_zstd_everywhere_and_reads_back_unchanged(
    _isolated_data_dir,
):
    data: Path = _isolated_data_dir
    put(data / "landing", "users", "2025-03-01", "users.csv", USERS)
    put(data / "landing", "sms_logs", "2025-03-01", "sms.csv", SMS)
    assert run_pipeline(data).success
    # a second day: the messages are updated in place (the overlay's insert), not rebuilt
    put(data / "landing", "sms_logs", "2025-03-03", "sms.csv", SMS_DAY_3)
    assert run_pipeline(data).success

    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        for table in ("staging.sms_logs", "core.sms_logs", "core.sms_messages"):
            _only_content_in_zstd(con, table)

    checked = []
    for path in sorted(segments_dir(data / "serve.duckdb").glob("*.duckdb")):
        with duckdb.connect(str(path), read_only=True) as seg:
            for table in ('segment."core__sms_logs"', 'segment."core__sms_messages"'):
                if seg.execute(f"select count(*) from {table}").fetchone()[0]:
                    _only_content_in_zstd(seg, table)
                    checked.append((path.name[:10], table))
    # core is cut by the file's date (_dt): March 1 and 3, each a file of its own (the days of
    # the latest third), with both tables
    assert len(checked) == 4, checked

    con = open_published(data / "serve.duckdb")
    try:
        assert con.execute(
            "select message_id, content from core.sms_messages order by 1"
        ).fetchall() == [
            ("m1", "您的账单已出，请于3月10日前还款"),
            ("m2", "您的账单即将到期"),
            ("m3", "账单今日到期，请及时还款"),
        ]
    finally:
        con.close()

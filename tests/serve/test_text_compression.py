"""The SMS content is stored with zstd wherever it is written: staging, core, the messages, and
the published segments (`pipelines.schema.ZSTD_COLUMNS`); every other column keeps DuckDB's
own choice. Compression never changes a value, so the rows read back are the ones loaded."""

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


def _compression(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, set[str]]:
    """column -> the compression methods of its data segments (validity masks left out)."""
    out: dict[str, set[str]] = {}
    for column, method in con.execute(
        f"select column_name, compression from pragma_storage_info('{table}') "
        "where segment_type <> 'VALIDITY'"
    ).fetchall():
        out.setdefault(column, set()).add(method)
    return out


def test_the_sms_content_is_stored_with_zstd_everywhere_and_reads_back_unchanged(
    _isolated_data_dir,
):
    data: Path = _isolated_data_dir
    put(data / "landing", "users", "2025-03-01", "users.csv", USERS)
    put(data / "landing", "sms_logs", "2025-03-01", "sms.csv", SMS)
    assert run_pipeline(data).success

    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        for table in ("staging.sms_logs", "core.sms_logs", "core.sms_messages"):
            methods = _compression(con, table)
            assert methods["content"] == {"ZSTD"}, table
            assert "ZSTD" not in methods["message_id"], table

    segment_files = sorted(segments_dir(data / "serve.duckdb").glob("*.duckdb"))
    assert segment_files
    for path in segment_files:
        with duckdb.connect(str(path), read_only=True) as seg:
            for table in ('segment."core__sms_logs"', 'segment."core__sms_messages"'):
                if seg.execute(f"select count(*) from {table}").fetchone()[0] == 0:
                    continue
                methods = _compression(seg, table)
                assert methods["content"] == {"ZSTD"}, (path.name, table)
                assert "ZSTD" not in methods["user_id"], (path.name, table)

    con = open_published(data / "serve.duckdb")
    try:
        assert con.execute(
            "select message_id, content from core.sms_messages order by 1"
        ).fetchall() == [
            ("m1", "您的账单已出，请于3月10日前还款"),
            ("m2", "您的账单即将到期"),
        ]
    finally:
        con.close()

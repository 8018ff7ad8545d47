"""A warehouse made by an older version gets the columns added since (`warehouse.ensure`):
`sms_logs.out_id` in its contract position, and the pending keys' `_file`."""

from __future__ import annotations

import duckdb

from pipelines.ingest import warehouse
from pipelines.schema import core_columns


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    return [
        c
        for (c,) in con.execute(
            "select column_name from duckdb_columns() where database_name = current_database() "
            "and schema_name = $s and table_name = $t order by column_index",
            {"s": schema, "t": table},
        ).fetchall()
    ]


def test_ensure_adds_out_id_and_the_pending_file_column_to_an_old_warehouse(tmp_path):
    con = warehouse.connect(tmp_path / "w.duckdb")
    warehouse.ensure(con)
    current = _columns(con, "core", "sms_logs")
    assert current == [c for c, _ in core_columns("sms_logs")]
    # the shape before out_id and _file, with one logged message
    for schema in ("staging", "core"):
        con.execute(
            f"create table {schema}._old as select * exclude (out_id) from {schema}.sms_logs"
        )
        con.execute(f"drop table {schema}.sms_logs")
        con.execute(f"alter table {schema}._old rename to sms_logs")
    con.execute(
        "insert into core.sms_logs by name select 'm1' as message_id, 'u1' as user_id, "
        "date '2025-03-01' as _dt, 'sms_logs/dt=2025-03-01/a.csv' as _file, 1 as _row"
    )
    con.execute(f"alter table {warehouse.pending_table('orders')} drop column _file")
    assert "out_id" not in _columns(con, "core", "sms_logs")

    warehouse.ensure(con)

    assert _columns(con, "staging", "sms_logs") == current
    assert _columns(con, "core", "sms_logs") == current
    assert con.execute("select message_id, out_id, _row from core.sms_logs").fetchall() == [
        ("m1", None, 1)
    ]
    for schema in ("staging", "core"):  # made again as a new warehouse's: its text in zstd
        (ddl,) = con.execute(
            "select sql from duckdb_tables() where schema_name = $s and table_name = 'sms_logs'",
            {"s": schema},
        ).fetchone()
        assert '"content" VARCHAR USING COMPRESSION ZSTD' in ddl, ddl
    assert _columns(con, "staging", "_pending_orders")[-1] == "_file"
    # and a warehouse that has both is left as it is
    warehouse.ensure(con)
    assert _columns(con, "core", "sms_logs") == current
    con.close()

"""Core: the current winner of every primary key, merged incrementally.

Staging keeps every valid row of every loaded file. Staging queues the keys whose set of rows
changed; the merge recomputes the winner of exactly those keys (latest `_dt`, then the lexically
last `_file`, then the last `_row`), replaces them in `core.<source>`, and settles the ledger's
loaded / superseded counts of the files that hold those keys — all in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipelines import sqlfiles
from pipelines.contract import SOURCES
from pipelines.ingest.validate import q
from pipelines.ingest.warehouse import ensure, pending_table, pk_cols
from pipelines.schema import core_columns


@dataclass
class MergeResult:
    source: str
    keys_merged: int
    rows: int


def merge_source(con: duckdb.DuckDBPyConnection, source: str) -> MergeResult:
    ensure(con)
    keys = pk_cols(source)
    join = " and ".join(f"t.{q(k)} = p.{q(k)}" for k in SOURCES[source].primary_key)
    cols = ", ".join(q(c) for c, _ in core_columns(source))
    pending = pending_table(source)
    staging = f'staging."{source}"'
    core = f'core."{source}"'
    con.execute("begin")
    try:
        con.execute(f"create or replace temp table keys as select distinct {keys} from {pending}")
        n_keys = con.execute("select count(*) from keys").fetchone()[0]
        if n_keys:
            core_empty = con.execute(f"select count(*) = 0 from {core}").fetchone()[0]
            partition = ", ".join("t." + q(k) for k in SOURCES[source].primary_key)
            # first load: every staged key is pending, so skip the key join altogether
            scope = "" if core_empty else f"where exists (select 1 from keys as p where {join})"
            if not core_empty:
                con.execute(f"delete from {core} as t using keys as p where {join}")
            con.execute(
                f"""insert into {core}
                select {cols} from {staging} as t
                {scope}
                qualify row_number() over (
                    partition by {partition}
                    order by t._dt desc, t._file desc, t._row desc
                ) = 1"""
            )
            # files holding any of these keys: their loaded / superseded split may have moved
            con.execute(
                f"""create or replace temp table touched as
                select distinct t._file as path from {staging} as t {scope}"""
            )
            con.execute(
                f"""create or replace temp table core_rows as
                select _file from {core} where _file in (select path from touched)"""
            )
            sqlfiles.run(con, "ingest/update_ledger_winners")
            con.execute(f"delete from {pending}")
            con.execute("drop table touched")
            con.execute("drop table core_rows")
        con.execute("drop table keys")
        rows = con.execute(f"select count(*) from {core}").fetchone()[0]
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return MergeResult(source, n_keys, rows)

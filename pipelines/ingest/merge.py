"""Core: the current winner of every primary key, merged incrementally.

Staging keeps every valid row of every loaded file. Staging queues the keys whose set of rows
changed, each with the file that staged it (NULL when a file was withdrawn); the merge
recomputes the winner of exactly those keys (latest `_dt`, then the lexically last `_file`,
then the last `_row`), replaces them in `core.<source>`, and settles the ledger's loaded /
superseded counts of the files that hold those keys — all in one transaction.

Cost follows the changed data: a key not yet in core can only have staged rows in files staged
since the last merge (the merge empties the queue and every staged key gets a winner), so its
candidates are read from those files only. Only keys already in core (a changed re-delivery,
a late copy of a known key, a withdrawn file) make the merge look for their copies in the whole
staged table. Winners are picked by a window only for keys that have more than one candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipelines import sqlfiles
from pipelines.contract import SOURCES
from pipelines.ingest import changes
from pipelines.ingest.validate import q
from pipelines.ingest.warehouse import ensure, file_filter, pending_table, pk_cols
from pipelines.schema import core_columns


@dataclass
class MergeResult:
    source: str
    keys_merged: int
    rows: int


def merge_source(con: duckdb.DuckDBPyConnection, source: str) -> MergeResult:
    ensure(con)
    pk = SOURCES[source].primary_key
    keys = pk_cols(source)
    join = " and ".join(f"t.{q(k)} = p.{q(k)}" for k in pk)
    cols = ", ".join(q(c) for c, _ in core_columns(source))
    pending = pending_table(source)
    staging = f'staging."{source}"'
    core = f'core."{source}"'
    con.execute("begin")
    try:
        # the scope of the checks after this merge: the files it touches (none when nothing
        # is pending; a scope left from an earlier merge made the checks rescan those files)
        con.execute("delete from main.merge_scope where source = $s", {"s": source})
        core_empty = con.execute(f"select count(*) = 0 from {core}").fetchone()[0]
        if core_empty:
            # first load: every staged key is pending, so every staged row is a candidate.
            # The queue's distinct keys are not listed (a 5 M-row distinct at scale m): with
            # no withdrawal in the queue (no NULL file) they are exactly the staged keys, so
            # their number is the number of winners inserted below
            queued, withdrawn = con.execute(
                f"select count(*), count(*) filter (where _file is null) from {pending}"
            ).fetchone()
            n_keys = queued
            if withdrawn:
                n_keys = con.execute(
                    f"select count(*) from (select distinct {keys} from {pending})"
                ).fetchone()[0]
        else:
            con.execute(
                f"create or replace temp table keys as select distinct {keys} from {pending}"
            )
            n_keys = con.execute("select count(*) from keys").fetchone()[0]
        if n_keys:
            if core_empty:
                cand = staging
                con.execute("create or replace temp table lost (_file VARCHAR, _dt DATE, n BIGINT)")
            else:
                cand = "cand"
                _candidates(con, source, staging, core, pending, join)
            partition = ", ".join(q(k) for k in pk)
            con.execute(
                f"""create or replace temp table dup_keys as
                select {keys} from {cand} group by all having count(*) > 1"""
            )
            n_dup = con.execute("select count(*) from dup_keys").fetchone()[0]
            if n_dup:
                not_dup = f"where not exists (select 1 from dup_keys as p where {join})"
            else:
                not_dup = ""
            con.execute(f"insert into {core} select {cols} from {cand} as t {not_dup}")
            if n_dup:
                con.execute(
                    f"""insert into {core}
                    select {cols} from {cand} as t
                    where exists (select 1 from dup_keys as p where {join})
                    qualify row_number() over (
                        partition by {partition}
                        order by _dt desc, _file desc, _row desc
                    ) = 1"""
                )
            # files holding any of these keys: their loaded / superseded split may have moved
            con.execute(
                f"""create or replace temp table touched as
                select distinct _file as path from {cand}
                union select _file from lost"""
            )
            if core_empty:
                # every file is touched: count the winners per file straight from core
                con.execute(f"create or replace temp view core_rows as select _file from {core}")
            else:
                touched = [r[0] for r in con.execute("select path from touched").fetchall()]
                scope = "where " + file_filter(touched, table="touched")
                con.execute(
                    f"create or replace temp table core_rows as select _file from {core} {scope}"
                )
            sqlfiles.run(con, "ingest/update_ledger_winners")
            # the dates of the rows inserted (from the candidates) and removed (lost)
            changes.record(
                con, f"core.{source}", f"select _dt from {cand} union select _dt from lost"
            )
            if core_empty and not withdrawn:
                n_keys = con.execute(f"select count(*) from {core}").fetchone()[0]
            con.execute(f"delete from {pending}")
            con.execute("insert into main.merge_scope select $s, path from touched", {"s": source})
            con.execute(f"drop {'view' if core_empty else 'table'} core_rows")
            for t in ("touched", "dup_keys", "lost", "cand", "old_keys", "new_files"):
                con.execute(f"drop table if exists {t}")
        con.execute("drop table if exists keys")
        rows = con.execute(f"select count(*) from {core}").fetchone()[0]
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return MergeResult(source, n_keys, rows)


def _candidates(con, source: str, staging: str, core: str, pending: str, join: str) -> None:
    """Temp table `cand`: every staged row of a pending key; `lost`: per file, how many of its
    current winners are removed from core. Pending keys already in core are deleted from it."""
    keys = pk_cols(source)
    cols = ", ".join(q(c) for c, _ in core_columns(source))
    # keys with a winner in core, or whose queue entry has no file (a withdrawn file's keys,
    # or entries of an older version): their copies may sit in any staged file
    con.execute(
        f"""create or replace temp table old_keys as
        select {keys} from keys as t where exists (select 1 from {core} as p where {join})
        union
        select {keys} from {pending} where _file is null"""
    )
    con.execute(
        f"create or replace temp table new_files as "
        f"select distinct _file as path from {pending} where _file is not null"
    )
    new_files = [r[0] for r in con.execute("select path from new_files").fetchall()]
    n_old = con.execute("select count(*) from old_keys").fetchone()[0]
    parts = []
    if new_files:
        old = f"and not exists (select 1 from old_keys as p where {join})" if n_old else ""
        parts.append(
            f"""select {cols} from {staging} as t
            where {file_filter(new_files, "t", table="new_files")}
              and exists (select 1 from keys as p where {join}) {old}"""
        )
    if n_old:
        parts.append(
            f"""select {cols} from {staging} as t
            where exists (select 1 from old_keys as p where {join})"""
        )
    if parts:
        con.execute("create or replace temp table cand as " + "\nunion all\n".join(parts))
    else:
        con.execute(f"create or replace temp table cand as select {cols} from {staging} limit 0")
    if n_old:
        con.execute(
            f"""create or replace temp table lost as
            select _file, _dt, count(*) as n from {core} as t
            where exists (select 1 from old_keys as p where {join})
            group by _file, _dt"""
        )
        con.execute(f"delete from {core} as t using old_keys as p where {join}")
    else:
        con.execute("create or replace temp table lost (_file VARCHAR, _dt DATE, n BIGINT)")

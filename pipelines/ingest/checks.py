"""Data-quality queries behind the Dagster asset checks, generated from the contract.

Every check takes a scope: the landing files whose rows it looks at (`paths`). A run checks
what it changed — the staging checks the files staged and not yet merged plus the files this
run recorded, the core checks the files the latest merge touched — so a check costs what the
new data costs. `paths=None` checks the whole table (the periodic full check).
"""

from __future__ import annotations

import duckdb

from pipelines import contract as C
from pipelines.contract import SOURCES
from pipelines.ingest.mask import UNMASKED_RE2
from pipelines.ingest.validate import lit, q
from pipelines.ingest.warehouse import file_filter, pending_table

# (child source, column, parent source, parent key): references that may point at keys not
# (yet) loaded. Kept and counted, never dropped.
REFERENCES = (
    ("experiment_assignments", "user_id", "users", "user_id"),
    ("checkout_sessions", "user_id", "users", "user_id"),
    ("orders", "user_id", "users", "user_id"),
    ("bills", "user_id", "users", "user_id"),
    ("repayments", "bill_id", "bills", "bill_id"),
    ("repayments", "user_id", "users", "user_id"),
    ("sms_logs", "user_id", "users", "user_id"),
    ("sms_logs", "bill_id", "bills", "bill_id"),
    ("opt_outs", "user_id", "users", "user_id"),
    ("complaints", "user_id", "users", "user_id"),
)


def staging_scope(con: duckdb.DuckDBPyConnection, source: str, run_id: str) -> list[str]:
    """Files whose staged rows are not merged yet, and every file this run recorded."""
    rows = con.execute(
        f"""select distinct _file from {pending_table(source)} where _file is not null
        union
        select path from ingest.file_ledger where source = $s and run_id = $r""",
        {"s": source, "r": run_id},
    ).fetchall()
    return sorted(r[0] for r in rows)


def core_scope(con: duckdb.DuckDBPyConnection, source: str) -> list[str]:
    """Files whose rows the latest core merge of `source` touched."""
    rows = con.execute(
        "select path from main.merge_scope where source = $s", {"s": source}
    ).fetchall()
    return sorted(r[0] for r in rows)


def narrow(con: duckdb.DuckDBPyConnection, source: str, paths: list[str]) -> list[str] | None:
    """`paths`, or None (the whole table) when they are most of the source's files: a
    whole-table check is then cheaper than selecting nearly every file (a first load)."""
    n = con.execute(
        "select count(*) from ingest.file_ledger where source = $s", {"s": source}
    ).fetchone()[0]
    return None if paths and 2 * len(paths) >= n else paths


def _scope_table(con: duckdb.DuckDBPyConnection, paths: list[str]) -> None:
    con.execute("create or replace temp table check_scope (path VARCHAR)")
    if paths:
        con.execute("insert into check_scope select unnest($p::varchar[])", {"p": paths})


def _where(paths: list[str] | None, alias: str = "") -> str:
    """SQL condition limiting a staging/core table to the scope (temp table check_scope)."""
    if paths is None:
        return "true"
    return file_filter(paths, alias, table="check_scope")


def reconcile_problems(
    con: duckdb.DuckDBPyConnection, source: str, paths: list[str] | None = None
) -> dict[str, int]:
    """Ledger rows whose counts disagree with the staged and quarantined rows, and staged rows
    of files the ledger does not list as loaded (within the scope `paths`; None = all)."""
    staging = f"staging.{q(source)}"
    _scope_table(con, paths or [])
    in_scope = "true" if paths is None else "path in (select path from check_scope)"
    l_in_scope = "true" if paths is None else "l.path in (select path from check_scope)"
    bad_files = con.execute(
        f"""with
        staged as (
            select _file as path, count(*) as n from {staging}
            where {_where(paths)} group by _file
        ),
        quarantined as (
            select path, count(*) as n from ingest.quarantine
            where source = $s and {in_scope} group by path
        )
        select count(*)
        from ingest.file_ledger as l
        left join staged using (path)
        left join quarantined using (path)
        where l.source = $s and {l_in_scope} and (
            l.rows_read <> coalesce(staged.n, 0) + coalesce(quarantined.n, 0)
            or l.rows_quarantined <> coalesce(quarantined.n, 0)
            or l.rows_read <> l.rows_loaded + l.rows_quarantined + l.rows_superseded
            or (l.status = 'failed' and l.rows_read <> 0)
        )""",
        {"s": source},
    ).fetchone()[0]
    stray = con.execute(
        f"""select count(*) from {staging} as t
        where {_where(paths, "t")} and not exists (
            select 1 from ingest.file_ledger as l
            where l.path = t._file and l.status = 'loaded'
        )"""
    ).fetchone()[0]
    return {"files_not_reconciling": bad_files, "staged_rows_without_loaded_file": stray}


def contract_problems(
    con: duckdb.DuckDBPyConnection, source: str, schema: str, paths: list[str] | None = None
) -> dict[str, int]:
    """Rows of <schema>.<source> that break the contract: required fields missing, values
    outside an enum, ids too long, unmasked phone numbers in text (within the scope)."""
    src = SOURCES[source]
    conds: dict[str, list[str]] = {"missing_required": [], "bad_value": [], "unmasked_phone": []}
    for f in src.fields:
        col = q(f.name)
        if f.required:
            conds["missing_required"].append(f"{col} is null")
        if f.type == C.ENUM:
            values = f.values if f.name != "score_band" else tuple(v.upper() for v in f.values)
            conds["bad_value"].append(f"{col} not in (" + ", ".join(lit(v) for v in values) + ")")
        if f.type == C.ID:
            conds["bad_value"].append(f"length({col}) > {C.ID_MAX_LEN}")
        if f.type == C.TEXT:
            conds["unmasked_phone"].append(f"regexp_matches({col}, '{UNMASKED_RE2}')")
    selects = ", ".join(
        f"count(*) filter (where {' or '.join(c) if c else 'false'}) as {name}"
        for name, c in conds.items()
    )
    if paths is not None:
        _scope_table(con, paths)
    row = con.execute(
        f"select {selects} from {schema}.{q(source)} where {_where(paths)}"
    ).fetchone()
    return dict(zip(conds, row, strict=True))


def duplicate_keys(
    con: duckdb.DuckDBPyConnection, source: str, paths: list[str] | None = None
) -> int:
    """Keys with more than one core row: among the keys of the scope's rows (None = all)."""
    keys = ", ".join(q(k) for k in SOURCES[source].primary_key)
    core = f"core.{q(source)}"
    if paths is None:
        return con.execute(
            f"select count(*) from (select {keys} from {core} group by all having count(*) > 1)"
        ).fetchone()[0]
    if not paths:
        return 0
    _scope_table(con, paths)
    join = " and ".join(f"t.{q(k)} = s.{q(k)}" for k in SOURCES[source].primary_key)
    return con.execute(
        f"""with scoped as (select distinct {keys} from {core} where {_where(paths)})
        select count(*) from (
            select {", ".join("t." + q(k) for k in SOURCES[source].primary_key)}
            from {core} as t
            where exists (select 1 from scoped as s where {join})
            group by all having count(*) > 1
        )"""
    ).fetchone()[0]


def orphan_counts(
    con: duckdb.DuckDBPyConnection, child: str, paths: list[str] | None = None
) -> dict[str, int]:
    """For each reference of `child`: rows (of the scope; None = all) pointing at a key that
    core does not hold."""
    if paths is not None:
        _scope_table(con, paths)
    out = {}
    for c, col, parent, pkey in REFERENCES:
        if c != child:
            continue
        if paths is not None and not paths:
            out[f"{col} → {parent}"] = 0
            continue
        n = con.execute(
            f"""select count(*) from core.{q(child)} as c
            where {_where(paths, "c")} and c.{q(col)} is not null
              and not exists (select 1 from core.{q(parent)} as p where p.{q(pkey)} = c.{q(col)})"""
        ).fetchone()[0]
        out[f"{col} → {parent}"] = n
    return out

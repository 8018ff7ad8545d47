"""Data-quality queries behind the Dagster asset checks, generated from the contract."""

from __future__ import annotations

import duckdb

from pipelines import contract as C
from pipelines.contract import SOURCES
from pipelines.ingest.mask import UNMASKED_RE2
from pipelines.ingest.validate import lit, q

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


def reconcile_problems(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, int]:
    """Ledger rows whose counts disagree with the staged and quarantined rows, and staged rows
    of files the ledger does not list as loaded."""
    staging = f"staging.{q(source)}"
    bad_files = con.execute(
        f"""with
        staged as (select _file as path, count(*) as n from {staging} group by _file),
        quarantined as (
            select path, count(*) as n from ingest.quarantine where source = $s group by path
        )
        select count(*)
        from ingest.file_ledger as l
        left join staged using (path)
        left join quarantined using (path)
        where l.source = $s and (
            l.rows_read <> coalesce(staged.n, 0) + coalesce(quarantined.n, 0)
            or l.rows_quarantined <> coalesce(quarantined.n, 0)
            or l.rows_read <> l.rows_loaded + l.rows_quarantined + l.rows_superseded
            or (l.status = 'failed' and l.rows_read <> 0)
        )""",
        {"s": source},
    ).fetchone()[0]
    stray = con.execute(
        f"""select count(*) from {staging} as t
        where not exists (
            select 1 from ingest.file_ledger as l
            where l.path = t._file and l.status = 'loaded'
        )"""
    ).fetchone()[0]
    return {"files_not_reconciling": bad_files, "staged_rows_without_loaded_file": stray}


def contract_problems(con: duckdb.DuckDBPyConnection, source: str, schema: str) -> dict[str, int]:
    """Rows of <schema>.<source> that break the contract: required fields missing, values
    outside an enum, ids too long, unmasked phone numbers in text."""
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
    row = con.execute(f"select {selects} from {schema}.{q(source)}").fetchone()
    return dict(zip(conds, row, strict=True))


def duplicate_keys(con: duckdb.DuckDBPyConnection, source: str) -> int:
    keys = ", ".join(q(k) for k in SOURCES[source].primary_key)
    return con.execute(
        f"select count(*) from (select {keys} from core.{q(source)} group by all "
        "having count(*) > 1)"
    ).fetchone()[0]


def orphan_counts(con: duckdb.DuckDBPyConnection, child: str) -> dict[str, int]:
    """For each reference of `child`: rows pointing at a key that core does not hold."""
    out = {}
    for c, col, parent, pkey in REFERENCES:
        if c != child:
            continue
        n = con.execute(
            f"""select count(*) from core.{q(child)} as c
            where c.{q(col)} is not null
              and not exists (select 1 from core.{q(parent)} as p where p.{q(pkey)} = c.{q(col)})"""
        ).fetchone()[0]
        out[f"{col} → {parent}"] = n
    return out

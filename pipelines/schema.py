"""DDL for the core tables, derived from the contract so there is one description of each source."""

from __future__ import annotations

from pipelines.contract import SOURCES

LINEAGE_COLUMNS = (("_dt", "DATE"), ("_file", "VARCHAR"), ("_row", "BIGINT"))


def core_columns(source: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of core.<source>: the contract fields in order, then lineage."""
    fields = [(f.name, f.storage_type) for f in SOURCES[source].fields]
    return fields + list(LINEAGE_COLUMNS)


def core_table_ddl(source: str, schema: str = "core") -> str:
    """CREATE TABLE statement for <schema>.<source> (identifiers come from the contract)."""
    cols = ",\n    ".join(f'"{name}" {type_}' for name, type_ in core_columns(source))
    return f'CREATE TABLE IF NOT EXISTS {schema}."{source}" (\n    {cols}\n)'

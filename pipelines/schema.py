"""DDL for the core tables, derived from the contract so there is one description of each source."""

from __future__ import annotations

from pipelines.contract import SOURCES

LINEAGE_COLUMNS = (("_dt", "DATE"), ("_file", "VARCHAR"), ("_row", "BIGINT"))

# Free text (the SMS body) is stored with zstd. DuckDB's own choice for strings, dictionary +
# FSST, suits ids and short codes; on the SMS content it took twice the space of zstd (one
# month of the log at scale m: 17.3 against 8.1 MB; docs/performance-history.md, item 74).
ZSTD_COLUMNS = frozenset({"content"})


def column_ddl(name: str, type_: str) -> str:
    """One column of a CREATE TABLE: `"name" TYPE`, with its compression where it is not
    DuckDB's choice (see ZSTD_COLUMNS)."""
    spec = f'"{name}" {type_}'
    if name in ZSTD_COLUMNS and type_.upper() == "VARCHAR":
        spec += " USING COMPRESSION zstd"
    return spec


def core_columns(source: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of core.<source>: the contract fields in order, then lineage."""
    fields = [(f.name, f.storage_type) for f in SOURCES[source].fields]
    return fields + list(LINEAGE_COLUMNS)


def core_table_ddl(source: str, schema: str = "core") -> str:
    """CREATE TABLE statement for <schema>.<source> (identifiers come from the contract)."""
    cols = ",\n    ".join(column_ddl(name, type_) for name, type_ in core_columns(source))
    return f'CREATE TABLE IF NOT EXISTS {schema}."{source}" (\n    {cols}\n)'

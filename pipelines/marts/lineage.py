"""What each mart SQL file writes and reads, read from the parsed SQL, and the build order
that follows from it.

Every file of `sql/marts` is one statement (sqlglot, DuckDB dialect):

- `create schema s` creates a schema: it runs before every file that writes or reads a
  table of `s`;
- `create [or replace] table s.t …` creates a table (with a query, or empty with a column
  list): it runs before every file that inserts into `s.t`;
- `insert into s.t …` adds rows to a table another file created.

A file that reads `s.t` runs after every file that writes it. Tables of schemas no mart file
creates (`core`, `ingest`) are inputs of the marts. Ties are broken by file name, so the
order is the same on every machine. A cycle, a table read that no file writes in a schema
the marts own, a table created twice or an insert into a table no file creates is a
`LineageError` naming the files.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from pipelines import sqlfiles
from pipelines.marts import parse_cache

if TYPE_CHECKING:
    from sqlglot import exp

# sqlglot is imported where a file is parsed, not with the module: importing it costs about
# 0.4 CPU-s, and a run whose parses are all in parse_cache never needs it.


class LineageError(ValueError):
    """The mart files do not form an order: a cycle or a table nobody writes."""


@dataclass(frozen=True)
class MartFile:
    """One SQL file of sql/marts and the tables it touches (schema-qualified names)."""

    name: str  # as for sqlfiles.load(): "marts/bill_state"
    kind: str  # "schema", "create" or "insert"
    writes: str  # the table it creates or inserts into ("mart.bill_state"); for "schema": "mart"
    reads: frozenset[str] = frozenset()  # "core.bills", "mart.run_context", …

    @property
    def schema(self) -> str:
        return self.writes if self.kind == "schema" else self.writes.partition(".")[0]

    @property
    def table(self) -> str | None:
        """The table a "create" file creates, else None."""
        return self.writes if self.kind == "create" else None


def qualified(table: exp.Table) -> str:
    """`core.bills` for a table node (its name alone when it has no schema)."""
    return f"{table.db}.{table.name}" if table.db else table.name


def statement(name: str, sql: str | None = None) -> exp.Expression:
    """The parsed statement of sql/<name>.sql (or of the given text). The file's tree is parsed
    once per process (a large file takes a second): copy it before changing it."""
    return _file_statement(name) if sql is None else _parse(name, sql)


@cache
def _file_statement(name: str) -> exp.Expression:
    return _parse(name, sqlfiles.load(name))


def _parse(name: str, text: str) -> exp.Expression:
    import sqlglot

    statements = [s for s in sqlglot.parse(text, read="duckdb") if s is not None]
    if len(statements) != 1:
        raise LineageError(f"{name}: expected one statement, found {len(statements)}")
    return statements[0]


def parse_file(name: str, sql: str | None = None) -> MartFile:
    """The lineage of sql/<name>.sql (or of the given text)."""
    from sqlglot import exp

    tree = statement(name, sql)
    if isinstance(tree, exp.Create):
        kind = str(tree.args.get("kind") or "").upper()
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        if kind == "SCHEMA" and isinstance(target, exp.Table):
            return MartFile(name, "schema", target.db or target.name)
        if kind == "TABLE" and isinstance(target, exp.Table) and target.db:
            return MartFile(name, "create", qualified(target), _reads(tree, qualified(target)))
    if isinstance(tree, exp.Insert):
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        if isinstance(target, exp.Table) and target.db:
            return MartFile(name, "insert", qualified(target), _reads(tree, qualified(target)))
    raise LineageError(
        f"{name}: a mart file is one `create schema`, `create table s.t …` or "
        f"`insert into s.t …` statement with a schema-qualified table"
    )


def _reads(tree: exp.Expression, written: str) -> frozenset[str]:
    # only schema-qualified names are tables: the unqualified ones are CTEs and aliases
    from sqlglot import exp

    return frozenset(
        qualified(t) for t in tree.find_all(exp.Table) if t.db and qualified(t) != written
    )


def build_order(
    files: Iterable[MartFile], extra_reads: Mapping[str, Iterable[str]] | None = None
) -> list[MartFile]:
    """The files in an order where each runs after everything it reads is written.

    `extra_reads` adds tables a file's build step reads besides its SQL (file name -> tables),
    e.g. what the incremental planning of a file consults before the file runs.
    """
    extra_reads = extra_reads or {}
    by_name = {f.name: f for f in files}
    schemas = {f.writes: f.name for f in by_name.values() if f.kind == "schema"}
    creators: dict[str, str] = {}
    writers: dict[str, list[str]] = {}
    for f in by_name.values():
        if f.kind == "create":
            if f.writes in creators:
                raise LineageError(
                    f"{f.writes} is created by two files: {creators[f.writes]} and {f.name}"
                )
            creators[f.writes] = f.name
        if f.kind != "schema":
            writers.setdefault(f.writes, []).append(f.name)

    after: dict[str, set[str]] = {name: set() for name in by_name}  # name -> files before it
    for f in by_name.values():
        if f.kind == "schema":
            continue
        if f.kind == "insert" and f.writes not in creators:
            raise LineageError(f"{f.name} inserts into {f.writes}, which no mart file creates")
        if f.kind == "insert":
            after[f.name].add(creators[f.writes])
        reads = set(f.reads) | set(extra_reads.get(f.name, ()))
        for table in {f.writes} | reads:
            schema = table.partition(".")[0]
            if schema in schemas:
                after[f.name].add(schemas[schema])
        for table in reads:
            if table in writers:
                after[f.name].update(writers[table])
            elif table.partition(".")[0] in schemas:
                raise LineageError(f"{f.name} reads {table}, which no mart file writes")
    for name in extra_reads:
        if name not in by_name:
            raise LineageError(f"extra reads given for {name}, which is not a mart file")

    # Kahn's algorithm, the smallest ready name first
    waiting = {name: set(before) - {name} for name, before in after.items()}
    ready = [name for name, before in waiting.items() if not before]
    heapq.heapify(ready)
    order: list[MartFile] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(by_name[name])
        for other, before in waiting.items():
            if name in before:
                before.discard(name)
                if not before:
                    heapq.heappush(ready, other)
    if len(order) != len(by_name):
        left = {name: before for name, before in waiting.items() if before}
        raise LineageError("the mart files form a cycle: " + " -> ".join(_cycle(left)))
    return order


def _cycle(waiting: Mapping[str, set[str]]) -> list[str]:
    """One cycle among the files still waiting (each waits for a file before it)."""
    name = min(waiting)
    path: list[str] = []
    while name not in path:
        path.append(name)
        name = min(waiting[name] & waiting.keys())
    cycle = path[path.index(name) :] + [name]
    return list(reversed(cycle))


def read_files(layer: str = "marts") -> list[MartFile]:
    """Every file of sql/<layer>, parsed (or as parsed by an earlier process from the same
    texts with the same code: `parse_cache`)."""
    names = sqlfiles.names(layer)
    entry = parse_cache.key("lineage", *(f"{n}\n{sqlfiles.load(n)}" for n in names))
    cached = parse_cache.get(entry)
    if cached is not None:
        try:
            return [
                MartFile(d["name"], d["kind"], d["writes"], frozenset(d["reads"])) for d in cached
            ]
        except (KeyError, TypeError):
            pass  # an entry of another shape: parse
    files = [parse_file(name) for name in names]
    parse_cache.put(
        entry,
        [
            {"name": f.name, "kind": f.kind, "writes": f.writes, "reads": sorted(f.reads)}
            for f in files
        ],
    )
    return files


@cache
def file_table(name: str) -> str:
    """The table sql/<name>.sql creates (schema-qualified), from its layer's lineage."""
    layer = name.partition("/")[0]
    for f in read_files(layer):
        if f.name == name and f.table:
            return f.table
    raise LineageError(f"{name}: not a file of sql/{layer} that creates a table")

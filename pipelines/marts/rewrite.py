"""A mart file run over part of its input: the same SQL, with table references replaced where
the parsed statement (sqlglot) says they are, and its rows inserted instead of replacing the
table.

An incremental build recomputes a table for some dates or users by running the file that
builds it over temp copies of the rows of that scope. `scoped_insert` parses the file's
`create or replace table s.t as <query>` and finds in the tree every reference to a table of
`replace` (and every column qualified with its schema). Only those spans of the file's text
are replaced, at the offsets the parser recorded, so string literals, comments, CTEs or
columns that merely share the name are never touched, and everything else is the file byte
for byte, the same SQL the full build runs. A reference without an alias gets the table's
own name as alias (`from flags_input as sms_logs`), so `sms_logs.user_id` and
`core.sms_logs.user_id` still resolve. The result is

    insert into s.t by name <query>                              -- no filter
    insert into s.t by name select q.* from (<query>) as q where <filter>

A file of another shape, one that does not read a table it is asked to replace, or a
reference the parser located somewhere its text does not say is an error naming the file:
the incremental build must not silently run something else than the full one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING

import duckdb

from pipelines import sqlfiles
from pipelines.marts import parse_cache, temp
from pipelines.marts.lineage import LineageError, file_table, qualified, statement

if TYPE_CHECKING:
    from sqlglot import exp
# sqlglot is imported only where a file is rewritten (see lineage: most runs find the
# rewritten text in parse_cache)

_AS = re.compile(r"\s+as\s", re.IGNORECASE)


class RewriteError(ValueError):
    """A mart file that cannot be run over a scoped input."""


def created_query(name: str, sql: str | None = None) -> tuple[str, exp.Query]:
    """(table, query) of a file `create [or replace] table s.t as <query>` (the query is the
    parsed file's own node: copy it before changing it)."""
    from sqlglot import exp

    try:
        tree = statement(name, sql)
    except LineageError:
        tree = None
    if (
        isinstance(tree, exp.Create)
        and str(tree.args.get("kind") or "").upper() == "TABLE"
        and isinstance(tree.this, exp.Table)
        and tree.this.db
        and isinstance(tree.expression, exp.Query)
    ):
        return qualified(tree.this), tree.expression
    raise RewriteError(f"{name}: expected one `create or replace table s.t as <query>`")


def scoped_insert(
    name: str,
    replace: Mapping[str, str],
    where: str | None = None,
    *,
    sql: str | None = None,
) -> str:
    """The file as `insert into <its table> by name …`, reading `replace`'s tables instead
    (schema-qualified name -> temp table), keeping the rows of `where` (a condition on the
    query's output columns, as `q.<column>`) when given. For a file (no `sql`) the result is
    computed once per process."""
    if sql is None:
        return _file_scoped_insert(name, tuple(sorted(replace.items())), where)
    return _scoped_insert(name, replace, where, sql)


@cache
def _file_scoped_insert(name: str, replace: tuple[tuple[str, str], ...], where: str | None) -> str:
    # the same text, replacements and filter with the same code give the same SQL: kept on
    # disk between processes (parse_cache), so a run does not parse the file again
    entry = parse_cache.key(
        "scoped_insert", name, sqlfiles.load(name), json.dumps(replace), json.dumps(where)
    )
    cached = parse_cache.get(entry)
    if isinstance(cached, str):
        return cached
    sql = _scoped_insert(name, dict(replace), where, None)
    parse_cache.put(entry, sql)
    return sql


def replace_keys(
    con: duckdb.DuckDBPyConnection, name: str, scope: str, key: str, source: str, copy: str
) -> None:
    """Recompute the rows of the table file `name` creates whose `key` is in temp table
    `scope`: delete them, and insert what the file computes with table `source` replaced by
    its rows of those keys (copied into temp table `copy`). The table and `source` both have
    the column `key`, and a row of the table depends on `source`'s rows of its key only."""
    if temp.count(con, scope) == 0:
        return
    temp.create(con, copy, f"select * from {source} semi join {scope} using ({key})")
    con.execute(f"delete from {file_table(name)} where {key} in (select {key} from {scope})")
    con.execute(scoped_insert(name, {source: copy}))


def _scoped_insert(
    name: str, replace: Mapping[str, str], where: str | None, sql: str | None
) -> str:
    text = sqlfiles.load(name) if sql is None else sql
    target, query = created_query(name, sql)
    target_end = statement(name, sql).this.this.meta["end"] + 1
    after_target = _AS.match(text, target_end)
    if after_target is None:
        raise RewriteError(f"{name}: expected `as` after the table name {target}")
    start = after_target.end()
    query_text = _splice(text, _edits(query, replace, text, name), start).strip()
    if query_text.endswith(";"):
        query_text = query_text[:-1].rstrip()
    # a newline after the query: a trailing line comment must not swallow what follows
    if where is None:
        return f"insert into {target} by name\n{query_text}\n"
    return (
        f"insert into {target} by name\nselect q.*\nfrom (\n{query_text}\n) as q\nwhere {where}\n"
    )


def _edits(
    query: exp.Query, replace: Mapping[str, str], text: str, name: str
) -> list[tuple[int, int, str]]:
    """(start, end, new text) of every reference to a replaced table in the query."""
    from sqlglot import exp

    edits: list[tuple[int, int, str]] = []
    found: set[str] = set()
    for table in query.find_all(exp.Table):
        source = qualified(table)
        if not table.db or source not in replace:
            continue
        found.add(source)
        start, end = _span(table.args["db"], table.this, source, text, name)
        new = replace[source] if table.alias else f"{replace[source]} as {table.name}"
        edits.append((start, end, new))
    # a column qualified with the schema (`mart.sms_message_flags.local_date`): drop the schema,
    # the rest names the alias, which is the table's own name
    for column in query.find_all(exp.Column):
        if column.args.get("db") and f"{column.db}.{column.table}" in found:
            db, table = column.args["db"], column.args["table"]
            start, _ = _span(db, table, f"{column.db}.{column.table}", text, name)
            edits.append((start, table.meta["start"], ""))
    missing = sorted(set(replace) - found)
    if missing:
        raise RewriteError(f"{name}: does not read {', '.join(missing)}")
    return edits


def _span(
    first: exp.Expression, last: exp.Expression, expected: str, text: str, name: str
) -> tuple[int, int]:
    """The text offsets [start, end) from identifier `first` to identifier `last`, checked."""
    try:
        start, end = first.meta["start"], last.meta["end"] + 1
    except KeyError:
        raise RewriteError(f"{name}: the parser gave no position for {expected}") from None
    if text[start:end].lower() != expected.lower():
        raise RewriteError(
            f"{name}: {expected} is written as {text[start:end]!r}; write it as schema.table"
        )
    return start, end


def _splice(text: str, edits: list[tuple[int, int, str]], start: int) -> str:
    """text[start:] with the edits (all at or after start) applied."""
    out: list[str] = []
    position = start
    for begin, end, new in sorted(edits):
        if begin < position:
            raise ValueError("overlapping or out-of-range edits")
        out.append(text[position:begin])
        out.append(new)
        position = end
    out.append(text[position:])
    return "".join(out)

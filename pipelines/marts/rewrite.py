"""A mart file run over part of its input: the same SQL, with table references replaced on the
parsed statement (sqlglot) and its rows inserted instead of replacing the table.

An incremental build recomputes a table for some dates or users by running the file that
builds it over temp copies of the rows of that scope. `scoped_insert` takes the file's
`create or replace table s.t as <query>`, swaps the tables of `replace` in the query for the
temp tables (every reference; a reference without an alias keeps the table's own name as its
alias, so `sms_logs.user_id` and `core.sms_logs.user_id` still resolve) and writes

    insert into s.t by name <query>                              -- no filter
    insert into s.t by name select q.* from (<query>) as q where <filter>

in DuckDB SQL. A file of another shape, or one that does not read a table it is asked to
replace, is an error naming the file: the incremental build must not silently run something
else than the full one.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlglot
from sqlglot import exp

from pipelines import sqlfiles
from pipelines.marts.lineage import qualified


class RewriteError(ValueError):
    """A mart file that cannot be run over a scoped input."""


def created_query(name: str, sql: str | None = None) -> tuple[str, exp.Query]:
    """(table, query) of a file `create [or replace] table s.t as <query>`."""
    text = sqlfiles.load(name) if sql is None else sql
    statements = [s for s in sqlglot.parse(text, read="duckdb") if s is not None]
    tree = statements[0] if len(statements) == 1 else None
    if (
        isinstance(tree, exp.Create)
        and str(tree.args.get("kind") or "").upper() == "TABLE"
        and isinstance(tree.this, exp.Table)
        and tree.this.db
        and isinstance(tree.expression, exp.Query)
    ):
        return qualified(tree.this), tree.expression
    raise RewriteError(f"{name}: expected one `create or replace table s.t as <query>`")


def replace_tables(query: exp.Query, replace: Mapping[str, str], name: str) -> exp.Query:
    """A copy of `query` reading replace[t] wherever it reads table t (schema-qualified)."""
    out = query.copy()
    found: set[str] = set()
    for table in list(out.find_all(exp.Table)):
        source = qualified(table)
        if not table.db or source not in replace:
            continue
        found.add(source)
        new = exp.to_table(replace[source])
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
        new.set("alias", alias)
        table.replace(new)
    # a column qualified with the schema (`mart.sms_message_flags.local_date`) now names the
    # alias, which is the table's own name
    for column in list(out.find_all(exp.Column)):
        if column.args.get("db") and f"{column.db}.{column.table}" in found:
            column.set("db", None)
            column.set("catalog", None)
    missing = sorted(set(replace) - found)
    if missing:
        raise RewriteError(f"{name}: does not read {', '.join(missing)}")
    return out


def scoped_insert(
    name: str,
    replace: Mapping[str, str],
    where: str | None = None,
    *,
    sql: str | None = None,
) -> str:
    """The file as `insert into <its table> by name …`, reading `replace`'s tables instead,
    keeping the rows of `where` (a condition on the query's output columns) when given."""
    target, query = created_query(name, sql)
    query = replace_tables(query, replace, name)
    if where is not None:
        condition = sqlglot.parse_one(where, read="duckdb")
        query = (
            exp.select("q.*")
            .from_(exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier("q"))))
            .where(condition)
        )
    insert = exp.Insert(this=exp.to_table(target), expression=query, by_name=True)
    return insert.sql(dialect="duckdb")

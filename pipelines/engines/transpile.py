"""The mart SQL files, as Spark SQL: sqlglot (DuckDB -> Spark) plus a few exact dialect fixes.

`plan(name)` reads one file of sql/ and says where it runs:

- `create or replace table s.t as <query>` and `insert into s.t <query>` without bound
  parameters run on Spark: the query is transpiled, the result is written back to DuckDB;
- everything else (create schema, create table with a column list, files with $parameters)
  is DDL or a one-row settings table and runs on DuckDB as it is.

The transpiled query reads tables as Spark temporary views named `<schema>__<table>` (no
catalog, nothing left behind in a shared metastore).

sqlglot transpiles syntax; where DuckDB and Spark give the same syntax a different meaning it
is silent. The rewrites below make those cases mean in Spark what they mean in DuckDB; each one
is an identity of the two engines' documented semantics, not business logic, and each is
checked against both engines in tests/engines/test_engines.py:

- `a / b` is always floating-point division in DuckDB; Spark keeps DECIMAL and rounds to 6
  digits. Written `cast(a as double) / b`.
- `avg(x)` is DOUBLE in DuckDB, DECIMAL in Spark (same rounding). Written
  `avg(cast(x as double))`.
- `ts at time zone 'Z'` on a TIMESTAMPTZ is the naive wall-clock time in Z. Written
  `convert_timezone('Z', ts)`; sqlglot's `from_utc_timestamp` is only right when Spark's
  session time zone is UTC.
- `date_diff('day' | 'month' | 'quarter' | 'year', a, b)` counts unit boundaries in DuckDB,
  whole units in Spark's `datediff(unit, …)`. Written as date / calendar-number arithmetic.
- `epoch(ts)` is DOUBLE seconds with the fraction; Spark's `unix_timestamp` drops it. Written
  `unix_micros(ts) / 1e6`.
- `isodow(d)`, `extract(isodow …)` (1 = Monday … 7 = Sunday). Written `weekday(d) + 1`.
- `dayofweek(d)`, `weekday(d)`, `extract(dow …)` (0 = Sunday … 6 = Saturday). Written
  `dayofweek(d) - 1` (Spark counts 1 = Sunday).
- `quantile_cont(x, q)`, which sqlglot writes as an invalid two-argument `percentile_cont`.
  Written `percentile(x, q)` (same linear interpolation).

Constructs with a silent difference and no exact rewrite raise `NotPortable` with the
portable form to use instead. Everything else that Spark does not accept fails loudly when the
statement is analysed, naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from pipelines import sqlfiles

SPARK = "spark"
DUCKDB = "duckdb"


class NotPortable(ValueError):
    """A statement whose Spark translation would silently differ from DuckDB."""


@dataclass(frozen=True)
class Statement:
    """One SQL file and how the spark engine runs it."""

    name: str  # the file, as for sqlfiles.load(): "marts/bill_state"
    runs_on: str  # "spark" or "duckdb"
    kind: str  # "create_as", "insert" or "other"
    target: str | None  # "mart.bill_state": the table it writes
    reads: tuple[str, ...] = ()  # "core.bills", ...: schema-qualified tables it reads
    duckdb_query: str | None = None  # the query part in DuckDB SQL (for its result types)
    spark_query: str | None = None  # the same query as Spark SQL
    insert_columns: tuple[str, ...] = ()  # `insert into t (a, b) …`: the column list
    rewrites: tuple[str, ...] = field(default=())  # dialect rewrites applied, by name
    reason: str = ""  # why it runs on DuckDB


def view_name(table: str) -> str:
    """Spark temporary view for a schema-qualified table: core.bills -> core__bills."""
    schema, _, name = table.partition(".")
    return f"{schema}__{name}"


def plan(name: str, sql: str | None = None) -> Statement:
    """How the spark engine runs sql/<name>.sql (or the given text)."""
    text = sqlfiles.load(name) if sql is None else sql
    parsed = sqlglot.parse(text, read="duckdb")
    statements = [s for s in parsed if s is not None]
    if len(statements) != 1:
        raise ValueError(f"{name}: expected one statement, found {len(statements)}")
    tree = statements[0]

    target, query, kind, columns = _target_and_query(tree)
    if query is None:
        return Statement(name, DUCKDB, "other", target, reason="DDL")
    if tree.find(exp.Placeholder):
        return Statement(name, DUCKDB, kind, target, reason="bound parameters")

    reads = tuple(sorted({_qualified(t) for t in query.find_all(exp.Table) if t.db}))
    spark_tree = query.copy()
    applied = _rewrite_for_spark(spark_tree, name)
    for table in spark_tree.find_all(exp.Table):
        if table.db:
            table.replace(_view_table(table))
    try:
        spark_sql = spark_tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as exc:
        raise NotPortable(f"{name}: sqlglot cannot write it for Spark: {exc}") from exc
    return Statement(
        name=name,
        runs_on=SPARK,
        kind=kind,
        target=target,
        reads=reads,
        duckdb_query=query.sql(dialect="duckdb"),
        spark_query=spark_sql,
        insert_columns=columns,
        rewrites=tuple(sorted(set(applied))),
    )


def _target_and_query(
    tree: exp.Expression,
) -> tuple[str | None, exp.Query | None, str, tuple[str, ...]]:
    if isinstance(tree, exp.Create) and str(tree.args.get("kind", "")).upper() == "TABLE":
        table = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        query = tree.expression if isinstance(tree.expression, exp.Query) else None
        return _qualified(table), query, "create_as", ()
    if isinstance(tree, exp.Insert) and isinstance(tree.expression, exp.Query):
        if isinstance(tree.this, exp.Schema):
            cols = tuple(c.name for c in tree.this.expressions)
            return _qualified(tree.this.this), tree.expression, "insert", cols
        return _qualified(tree.this), tree.expression, "insert", ()
    return None, None, "other", ()


def _qualified(table: exp.Table) -> str:
    return f"{table.db}.{table.name}" if table.db else table.name


def _view_table(table: exp.Table) -> exp.Table:
    view = exp.to_table(view_name(_qualified(table)))
    if table.alias:
        view.set("alias", table.args["alias"])
    else:  # keep `core.bills` usable as a column qualifier: `bills.x`
        view.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
    return view


# --- dialect rewrites: DuckDB meaning, spelled so sqlglot writes it correctly for Spark ---


def _fn(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _double(e: exp.Expression) -> exp.Expression:
    if isinstance(e, exp.Cast) and e.to.is_type(exp.DataType.Type.DOUBLE):
        return e
    return exp.Cast(this=e, to=exp.DataType.build("double"))


def _as_date(e: exp.Expression) -> exp.Expression:
    return exp.Cast(this=e, to=exp.DataType.build("date"))


def _month_number(e: exp.Expression) -> exp.Expression:
    return exp.Paren(
        this=exp.Add(
            this=exp.Mul(this=exp.Year(this=e.copy()), expression=exp.Literal.number(12)),
            expression=exp.Month(this=e.copy()),
        )
    )


def _quarter_number(e: exp.Expression) -> exp.Expression:
    return exp.Paren(
        this=exp.Add(
            this=exp.Mul(this=exp.Year(this=e.copy()), expression=exp.Literal.number(4)),
            expression=exp.Quarter(this=e.copy()),
        )
    )


def _iso_weekday(e: exp.Expression) -> exp.Expression:
    return exp.Paren(this=exp.Add(this=_fn("weekday", e), expression=exp.Literal.number(1)))


def _sunday_zero_weekday(e: exp.Expression) -> exp.Expression:
    return exp.Paren(this=exp.Sub(this=_fn("dayofweek", e), expression=exp.Literal.number(1)))


def _rewrite_for_spark(tree: exp.Expression, name: str) -> list[str]:
    applied: list[str] = []

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Div) and not isinstance(node, exp.IntDiv):
            if not (isinstance(node.this, exp.Cast) and node.this.to.is_type("double")):
                applied.append("float division")
                node.set("this", _double(node.this))
            return node
        if isinstance(node, exp.Avg):
            applied.append("avg as double")
            node.set("this", _double(node.this))
            return node
        if isinstance(node, exp.AtTimeZone):
            applied.append("at time zone")
            return _fn("convert_timezone", node.args["zone"], node.this)
        if isinstance(node, exp.DateDiff):
            return _date_diff(node, name, applied)
        if isinstance(node, exp.TimeToUnix):
            applied.append("epoch")
            return exp.Div(
                this=exp.Cast(this=_fn("unix_micros", node.this), to=exp.DataType.build("double")),
                expression=exp.Literal.number(1_000_000),
            )
        if isinstance(node, exp.DayOfWeekIso):
            applied.append("isodow")
            return _iso_weekday(node.this)
        if isinstance(node, exp.DayOfWeek):
            applied.append("dayofweek")
            return _sunday_zero_weekday(node.this)
        if isinstance(node, exp.Anonymous) and node.name.lower() == "weekday":
            applied.append("dayofweek")
            return _sunday_zero_weekday(node.expressions[0])
        if isinstance(node, exp.Extract):
            part = node.this.name.lower()
            if part == "isodow":
                applied.append("isodow")
                return _iso_weekday(node.expression)
            if part in ("dow", "dayofweek", "weekday"):
                applied.append("dayofweek")
                return _sunday_zero_weekday(node.expression)
            return node
        if isinstance(node, exp.PercentileCont) and node.expression is not None:
            if not isinstance(node.parent, exp.WithinGroup):
                applied.append("quantile_cont")
                return _fn("percentile", node.this, node.expression)
            return node
        if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
            raise NotPortable(
                f"{name}: list/array_agg(… order by …): sqlglot drops the ORDER BY for "
                "Spark. Portable: list_sort(array_agg(distinct x)) when the order is the "
                "value itself, else aggregate and sort in a separate step."
            )
        return node

    # children before parents, so the arguments of a rewritten node are rewritten already
    for node in reversed(list(tree.dfs())):
        new = rewrite(node)
        if new is not node:
            node.replace(new)
    return applied


def _date_diff(node: exp.DateDiff, name: str, applied: list[str]) -> exp.Expression:
    if not node.args.get("date_part_boundary"):
        return node
    unit = (node.unit.name if node.unit is not None else "day").lower()
    end, start = node.this, node.expression
    if unit in ("day", "days", "d", "dayofmonth"):
        applied.append("date_diff day")
        return _fn("datediff", _as_date(end), _as_date(start))
    if unit in ("month", "months", "mon"):
        applied.append("date_diff month")
        return exp.Paren(this=exp.Sub(this=_month_number(end), expression=_month_number(start)))
    if unit in ("quarter", "quarters"):
        applied.append("date_diff quarter")
        return exp.Paren(this=exp.Sub(this=_quarter_number(end), expression=_quarter_number(start)))
    if unit in ("year", "years", "y"):
        applied.append("date_diff year")
        return exp.Paren(this=exp.Sub(this=exp.Year(this=end), expression=exp.Year(this=start)))
    raise NotPortable(
        f"{name}: date_diff('{unit}', …) counts {unit} boundaries in DuckDB and whole {unit}s "
        "in Spark. Portable: a difference of epoch seconds, e.g. "
        "floor((epoch(b) - epoch(a)) / 3600) for whole hours, or date_diff('day', …)."
    )


def report(names: list[str]) -> list[tuple[str, str, str]]:
    """(file, where it runs, rewrites or the reason / error) for each file, for the docs."""
    rows = []
    for name in names:
        try:
            st = plan(name)
        except NotPortable as exc:
            rows.append((name, "not portable", str(exc)))
            continue
        detail = ", ".join(st.rewrites) if st.runs_on == SPARK else st.reason
        rows.append((name, st.runs_on, detail or "as is"))
    return rows


if __name__ == "__main__":
    for row in report(sqlfiles.names("marts")):
        print(" | ".join(row))

"""Validation SQL generated from the contract: one set-based statement per source.

Input is the temporary table `raw` (every contract field as VARCHAR, NULL when the file has no
such column, plus `_dt, _file, _row`). The statement types every field, picks the first reason
that applies — required fields, then types, then ranges, then row rules, each in contract field
order — and builds the masked raw row for quarantine. Identifiers and literals come only from
`pipelines.contract`, never from the data.
"""

from __future__ import annotations

from pipelines import contract as C
from pipelines.contract import SOURCES, Field
from pipelines.ingest.mask import mask_sql
from pipelines.settings import TIMEZONE

TS_NAIVE = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?"
# A UTC offset is at most ±14:00 (the widest in use); anything else is a bad value, not a time.
OFFSET_COLON = r"[+-](0\d:[0-5]\d|1[0-3]:[0-5]\d|14:00)"
OFFSET_BARE = r"[+-](0\d[0-5]\d|1[0-3][0-5]\d|1400)"
TS_OFFSET = TS_NAIVE + f"(Z|{OFFSET_COLON}|{OFFSET_BARE})"
TS_COLON_OFFSET = TS_NAIVE + OFFSET_COLON  # the usual spelling: DuckDB casts it as is

# Row rules of the contract as conditions over the typed fields (true = the row breaks it).
ROW_RULE_SQL = {
    "payment_method_required": '"status" = \'completed\' and "payment_method" is null',
    "installments_not_one": '"payment_method" <> \'bnpl_installment\' and "installments" <> 1',
    "due_before_statement": '"due_date" < "statement_date"',
    "quiet_window_one_end": '("quiet_start_hour" is null) <> ("quiet_end_hour" is null)',
}
TYPE_REASON = {
    C.ID: "bad_id",
    C.TS: "bad_timestamp",
    C.DATE: "bad_date",
    C.MONTH: "bad_month",
    C.MONEY: "bad_money",
    C.INT: "bad_int",
    C.BOOL: "bad_bool",
    C.ENUM: "bad_enum",
}
for _src in SOURCES.values():
    for _code, _ in _src.row_rules:
        if _code not in ROW_RULE_SQL or _code not in C.REASON_CODES:
            raise RuntimeError(f"row rule {_code!r} of {_src.name} has no validation SQL")
for _code in TYPE_REASON.values():
    assert _code in C.REASON_CODES, _code


def q(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """Quote a string literal (for constants of the contract only)."""
    return "'" + value.replace("'", "''") + "'"


def _in_list(values) -> str:
    return "(" + ", ".join(lit(v) for v in values) + ")"


# DuckDB's trim() removes the Unicode space separators (category Zs: U+0020, U+00A0, U+3000,
# ...) at both ends, and always copies the string. Most values have none at either end, so
# trim runs only where one can be: an ASCII value (as many bytes as characters) can only have
# U+0020; any other value is looked at by a pattern anchored at each end. The result is
# trim's in every case (tests/ingest/test_ingest.py checks every code point); the cost on the
# 5.4 M log rows at scale m, one thread: an id or a time 0.52 -> 0.23 CPU-s, the content
# 1.49 -> 0.62.
_EDGE_SPACE = r"regexp_matches({x}, '^\p{{Zs}}') or regexp_matches({x}, '\p{{Zs}}$')"


def trimmed_sql(x: str, long_text: bool = False) -> str:
    """`nullif(trim(x), '')` for the text expression `x` (a column name), trimming only values
    that can start or end with a space. `long_text`: the value is usually long and not ASCII
    (a message's content), so counting its characters costs more than the patterns."""
    edge = _EDGE_SPACE.format(x=x)
    if long_text:
        return f"nullif(case when {edge} then trim({x}) else {x} end, '')"
    return (
        f"nullif(case when strlen({x}) = length({x}) "
        f"then case when starts_with({x}, ' ') or ends_with({x}, ' ') then trim({x}) else {x} end "
        f"when {edge} then trim({x}) else {x} end, '')"
    )


def ts_cases(v: str) -> list[tuple[str, str]]:
    """The contract's spellings of a timestamp in the text `v`, as (condition, TIMESTAMPTZ value)
    pairs, the usual one (no offset: Beijing time) first. The patterns exclude each other."""
    with_offset = (
        f"regexp_replace(regexp_replace(replace({v}, 'T', ' '), 'Z$', '+00:00'), "
        r"'([+-]\d{2})(\d{2})$', '\1:\2')"
    )
    return [
        (
            f"regexp_full_match({v}, '{TS_NAIVE}')",
            f"timezone('{TIMEZONE}', try_cast(replace({v}, 'T', ' ') as timestamp))",
        ),
        (
            f"regexp_full_match({v}, '{TS_COLON_OFFSET}')",
            f"try_cast(replace({v}, 'T', ' ') as timestamptz)",
        ),
        (f"regexp_full_match({v}, '{TS_OFFSET}')", f"try_cast({with_offset} as timestamptz)"),
    ]


def case_expr(cases: list[tuple[str, str]]) -> str:
    """`case when c1 then v1 … end` (NULL when no condition holds)."""
    return "case " + " ".join(f"when {c} then {x}" for c, x in cases) + " end"


def ts_expr(
    v: str,
    plain: list[tuple[str, str]] | tuple = (),
    marked: list[tuple[str, str]] | tuple = (),
) -> str:
    """TIMESTAMPTZ from the timestamp text `v` (NULL when absent or unparsable): the first of
    the contract's spellings (`ts_cases`) that matches, or of the extra (condition, value)
    pairs: `plain` ones hold no offset marker, `marked` ones always do.

    An offset marker is a `+`, a `Z`, or a `-` after the date: a spelling without an offset
    never holds one, a spelling with one always does. So one cheap test picks the patterns
    that can match, and a value is matched against those only. The log's times carry `+08:00`
    and went through the no-offset pattern first: at m the two times of 5.4 M log rows cost
    2.9 -> 2.0 CPU-s (one thread), the same values."""
    naive, colon, offset = ts_cases(v)
    marker = f"(contains({v}, '+') or contains({v}, 'Z') or contains(substr({v}, 11), '-'))"
    return (
        f"case when {marker} then {case_expr([*marked, colon, offset])} "
        f"else {case_expr([naive, *plain])} end"
    )


def typed_expr(f: Field, v: str) -> str:
    """The typed value of field `f` from its trimmed text `v`; NULL when absent or unparsable."""
    t = f.type
    if t == C.ID:
        return f"case when length({v}) <= {C.ID_MAX_LEN} then {v} end"
    if t == C.TS:
        return ts_expr(v)
    if t == C.DATE:
        pattern = r"\d{4}-\d{2}-\d{2}"
        return f"case when regexp_full_match({v}, '{pattern}') then try_cast({v} as date) end"
    if t == C.MONTH:
        return rf"case when regexp_full_match({v}, '\d{{4}}-(0[1-9]|1[0-2])') then {v} end"
    if t == C.MONEY:
        return (
            rf"case when regexp_full_match({v}, '[+-]?\d+(\.\d{{1,2}})?') "
            f"then try_cast({v} as {f.storage_type}) end"
        )
    if t == C.INT:
        return rf"case when regexp_full_match({v}, '[+-]?\d+') then try_cast({v} as integer) end"
    if t == C.BOOL:
        return (
            f"case when lower({v}) in {_in_list(C.BOOL_TRUE)} then true "
            f"when lower({v}) in {_in_list(C.BOOL_FALSE)} then false end"
        )
    if t == C.ENUM:
        value = f"upper({v})" if (f.name == "score_band") else f"lower({v})"
        return f"case when lower({v}) in {_in_list(f.values)} then {value} end"
    if t == C.TEXT:
        return mask_sql(v)
    raise ValueError(f"unknown contract type {t!r}")


def _fail(code: str, field: str, cond: str, v: str | None) -> str:
    shown = f" || ' (got ' || left({v}, 40) || ')'" if v else ""
    desc = C.REASON_CODES[code]
    return f"case when {cond} then {lit(code + '|' + field + ': ' + desc)}{shown} end"


def checked_and_shown(failure: str, raw_json: str) -> str:
    """The two CTEs every validation query ends with, after its CTE `typed`: `checked` adds
    `_failure` (NULL, or "reason_code|message" of the first broken rule), `shown` adds
    `_raw_json`, the raw row of a broken row only. The raw row is built in a projection of
    its own so that DuckDB does not build it for every row (the mask of the final select names
    it several times, and a repeated expression is computed once for all rows before the CASE
    picks the broken ones)."""
    return f"""checked as (
    select
        typed.*,
        {failure} as _failure
    from typed
),

shown as (
    select
        checked.*,
        case when _failure is not null then {raw_json} end as _raw_json
    from checked
)"""


def validation_sql(source: str) -> str:
    """SELECT over `raw` giving the typed fields, `_dt, _file, _row`, and for bad rows
    `reason_code`, `message`, `raw_row` (all NULL for good rows)."""
    src = SOURCES[source]
    fields = src.fields

    def v(f: Field) -> str:
        return q("v__" + f.name)

    raws = ",\n        ".join(f"{q(f.name)} as {q('r__' + f.name)}" for f in fields)
    trimmed = ",\n        ".join(
        f"{trimmed_sql(q(f.name), long_text=f.type == C.TEXT)} as {v(f)}" for f in fields
    )
    raw_json = (
        "json_object("
        + ", ".join(f"{lit(f.name)}, {q('r__' + f.name)}" for f in fields)
        + ")::varchar"
    )
    typed = ",\n        ".join(f"{typed_expr(f, v(f))} as {q(f.name)}" for f in fields)

    fails: list[str] = []
    for f in fields:
        if f.required:
            fails.append(_fail("missing_required", f.name, f"{v(f)} is null", None))
    for f in fields:
        if f.type in TYPE_REASON:
            cond = f"{v(f)} is not null and {q(f.name)} is null"
            fails.append(_fail(TYPE_REASON[f.type], f.name, cond, v(f)))
    for f in fields:
        if f.min_value is not None:
            op = "<=" if f.min_exclusive else "<"
            cond = f"{q(f.name)} {op} {f.min_value:g}"
            fails.append(_fail("out_of_range", f.name, cond, v(f)))
        if f.max_value is not None:
            cond = f"{q(f.name)} > {f.max_value:g}"
            fails.append(_fail("out_of_range", f.name, cond, v(f)))
    for code, desc in src.row_rules:
        fails.append(f"case when {ROW_RULE_SQL[code]} then {lit(code + '|' + desc)} end")
    failure = "coalesce(\n            " + ",\n            ".join(fails) + "\n        )"

    outputs = []
    for f in fields:
        col = q(f.name)
        if source == "sms_logs" and f.name == "segments":
            outputs.append(f"coalesce({col}, 1) as {col}")
        else:
            outputs.append(col)
    out = ",\n    ".join(outputs)
    return f"""with
source as (
    select
        _dt, _file, _row,
        {raws},
        {trimmed}
    from raw
),

typed as (
    select
        source.*,
        {typed}
    from source
),

{checked_and_shown(failure, raw_json)}

select
    {out},
    _dt, _file, _row,
    split_part(_failure, '|', 1) as reason_code,
    {mask_sql("substr(_failure, strpos(_failure, '|') + 1)")} as message,
    case when _failure is not null then {mask_sql("_raw_json")} end as raw_row
from shown"""

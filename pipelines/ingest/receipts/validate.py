"""Validation of normalised receipt rows: types, the status mapping, the receipt's id.

Input is the temporary view `raw` (pipelines.ingest.receipts.reader). Output has the same
shape as `pipelines.ingest.validate.validation_sql`: the typed fields of `sms_receipts`,
`_dt, _file, _row`, and for a broken row `reason_code, message, raw_row`.

Times: UNIX seconds and RFC 2822 (`Thu, 26 Nov 2026 05:41:06 +0000`) are absolute; text
without an offset is Beijing time (the contract's `ts` rules, shared with the other sources).
The receipt's id is a digest of its normalised content, so the same receipt exported twice
(two queries, a pull and a callback) is one receipt, the later copy winning as for any key.
The md5's digits are spelled as letters (g-p), so an id never holds a run of digits that
reads like a phone number.
"""

from __future__ import annotations

from pipelines import contract as C
from pipelines.ingest.mask import mask_sql
from pipelines.ingest.receipts.formats import (
    GATEWAY_ID_FORMATS,
    RAW_FIELDS,
    TWILIO_DELIVERED,
    TWILIO_FAILED,
    TWILIO_PENDING,
)
from pipelines.ingest.validate import checked_and_shown, lit, q, trimmed_sql, ts_expr

UNIX_SECONDS = r"\d{1,12}"
RFC_2822 = r"[A-Za-z]{3}, \d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}"


def _in(values) -> str:
    return "(" + ", ".join(lit(v) for v in values) + ")"


def time_expr(v: str) -> str:
    """TIMESTAMPTZ from a receipt's time text; NULL when absent or unparsable.

    Besides the contract's spellings (`ts_expr`): UNIX seconds (digits alone, no offset
    marker) and RFC 2822 (a weekday's name first, always an offset such as `+0000`). The
    spellings exclude each other, so their order changes only the cost."""
    return ts_expr(
        v,
        plain=[
            (f"regexp_full_match({v}, '{UNIX_SECONDS}')", f"to_timestamp(try_cast({v} as bigint))")
        ],
        marked=[
            (
                f"regexp_full_match({v}, '{RFC_2822}')",
                f"try_strptime({v}, '%a, %d %b %Y %H:%M:%S %z')",
            )
        ],
    )


def status_expr(fmt: str, v: str) -> str:
    """The spec's status mapping per format; NULL for a value the format does not define."""
    s = f"lower({v})"
    return f"""case
            when {fmt} = 'aliyun_sms_report' then case
                when {s} in {_in(C.BOOL_TRUE)} then 'delivered'
                when {s} in {_in(C.BOOL_FALSE)} then 'failed' end
            when {fmt} = 'aliyun_query_send_details' then case {v}
                when '3' then 'delivered' when '2' then 'failed' when '1' then 'pending' end
            when {fmt} in ('tencent_pull_status', 'tencent_callback') then case {s}
                when 'success' then 'delivered' when 'fail' then 'failed' end
            when {fmt} in ('twilio_json', 'twilio_csv') then case
                when {s} in {_in(TWILIO_DELIVERED)} then 'delivered'
                when {s} in {_in(TWILIO_FAILED)} then 'failed'
                when {s} in {_in(TWILIO_PENDING)} then 'pending' end
        end"""


def _fail(code: str, field: str, cond: str, v: str | None) -> str:
    shown = f" || ' (got ' || left({v}, 40) || ')'" if v else ""
    desc = {**C.REASON_CODES, **C.RECEIPT_REASON_CODES}[code]
    return f"case when {cond} then {lit(code + '|' + field + ': ' + desc)}{shown} end"


def validation_sql() -> str:
    def v(name: str) -> str:
        return q("v__" + name)

    trimmed = ",\n        ".join(f"{trimmed_sql(q(f))} as {v(f)}" for f in RAW_FIELDS)
    raws = ", ".join(f"{q(f)} as {q('r__' + f)}" for f in RAW_FIELDS)
    raw_json = (
        "json_object(" + ", ".join(f"{lit(f)}, {q('r__' + f)}" for f in RAW_FIELDS) + ")::varchar"
    )
    fmt = v("receipt_format")
    max_len = C.ID_MAX_LEN
    fails = [
        _fail("missing_required", "status", f"{v('status')} is null", None),
        _fail(
            "missing_required",
            "gateway_id",
            f"{v('gateway_id')} is null and {fmt} in {_in(GATEWAY_ID_FORMATS)}",
            None,
        ),
        _fail("bad_id", "gateway_id", f"length({v('gateway_id')}) > {max_len}", v("gateway_id")),
        _fail("bad_id", "out_id", f"length({v('out_id')}) > {max_len}", v("out_id")),
        _fail(
            "bad_timestamp",
            "sent_at",
            f"{v('sent_at')} is not null and sent_at is null",
            v("sent_at"),
        ),
        _fail(
            "bad_timestamp",
            "reported_at",
            f"{v('reported_at')} is not null and reported_at is null",
            v("reported_at"),
        ),
        _fail("bad_status", "status", "status is null", v("status")),
        _fail(
            "bad_int",
            "segments",
            f"{v('segments')} is not null and segments is null",
            v("segments"),
        ),
        _fail("out_of_range", "segments", "segments < 1", v("segments")),
    ]
    failure = "coalesce(\n            " + ",\n            ".join(fails) + "\n        )"
    identity = ", ".join(
        f"coalesce({e}, '')"
        for e in (
            "provider",
            "gateway_id",
            "out_id",
            "status",
            "cast(epoch_ms(sent_at) as varchar)",
            "cast(epoch_ms(reported_at) as varchar)",
            "err_code",
            "cast(segments as varchar)",
        )
    )
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
        {v("provider")} as provider,
        {fmt} as receipt_format,
        case when length({v("gateway_id")}) <= {C.ID_MAX_LEN} then {v("gateway_id")} end
            as gateway_id,
        case when length({v("out_id")}) <= {C.ID_MAX_LEN} then {v("out_id")} end as out_id,
        {status_expr(fmt, v("status"))} as status,
        {mask_sql(v("err_code"))} as err_code,
        {time_expr(v("sent_at"))} as sent_at,
        {time_expr(v("reported_at"))} as reported_at,
        case when regexp_full_match({v("segments")}, '[+-]?\\d+')
            then try_cast({v("segments")} as integer) end as segments
    from source
),

{checked_and_shown(failure, raw_json)}

select
    translate(md5(concat_ws('|', {identity})), '0123456789', 'ghijklmnop') as receipt_id,
    provider,
    receipt_format,
    gateway_id,
    out_id,
    status,
    err_code,
    sent_at,
    reported_at,
    segments,
    _dt, _file, _row,
    split_part(_failure, '|', 1) as reason_code,
    {mask_sql("substr(_failure, strpos(_failure, '|') + 1)")} as message,
    case when _failure is not null then {mask_sql("_raw_json")} end as raw_row
from shown"""

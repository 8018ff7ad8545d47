"""The data contract as code: the sources (nine, plus optional ones), fields, types, rules.

This module is the single description of the input files that the simulator writes and the
ingestion validates. It restates the binding contract (shared spec `data-contract.md`) as data;
if the two ever disagree, the spec wins and this file is the bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Field types of the contract.
ID, TS, DATE, MONTH, MONEY, INT, BOOL, ENUM, TEXT = (
    "id",
    "ts",
    "date",
    "month",
    "money",
    "int",
    "bool",
    "enum",
    "text",
)

# How each type is stored in DuckDB.
STORAGE_TYPE = {
    ID: "VARCHAR",
    TS: "TIMESTAMPTZ",
    DATE: "DATE",
    MONTH: "VARCHAR",
    MONEY: "DECIMAL(18,2)",
    INT: "INTEGER",
    BOOL: "BOOLEAN",
    ENUM: "VARCHAR",
    TEXT: "VARCHAR",
}

ID_MAX_LEN = 64
FILE_FORMATS = ("csv", "csv.gz", "parquet", "jsonl")
# Columns that carry a raw phone number: never stored, whatever the source.
PHONE_COLUMNS = frozenset({"phone", "mobile", "phone_number", "手机号"})
BOOL_TRUE = ("true", "1", "t", "yes", "y", "是")
BOOL_FALSE = ("false", "0", "f", "no", "n", "否")

PAYMENT_METHODS = ("bnpl", "bnpl_installment", "card", "balance", "other")
BNPL_METHODS = ("bnpl", "bnpl_installment")
SMS_PURPOSES = ("bill_notice", "due_reminder", "overdue_collection", "marketing", "verification")
COMPLAINT_CATEGORIES = (
    "sms_frequency",
    "sms_night",
    "sms_duplicate",
    "sms_marketing",
    "collection_conduct",
    "fees",
    "refund",
    "credit_report",
    "other",
)


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = False
    values: tuple[str, ...] = ()  # allowed values of an enum (lower case)
    min_value: float | None = None  # inclusive lower bound (money, int)
    min_exclusive: bool = False  # True: value must be > min_value
    max_value: float | None = None  # inclusive upper bound (int)
    note: str = ""

    @property
    def storage_type(self) -> str:
        return STORAGE_TYPE[self.type]


@dataclass(frozen=True)
class Source:
    name: str
    primary_key: tuple[str, ...]
    fields: tuple[Field, ...]
    # Row rules that involve more than one field, as (reason_code, description).
    row_rules: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # An optional source may have no folder at all: its table is then empty and whatever
    # reads it treats every user as having no row (nothing fails).
    optional: bool = False

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")


def _f(name, type_, required=False, **kw) -> Field:
    return Field(name, type_, required, **kw)


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "users",
            ("user_id",),
            (
                _f("user_id", ID, True),
                _f("opened_at", TS, True, note="account activation"),
                _f("credit_limit", MONEY, True, min_value=0),
                _f(
                    "score_band",
                    ENUM,
                    True,
                    values=("a", "b", "c", "d", "e"),
                    note="stored upper-case",
                ),
                _f("marketing_consent", BOOL, True),
                _f("province", TEXT),
                _f("updated_at", TS),
            ),
        ),
        Source(
            "experiment_assignments",
            ("experiment_id", "user_id"),
            (
                _f("experiment_id", ID, True),
                _f("user_id", ID, True),
                _f("arm", ID, True, note="the arm named control is the reference"),
                _f("assigned_at", TS, True),
            ),
        ),
        Source(
            "checkout_sessions",
            ("session_id",),
            (
                _f("session_id", ID, True),
                _f("user_id", ID, True),
                _f("started_at", TS, True),
                _f("bnpl_offered", BOOL, True),
                _f("status", ENUM, True, values=("completed", "abandoned")),
                _f("payment_method", ENUM, values=PAYMENT_METHODS, note="required when completed"),
                _f("order_id", ID, note="set when completed"),
            ),
            row_rules=(("payment_method_required", "payment_method is required when completed"),),
        ),
        Source(
            "orders",
            ("order_id",),
            (
                _f("order_id", ID, True),
                _f("user_id", ID, True),
                _f("created_at", TS, True),
                _f("amount", MONEY, True, min_value=0, min_exclusive=True),
                _f("payment_method", ENUM, True, values=PAYMENT_METHODS),
                _f("installments", INT, True, min_value=1, note="1 unless bnpl_installment"),
                _f("channel", ENUM, values=("live", "short_video", "mall", "search", "other")),
                _f("status", ENUM, True, values=("paid", "cancelled", "refunded")),
            ),
            row_rules=(("installments_not_one", "installments must be 1 unless bnpl_installment"),),
        ),
        Source(
            "bills",
            ("bill_id",),
            (
                _f("bill_id", ID, True),
                _f("user_id", ID, True),
                _f("cycle", MONTH, True),
                _f("statement_date", DATE, True),
                _f("due_date", DATE, True, note=">= statement_date"),
                _f("amount_due", MONEY, True, min_value=0),
            ),
            row_rules=(("due_before_statement", "due_date is before statement_date"),),
        ),
        Source(
            "repayments",
            ("repayment_id",),
            (
                _f("repayment_id", ID, True),
                _f("bill_id", ID, True),
                _f("user_id", ID, True),
                _f("paid_at", TS, True),
                _f("amount", MONEY, True, min_value=0, min_exclusive=True),
                _f("channel", ENUM, True, values=("auto_debit", "manual", "collection")),
                _f("status", ENUM, True, values=("success", "failed")),
            ),
        ),
        Source(
            "sms_logs",
            ("message_id",),
            (
                _f("message_id", ID, True),
                _f("user_id", ID, True),
                _f("template_code", ID, True),
                _f("purpose", ENUM, True, values=SMS_PURPOSES),
                _f("bill_id", ID),
                _f("content", TEXT),
                _f("sent_at", TS, True),
                _f("delivery_status", ENUM, True, values=("delivered", "failed", "pending")),
                _f("delivered_at", TS),
                _f("provider", TEXT),
                _f("err_code", TEXT),
                _f("segments", INT, min_value=1, note="missing = 1"),
                _f("out_id", ID, note="the sender's own id passed to the gateway"),
            ),
        ),
        Source(
            "opt_outs",
            ("opt_out_id",),
            (
                _f("opt_out_id", ID, True),
                _f("user_id", ID, True),
                _f("received_at", TS, True),
                _f("channel", ENUM, True, values=("sms_reply", "app", "hotline")),
                _f("raw_text", TEXT),
            ),
        ),
        Source(
            "complaints",
            ("complaint_id",),
            (
                _f("complaint_id", ID, True),
                _f("user_id", ID, note="may be unknown"),
                _f("received_at", TS, True),
                _f("source", ENUM, True, values=("hotline", "app", "heimao", "regulator")),
                _f(
                    "category",
                    ENUM,
                    values=COMPLAINT_CATEGORIES,
                    note="empty = classify from narrative",
                ),
                _f("narrative", TEXT),
                _f("status", ENUM, True, values=("open", "resolved")),
                _f("resolved_at", TS),
            ),
        ),
        Source(
            "sms_preferences",
            ("user_id", "updated_at"),
            (
                _f("user_id", ID, True),
                _f("updated_at", TS, True, note="when the choice took effect"),
                _f("marketing", BOOL, True, note="receive marketing messages"),
                _f("reminders", BOOL, True, note="receive due reminders"),
                _f("max_per_day", INT, min_value=1, note="empty = no limit of the user's own"),
                _f("quiet_start_hour", INT, min_value=0, max_value=23),
                _f("quiet_end_hour", INT, min_value=0, max_value=23),
            ),
            row_rules=(
                (
                    "quiet_window_one_end",
                    "quiet_start_hour and quiet_end_hour must both be set or both empty",
                ),
            ),
            optional=True,
        ),
    )
}

SOURCE_NAMES: tuple[str, ...] = tuple(SOURCES)

# The tenth source: the SMS gateways' own receipt files (shared spec `sms-receipts.md`). Its
# files are in the providers' formats, recognised per file (pipelines.ingest.receipts); the
# fields below are what every format is normalised to before validation. It is not one of the
# contract's own sources (the simulator's and the contract tests' loops over SOURCE_NAMES do
# not see it); everything that walks the landing folder or the warehouse uses LANDING_SOURCES.
RECEIPTS = "sms_receipts"
RECEIPT_PROVIDERS = ("aliyun", "tencent", "twilio")
SOURCES[RECEIPTS] = Source(
    RECEIPTS,
    ("receipt_id",),
    (
        _f("receipt_id", ID, True, note="digest of the receipt's normalised content"),
        _f("provider", ENUM, True, values=RECEIPT_PROVIDERS),
        _f("receipt_format", ID, True, note="the format the file was recognised as"),
        _f("gateway_id", ID, note="BizId / SerialNo / sid; none in QuerySendDetails"),
        _f("out_id", ID, note="the caller's id: OutId / SessionContext"),
        _f("status", ENUM, True, values=("delivered", "failed", "pending")),
        _f("err_code", TEXT),
        _f("sent_at", TS, note="handed to the carrier, where the format says"),
        _f("reported_at", TS, note="receipt time"),
        _f("segments", INT, min_value=1, note="billed segments, where the format says"),
    ),
    optional=True,
)
LANDING_SOURCES: tuple[str, ...] = (*SOURCE_NAMES, RECEIPTS)

# The reasons for a line that is not a record at all (pipelines/ingest/readers.py), as opposed
# to a record with a bad value: the simulator's --dirty data plants the value-level ones only.
LINE_REASON_CODES: tuple[str, ...] = ("malformed_row", "bad_json", "bad_encoding", "line_too_long")

# Reason codes written to the quarantine table. One row gets the first reason that applies,
# checked in this order: required fields, then types, then ranges, then row rules.
REASON_CODES = {
    "missing_required": "a required field is empty or its column is missing",
    "bad_id": "an id is longer than 64 characters",
    "bad_timestamp": "a timestamp does not parse",
    "bad_date": "a date is not YYYY-MM-DD",
    "bad_month": "a month is not YYYY-MM",
    "bad_money": "an amount is not a decimal with at most 2 fraction digits",
    "bad_int": "an integer does not parse",
    "bad_bool": "a boolean is not one of the accepted spellings",
    "bad_enum": "a value is not one of the enum's listed values",
    "out_of_range": "a number is outside its allowed range",
    "payment_method_required": "a completed checkout session has no payment method",
    "installments_not_one": "installments is not 1 for a non-installment payment method",
    "due_before_statement": "due_date is before statement_date",
    # A line that is not a record at all (pipelines/ingest/readers.py): the line is quarantined
    # with its masked, shortened raw text; the rest of the file loads.
    "malformed_row": "a CSV line has too few or too many fields or an unterminated quote",
    "bad_json": "a JSONL line is not a JSON object",
    "bad_encoding": "a line holds bytes that are not valid text in the file's encoding",
    "line_too_long": "a line is longer than the 32 MiB line limit",
    "quiet_window_one_end": "a quiet window has a start hour or an end hour but not both",
}
# Reason codes only the gateway receipts (source sms_receipts) use.
RECEIPT_REASON_CODES = {
    "bad_status": "a gateway receipt's status is not one its format defines",
}

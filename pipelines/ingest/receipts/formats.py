"""The gateways' receipt formats (shared spec `sms-receipts.md`) as data.

Each format names the provider, where its records sit in a document (top level, or a path
inside an envelope), how it is recognised from its field names, and which of its fields
becomes each normalised field of `sms_receipts`. Phone fields (`phone_number`, `PhoneNum`,
`PhoneNumber`, `SubscriberNumber`, `mobile`, `to`, …) are simply never mapped, so they never
leave the landing file.
"""

from __future__ import annotations

from dataclasses import dataclass

# the normalised fields a reader fills (all text; receipt_id is computed by validation)
RAW_FIELDS = (
    "provider",
    "receipt_format",
    "gateway_id",
    "out_id",
    "status",
    "err_code",
    "sent_at",
    "reported_at",
    "segments",
)


@dataclass(frozen=True)
class ReceiptFormat:
    name: str
    provider: str
    kind: str  # "json" (records in a JSON document / JSON lines) or "csv"
    # recognition: every name of `required` is present, and (if given) one of `any_of`
    required: frozenset[str]
    any_of: frozenset[str] = frozenset()
    envelope: str | None = None  # JSON path of the records' array inside each document
    envelope_keys: frozenset[str] = frozenset()  # keys of the envelope that identify it
    fields: tuple[tuple[str, str], ...] = ()  # (normalised field, the format's field)
    has_gateway_id: bool = True


def _fields(**mapping: str) -> tuple[tuple[str, str], ...]:
    return tuple(mapping.items())


FORMATS: tuple[ReceiptFormat, ...] = (
    ReceiptFormat(
        "aliyun_query_send_details",
        "aliyun",
        "json",
        required=frozenset({"SmsSendDetailDTOs"}),
        envelope="$.SmsSendDetailDTOs.SmsSendDetailDTO",
        envelope_keys=frozenset({"SmsSendDetailDTOs"}),
        fields=_fields(
            out_id="OutId",
            status="SendStatus",
            err_code="ErrCode",
            sent_at="SendDate",
            reported_at="ReceiveDate",
        ),
        has_gateway_id=False,
    ),
    ReceiptFormat(
        "tencent_pull_status",
        "tencent",
        "json",
        required=frozenset({"Response"}),
        envelope="$.Response.PullSmsSendStatusSet",
        envelope_keys=frozenset({"Response"}),
        fields=_fields(
            gateway_id="SerialNo",
            out_id="SessionContext",
            status="ReportStatus",
            err_code="Description",
            reported_at="UserReceiveTime",
        ),
    ),
    ReceiptFormat(
        "twilio_json",
        "twilio",
        "json",
        required=frozenset({"messages"}),
        envelope="$.messages",
        envelope_keys=frozenset({"messages"}),
        fields=_fields(
            gateway_id="sid",
            status="status",
            err_code="error_code",
            sent_at="date_sent",
            reported_at="date_sent",
            segments="num_segments",
        ),
    ),
    ReceiptFormat(
        "aliyun_sms_report",
        "aliyun",
        "json",
        required=frozenset({"biz_id"}),
        any_of=frozenset({"success", "report_time"}),
        fields=_fields(
            gateway_id="biz_id",
            out_id="out_id",
            status="success",
            err_code="err_code",
            sent_at="send_time",
            reported_at="report_time",
            segments="sms_size",
        ),
    ),
    ReceiptFormat(
        "tencent_callback",
        "tencent",
        "json",
        required=frozenset({"sid", "report_status"}),
        fields=_fields(
            gateway_id="sid",
            status="report_status",
            err_code="errmsg",
            reported_at="user_receive_time",
        ),
    ),
    # Twilio message records without the page envelope (a JSON array or JSON lines of them)
    ReceiptFormat(
        "twilio_json",
        "twilio",
        "json",
        required=frozenset({"sid", "status"}),
        any_of=frozenset({"date_sent", "num_segments"}),
        fields=_fields(
            gateway_id="sid",
            status="status",
            err_code="error_code",
            sent_at="date_sent",
            reported_at="date_sent",
            segments="num_segments",
        ),
    ),
    # the console's CSV export: column names matched case-insensitively after trimming
    ReceiptFormat(
        "twilio_csv",
        "twilio",
        "csv",
        required=frozenset({"sid", "status"}),
        any_of=frozenset({"sentdate", "numsegments"}),
        fields=_fields(
            gateway_id="sid",
            status="status",
            err_code="errorcode",
            sent_at="sentdate",
            reported_at="sentdate",
            segments="numsegments",
        ),
    ),
)

FORMAT_NAMES: tuple[str, ...] = tuple(dict.fromkeys(f.name for f in FORMATS))
GATEWAY_ID_FORMATS: tuple[str, ...] = tuple(
    dict.fromkeys(f.name for f in FORMATS if f.has_gateway_id)
)

# Twilio's message statuses (its API reference); the spec maps delivered/read to delivered,
# undelivered/failed/canceled to failed and every other status to pending. A value that is
# not a Twilio status at all is a broken row (quarantined as bad_status).
TWILIO_DELIVERED = ("delivered", "read")
TWILIO_FAILED = ("undelivered", "failed", "canceled")
TWILIO_PENDING = (
    "queued",
    "sending",
    "sent",
    "accepted",
    "scheduled",
    "receiving",
    "received",
    "partially_delivered",
)


def recognise(kind: str, keys: set[str]) -> ReceiptFormat | None:
    """The format whose field names (of the records, or of the envelope) are all in `keys`.

    `kind`: "json" (keys as the provider spells them) or "csv" (lower-cased header names)."""
    for fmt in FORMATS:
        if fmt.kind != kind:
            continue
        if fmt.required <= keys and (not fmt.any_of or fmt.any_of & keys):
            return fmt
    return None

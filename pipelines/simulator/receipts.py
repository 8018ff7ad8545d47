"""The gateways' receipts for the simulated messages (shared spec sms-receipts.md).

`ReceiptWriter.observe` is called with every chunk of `sms_logs` rows the writer builds (whole
days); it decides each message's receipts from hashes of its id (so the output depends only on
the seed and the messages) and writes them at once, in the provider's formats:

- aliyun: `SmsReport` push receipts (JSON lines) on most export days, a `QuerySendDetails`
  response (JSON, no gateway id: matched through `OutId`) on the others;
- tencent: `PullSmsSendStatus` responses (UNIX seconds) or status callbacks (Beijing text);
- twilio: a message page (JSON, RFC 2822 times) or the console's CSV export.

With the faults the gateways really have: missing receipts, a pending receipt before the
final one, receipts exported days late, receipts that contradict the log (logged delivered,
failed), sends the log does not know (a gateway retry under a new gateway id with the same
caller's id), and receipts that match nothing. Recipients' numbers are written as the
formats carry them (fake numbers), so the pipeline's dropping of them is exercised.

Retries are planted only where they change no flag of another message and no flag but
`is_duplicate` of their own: a service message without promotion keywords, sent between 08:00
and 20:59 local time, the only non-verification message of its user that day. So every
retry is a duplicate, and the fault counts of the log stay exact.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl

from pipelines.settings import TIMEZONE  # noqa: F401  (times below are Beijing wall clock)

DAY = 86_400
UTC_OFFSET = 8 * 3600
P_MISSING = 0.04  # no receipt at all
P_CONTRADICT = 0.01  # of the messages logged delivered: the receipt says failed
P_PENDING_RESOLVED = 0.85  # of the messages logged pending: the receipt says delivered
P_PENDING_FIRST = 0.12  # a pending receipt before the final one (QuerySendDetails, Twilio)
P_LATE = 0.03  # exported 2..5 days after the receipt
P_RETRY = 0.02  # of the eligible messages: the gateway sent it twice
UNMATCHED_EVERY = 4_000  # one receipt matching nothing per this many messages
SERVICE = ("bill_notice", "due_reminder", "overdue_collection")
PENDING_FORMATS = ("aliyun_query_send_details", "twilio_json", "twilio_csv")

FORMATS = (
    "aliyun_sms_report",
    "aliyun_query_send_details",
    "tencent_pull_status",
    "tencent_callback",
    "twilio_json",
    "twilio_csv",
)


def _u(seed: int, k: int) -> pl.Expr:
    """A uniform number in [0, 1) from the message id (the k-th independent draw)."""
    return (pl.col("message_id").hash(seed * 31 + k) % 1_000_003).cast(pl.Float64) / 1_000_003


def _local_text(col: str) -> pl.Expr:
    return pl.from_epoch(pl.col(col), "s").dt.strftime("%Y-%m-%d %H:%M:%S")


def _rfc2822(col: str) -> pl.Expr:
    return pl.from_epoch(pl.col(col) - UTC_OFFSET, "s").dt.strftime("%a, %d %b %Y %H:%M:%S +0000")


def _phone(seed: int) -> pl.Expr:
    digits = (pl.col("user_id").hash(seed) % 100_000_000 + 100_000_000).cast(pl.String)
    return pl.concat_str([pl.lit("138"), digits.str.slice(1)])


class ReceiptWriter:
    def __init__(self, out: Path, seed: int, end_day: int, dts: set[int], promo: tuple):
        self.out, self.seed, self.end_day, self.dts = out, seed, end_day, dts
        self.promo = "|".join(promo)
        self.chunk = 0
        self.files: Counter = Counter()
        self.rows: Counter = Counter()
        self.counts: Counter = Counter()

    # ------------------------------------------------------------------ decisions
    def _plan(self, df: pl.DataFrame) -> pl.DataFrame:
        s = self.seed
        m = df.select(
            "message_id",
            "user_id",
            "purpose",
            "content",
            "sent_at",
            "delivery_status",
            "delivered_at",
            "provider",
            "err_code",
            "segments",
            "out_id",
        ).with_columns(
            day=pl.col("sent_at") // DAY,
            has_receipt=_u(s, 0) >= P_MISSING,
            u_status=_u(s, 1),
            u_time=_u(s, 2),
            pending_first=_u(s, 3) < P_PENDING_FIRST,
            late=_u(s, 4) < P_LATE,
            late_days=2 + (_u(s, 5) * 4).floor().cast(pl.Int64),
            u_retry=_u(s, 6),
            retry_gap=30 + (_u(s, 7) * 90).floor().cast(pl.Int64),
        )
        contradict = (pl.col("delivery_status") == "delivered") & (
            pl.col("u_status") < P_CONTRADICT
        )
        final = (
            pl.when(contradict)
            .then(pl.lit("failed"))
            .when(pl.col("delivery_status") == "pending")
            .then(
                pl.when(pl.col("u_status") < P_PENDING_RESOLVED)
                .then(pl.lit("delivered"))
                .otherwise(pl.lit("failed"))
            )
            .otherwise(pl.col("delivery_status"))
        )
        received = pl.coalesce(
            pl.when(~contradict).then(pl.col("delivered_at")),
            pl.col("sent_at") + 5 + (pl.col("u_time") * 55).floor().cast(pl.Int64),
        )
        m = m.with_columns(
            contradict=contradict & pl.col("has_receipt"),
            status=final,
            received=received,
            segs=pl.col("segments").fill_null(1),
        )
        # retries: the user's only non-verification message of the day, a service message
        # without promotion keywords, sent 08:00-20:59 local, from a gateway with caller ids
        busy = (
            m.filter(pl.col("purpose") != "verification").group_by("user_id", "day").agg(n=pl.len())
        )
        hour = (pl.col("sent_at") % DAY) // 3600
        m = m.join(busy, on=["user_id", "day"], how="left").with_columns(
            retry=pl.col("has_receipt")
            & (pl.col("n") == 1)
            & pl.col("purpose").is_in(SERVICE)
            & ~pl.col("content").fill_null("").str.contains(self.promo)
            & hour.is_between(8, 20)
            & (pl.col("provider") != "twilio")
            & pl.col("out_id").is_not_null()
            & (pl.col("u_retry") < P_RETRY)
        )
        return m

    def _export_day(self, received: pl.Expr, late: pl.Expr, late_days: pl.Expr) -> pl.Expr:
        day = received // DAY + pl.when(late).then(late_days).otherwise(0)
        return pl.min_horizontal(day, pl.lit(self.end_day))

    def _format(self) -> pl.Expr:
        """The export format of a receipt: by provider, and per export day one of two."""
        alt = ((pl.col("export_day") * 7 + self.seed) % 3) == 0
        p = pl.col("provider")
        return (
            pl.when(p == "aliyun")
            .then(
                pl.when(alt)
                .then(pl.lit("aliyun_query_send_details"))
                .otherwise(pl.lit("aliyun_sms_report"))
            )
            .when(p == "tencent")
            .then(
                pl.when(alt)
                .then(pl.lit("tencent_callback"))
                .otherwise(pl.lit("tencent_pull_status"))
            )
            .otherwise(pl.when(alt).then(pl.lit("twilio_csv")).otherwise(pl.lit("twilio_json")))
        )

    # ------------------------------------------------------------------ one chunk
    def observe(self, df: pl.DataFrame) -> None:
        """Write the receipts of one chunk of sms_logs rows (whole days)."""
        if df.height == 0:
            return
        self.chunk += 1
        m = self._plan(df)
        # a retry is exported with its original's final receipt (same day, same format), so
        # a QuerySendDetails response always holds both sends of a caller's id
        m = m.with_columns(
            export_day=self._export_day(pl.col("received"), pl.col("late"), pl.col("late_days"))
        )
        with_receipt = m.filter(pl.col("has_receipt"))
        finals = with_receipt.select(
            "message_id",
            "user_id",
            "provider",
            "out_id",
            "segs",
            "status",
            "err_code",
            send=pl.col("sent_at"),
            received=pl.col("received"),
            export_day=pl.col("export_day"),
            kind=pl.lit("final"),
        )
        pendings = with_receipt.filter(pl.col("pending_first")).select(
            "message_id",
            "user_id",
            "provider",
            "out_id",
            "segs",
            status=pl.lit("pending"),
            err_code=pl.lit(None, pl.String),
            send=pl.col("sent_at"),
            received=pl.col("sent_at") + 2,
            export_day=pl.min_horizontal((pl.col("sent_at") + 2) // DAY, pl.lit(self.end_day)),
            kind=pl.lit("pending"),
        )
        retry_id = (
            pl.when(pl.col("provider") == "aliyun")
            .then(pl.col("message_id").str.replace(r"\^0$", "^1"))
            .otherwise(pl.col("message_id").str.replace("^2433:00", "2433:01"))
        )
        retries = with_receipt.filter(pl.col("retry")).select(
            message_id=retry_id,
            user_id=pl.col("user_id"),
            provider=pl.col("provider"),
            out_id=pl.col("out_id"),
            segs=pl.col("segs"),
            status=pl.lit("delivered"),
            err_code=pl.lit("DELIVRD"),
            send=pl.col("sent_at") + pl.col("retry_gap"),
            received=pl.col("sent_at") + pl.col("retry_gap") + 10,
            export_day=pl.col("export_day"),
            kind=pl.lit("retry"),
        )
        sample = m.gather_every(UNMATCHED_EVERY, offset=UNMATCHED_EVERY // 2)
        unmatched = sample.select(
            message_id=pl.concat_str([pl.lit("U"), pl.col("message_id")]),
            user_id=pl.col("user_id"),
            provider=pl.col("provider"),
            out_id=pl.lit(None, pl.String),
            segs=pl.col("segs"),
            status=pl.lit("delivered"),
            err_code=pl.lit("DELIVRD"),
            send=pl.col("sent_at"),
            received=pl.col("sent_at") + 7,
            export_day=pl.min_horizontal((pl.col("sent_at") + 7) // DAY, pl.lit(self.end_day)),
            kind=pl.lit("unmatched"),
        )
        rows = pl.concat([finals, pendings, retries, unmatched], how="vertical_relaxed")
        rows = rows.with_columns(format=self._format())
        # only QuerySendDetails and Twilio have a pending state: a pending receipt exported on
        # another format's day is never sent (the final one still is); a Tencent callback has
        # no caller's id, so a retry exported on a callback day is not planted either
        rows = rows.filter(
            ((pl.col("kind") != "pending") | pl.col("format").is_in(PENDING_FORMATS))
            & ((pl.col("kind") != "retry") | (pl.col("format") != "tencent_callback"))
        )
        rows = rows.with_columns(
            err_code=pl.when(pl.col("status") == "delivered")
            .then(pl.lit("DELIVRD"))
            .when(pl.col("status") == "failed")
            .then(
                pl.when(pl.col("err_code").is_in(["DELIVRD"]) | pl.col("err_code").is_null())
                .then(pl.lit("UNDELIV"))
                .otherwise(pl.col("err_code"))
            )
            .otherwise(pl.lit(None, pl.String)),
            late=pl.col("export_day") > pl.col("received") // DAY,
        )
        self._count(m, rows)
        for (day, fmt), part in rows.partition_by(["export_day", "format"], as_dict=True).items():
            self._write(int(day), str(fmt), part)

    def _count(self, m: pl.DataFrame, rows: pl.DataFrame) -> None:
        c = self.counts
        c["log_messages"] += m.height
        kept = rows.filter(pl.col("kind") != "unmatched")
        finals = kept.filter(pl.col("kind") == "final")
        c["log_messages_with_receipt"] += finals.height
        c["log_messages_without_receipt"] += m.height - finals.height
        c["gateway_only_sends"] += kept.filter(pl.col("kind") == "retry").height
        c["contradicted"] += int(m.filter(pl.col("contradict")).height)
        c["unmatched_receipts"] += rows.filter(pl.col("kind") == "unmatched").height
        c["late_receipts"] += rows.filter(pl.col("late")).height
        c["pending_receipts"] += rows.filter(pl.col("kind") == "pending").height
        c["receipts"] += rows.height
        for fmt, n in rows.group_by("format").len().iter_rows():
            self.rows[fmt] += n
        # final status of the log messages per the receipts, for the delivery metrics
        for status, n in finals.group_by("status").len().iter_rows():
            c[f"log_messages_final_{status}"] += n

    # ------------------------------------------------------------------ files
    def _path(self, day: int, fmt: str, ext: str) -> Path:
        import numpy as np

        iso = str(np.datetime64(day, "D"))
        d = self.out / "sms_receipts" / f"dt={iso}"
        d.mkdir(parents=True, exist_ok=True)
        self.dts.add(day)
        self.files[fmt] += 1
        return d / f"{fmt}-{iso}-{self.chunk:03d}.{ext}"

    def _write(self, day: int, fmt: str, part: pl.DataFrame) -> None:
        s = self.seed
        phone = _phone(s)
        if fmt == "aliyun_sms_report":
            frame = part.select(
                biz_id="message_id",
                out_id=pl.col("out_id").fill_null(""),
                phone_number=phone,
                success=pl.col("status") == "delivered",
                send_time=_local_text("send"),
                report_time=_local_text("received"),
                err_code="err_code",
                err_msg=pl.lit(""),
                sms_size=pl.col("segs").cast(pl.String),
            )
            frame.write_ndjson(self._path(day, fmt, "jsonl"))
        elif fmt == "aliyun_query_send_details":
            frame = part.select(
                PhoneNum=phone,
                SendStatus=pl.col("status").replace_strict(
                    {"pending": 1, "failed": 2, "delivered": 3}, return_dtype=pl.Int64
                ),
                ErrCode=pl.col("err_code").fill_null(""),
                TemplateCode=pl.lit("SMS_0"),
                Content=pl.lit(""),
                SendDate=_local_text("send"),
                ReceiveDate=pl.when(pl.col("status") == "pending")
                .then(pl.lit(""))
                .otherwise(_local_text("received")),
                OutId=pl.col("out_id").fill_null(""),
            )
            head = (
                f'{{"Code": "OK", "Message": "OK", "RequestId": "SIM-{day}-{self.chunk}", '
                f'"TotalCount": "{frame.height}", "SmsSendDetailDTOs": {{"SmsSendDetailDTO": '
            )
            self._path(day, fmt, "json").write_text(
                head + _json_array(frame) + "}}\n", encoding="utf-8"
            )
        elif fmt == "tencent_pull_status":
            frame = part.select(
                UserReceiveTime=pl.col("received") - UTC_OFFSET,
                CountryCode=pl.lit("86"),
                SubscriberNumber=phone,
                PhoneNumber=pl.concat_str([pl.lit("+86"), phone]),
                SerialNo="message_id",
                ReportStatus=pl.when(pl.col("status") == "delivered")
                .then(pl.lit("SUCCESS"))
                .otherwise(pl.lit("FAIL")),
                Description="err_code",
                SessionContext=pl.col("out_id").fill_null(""),
            )
            body = (
                f'{{"Response": {{"PullSmsSendStatusSet": {_json_array(frame)}, '
                f'"RequestId": "SIM-{day}-{self.chunk}"}}}}\n'
            )
            self._path(day, fmt, "json").write_text(body, encoding="utf-8")
        elif fmt == "tencent_callback":
            frame = part.select(
                user_receive_time=_local_text("received"),
                nationcode=pl.lit("86"),
                mobile=phone,
                report_status=pl.when(pl.col("status") == "delivered")
                .then(pl.lit("SUCCESS"))
                .otherwise(pl.lit("FAIL")),
                errmsg="err_code",
                description=pl.lit(""),
                sid="message_id",
            )
            self._path(day, fmt, "json").write_text(_json_array(frame) + "\n", encoding="utf-8")
        else:
            status = (
                pl.when(pl.col("status") == "delivered")
                .then(pl.lit("delivered"))
                .when(pl.col("status") == "failed")
                .then(pl.lit("undelivered"))
                .otherwise(pl.lit("sent"))
            )
            code = (
                pl.when(pl.col("status") == "failed")
                .then(pl.lit(30003, pl.Int64))
                .otherwise(pl.lit(None, pl.Int64))
            )
            if fmt == "twilio_json":
                frame = part.select(
                    sid="message_id",
                    to=pl.concat_str([pl.lit("+86"), phone]),
                    status=status,
                    date_sent=_rfc2822("send"),
                    error_code=code,
                    num_segments=pl.col("segs").cast(pl.String),
                )
                self._path(day, fmt, "json").write_text(
                    '{"messages": ' + _json_array(frame) + ', "page": 0}\n', encoding="utf-8"
                )
            else:
                frame = part.select(
                    Sid="message_id",
                    To=pl.concat_str([pl.lit("+86"), phone]),
                    Status=status,
                    SentDate=_rfc2822("send"),
                    ErrorCode=code,
                    NumSegments=pl.col("segs"),
                )
                frame.write_csv(self._path(day, fmt, "csv"))

    def truth(self) -> dict:
        c = self.counts
        return {
            "log_messages": c["log_messages"],
            "receipts": c["receipts"],
            "receipts_by_format": {f: self.rows[f] for f in FORMATS},
            "files_by_format": {f: self.files[f] for f in FORMATS},
            "log_messages_with_receipt": c["log_messages_with_receipt"],
            "log_messages_without_receipt": c["log_messages_without_receipt"],
            "gateway_only_sends": c["gateway_only_sends"],
            "gateway_only_duplicates": c["gateway_only_sends"],
            "contradicted": c["contradicted"],
            "unmatched_receipts": c["unmatched_receipts"],
            "late_receipts": c["late_receipts"],
            "pending_receipts": c["pending_receipts"],
            "log_messages_final_status": {
                s: c[f"log_messages_final_{s}"] for s in ("delivered", "failed")
            },
        }


def _json_array(frame: pl.DataFrame) -> str:
    """The rows of `frame` as a JSON array (polars encodes each row; no per-row Python)."""
    lines = frame.write_ndjson().rstrip("\n")
    return "[" + lines.replace("\n", ",\n") + "]" if lines else "[]"

"""Turning the world's monthly tables into landing files, and planting `--dirty` rows.

Layout: `<out>/<source>/dt=YYYY-MM-DD/<source>-YYYY-MM-DD.<ext>`, one regular file per
partition; with `--dirty` also `…-resend.csv` (re-exported copies of valid rows, identical
values), `…-manual.csv` (malformed rows, each breaking exactly one contract rule) and a few
special files (GB18030, UTF-8 with BOM, an unknown column, a phone column, UTC timestamps,
one unreadable file).
"""

from __future__ import annotations

import gzip
import io
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl

from pipelines import contract
from pipelines.simulator import content as C
from pipelines.simulator.params import ARMS, EXPERIMENT_ID, PROMO_KEYWORDS, Params
from pipelines.simulator.receipts import ReceiptWriter
from pipelines.simulator.tables import DAY, UTC_OFFSET, Tab
from pipelines.simulator.world import PURPOSES, TPL_PURPOSE, World

FORMATS = ("csv", "parquet", "jsonl", "csv.gz")
METHODS = contract.PAYMENT_METHODS
ERR_CODES = ("DELIVRD", "UNDELIV", "MK:0001", "MB:1042", "REJECTD")
OPT_OUT_CHANNELS = tuple(C.OPT_OUT_TEXTS)
OPT_OUT_TEXT = [t for ts in C.OPT_OUT_TEXTS.values() for t in ts]
COMPLAINT_SOURCES = ("hotline", "app", "heimao", "regulator")
MOBILE = r"1[3-9][0-9]{9}"
CHUNK_ROWS = 1_000_000  # rows built and rendered at once (whole days)
# the column carrying each source's partition date, and its unit (seconds or days)
DATE_COL = {
    "users": ("opened", DAY),
    "experiment_assignments": ("assigned", DAY),
    "checkout_sessions": ("started", DAY),
    "orders": ("created", DAY),
    "bills": ("stmt", 1),
    "repayments": ("paid", DAY),
    "sms_logs": ("sent", DAY),
    "opt_outs": ("received", DAY),
    "complaints": ("received", DAY),
    "sms_preferences": ("t", DAY),
}

# How timestamps are written in text files, per source (all legal per the contract), and
# whether Parquet timestamps are tz-aware (True) or naive local time (False).
TS_STYLE = {
    "users": ("%Y-%m-%dT%H:%M:%S", "+08:00", True),
    "experiment_assignments": ("%Y-%m-%d %H:%M:%S", "+08:00", True),
    "checkout_sessions": ("%Y-%m-%d %H:%M:%S", "", False),
    "orders": ("%Y-%m-%d %H:%M:%S", "+0800", True),
    "bills": ("%Y-%m-%d %H:%M:%S", "+08:00", True),
    "repayments": ("%Y-%m-%d %H:%M:%S", "", False),
    "sms_logs": ("%Y-%m-%d %H:%M:%S", "+08:00", True),
    "opt_outs": ("%Y-%m-%d %H:%M:%S", "", False),
    "complaints": ("%Y-%m-%dT%H:%M:%S", "+08:00", True),
    "sms_preferences": ("%Y-%m-%d %H:%M:%S", "+08:00", True),
}
UTC_STYLE = ("%Y-%m-%dT%H:%M:%S", "Z", True)

# Malformed rows: reason -> variants (source, field, bad value, row filter). A value of None
# means "computed" (see _corrupt). Each breaks exactly one rule of the contract.
MALFORMED = {
    "missing_required": [
        ("orders", "user_id", "", None),
        ("sms_logs", "purpose", "", None),
        ("bills", "amount_due", "", None),
        ("experiment_assignments", "arm", "", None),
    ],
    "bad_id": [
        ("sms_logs", "template_code", "SMS_" + "X" * 70, None),
        ("repayments", "bill_id", "B" + "9" * 70, None),
    ],
    "bad_timestamp": [
        ("orders", "created_at", "2025-13-05 10:00:00", None),
        ("sms_logs", "sent_at", "2025-03-05 25:70:00", None),
        ("opt_outs", "received_at", "昨天 10:00", None),
    ],
    "bad_date": [
        ("bills", "due_date", "15/03/2025", None),
        ("bills", "statement_date", "2025年03月05日", None),
    ],
    "bad_month": [("bills", "cycle", "202503", None), ("bills", "cycle", "2025/03", None)],
    "bad_money": [
        ("orders", "amount", "12.345", None),
        ("repayments", "amount", "1,234.00", None),
        ("users", "credit_limit", "¥5000", None),
    ],
    "bad_int": [("orders", "installments", "三", None), ("sms_logs", "segments", "1.5", None)],
    "bad_bool": [
        ("users", "marketing_consent", "maybe", None),
        ("checkout_sessions", "bnpl_offered", "2", None),
    ],
    "bad_enum": [
        ("orders", "channel", "wechat", None),
        ("sms_logs", "delivery_status", "sent", None),
        ("repayments", "channel", "alipay", None),
        ("complaints", "source", "weibo", None),
        ("users", "score_band", "F", None),
    ],
    "out_of_range": [
        ("orders", "amount", "0.00", None),
        ("repayments", "amount", "0.00", None),
        ("sms_logs", "segments", "0", None),
        ("sms_preferences", "quiet_end_hour", "24", pl.col("quiet_end_hour").is_not_null()),
    ],
    "payment_method_required": [
        ("checkout_sessions", "payment_method", "", pl.col("status") == "completed"),
    ],
    "installments_not_one": [
        ("orders", "installments", "3", pl.col("payment_method") != "bnpl_installment"),
    ],
    "due_before_statement": [("bills", "due_date", None, None)],
    "quiet_window_one_end": [
        ("sms_preferences", "quiet_start_hour", "22", pl.col("quiet_start_hour").is_null()),
        ("sms_preferences", "quiet_end_hour", "", pl.col("quiet_start_hour").is_not_null()),
    ],
}


# templates of a service purpose whose text carries a promotion keyword
TPL_SERVICE_PROMO = np.array(
    [
        C.TEMPLATES[code][0] in ("bill_notice", "due_reminder", "overdue_collection")
        and any(kw in C.TEMPLATES[code][1] for kw in PROMO_KEYWORDS)
        for code in C.TEMPLATE_CODES
    ]
)


def _money(col: str) -> pl.Expr:
    c = pl.col(col)
    return pl.concat_str(
        [(c // 100).cast(pl.String), pl.lit("."), (c % 100).cast(pl.String).str.zfill(2)]
    )


def _digits(col: str, width: int) -> pl.Expr:
    """The value zero-padded to `width` digits (values must be below 10**min(width, 18)):
    adding 10**width and dropping the leading 1 is several times cheaper than `str.zfill`."""
    w = min(width, 18)
    d = (pl.col(col).cast(pl.Int64) + 10**w).cast(pl.String).str.slice(1)
    return d if w == width else pl.concat_str([pl.lit("0" * (width - w)), d])


def _zid(prefix: str, col: str, width: int) -> pl.Expr:
    return pl.concat_str([pl.lit(prefix), _digits(col, width)])


# per source, the columns rendered with `_digits` and their widths (checked before rendering)
ID_WIDTH = {
    "users": {"uid": 7},
    "experiment_assignments": {"uid": 7},
    "checkout_sessions": {"uid": 7, "sid": 10, "oid": 10},
    "orders": {"uid": 7, "oid": 10},
    "bills": {"uid": 7},
    "repayments": {"uid": 7, "id": 10},
    "sms_logs": {"uid": 7, "id": 18, "code": 6},
    "opt_outs": {"uid": 7, "id": 9},
    "complaints": {"uid": 7, "id": 8},
    "sms_preferences": {"uid": 7},
}


def _uid(col: str = "uid") -> pl.Expr:
    return pl.when(pl.col(col) >= 0).then(_zid("U", col, 7))


def _lookup(col: str, values) -> pl.Expr:
    """values[code], null for a negative code (a gather: much cheaper than `replace_strict`)."""
    c = pl.col(col)
    return pl.when(c >= 0).then(pl.lit(pl.Series(list(values), dtype=pl.String)).gather(c.clip(0)))


class Frames:
    """Builds each source's typed frame (contract columns + `dt`) from the world's tables.

    Typed columns: ids/enums/text as strings, timestamps as Int64 local seconds, money as Int64
    cents, dates as Int64 day numbers, bools, ints. `TYPES` names the kind of each column.
    """

    def __init__(self, world: World):
        self.w = world
        ym = [
            (world.year + (world.month0 - 1 + k) // 12, (world.month0 - 1 + k) % 12 + 1)
            for k in range(world.M)
        ]
        self.cycle = [f"{y:04d}-{mo:02d}" for y, mo in ym]
        self.cycle_compact = [f"{y:04d}{mo:02d}" for y, mo in ym]
        self.cycle_month = [str(mo) for _, mo in ym]

    def bill_id(self) -> pl.Expr:
        return pl.concat_str(
            [pl.lit("B"), _lookup("cyc", self.cycle_compact), pl.lit("-"), _zid("U", "uid", 7)]
        )

    def sms_content(self, df: pl.DataFrame) -> pl.Series:
        """SMS text: each template's fixed pieces and the row's values, one template at a time
        (a single concatenation per row instead of a replace pass per placeholder)."""
        due = pl.col("due").cast(pl.Date)
        values = {
            "{A}": _money("amt"),
            "{D}": pl.format("{}月{}日", due.dt.strftime("%m"), due.dt.strftime("%d")),
            "{M}": _lookup("cyc", self.cycle_month),
            "{N}": pl.col("nover").cast(pl.String),
            "{C}": _digits("code", 6),
        }
        base = df.select("tpl", "amt", "due", "cyc", "nover", "code").with_row_index("_i")
        parts = []
        for k in sorted(base.get_column("tpl").unique().to_list()):
            text = C.TEMPLATES[C.TEMPLATE_CODES[k]][1]
            pieces = [p for p in re.split(r"(\{[ADMNC]\})", text) if p]
            exprs = [values[p] if p in values else pl.lit(p) for p in pieces]
            sub = base.filter(pl.col("tpl") == k)
            parts.append(sub.select("_i", content=pl.concat_str(exprs)))
        if not parts:
            return pl.Series("content", [], dtype=pl.String)
        return pl.concat(parts).sort("_i").get_column("content")

    def build(self, source: str, t: Tab) -> pl.DataFrame:
        for k, width in ID_WIDTH[source].items():
            if t.n and int(t[k].max()) >= 10 ** min(width, 18):  # pragma: no cover
                raise ValueError(f"{source}.{k} does not fit {width} digits")
        df = pl.DataFrame({k: v for k, v in t.items()})
        P: Params = self.w.P
        if source == "users":
            out = df.select(
                user_id=_uid(),
                opened_at=pl.col("opened"),
                credit_limit=pl.col("limit"),
                score_band=_lookup("band", "ABCDE"),
                marketing_consent=pl.col("consent"),
                province=_lookup("prov", P.provinces),
                updated_at=pl.when(pl.col("updated") >= 0).then(pl.col("updated")),
                dt=pl.col("opened") // DAY,
            )
        elif source == "experiment_assignments":
            out = df.select(
                experiment_id=pl.lit(EXPERIMENT_ID),
                user_id=_uid(),
                arm=_lookup("arm", ARMS),
                assigned_at=pl.col("assigned"),
                dt=pl.col("assigned") // DAY,
            )
        elif source == "checkout_sessions":
            out = df.select(
                session_id=_zid("CS", "sid", 10),
                user_id=_uid(),
                started_at=pl.col("started"),
                bnpl_offered=pl.col("offered"),
                status=pl.when(pl.col("completed"))
                .then(pl.lit("completed"))
                .otherwise(pl.lit("abandoned")),
                payment_method=_lookup("method", METHODS),
                order_id=pl.when(pl.col("oid") >= 0).then(_zid("OD", "oid", 10)),
                dt=pl.col("started") // DAY,
            )
        elif source == "orders":
            out = df.select(
                order_id=_zid("OD", "oid", 10),
                user_id=_uid(),
                created_at=pl.col("created"),
                amount=pl.col("amount"),
                payment_method=_lookup("method", METHODS),
                installments=pl.col("inst").cast(pl.Int32),
                channel=_lookup("channel", P.channels),
                status=_lookup("status", ("paid", "cancelled", "refunded")),
                dt=pl.col("created") // DAY,
            )
        elif source == "bills":
            out = df.select(
                bill_id=self.bill_id(),
                user_id=_uid(),
                cycle=_lookup("cyc", self.cycle),
                statement_date=pl.col("stmt"),
                due_date=pl.col("due"),
                amount_due=pl.col("amount"),
                dt=pl.col("stmt"),
            )
        elif source == "repayments":
            out = df.select(
                repayment_id=_zid("RP", "id", 10),
                bill_id=self.bill_id(),
                user_id=_uid(),
                paid_at=pl.col("paid"),
                amount=pl.col("amount"),
                channel=_lookup("chan", ("auto_debit", "manual", "collection")),
                status=pl.when(pl.col("ok")).then(pl.lit("success")).otherwise(pl.lit("failed")),
                dt=pl.col("paid") // DAY,
            )
        elif source == "sms_logs":
            content = self.sms_content(df)
            digits = _digits("id", 18)
            # a quarter of the second gateway's messages go through Twilio (no caller's id)
            twilio = (pl.col("prov") == 1) & (pl.col("id") % 4 == 0)
            mid = (
                pl.when(pl.col("prov") == 0)
                .then(pl.concat_str([digits, pl.lit("^0")]))
                .when(twilio)
                .then(pl.concat_str([pl.lit("SM"), digits]))
                .otherwise(pl.concat_str([pl.lit("2433:00"), digits]))
            )
            out = (
                df.select(
                    message_id=mid,
                    user_id=_uid(),
                    template_code=_lookup("tpl", C.TEMPLATE_CODES),
                    purpose=_lookup("tpl", [PURPOSES[p] for p in TPL_PURPOSE]),
                    bill_id=pl.when(pl.col("cyc") >= 0).then(self.bill_id()),
                    content=pl.lit(content),
                    sent_at=pl.col("sent"),
                    delivery_status=_lookup("status", ("delivered", "failed", "pending")),
                    delivered_at=pl.when(pl.col("dlv") >= 0).then(pl.col("dlv")),
                    provider=pl.when(twilio)
                    .then(pl.lit("twilio"))
                    .otherwise(_lookup("prov", ("aliyun", "tencent"))),
                    out_id=pl.when(~twilio).then(pl.concat_str([pl.lit("O"), digits])),
                    err_code=_lookup("err", ERR_CODES),
                    segmiss=pl.col("segmiss"),
                    dt=pl.col("sent") // DAY,
                )
                .with_columns(
                    segments=pl.when(pl.col("segmiss"))
                    .then(None)
                    .otherwise(((pl.col("content").str.len_chars() + 66) // 67).clip(lower_bound=1))
                    .cast(pl.Int32)
                )
                .drop("segmiss")
            )
            out = out.select(*contract.SOURCES["sms_logs"].field_names, "dt")
        elif source == "opt_outs":
            out = df.select(
                opt_out_id=_zid("OO", "id", 9),
                user_id=_uid(),
                received_at=pl.col("received"),
                channel=_lookup("chan", OPT_OUT_CHANNELS),
                raw_text=_lookup("text", OPT_OUT_TEXT),
                dt=pl.col("received") // DAY,
            )
        elif source == "complaints":
            keyed = {
                i * 10 + j: text
                for i, cat in enumerate(C.COMPLAINT_CATEGORY_ORDER)
                for j, text in enumerate(C.NARRATIVES[cat])
            }
            narr = (pl.col("cat").cast(pl.Int64) * 10 + pl.col("narr")).replace_strict(
                keyed, return_dtype=pl.String
            )
            phone = (
                pl.when(pl.col("phone") >= 0)
                .then(pl.lit(C.PHONE_SUFFIX.split("{P}")[0]) + pl.col("phone").cast(pl.String))
                .otherwise(pl.lit(""))
            )
            out = df.select(
                complaint_id=_zid("CP", "id", 8),
                user_id=_uid(),
                received_at=pl.col("received"),
                source=_lookup("source", COMPLAINT_SOURCES),
                category=pl.when(pl.col("given")).then(_lookup("cat", C.COMPLAINT_CATEGORY_ORDER)),
                narrative=narr + phone,
                status=_lookup("status", ("open", "resolved")),
                resolved_at=pl.when(pl.col("resolved") >= 0).then(pl.col("resolved")),
                dt=pl.col("received") // DAY,
            )
        elif source == "sms_preferences":

            def hour(col: str) -> pl.Expr:
                return pl.when(pl.col(col) >= 0).then(pl.col(col)).cast(pl.Int32)

            out = df.select(
                user_id=_uid(),
                updated_at=pl.col("t"),
                marketing=pl.col("mkt"),
                reminders=pl.col("rem"),
                max_per_day=hour("maxd"),
                quiet_start_hour=hour("qs"),
                quiet_end_hour=hour("qe"),
                dt=pl.col("t") // DAY,
            )
        else:  # pragma: no cover
            raise KeyError(source)
        if out.height == 0:
            out = out.clear()
        if out.get_column("dt").is_sorted():
            return out
        return out.sort("dt", maintain_order=True)


def render(df: pl.DataFrame, source: str, mode: str, style=None) -> pl.DataFrame:
    """Contract columns in the representation of a file format.

    mode: text (every value a string), csv (what the CSV writer turns into the same text:
    timestamps as naive datetimes formatted by the writer with `csv_datetime_format`, dates,
    bools and ints native, which is much cheaper than formatting them first), json, parquet.
    """
    src = contract.SOURCES[source]
    fmt, suffix, aware = style or TS_STYLE[source]
    exprs = []
    for f in src.fields:
        c = pl.col(f.name)
        if f.type == contract.TS:
            if mode == "parquet":
                if aware:
                    e = (
                        pl.from_epoch(c - UTC_OFFSET, "s")
                        .dt.replace_time_zone("UTC")
                        .dt.convert_time_zone("Asia/Shanghai")
                    )
                else:
                    e = pl.from_epoch(c, "s")
            else:
                shift = UTC_OFFSET if suffix == "Z" else 0
                e = pl.from_epoch(c - shift, "s")
                if mode != "csv":
                    e = e.dt.strftime(fmt) + pl.lit(suffix)
        elif f.type == contract.MONEY:
            e = _money(f.name)
            if mode == "parquet":
                e = e.cast(pl.Decimal(18, 2))
        elif f.type == contract.DATE:
            e = c.cast(pl.Date)
            if mode not in ("parquet", "csv"):
                e = e.cast(pl.String)
        elif f.type == contract.BOOL:
            e = c if mode != "text" else pl.when(c).then(pl.lit("true")).otherwise(pl.lit("false"))
        elif f.type == contract.INT:
            e = c.cast(pl.Int32) if mode != "text" else c.cast(pl.String)
        else:
            e = c.cast(pl.String)
        exprs.append(e.alias(f.name))
    return df.select(exprs)


def csv_datetime_format(source: str, style=None) -> str:
    """The CSV writer's format for a `render(..., "csv")` frame's timestamps (suffix literal)."""
    fmt, suffix, _ = style or TS_STYLE[source]
    return fmt + suffix


MODE = {"parquet": "parquet", "jsonl": "json", "csv": "csv", "csv.gz": "csv"}


class Writer:
    def __init__(self, out: Path, fmt: str, dirty: bool, world: World, seed: int):
        self.out, self.fmt, self.dirty, self.w = out, fmt, dirty, world
        self.frames = Frames(world)
        self.rng = np.random.default_rng([seed, 7])
        self.rows_clean = dict.fromkeys(contract.SOURCE_NAMES, 0)
        self.dup_copies = dict.fromkeys(contract.SOURCE_NAMES, 0)
        self.bad_rows = dict.fromkeys(contract.SOURCE_NAMES, 0)
        self.bad_by_reason = dict.fromkeys(contract.REASON_CODES, 0)
        self.files = {
            "gb18030": [],
            "utf-8-sig": [],
            "unknown_column": [],
            "phone_column": [],
            "utc_timestamps": [],
            "unparseable": [],
        }
        self.marketing_in_service = 0
        self.phone_in_text = 0
        self.complaint_truth = {
            "by_category": {},
            "category_given": 0,
            "category_empty": 0,
            "unknown_user": 0,
        }
        self.sms_by_purpose = dict.fromkeys(PURPOSES, 0)
        self.dts: set[int] = set()
        # the gateways' receipts of the messages (sms_receipts), written with each chunk
        self.receipts = ReceiptWriter(out, seed, world.end_day, self.dts, PROMO_KEYWORDS)
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.n_files = 0
        self.bytes = 0
        self._bad_seq = 0
        self._dirs: set[Path] = set()
        self._inflight: list = []  # futures of the files being written (sizes)

    # ------------------------------------------------------------------ files
    def _path(self, source: str, day: int, name: str) -> Path:
        iso = str(np.datetime64(int(day), "D"))
        d = self.out / source / f"dt={iso}"
        if d not in self._dirs:
            d.mkdir(parents=True, exist_ok=True)
            self._dirs.add(d)
        return d / name.format(src=source, dt=iso)

    def _rel(self, p: Path) -> str:
        return p.relative_to(self.out).as_posix()

    def _write_bytes(self, path: Path, data: bytes) -> None:
        path.write_bytes(data)
        self._count(len(data))

    def _count(self, nbytes: int) -> None:
        self.n_files += 1
        self.bytes += nbytes

    def _encode_write(self, path: Path, rendered: pl.DataFrame, fmt: str, dtfmt: str) -> int:
        """Encode straight into the file (no intermediate Python str or bytes); its size."""
        if fmt == "csv":
            rendered.write_csv(path, datetime_format=dtfmt)
        elif fmt == "parquet":
            rendered.write_parquet(path, compression="zstd", statistics=False)
        elif fmt == "jsonl":
            rendered.write_ndjson(path)
        else:
            path.write_bytes(self._encode(rendered, fmt, dtfmt))
        return path.stat().st_size

    @staticmethod
    def _encode(rendered: pl.DataFrame, fmt: str, dtfmt: str, encoding: str = "utf-8") -> bytes:
        buf = io.BytesIO()
        if fmt == "parquet":
            rendered.write_parquet(buf, compression="zstd", statistics=False)
            return buf.getvalue()
        if fmt == "jsonl":
            rendered.write_ndjson(buf)
            return buf.getvalue()
        rendered.write_csv(buf, datetime_format=dtfmt)
        data = buf.getvalue()
        if encoding == "utf-8-sig":
            data = b"\xef\xbb\xbf" + data
        elif encoding != "utf-8":
            data = data.decode("utf-8").encode(encoding)
        return gzip.compress(data, compresslevel=6, mtime=0) if fmt == "csv.gz" else data

    def _write(self, path, df, source, fmt, style=None, encoding="utf-8", extra=None) -> None:
        """Render a typed frame in a file format and write it (special and dirty files)."""
        r = render(df, source, MODE[fmt], style)
        if extra:
            r = r.with_columns(**extra)
        dtfmt = csv_datetime_format(source, style)
        self._write_bytes(path, self._encode(r, fmt, dtfmt, encoding))

    # ------------------------------------------------------------------ a month
    def write_month(self, m: int, tabs: dict[str, Tab]) -> dict[str, int]:
        rows = {}
        d0, d1 = int(self.w.md[m]), int(self.w.md[m + 1])
        for i, source in enumerate(contract.SOURCE_NAMES):
            tab = tabs[source]
            col, unit = DATE_COL[source]
            tab_days = tab[col] // unit if tab.n else np.zeros(0, np.int64)
            days, counts = np.unique(tab_days, return_counts=True)
            special = self._specials(source, m, days.tolist(), d0) if self.dirty else {}
            fmt = FORMATS[(i + m) % 4] if self.fmt == "mixed" else self.fmt
            rows[source] = tab.n
            # build and write in chunks of whole days so memory stays bounded at any scale;
            # rows already in date order (most sources) are chunked as zero-copy slices
            in_order = tab.n < 2 or bool((tab_days[1:] >= tab_days[:-1]).all())
            ends = np.cumsum(counts)
            bounds = ends // CHUNK_ROWS
            for c in np.unique(bounds):
                first, last = np.flatnonzero(bounds == c)[[0, -1]]
                if len(days) == 1:
                    part_tab = tab
                elif in_order:
                    a, b = int(ends[first] - counts[first]), int(ends[last])
                    part_tab = Tab({k: v[a:b] for k, v in tab.items()})
                else:
                    lo, hi = days[first], days[last]
                    part_tab = tab.take((tab_days >= lo) & (tab_days <= hi))
                self._write_chunk(source, part_tab, fmt, special, d1)
        if self.dirty:
            self._plant_malformed(m, tabs)
            if m == 0:
                p = self._path("orders", d0, "{src}-{dt}-broken.parquet")
                self._write_bytes(p, b"PAR1\x15\x04\x15\x80\x01" + bytes(range(64)) * 4)
                self.files["unparseable"].append(self._rel(p))
        self._drain()
        return rows

    def _write_chunk(self, source: str, tab: Tab, fmt: str, special: dict, d1: int) -> None:
        if tab.n == 0:
            return
        df = self.frames.build(source, tab)
        self.rows_clean[source] += df.height
        self._observe(source, df, tab)
        if df.height == 0:
            return
        rendered = render(df, source, MODE[fmt])
        dtfmt = csv_datetime_format(source)
        # the previous chunk's files were written while this one was built; one chunk in flight
        self._drain()
        jobs = self._inflight
        # the frame is sorted by dt: each partition is a zero-copy slice
        days, counts = np.unique(df.get_column("dt").to_numpy(), return_counts=True)
        starts = np.cumsum(counts) - counts
        for day, start, count in zip(days.tolist(), starts.tolist(), counts.tolist(), strict=True):
            rpart = rendered.slice(start, count)
            self.dts.add(int(day))
            sp = special.get(int(day))
            if sp is None:
                path = self._path(source, day, "{src}-{dt}." + fmt)
                # encoding releases the GIL: partitions are written on both cores
                jobs.append(self.pool.submit(self._encode_write, path, rpart, fmt, dtfmt))
                continue
            part = df.slice(start, count)
            kind, arg = sp
            path = self._path(source, day, "{src}-{dt}.csv")
            if kind in ("gb18030", "utf-8-sig"):
                self._write(path, part, source, "csv", encoding=kind)
            elif kind == "utc_timestamps":
                self._write(path, part, source, "csv", style=UTC_STYLE)
            elif kind == "unknown_column":
                vals = [f"{arg.upper()}{x:06d}" for x in self.rng.integers(0, 10**6, part.height)]
                self._write(
                    path, part, source, "csv", extra={arg: pl.Series(vals, dtype=pl.String)}
                )
            else:  # phone column
                ph = self.rng.choice([138, 139, 186, 159], part.height) * 10**8
                ph = ph + self.rng.integers(0, 10**8, part.height)
                self._write(path, part, source, "csv", extra={arg: pl.Series([str(x) for x in ph])})
            self.files[kind].append(self._rel(path))
        if self.dirty:
            self._plant_duplicates(source, df, d1)

    def _drain(self) -> None:
        """Wait for the files being written and count them."""
        for job in self._inflight:
            self._count(job.result())
        self._inflight = []

    def _observe(self, source: str, df: pl.DataFrame, tab: Tab) -> None:
        if source == "sms_logs":
            self.receipts.observe(df)
        if source == "sms_logs" and tab.n:
            # from the template of each message: the filled-in values (digits, dates) never
            # make or break a promotion keyword, so the template's text decides
            per_tpl = np.bincount(tab["tpl"], minlength=len(C.TEMPLATE_CODES))
            self.marketing_in_service += int(per_tpl[TPL_SERVICE_PROMO].sum())
            for k, n in enumerate(per_tpl.tolist()):
                self.sms_by_purpose[PURPOSES[TPL_PURPOSE[k]]] += n
        if source == "complaints" and df.height:
            self.phone_in_text += int(
                df.select(pl.col("narrative").str.count_matches(MOBILE).sum()).item()
            )
            ct = self.complaint_truth
            ct["category_given"] += int(df.get_column("category").is_not_null().sum())
            ct["category_empty"] += int(df.get_column("category").is_null().sum())
            ct["unknown_user"] += int(df.get_column("user_id").is_null().sum())

    def _specials(
        self, source: str, m: int, days: list[int], d0: int
    ) -> dict[int, tuple[str, str]]:
        """Which partition of this month gets which special file (dirty mode)."""
        if not days:
            return {}
        pick = days[min(2, len(days) - 1)]
        if source == "sms_logs":
            return (
                {
                    days[min(2, len(days) - 1)]: ("gb18030", ""),
                    days[min(5, len(days) - 1)]: ("utc_timestamps", ""),
                }
                if len(days) > 5
                else {pick: ("gb18030", "")}
            )
        if source == "opt_outs":
            return {pick: ("utf-8-sig", "")}
        if source == "complaints":
            return {days[0]: ("utf-8-sig", "")}
        if source == "orders":
            return {pick: ("unknown_column", "coupon_code")}
        if source == "checkout_sessions":
            return {pick: ("unknown_column", "device_type")}
        if source == "users":
            return {days[-1]: ("phone_column", "phone" if m % 2 == 0 else "手机号")}
        return {}

    # ------------------------------------------------------------------ dirty rows
    def _plant_duplicates(self, source: str, df: pl.DataFrame, d1: int) -> None:
        P: Params = self.w.P
        k = max(1, int(round(P.dirty_duplicate_share * df.height)))
        idx = np.sort(self.rng.choice(df.height, min(k, df.height), replace=False))
        copies = df[idx]
        last = min(d1 - 1, self.w.end_day)
        shift = self.rng.integers(0, 4, copies.height)  # 0: same partition, else 1-3 days later
        target = np.minimum(
            copies.get_column("dt").to_numpy() + shift,
            np.maximum(last, copies.get_column("dt").to_numpy()),
        )
        copies = copies.with_columns(dt=pl.Series(target))
        for (day,), part in copies.partition_by("dt", as_dict=True, maintain_order=True).items():
            path = self._path(source, day, "{src}-{dt}-resend.csv")
            self._write(path, part, source, "csv")
        self.dup_copies[source] += copies.height

    def _sample_frame(self, source: str, tab: Tab) -> pl.DataFrame:
        """The typed frame of up to 5,000 random rows of a month (base rows for malformed ones)."""
        if tab.n > 5000:
            tab = tab.take(np.sort(self.rng.choice(tab.n, 5000, replace=False)))
        return self.frames.build(source, tab)

    def _plant_malformed(self, m: int, tabs: dict[str, Tab]) -> None:
        P: Params = self.w.P
        by_source: dict[str, list[pl.DataFrame]] = {}
        frames = {}
        for reason, variants in MALFORMED.items():
            for j in range(P.dirty_rows_per_reason_per_month):
                src, field, bad, cond = variants[
                    (m * P.dirty_rows_per_reason_per_month + j) % len(variants)
                ]
                if src not in frames:
                    frames[src] = self._sample_frame(src, tabs[src])
                df = frames[src]
                if cond is not None:
                    df = df.filter(cond)
                if df.height == 0:  # e.g. no complaint this month: fall back to the first variant
                    src, field, bad, cond = variants[0]
                    if src not in frames:
                        frames[src] = self._sample_frame(src, tabs[src])
                    df = frames[src] if cond is None else frames[src].filter(cond)
                    if df.height == 0:
                        continue
                row = df[int(self.rng.integers(0, df.height))]
                text = render(row, src, "text").with_columns(dt=row.get_column("dt"))
                self._bad_seq += 1
                # the last id of the key (not a timestamp: a changed one would not parse)
                keys = contract.SOURCES[src].primary_key
                pk = [k for k in keys if contract.SOURCES[src].field(k).type == contract.ID][-1]
                text = text.with_columns(
                    pl.concat_str([pl.col(pk), pl.lit(f"-X{self._bad_seq}")]).alias(pk)
                )
                if bad is None:  # due_before_statement: due three days before the statement
                    bad = str(np.datetime64(int(row.get_column("statement_date").item()) - 3, "D"))
                text = text.with_columns(pl.lit(bad).alias(field))
                by_source.setdefault(src, []).append(text)
                self.bad_by_reason[reason] += 1
                self.bad_rows[src] += 1
        for src, parts in by_source.items():
            allbad = pl.concat(parts)
            for (day,), part in allbad.partition_by(
                "dt", as_dict=True, maintain_order=True
            ).items():
                path = self._path(src, day, "{src}-{dt}-manual.csv")
                data = part.drop("dt").write_csv().encode("utf-8")
                self._write_bytes(path, data)

"""The simulator: contract conformance, determinism, ground truth checked against the files.

Every expected number here is recomputed from the written files with code of this test (plain
csv/json readers, pyarrow, and DuckDB SQL that follows metrics.md word for word), never with
the simulator's own functions.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import contract
from pipelines.cli import main as cli_main
from pipelines.settings import REPO_ROOT
from pipelines.simulator import simulate

CST = timezone(timedelta(hours=8))
EPOCH = datetime(1970, 1, 1)
KEYWORDS = ("优惠", "领券", "红包", "立减", "折扣", "限时", "活动", "免息券", "抽奖", "福利")
TS_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
MONEY_RE = re.compile(r"^-?\d+(\.\d{1,2})?$")
MOBILE_RE = re.compile(r"1[3-9]\d{9}")
PARTITION_FIELD = {
    "users": "opened_at",
    "experiment_assignments": "assigned_at",
    "checkout_sessions": "started_at",
    "orders": "created_at",
    "bills": "statement_date",
    "repayments": "paid_at",
    "sms_logs": "sent_at",
    "opt_outs": "received_at",
    "complaints": "received_at",
    "sms_preferences": "updated_at",
}


# --------------------------------------------------------------------------- reading files
def _text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return f"{v:.2f}"
    return str(v)


def read_file(path: Path) -> tuple[list[dict], str | None]:
    """Rows of one landing file as {lower-case column: text or None}, and the CSV encoding."""
    name = path.name
    if name.endswith(".parquet"):
        table = pq.read_table(path)
        return [{k.lower(): _text(v) for k, v in r.items()} for r in table.to_pylist()], None
    raw = path.read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    if name.endswith(".jsonl"):
        rows = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
        return [{k.strip().lower(): _text(v) for k, v in r.items()} for r in rows], None
    if raw.startswith(b"\xef\xbb\xbf"):
        enc = "utf-8-sig"
    else:
        try:
            raw.decode("utf-8")
            enc = "utf-8"
        except UnicodeDecodeError:
            enc = "gb18030"
    reader = csv.DictReader(io.StringIO(raw.decode(enc), newline=""))
    rows = [{k.strip().lower(): (v if v != "" else None) for k, v in r.items()} for r in reader]
    return rows, enc


def read_landing(out: Path) -> dict[str, list[dict]]:
    """Every row of every readable file, with `_file`, `_dt`, `_row` lineage."""
    data: dict[str, list[dict]] = {s: [] for s in contract.SOURCE_NAMES}
    for source in contract.SOURCE_NAMES:
        for path in sorted((out / source).glob("dt=*/*")):
            try:
                rows, _ = read_file(path)
            except Exception:
                continue  # the deliberately unreadable file
            dt = path.parent.name.removeprefix("dt=")
            rel = path.relative_to(out).as_posix()
            for i, r in enumerate(rows, 1):
                r.update(_file=rel, _dt=dt, _row=i)
                data[source].append(r)
    return data


# --------------------------------------------------------------------------- the contract
def local_seconds(text: str) -> int:
    """Seconds since 1970-01-01 00:00 Asia/Shanghai wall-clock for a contract timestamp."""
    m = TS_RE.match(text.strip())
    assert m, text
    d, hh, mm, ss, _, off = m.groups()
    naive = datetime.fromisoformat(f"{d} {hh}:{mm}:{ss}")
    if off:
        if off == "Z":
            delta = timedelta(0)
        else:
            o = off.replace(":", "")
            sign = 1 if o[0] == "+" else -1
            delta = sign * timedelta(hours=int(o[1:3]), minutes=int(o[3:5]))
        naive = naive - delta + timedelta(hours=8)
    return int((naive - EPOCH).total_seconds())


def _valid_ts(v: str) -> bool:
    m = TS_RE.match(v.strip())
    if not m:
        return False
    try:
        datetime.fromisoformat(f"{m.group(1)} {m.group(2)}:{m.group(3)}:{m.group(4)}")
    except ValueError:
        return False
    return True


def _valid_date(v: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v.strip()):
        return False
    try:
        date.fromisoformat(v.strip())
    except ValueError:
        return False
    return True


CHECK = {
    contract.ID: lambda v, f: len(v) <= 64,
    contract.TS: lambda v, f: _valid_ts(v),
    contract.DATE: lambda v, f: _valid_date(v),
    contract.MONTH: lambda v, f: re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", v) is not None,
    contract.MONEY: lambda v, f: MONEY_RE.fullmatch(v) is not None,
    contract.INT: lambda v, f: re.fullmatch(r"-?\d+", v) is not None,
    contract.BOOL: lambda v, f: v.lower() in contract.BOOL_TRUE + contract.BOOL_FALSE,
    contract.ENUM: lambda v, f: v.lower() in f.values,
    contract.TEXT: lambda v, f: True,
}
TYPE_REASON = {
    contract.ID: "bad_id",
    contract.TS: "bad_timestamp",
    contract.DATE: "bad_date",
    contract.MONTH: "bad_month",
    contract.MONEY: "bad_money",
    contract.INT: "bad_int",
    contract.BOOL: "bad_bool",
    contract.ENUM: "bad_enum",
}


def reason(source: str, row: dict) -> str | None:
    """The first quarantine reason for a row (required, types, ranges, row rules), or None.

    Computed once per row and kept in the row (`_reason`)."""
    if "_reason" in row:
        return row["_reason"]
    row["_reason"] = r = _reason(source, row)
    return r


def _reason(source: str, row: dict) -> str | None:
    src = contract.SOURCES[source]
    val = {f.name: (row.get(f.name) or "").strip() for f in src.fields}
    for f in src.fields:
        if f.required and val[f.name] == "":
            return "missing_required"
    for f in src.fields:
        v = val[f.name]
        if v != "" and not CHECK[f.type](v, f):
            return TYPE_REASON[f.type]
    for f in src.fields:
        v = val[f.name]
        if v == "" or f.min_value is None:
            continue
        x = Decimal(v)
        if x < Decimal(str(f.min_value)) or (f.min_exclusive and x == Decimal(str(f.min_value))):
            return "out_of_range"
        if f.max_value is not None and x > Decimal(str(f.max_value)):
            return "out_of_range"
    completed = val.get("status", "").lower() == "completed"
    if source == "checkout_sessions" and completed and val["payment_method"] == "":
        return "payment_method_required"
    not_installment = val.get("payment_method", "").lower() != "bnpl_installment"
    if source == "orders" and not_installment and int(val["installments"]) != 1:
        return "installments_not_one"
    if source == "bills" and val["due_date"] < val["statement_date"]:
        return "due_before_statement"
    if source == "sms_preferences" and (val["quiet_start_hour"] == "") != (
        val["quiet_end_hour"] == ""
    ):
        return "quiet_window_one_end"
    return None


def winners(data: dict[str, list[dict]]) -> tuple[dict[str, dict], Counter, Counter]:
    """Contract winner per key among valid rows; counts of quarantined rows and losing copies."""
    won: dict[str, dict] = {}
    quarantined: Counter = Counter()
    superseded: Counter = Counter()
    for source, rows in data.items():
        pk = contract.SOURCES[source].primary_key
        best: dict[tuple, dict] = {}
        for r in rows:
            if reason(source, r):
                quarantined[source] += 1
                continue
            key = tuple(r[k].strip() for k in pk)
            rank = (r["_dt"], r["_file"], r["_row"])
            if key in best:
                superseded[source] += 1
                if rank > (best[key]["_dt"], best[key]["_file"], best[key]["_row"]):
                    best[key] = r
            else:
                best[key] = r
        won[source] = best
    return won, quarantined, superseded


# --------------------------------------------------------------------------- metrics.md flags
FLAGS_SQL = """
with m as (
    select *, sent // 86400 as local_date, (sent % 86400) // 3600 as local_hour
    from sms where purpose <> 'verification'
), d as (
    select message_id,
        sent - lag(sent) over (partition by user_id, template_code, coalesce(bill_id, chr(0))
                               order by sent, message_id) <= 600 as is_dup,
        row_number() over (partition by user_id, local_date order by sent, message_id) > 3
            as is_cap
    from m
)
select
    count(*) filter (where d.is_dup) as duplicate,
    count(*) filter (where m.local_hour >= 22 or m.local_hour < 8) as quiet_hours,
    count(*) filter (where m.purpose = 'marketing' and exists (
        select 1 from opt where opt.user_id = m.user_id and opt.received < m.sent))
        as after_opt_out,
    count(*) filter (where d.is_cap) as over_daily_cap,
    count(*) filter (where m.purpose in ('bill_notice', 'due_reminder', 'overdue_collection')
        and regexp_matches(coalesce(m.content, ''), ?)) as marketing_in_service,
    count(*) filter (where m.purpose = 'marketing'
        and coalesce((select not u.consent from usr u where u.user_id = m.user_id), false))
        as marketing_without_consent
from m join d using (message_id)
"""


def _table(con, name: str, columns: dict[str, list]) -> None:
    con.register(name, pa.table(columns))


def flag_counts(won: dict[str, dict]) -> dict[str, int]:
    con = duckdb.connect()
    sms = list(won["sms_logs"].values())
    _table(
        con,
        "sms",
        {
            "message_id": [r["message_id"].strip() for r in sms],
            "user_id": [r["user_id"].strip() for r in sms],
            "template_code": [r["template_code"].strip() for r in sms],
            "purpose": [r["purpose"].strip().lower() for r in sms],
            "bill_id": [r.get("bill_id") for r in sms],
            "content": [r.get("content") for r in sms],
            "sent": [local_seconds(r["sent_at"]) for r in sms],
        },
    )
    opt = list(won["opt_outs"].values())
    _table(
        con,
        "opt",
        {
            "user_id": [r["user_id"] for r in opt],
            "received": [local_seconds(r["received_at"]) for r in opt],
        },
    )
    usr = list(won["users"].values())
    _table(
        con,
        "usr",
        {
            "user_id": [r["user_id"] for r in usr],
            "consent": [r["marketing_consent"].lower() in contract.BOOL_TRUE for r in usr],
        },
    )
    cur = con.execute(FLAGS_SQL, ["|".join(KEYWORDS)])
    names = [c[0] for c in cur.description]
    counts = dict(zip(names, cur.fetchall()[0], strict=True))
    bills = list(won["bills"].values())
    _table(
        con,
        "bills",
        {
            "bill_id": [r["bill_id"] for r in bills],
            "due_day": [(date.fromisoformat(r["due_date"]) - date(1970, 1, 1)).days for r in bills],
            "cents": [round(Decimal(r["amount_due"]) * 100) for r in bills],
        },
    )
    reps = [r for r in won["repayments"].values() if r["status"].lower() == "success"]
    _table(
        con,
        "reps",
        {
            "repayment_id": [r["repayment_id"] for r in reps],
            "bill_id": [r["bill_id"] for r in reps],
            "paid": [local_seconds(r["paid_at"]) for r in reps],
            "cents": [round(Decimal(r["amount"]) * 100) for r in reps],
        },
    )
    prefs = list(won["sms_preferences"].values())

    def hour(v):
        return int(v) if v not in (None, "") else None

    _table(
        con,
        "prefs",
        {
            "user_id": [r["user_id"] for r in prefs],
            "t": [local_seconds(r["updated_at"]) for r in prefs],
            "mkt": [r["marketing"].lower() in contract.BOOL_TRUE for r in prefs],
            "rem": [r["reminders"].lower() in contract.BOOL_TRUE for r in prefs],
            "maxd": [hour(r["max_per_day"]) for r in prefs],
            "qs": [hour(r["quiet_start_hour"]) for r in prefs],
            "qe": [hour(r["quiet_end_hour"]) for r in prefs],
        },
    )
    cur = con.execute(NEVER_SENT_SQL)
    names = [c[0] for c in cur.description]
    counts.update(zip(names, cur.fetchall()[0], strict=True))
    return counts


# the three flags of messages that should never have gone out, in plain SQL over the files
NEVER_SENT_SQL = """
with settled as (
    select bill_id, min(paid) as settled
    from (
        select r.bill_id, r.paid,
            sum(r.cents) over (partition by r.bill_id order by r.paid, r.repayment_id) as run,
            b.cents as due_cents
        from reps r join bills b using (bill_id)
        where b.cents > 0
    )
    where run >= due_cents
    group by bill_id
), m as (
    select *, sent // 86400 as day, (sent % 86400) // 3600 as hr,
        row_number() over (partition by user_id, sent // 86400 order by sent, message_id) as rk
    from sms where purpose <> 'verification'
), p as (
    select m.message_id, m.purpose, m.hr, m.rk, x.*
    from m join prefs x on x.user_id = m.user_id and x.t <= m.sent
    qualify row_number() over (partition by m.message_id order by x.t desc) = 1
)
select
    (select count(*) from m join settled s using (bill_id)
        where m.purpose in ('due_reminder', 'overdue_collection') and s.settled < m.sent)
        as after_settlement,
    (select count(*) from m join bills b using (bill_id)
        where m.purpose = 'overdue_collection' and m.day <= b.due_day) as collection_before_due,
    (select count(*) from p where
        (purpose = 'marketing' and not mkt) or (purpose = 'due_reminder' and not rem)
        or (purpose in ('marketing', 'due_reminder') and qs is not null and (
            (qs > qe and (hr >= qs or hr < qe)) or (qs <= qe and hr >= qs and hr < qe)))
        or rk > maxd) as against_preference
"""


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "landing"
    truth = simulate(out, users=1000, months=3, seed=11, fmt="mixed")
    return out, truth, read_landing(out)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    out = tmp_path_factory.mktemp("dirty") / "landing"
    truth = simulate(out, users=600, months=2, start="2024-11", seed=5, fmt="mixed", dirty=True)
    return out, truth, read_landing(out)


# --------------------------------------------------------------------------- tests
def test_clean_files_follow_the_contract(clean):
    out, truth, data = clean
    seen_ext = set()
    for source in contract.SOURCE_NAMES:
        rows = data[source]
        assert rows, source
        assert len(rows) == truth["rows_written"][source]
        for path in (out / source).glob("dt=*/*"):
            assert re.fullmatch(r"dt=\d{4}-\d{2}-\d{2}", path.parent.name)
            seen_ext.add(path.name.split(".", 1)[1])
        names = set(contract.SOURCES[source].field_names)
        keys = Counter()
        for r in rows:
            assert reason(source, r) is None, (source, r)
            assert set(r) - {"_file", "_dt", "_row", "_reason"} == names
            keys[tuple(r[k] for k in contract.SOURCES[source].primary_key)] += 1
            field = PARTITION_FIELD[source]
            if source == "bills":
                assert r[field] == r["_dt"]
            else:
                day = local_seconds(r[field]) // 86400
                assert str(date(1970, 1, 1) + timedelta(days=day)) == r["_dt"], (source, r)
        assert max(keys.values()) == 1, f"duplicate keys in {source}"
        assert truth["expected_load"][source] == {
            "loaded": len(rows),
            "quarantined": 0,
            "superseded": 0,
        }
    assert seen_ext == {"csv", "csv.gz", "parquet", "jsonl"}
    assert truth["as_of"] == max(r["_dt"] for rows in data.values() for r in rows)
    assert truth["as_of"] == "2025-03-31"


def test_world_is_consistent(clean):
    """Arms, references, one bill per user and cycle, Chinese SMS with a signature."""
    _, truth, data = clean
    users = {r["user_id"]: r for r in data["users"]}
    arms = Counter(r["arm"] for r in data["experiment_assignments"])
    assert set(arms) == {"control", "reminders_1", "reminders_2", "reminders_4"}
    assert {a: v["users"] for a, v in truth["experiment"]["arms"].items()} == dict(arms)
    assert {r["experiment_id"] for r in data["experiment_assignments"]} == {"reminder_cadence"}
    bills = {r["bill_id"]: r for r in data["bills"]}
    first_stmt = {}
    for b in bills.values():
        assert b["user_id"] in users
        assert (
            9
            <= (date.fromisoformat(b["due_date"]) - date.fromisoformat(b["statement_date"])).days
            <= 10
        )
        first_stmt[b["user_id"]] = min(first_stmt.get(b["user_id"], "9999"), b["statement_date"])
    assert len({(b["user_id"], b["cycle"]) for b in bills.values()}) == len(bills)
    for a in data["experiment_assignments"]:
        if a["user_id"] in first_stmt:  # assigned before the first statement's local midnight
            assert (
                local_seconds(a["assigned_at"])
                < (date.fromisoformat(first_stmt[a["user_id"]]) - date(1970, 1, 1)).days * 86400
            )
    for r in data["repayments"]:
        assert r["bill_id"] in bills and bills[r["bill_id"]]["user_id"] == r["user_id"]
    consent = Counter(u["marketing_consent"] for u in users.values())
    assert 0.75 < consent["true"] / len(users) < 0.95
    purposes = Counter(r["purpose"] for r in data["sms_logs"])
    assert set(purposes) == set(contract.SMS_PURPOSES)
    for r in data["sms_logs"][:2000]:
        assert r["content"].startswith("【乐享月付】")
        assert (r["purpose"] == "marketing") <= ("回T退订" in r["content"])
    sessions = data["checkout_sessions"]
    offered = [s for s in sessions if s["bnpl_offered"] in ("true", "True")]
    conv_on = sum(s["status"] == "completed" for s in offered) / len(offered)
    rest = [s for s in sessions if s["bnpl_offered"] in ("false", "False")]
    conv_off = sum(s["status"] == "completed" for s in rest) / len(rest)
    assert conv_on - conv_off > 0.05  # pay-later lifts conversion
    inst = [o for o in data["orders"] if o["payment_method"] == "bnpl_installment"]
    assert inst and all(int(o["installments"]) in (3, 6, 12) for o in inst)


def test_fault_counts_match_the_files(clean):
    _, truth, data = clean
    won, q, s = winners(data)
    assert not q and not s
    counts = flag_counts(won)
    assert counts == truth["faults"]
    assert all(v > 0 for v in counts.values()), counts
    complaints = won["complaints"].values()
    phones = sum(len(MOBILE_RE.findall(r["narrative"] or "")) for r in complaints)
    assert phones == truth["dirty"]["phone_numbers_in_text"]


def test_dirty_load_matches_ground_truth(dirty):
    out, truth, data = dirty
    won, quarantined, superseded = winners(data)
    for source in contract.SOURCE_NAMES:
        exp = truth["expected_load"][source]
        assert exp["loaded"] == len(won[source]), source
        assert exp["quarantined"] == quarantined[source], source
        assert exp["superseded"] == superseded[source], source
        assert truth["rows_written"][source] == len(data[source]), source
    reasons = Counter(reason(s, r) for s, rows in data.items() for r in rows)
    reasons.pop(None)
    assert set(truth["dirty"]["quarantined_by_reason"]) == set(contract.REASON_CODES)
    assert {k: v for k, v in truth["dirty"]["quarantined_by_reason"].items() if v} == dict(reasons)
    # every kind of bad value is there (lines that are no record at all: test_ingest_hostile.py)
    assert set(reasons) == set(contract.REASON_CODES) - set(contract.LINE_REASON_CODES)
    assert truth["dirty"]["duplicate_copies"] == {s: superseded[s] for s in contract.SOURCE_NAMES}
    assert all(superseded[s] > 0 for s in contract.SOURCE_NAMES if won[s])
    # copies are re-exports: every copy of a key carries the same values
    fields = {s: contract.SOURCES[s].field_names for s in contract.SOURCE_NAMES}
    for source, rows in data.items():
        pk = contract.SOURCES[source].primary_key
        seen: dict[tuple, set] = defaultdict(set)
        for r in rows:
            if reason(source, r) is None:
                vals = []
                for f in fields[source]:
                    v = r.get(f)
                    if v is not None and contract.SOURCES[source].field(f).type == contract.TS:
                        v = local_seconds(v)
                    vals.append(v)
                seen[tuple(r[k] for k in pk)].add(tuple(vals))
        assert all(len(v) == 1 for v in seen.values()), source
    # no quarantined row shares a key with a loaded record
    for source, rows in data.items():
        pk = contract.SOURCES[source].primary_key
        for r in rows:
            if reason(source, r) and all(r.get(k) for k in pk):
                assert tuple(r[k].strip() for k in pk) not in won[source]
    counts = flag_counts(won)
    assert counts == truth["faults"]


def test_dirty_special_files(dirty):
    out, truth, _ = dirty
    files = truth["dirty"]["files"]
    for kind in ("gb18030", "utf-8-sig", "unknown_column", "phone_column"):
        assert files[kind], kind
    for p in files["gb18030"]:
        raw = (out / p).read_bytes()
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        assert "【乐享月付】" in raw.decode("gb18030")
    for p in files["utf-8-sig"]:
        assert (out / p).read_bytes().startswith(b"\xef\xbb\xbf")
    for p in files["unknown_column"]:
        rows, _ = read_file(out / p)
        source = p.split("/")[0]
        assert set(rows[0]) - set(contract.SOURCES[source].field_names)
    for p in files["phone_column"]:
        rows, _ = read_file(out / p)
        extra = set(rows[0]) & contract.PHONE_COLUMNS
        assert extra and all(MOBILE_RE.fullmatch(r[next(iter(extra))]) for r in rows)
    for p in files["utc_timestamps"]:
        rows, _ = read_file(out / p)
        assert all(r["sent_at"].endswith("Z") for r in rows)
    for p in files["unparseable"]:
        with pytest.raises(Exception):  # noqa: B017
            pq.read_table(out / p)


def test_same_seed_same_bytes(tmp_path):
    def digest(out: Path) -> dict[str, str]:
        return {
            p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*"))
            if p.is_file()
        }

    kw = dict(users=300, months=2, fmt="mixed", dirty=True)
    simulate(tmp_path / "a", seed=3, **kw)
    simulate(tmp_path / "b", seed=3, **kw)
    simulate(tmp_path / "c", seed=4, **kw)
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert a == b
    assert "ground_truth.json" in a
    assert a != c


ON_TIME_SQL = """
with pay as (
    select bill_id, paid, sum(amount) over (partition by bill_id order by paid, repayment_id
        rows between unbounded preceding and current row) as running
    from rep where status = 'success'
), settled as (
    select p.bill_id, min(p.paid) as settled_at
    from pay p join bills b using (bill_id)
    where p.running >= b.amount_due - 0.005
    group by p.bill_id
), assigned as (
    select b.bill_id, arg_max(a.arm, a.assigned) as arm
    from bills b join asg a on a.user_id = b.user_id and a.assigned < b.statement_day * 86400
    group by b.bill_id
)
select a.arm, count(*) as n,
    count(*) filter (where s.settled_at // 86400 <= b.due_day) as on_time
from bills b join assigned a using (bill_id) left join settled s using (bill_id)
where b.amount_due > 0 and b.due_day < ?
group by a.arm order by a.arm
"""


def test_planted_arm_effects_visible_in_raw_bills_and_repayments(tmp_path):
    out = tmp_path / "landing"
    truth = simulate(out, users=6000, months=3, seed=21, fmt="parquet")
    data = {s: [] for s in ("bills", "repayments", "experiment_assignments")}
    for s in data:
        for p in sorted((out / s).glob("dt=*/*")):
            data[s] += read_file(p)[0]

    def day(text):
        return (date.fromisoformat(text) - date(1970, 1, 1)).days

    con = duckdb.connect()
    b, r, a = data["bills"], data["repayments"], data["experiment_assignments"]
    _table(
        con,
        "bills",
        {
            "bill_id": [x["bill_id"] for x in b],
            "user_id": [x["user_id"] for x in b],
            "statement_day": [day(x["statement_date"]) for x in b],
            "due_day": [day(x["due_date"]) for x in b],
            "amount_due": [Decimal(x["amount_due"]) for x in b],
        },
    )
    _table(
        con,
        "rep",
        {
            "repayment_id": [x["repayment_id"] for x in r],
            "bill_id": [x["bill_id"] for x in r],
            "paid": [local_seconds(x["paid_at"]) for x in r],
            "amount": [Decimal(x["amount"]) for x in r],
            "status": [x["status"] for x in r],
        },
    )
    _table(
        con,
        "asg",
        {
            "user_id": [x["user_id"] for x in a],
            "arm": [x["arm"] for x in a],
            "assigned": [local_seconds(x["assigned_at"]) for x in a],
        },
    )
    rows = con.execute(ON_TIME_SQL, [day(truth["as_of"])]).fetchall()
    observed = {arm: (n, k / n) for arm, n, k in rows}
    arms = truth["experiment"]["arms"]
    assert set(observed) == set(arms)
    for arm, (n, rate) in observed.items():
        p = arms[arm]["true_on_time_prob"]
        assert arms[arm]["evaluable_bills"] == n
        se = (p * (1 - p) / n) ** 0.5
        assert abs(rate - p) < 4 * se, (arm, rate, p, n)
    # realism: control ~ band base without reminders; first reminder +7-9 % relative
    ctrl = arms["control"]["true_on_time_prob"]
    assert 0.82 < ctrl < 0.90
    lift1 = arms["reminders_1"]["true_on_time_prob"] / ctrl - 1
    assert 0.06 < lift1 < 0.10
    extra = arms["reminders_4"]["true_on_time_prob"] - arms["reminders_1"]["true_on_time_prob"]
    assert 0 < extra < 0.03  # later reminders add little
    n0, r0 = observed["control"]
    n1, r1 = observed["reminders_1"]
    z = (r1 - r0) / ((r0 * (1 - r0) / n0 + r1 * (1 - r1) / n1) ** 0.5)
    assert z > 3  # the effect is visible in raw data
    # volume: scaled to the s scale (2,000 users), 100k-300k SMS rows
    assert 100_000 <= truth["rows_written"]["sms_logs"] * 2000 / 6000 <= 300_000
    hint = truth["metrics_hint"]
    assert 0.90 < hint["bills_on_time"] / hint["bills_evaluable"] < 0.98
    assert 0.005 < hint["dpd30"]["dpd_bills"] / hint["dpd30"]["matured_bills"] < 0.04


def test_complaint_narratives_classify_to_their_category():
    from pipelines.simulator.content import NARRATIVES

    rules = [
        ("sms_night", "半夜 深夜 凌晨 夜里 睡觉"),
        ("sms_duplicate", "重复 连发 一样的短信"),
        ("sms_marketing", "营销 广告 推销 促销"),
        ("collection_conduct", "催收 威胁 通讯录 上门"),
        ("sms_frequency", "短信 频繁 太多 轰炸 骚扰"),
        ("fees", "手续费 利息 服务费 违约金"),
        ("refund", "退款 退货"),
        ("credit_report", "征信"),
    ]

    def classify(text):
        for cat, words in rules:
            if any(w in text for w in words.split()):
                return cat
        return "other"

    for cat, texts in NARRATIVES.items():
        for t in texts:
            assert classify(t) == cat, t
            assert not MOBILE_RE.search(t)


def test_cli_writes_and_refuses_mistakes(tmp_path, capsys):
    out = tmp_path / "land"
    assert (
        cli_main(
            [
                "simulate",
                "--out",
                str(out),
                "--users",
                "150",
                "--months",
                "1",
                "--quiet",
                "--format",
                "jsonl",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "sms_logs" in printed and "rows/s" in printed
    truth = json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))
    assert truth["users"] == 150 and truth["months"] == 1 and truth["start"] == "2025-01"
    assert cli_main(["simulate", "--out", str(out), "--users", "150", "--quiet"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (
        cli_main(
            [
                "simulate",
                "--out",
                str(out),
                "--users",
                "150",
                "--months",
                "1",
                "--quiet",
                "--force",
                "--seed",
                "9",
            ]
        )
        == 0
    )
    assert json.loads((out / "ground_truth.json").read_text())["seed"] == 9
    # the old files were replaced (the gateways' receipts come in their own formats, JSON
    # lines among them, whatever --format says)
    assert not [p for p in out.rglob("*.jsonl") if "sms_receipts" not in p.parts]
    for bad in (["--start", "2025-13"], ["--start", "march"], ["--users", "0"], ["--months", "99"]):
        assert cli_main(["simulate", "--out", str(tmp_path / "x"), "--quiet", *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("nudgescope simulate: ") and err.count("\n") == 1


def test_default_out_is_the_landing_folder_of_the_data_dir(_isolated_data_dir):
    assert cli_main(["simulate", "--users", "50", "--months", "1", "--quiet"]) == 0
    assert (_isolated_data_dir / "landing" / "ground_truth.json").exists()


def test_readme_documents_every_ground_truth_key(clean):
    _, truth, _ = clean
    readme = (REPO_ROOT / "pipelines/simulator/README.md").read_text()

    def keys(d, prefix=""):
        for k, v in d.items():
            if prefix.startswith(
                (
                    "params",
                    "rows_written",
                    "expected_load",
                    "injected.duplicate_inc",
                    "experiment.arms",
                    "metrics_hint.sms_by",
                    "metrics_hint.compl",
                    "dirty.quarantined_by_reason",
                    "dirty.duplicate_copies",
                )
            ):
                continue
            yield prefix + k
            if isinstance(v, dict):
                yield from keys(v, prefix + k + ".")

    missing = [
        k
        for k in keys({x: y for x, y in truth.items() if x != "run"})
        if f"`{k.split('.')[-1]}`" not in readme
    ]
    assert not missing


def test_lexorder_is_lexsort():
    """The simulator's packed-key sort gives exactly np.lexsort's order (ties in input order),
    including when the keys need more than 62 bits (the lexsort fallback) and for no rows."""
    import numpy as np

    from pipelines.simulator.tables import lexorder

    rng = np.random.default_rng(3)
    n = 50_000
    keys = (
        rng.integers(0, 4_000, n),  # last key primary, as np.lexsort
        rng.integers(-1, 12, n).astype(np.int16),
        rng.integers(0, 20, n).astype(np.int8),
        rng.integers(0, 300, n).astype(np.int32),  # few values: many ties on the others
    )
    assert (lexorder(keys) == np.lexsort(keys)).all()
    wide = (rng.integers(0, 2**40, n), rng.integers(0, 2**40, n))
    assert (lexorder(wide) == np.lexsort(wide)).all()
    assert lexorder((np.zeros(0, np.int64), np.zeros(0, np.int64))).shape == (0,)

"""Gateway receipts (shared spec sms-receipts.md) on hand-written files in every format.

The landing files are under tests/fixtures/receipts/landing; every expected value below is
worked out by hand from those files and the spec's rules (the comments give the reasoning).

The log (sms_logs, Beijing time):
  100^0  u1 T_DUE b1 23:50 on 11-25, pending, out_id o-a       (aliyun)
  200^0  u2 T_DUE b2 10:00 on 11-25, delivered, out_id o-q     (aliyun)
  300^0  u3 T_MKT    12:00 on 11-25, pending, out_id o-p       (aliyun)
  400^0  u7 T_DUE b7 15:00 on 11-25, delivered, out_id o-n     (aliyun; no receipt)
  2433:001 u4 T_DUE b4 23:59 on 11-25, delivered, out_id o-t   (tencent)
  2433:002 u5 T_DUE b5 08:00 on 11-26, pending                 (tencent)
  SM1    u6 T_DUE b6 09:00 on 11-26, pending                   (twilio)
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_ingest import assert_no_raw_phone_numbers

from pipelines.ingest.receipts.formats import recognise
from pipelines.ingest.warehouse import connect
from pipelines.marts import build_marts
from tests.fixtures.ingest.helpers import ledger, load, put, query, table_snapshot

FIXTURE = Path(__file__).parents[1] / "fixtures" / "receipts" / "landing"
SOURCES = ("sms_logs", "sms_receipts")
R = "sms_receipts/dt=2026-11-2"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def u(day: int, *hms: int) -> datetime:
    """A naive UTC time on 2026-11-<day> (what timezone('UTC', ts) gives)."""
    return datetime(2026, 11, day, *hms)


@pytest.fixture
def landing(_isolated_data_dir):
    p = _isolated_data_dir / "landing"
    shutil.copytree(FIXTURE, p)
    return p


@pytest.fixture
def wh(_isolated_data_dir):
    return _isolated_data_dir / "warehouse.duckdb"


def _build(wh: Path) -> None:
    con = connect(wh)
    try:
        build_marts(con)
    finally:
        con.close()


@pytest.fixture
def built(wh, landing):
    load(wh, landing, sources=SOURCES)
    _build(wh)
    return wh


# --- recognition -----------------------------------------------------------------------------


def test_recognise_by_field_names_only():
    assert recognise("json", {"biz_id", "success", "report_time"}).name == "aliyun_sms_report"
    assert recognise("json", {"Code", "SmsSendDetailDTOs"}).name == "aliyun_query_send_details"
    assert recognise("json", {"Response"}).name == "tencent_pull_status"
    assert recognise("json", {"sid", "report_status", "mobile"}).name == "tencent_callback"
    assert recognise("json", {"messages", "page"}).name == "twilio_json"
    assert recognise("json", {"sid", "status", "date_sent"}).name == "twilio_json"
    assert recognise("csv", {"sid", "to", "status", "sentdate"}).name == "twilio_csv"
    assert recognise("json", {"message_id", "user_id"}) is None
    assert recognise("csv", {"biz_id", "success"}) is None  # Aliyun receipts are JSON


# --- loading ---------------------------------------------------------------------------------


def test_every_format_loads_and_reconciles_per_file(built):
    led = ledger(built, "sms_receipts")
    got = {
        p.split("/", 1)[1]: (r["format"], r["rows_read"], r["rows_loaded"], r["rows_quarantined"])
        for p, r in led.items()
    }
    assert got == {
        # 5 records: 102^0 has success "maybe" (bad_status), 103^0 report_time "yesterday"
        "dt=2026-11-26/aliyun_report.jsonl": ("aliyun_sms_report", 5, 3, 2),
        "dt=2026-11-26/aliyun_query.json": ("aliyun_query_send_details", 3, 3, 0),
        "dt=2026-11-26/tencent_pull.json": ("tencent_pull_status", 1, 1, 0),
        "dt=2026-11-26/twilio_page.json": ("twilio_json", 1, 1, 0),
        "dt=2026-11-27/tencent_callback.json": ("tencent_callback", 2, 2, 0),
        "dt=2026-11-27/twilio_export.csv": ("twilio_csv", 2, 2, 0),
        # no known format: the file fails (its extension is what the ledger can say)
        "dt=2026-11-27/mystery.json": ("json", 0, 0, 0),
    }
    for r in led.values():
        assert r["rows_read"] == r["rows_loaded"] + r["rows_quarantined"] + r["rows_superseded"]
    mystery = led[f"{R}7/mystery.json"]
    assert mystery["status"] == "failed"
    assert mystery["error"].startswith("not a known gateway receipt format")
    assert "fields found: bar, foo" in mystery["error"]
    assert query(
        built,
        "select row_number, reason_code from ingest.quarantine where source = 'sms_receipts' "
        "order by row_number",
    ) == [(4, "bad_status"), (5, "bad_timestamp")]
    # the phone fields are reported as dropped and stored nowhere
    assert "phone_number" in led[f"{R}6/aliyun_report.jsonl"]["dropped_columns"]
    assert "To" in led[f"{R}7/twilio_export.csv"]["dropped_columns"]
    assert_no_raw_phone_numbers(built)


def test_times_status_and_codes(built):
    rows = query(
        built,
        "select receipt_format, coalesce(gateway_id, out_id), status, err_code, "
        "timezone('UTC', sent_at), timezone('UTC', reported_at), segments "
        "from core.sms_receipts order by receipt_format, reported_at nulls first",
    )
    assert rows == [
        # Beijing-time text: 10:00:01 +08 = 02:00:01 UTC; SendStatus 3 / 2 / 1
        ("aliyun_query_send_details", "o-p", "pending", None, u(25, 4, 0, 2), None, None),
        (
            "aliyun_query_send_details",
            "o-q",
            "delivered",
            "DELIVRD",
            u(25, 2, 0, 1),
            u(25, 2, 0, 30),
            None,
        ),
        (
            "aliyun_query_send_details",
            "o-q",
            "failed",
            "UNDELIV",
            u(25, 2, 3),
            u(25, 2, 3, 40),
            None,
        ),
        # 999^9 reported 20:00:05 on 11-25; 100^0 at 00:02 local on 11-26 = 16:02 UTC on 11-25
        ("aliyun_sms_report", "999^9", "delivered", "DELIVRD", u(25, 12), u(25, 12, 0, 5), 1),
        ("aliyun_sms_report", "100^0", "delivered", "DELIVRD", u(25, 15, 50, 1), u(25, 16, 2), 2),
        ("aliyun_sms_report", "101^0", "failed", "MK:0001", u(25, 15, 55), u(25, 16, 5), 2),
        # callback text 07:59 / 08:00:20 Beijing
        ("tencent_callback", "2433:002", "failed", "MN:0001", None, u(25, 23, 59), None),
        ("tencent_callback", "2433:002", "delivered", "DELIVRD", None, u(26, 0, 0, 20), None),
        # UNIX seconds 1795622430 = 2026-11-25 16:00:30 UTC = 00:00:30 on 11-26 in Beijing
        ("tencent_pull_status", "2433:001", "failed", "UNDELIV", None, u(25, 16, 0, 30), None),
        # RFC 2822 in GMT; 'sent' is pending, 'delivered' delivered
        ("twilio_csv", "SM2", "delivered", None, u(26, 0, 10), u(26, 0, 10), 1),
        ("twilio_csv", "SM1", "pending", None, u(26, 1, 5), u(26, 1, 5), 1),
        ("twilio_json", "SM1", "delivered", None, u(26, 1), u(26, 1), 1),
    ]


# --- matching and the messages ---------------------------------------------------------------


def test_matching(built):
    rows = query(
        built,
        "select receipt_format, coalesce(gateway_id, out_id), status, matched_by, "
        "log_message_id, case when message_id like 'gw-%' then 'gw-' else message_id end, "
        "is_new_send from core.sms_receipt_matches order by receipt_format, reported_at",
    )
    assert rows == [
        # QuerySendDetails has no gateway id: o-q's two send times are two sends; 10:00:01 is
        # closest to 200^0's 10:00:00, so it is 200^0; 10:03:00 is a send the log does not know
        ("aliyun_query_send_details", "o-q", "delivered", "out_id", "200^0", "200^0", False),
        ("aliyun_query_send_details", "o-q", "failed", "out_id", "200^0", "gw-", True),
        ("aliyun_query_send_details", "o-p", "pending", "out_id", "300^0", "300^0", False),
        # 999^9: no log row has that id, and it has no caller's id: unmatched, kept
        ("aliyun_sms_report", "999^9", "delivered", "none", None, None, False),
        ("aliyun_sms_report", "100^0", "delivered", "gateway_id", "100^0", "100^0", False),
        # a retry sharing the caller's id o-a with an unknown gateway id: a new send 101^0
        ("aliyun_sms_report", "101^0", "failed", "out_id", "100^0", "101^0", True),
        ("tencent_callback", "2433:002", "failed", "gateway_id", "2433:002", "2433:002", False),
        ("tencent_callback", "2433:002", "delivered", "gateway_id", "2433:002", "2433:002", False),
        ("tencent_pull_status", "2433:001", "failed", "gateway_id", "2433:001", "2433:001", False),
        ("twilio_csv", "SM2", "delivered", "none", None, None, False),
        ("twilio_csv", "SM1", "pending", "gateway_id", "SM1", "SM1", False),
        ("twilio_json", "SM1", "delivered", "gateway_id", "SM1", "SM1", False),
    ]


def test_messages_as_the_gateway_saw_them(built):
    rows = query(
        built,
        "select case when message_id like 'gw-%' then 'gw-' else message_id end, user_id, "
        "template_code, bill_id, timezone('UTC', sent_at), delivery_status, "
        "timezone('UTC', delivered_at), provider, err_code, segments, origin, retry_of, receipts "
        "from core.sms_messages order by sent_at, message_id",
    )
    assert rows == [
        # 200^0: its 10:00:30 receipt; the log's 10:00:20 is replaced
        (
            "200^0",
            "u2",
            "T_DUE",
            "b2",
            u(25, 2),
            "delivered",
            u(25, 2, 0, 30),
            "aliyun",
            "DELIVRD",
            1,
            "log",
            None,
            1,
        ),
        # the second o-q send, at its SendDate 10:03, failed; the log row's user, template, bill
        (
            "gw-",
            "u2",
            "T_DUE",
            "b2",
            u(25, 2, 3),
            "failed",
            None,
            "aliyun",
            "UNDELIV",
            1,
            "gateway",
            "200^0",
            1,
        ),
        # pending receipt on a pending log row: still pending, the receipt's empty code
        (
            "300^0",
            "u3",
            "T_MKT",
            None,
            u(25, 4),
            "pending",
            None,
            "aliyun",
            None,
            1,
            "log",
            None,
            1,
        ),
        # no receipt: exactly what the log says
        (
            "400^0",
            "u7",
            "T_DUE",
            "b7",
            u(25, 7),
            "delivered",
            u(25, 7, 0, 10),
            "aliyun",
            "DELIVRD",
            1,
            "log",
            None,
            0,
        ),
        # logged pending at 23:50, delivered after local midnight (00:02 on 11-26)
        (
            "100^0",
            "u1",
            "T_DUE",
            "b1",
            u(25, 15, 50),
            "delivered",
            u(25, 16, 2),
            "aliyun",
            "DELIVRD",
            1,
            "log",
            None,
            1,
        ),
        # the gateway's retry: sent at its send_time 23:55, failed, billed 2 segments
        (
            "101^0",
            "u1",
            "T_DUE",
            "b1",
            u(25, 15, 55),
            "failed",
            None,
            "aliyun",
            "MK:0001",
            2,
            "gateway",
            "100^0",
            1,
        ),
        # logged delivered, the gateway says it failed
        (
            "2433:001",
            "u4",
            "T_DUE",
            "b4",
            u(25, 15, 59),
            "failed",
            None,
            "tencent",
            "UNDELIV",
            1,
            "log",
            None,
            1,
        ),
        # failed at 07:59, delivered at 08:00:20: the latest wins
        (
            "2433:002",
            "u5",
            "T_DUE",
            "b5",
            u(26, 0),
            "delivered",
            u(26, 0, 0, 20),
            "tencent",
            "DELIVRD",
            1,
            "log",
            None,
            2,
        ),
        # delivered at 01:00 UTC, then a 'sent' (pending) receipt at 01:05: pending never
        # replaces delivered
        (
            "SM1",
            "u6",
            "T_DUE",
            "b6",
            u(26, 1),
            "delivered",
            u(26, 1),
            "twilio",
            None,
            1,
            "log",
            None,
            2,
        ),
    ]


def test_flags_and_metrics_count_the_gateway_sends(built):
    rows = query(
        built,
        "select case when message_id like 'gw-%' then 'gw-' else message_id end, "
        "cast(local_date as varchar), delivery_status, is_duplicate, origin "
        "from mart.sms_message_flags order by sent_at",
    )
    assert rows == [
        ("200^0", "2026-11-25", "delivered", False, "log"),
        # 3 minutes after 200^0, same user, template and bill: a duplicate
        ("gw-", "2026-11-25", "failed", True, "gateway"),
        ("300^0", "2026-11-25", "pending", False, "log"),
        ("400^0", "2026-11-25", "delivered", False, "log"),
        ("100^0", "2026-11-25", "delivered", False, "log"),
        # 5 minutes after 100^0 (same user, template, bill): a duplicate
        ("101^0", "2026-11-25", "failed", True, "gateway"),
        ("2433:001", "2026-11-25", "failed", False, "log"),
        ("2433:002", "2026-11-26", "delivered", False, "log"),
        ("SM1", "2026-11-26", "delivered", False, "log"),
    ]
    # 9 messages: the 7 of the log and the 2 only the gateways knew
    sent = query(
        built,
        "select cast(period as varchar), value from mart.metrics "
        "where metric = 'sms_sent' and segment = 'all' and grain = 'day' order by period",
    )
    assert sent == [("2026-11-25", 7.0), ("2026-11-26", 2.0)]


def test_reconciliation(built):
    rows = query(built, "select * from mart.sms_gateway_reconciliation order by all")
    assert rows == [
        # aliyun on 11-25: log 100^0 200^0 300^0 400^0; receipts 100^0, 101^0, three
        # QuerySendDetails records and the unmatched 999^9 (sent 20:00 on 11-25) = 6, 5 matched;
        # 400^0 has none; 101^0 and the second o-q send are new, both duplicates; log segments
        # 4 x 1; the SmsReports bill 2 for 100^0 and 2 for 101^0 (QuerySendDetails bills none)
        (utc(2026, 11, 25).date(), "aliyun", 4, 6, 5, 1, 3, 1, 2, 2, 0, 4, 4, 2),
        # 2433:001: logged delivered, the receipt says failed
        (utc(2026, 11, 25).date(), "tencent", 1, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0),
        (utc(2026, 11, 26).date(), "tencent", 1, 2, 2, 0, 1, 0, 0, 0, 0, 1, 0, 0),
        # SM1's two receipts, and SM2 (sent 08:10 on 11-26 Beijing) matching nothing
        (utc(2026, 11, 26).date(), "twilio", 1, 3, 2, 1, 1, 0, 0, 0, 0, 1, 1, 1),
    ]


# --- re-delivery, removal, incremental -------------------------------------------------------


def test_redelivered_files_change_nothing_and_removed_ones_are_withdrawn(wh, landing):
    load(wh, landing, sources=SOURCES)
    _build(wh)
    before = table_snapshot(wh)
    # the same content again, under another name in a later export: every receipt is a
    # copy of a known one (same content, same id): superseded, not counted twice
    src = landing / "sms_receipts" / "dt=2026-11-26" / "aliyun_report.jsonl"
    again = landing / "sms_receipts" / "dt=2026-11-28" / "resent.jsonl"
    again.parent.mkdir()
    again.write_bytes(src.read_bytes())
    load(wh, landing, run_id="run-2", sources=SOURCES)
    _build(wh)
    led = ledger(wh, "sms_receipts")
    assert (
        led[f"{R}8/resent.jsonl"]["rows_loaded"],
        led[f"{R}8/resent.jsonl"]["rows_superseded"],
    ) == (3, 0)
    assert led[f"{R}6/aliyun_report.jsonl"]["rows_superseded"] == 3
    after = table_snapshot(wh)
    assert after["core.sms_logs"] == before["core.sms_logs"]
    # the messages are the same; only a gateway send's lineage (_dt, _file, _row) now names
    # the winning copy of its receipt
    assert [r[:-3] for r in after["core.sms_messages"]] == [
        r[:-3] for r in before["core.sms_messages"]
    ]
    assert query(wh, "select count(*) from core.sms_receipts") == [(12,)]
    # removing the copy restores the original state; removing the Twilio page withdraws SM1's
    # delivered receipt: only the pending one is left, and the message is pending again
    again.unlink()
    (landing / "sms_receipts" / "dt=2026-11-26" / "twilio_page.json").unlink()
    load(wh, landing, run_id="run-3", sources=SOURCES)
    _build(wh)
    assert query(
        wh,
        "select delivery_status, delivered_at, receipts from core.sms_messages "
        "where message_id = 'SM1'",
    ) == [("pending", None, 1)]
    assert query(wh, "select count(*) from core.sms_receipts") == [(11,)]
    assert f"{R}6/twilio_page.json" not in ledger(wh, "sms_receipts")


def test_a_new_receipts_file_updates_only_its_messages(wh, landing):
    # history: one message a day on 11-01 .. 11-10, so two dates are a small scope
    history = landing / "sms_logs" / "dt=2026-11-10" / "history.csv"
    history.parent.mkdir()
    history.write_text(
        "message_id,user_id,template_code,purpose,sent_at,delivery_status\n"
        + "".join(
            f"h{d},u9,T_MKT,marketing,2026-11-{d:02d} 12:00:00,delivered\n" for d in range(1, 11)
        )
    )
    # first the log and the 11-26 exports; then the 11-27 exports arrive
    late = landing.parent / "late"
    shutil.move(landing / "sms_receipts" / "dt=2026-11-27", late)
    load(wh, landing, sources=SOURCES)
    _build(wh)
    assert query(
        wh, "select delivery_status from mart.sms_message_flags where message_id = '2433:002'"
    ) == [("pending",)]
    shutil.move(late, landing / "sms_receipts" / "dt=2026-11-27")
    load(wh, landing, run_id="run-2", sources=SOURCES)
    from pipelines.marts import run_build

    con = connect(wh)
    try:
        plan = run_build(con)
    finally:
        con.close()
    # only 2433:002 changed (SM1 stays delivered, SM2 matches nothing): its local date 11-26
    # and the day after it that the duplicate window reaches
    assert not plan.flags.full
    assert plan.flags.scope_dates == 2
    assert query(
        wh, "select delivery_status from mart.sms_message_flags where message_id = '2433:002'"
    ) == [("delivered",)]
    # the messages were updated in place; a full rebuild (state forgotten) gives the same
    incremental = table_snapshot(wh)
    con = connect(wh)
    try:
        con.execute("drop table mart_build.overlay_log_days")
        full = run_build(con, incremental=False)
    finally:
        con.close()
    assert full.flags.full
    rebuilt = table_snapshot(wh)
    for table in ("core.sms_messages", "core.sms_receipt_matches"):
        assert rebuilt[table] == incremental[table], table


def test_an_id_less_record_at_a_known_send_time_is_that_send(wh, _isolated_data_dir):
    """A QuerySendDetails record (no gateway id) sent at the very time of a retry known from
    an SmsReport is that retry's receipt, not the log row's (it is the only id-less send of
    the caller's id, so the closest-send rule alone would make it the row)."""
    landing = _isolated_data_dir / "landing"
    put(
        landing, "sms_logs", "2026-11-25", "logs.csv",
        "message_id,user_id,template_code,purpose,bill_id,sent_at,delivery_status,out_id\n"
        "500^0,u1,T_DUE,due_reminder,b1,2026-11-25 09:00:00,delivered,o-x\n",
    )  # fmt: skip
    put(
        landing, "sms_receipts", "2026-11-25", "report.jsonl",
        '{"biz_id": "500^0", "out_id": "o-x", "success": true, '
        '"send_time": "2026-11-25 09:00:00", "report_time": "2026-11-25 09:00:10"}\n'
        '{"biz_id": "501^0", "out_id": "o-x", "success": true, '
        '"send_time": "2026-11-25 09:04:00", "report_time": "2026-11-25 09:04:10"}\n',
    )  # fmt: skip
    put(
        landing, "sms_receipts", "2026-11-26", "query.json",
        '{"Code": "OK", "SmsSendDetailDTOs": {"SmsSendDetailDTO": [{"OutId": "o-x", '
        '"SendStatus": 2, "ErrCode": "UNDELIV", "SendDate": "2026-11-25 09:04:00", '
        '"ReceiveDate": "2026-11-25 09:05:00"}]}}',
    )  # fmt: skip
    load(wh, landing, sources=SOURCES)
    _build(wh)
    assert query(
        wh,
        "select message_id, origin, delivery_status, strftime(delivered_at, '%H:%M:%S'), "
        "receipts from core.sms_messages order by message_id",
    ) == [
        # the row keeps its own receipt: delivered at 09:00:10
        ("500^0", "log", "delivered", "09:00:10", 1),
        # the retry has both: the failed record (09:05) is later than the delivered (09:04:10)
        ("501^0", "gateway", "failed", None, 2),
    ]


# --- files read together ---------------------------------------------------------------------


def test_json_files_read_together_keep_their_own_rows_and_errors(wh, _isolated_data_dir):
    """JSON receipts are read many files per statement; a broken file among them fails alone,
    and every file keeps its own record numbering, format, dropped fields and error."""
    landing = _isolated_data_dir / "landing"
    day = "2026-11-28"

    def cb(sid: str) -> str:
        return (
            f'{{"sid": "{sid}", "report_status": "SUCCESS", "errmsg": "DELIVRD", '
            f'"user_receive_time": "2026-11-28 10:00:00", "mobile": "13800000000"}}'
        )

    put(landing, "sms_receipts", day, "a_callback.json", f"[{cb('c1')}, {cb('c2')}]")
    # truncated: DuckDB cannot parse it
    put(landing, "sms_receipts", day, "b_broken.json", f'[{cb("x1")}, {{"sid": ')
    # two documents: an object, then an array holding a number between two records; the
    # number is a record without fields (row 3: no status, quarantined), rows count on
    put(landing, "sms_receipts", day, "c_multi.json", f"{cb('m1')}\n[{cb('m2')}, 7, {cb('m3')}]")
    put(
        landing,
        "sms_receipts",
        day,
        "d_error.json",
        '{"Code": "OK", "SmsSendDetailDTOs": {"SmsSendDetailDTO": []}}\n'
        '{"Code": "E1", "Message": "first"}\n{"Code": "E2", "Message": "second"}',
    )
    put(
        landing,
        "sms_receipts",
        day,
        "e_report.jsonl",
        '{"biz_id": "1^0", "success": true, "sms_size": "1", "extra": 1}\n'
        '{"biz_id": "2^0", "success": false, "sms_size": "2"}\n',
    )
    load(wh, landing, sources=("sms_receipts",))
    led = ledger(wh, "sms_receipts")
    p = f"sms_receipts/dt={day}/"
    got = {
        k.removeprefix(p): (r["format"], r["status"], r["rows_read"], r["rows_quarantined"])
        for k, r in led.items()
    }
    assert got == {
        "a_callback.json": ("tencent_callback", "loaded", 2, 0),
        "b_broken.json": ("json", "failed", 0, 0),
        "c_multi.json": ("tencent_callback", "loaded", 4, 1),
        "d_error.json": ("json", "failed", 0, 0),
        "e_report.jsonl": ("aliyun_sms_report", "loaded", 2, 0),
    }
    assert "Malformed JSON" in led[p + "b_broken.json"]["error"]
    # the first record that reports an error names it
    assert led[p + "d_error.json"]["error"] == "the gateway's response is an error: E1: first"
    assert led[p + "a_callback.json"]["dropped_columns"] == ["mobile"]
    assert led[p + "e_report.jsonl"]["dropped_columns"] == ["extra"]
    assert query(
        wh,
        "select _file, _row, gateway_id, status from staging.sms_receipts order by _file, _row",
    ) == [
        (p + "a_callback.json", 1, "c1", "delivered"),
        (p + "a_callback.json", 2, "c2", "delivered"),
        (p + "c_multi.json", 1, "m1", "delivered"),
        (p + "c_multi.json", 2, "m2", "delivered"),
        (p + "c_multi.json", 4, "m3", "delivered"),
        (p + "e_report.jsonl", 1, "1^0", "delivered"),
        (p + "e_report.jsonl", 2, "2^0", "failed"),
    ]
    assert query(
        wh, "select path, row_number, reason_code from ingest.quarantine order by all"
    ) == [(p + "c_multi.json", 3, "missing_required")]


def test_record_numbers_follow_each_file_at_scale(tmp_path):
    """A record's number is its offset in its file's run of rowids (the reader relies on
    order-preserving inserts, not a sort). Files large enough for DuckDB to split them over
    row groups and threads, several documents per file and several formats in one chunk:
    every record must keep the number its position in the file gives (written into its id)."""
    import duckdb

    from pipelines.ingest import files as landing_files
    from pipelines.ingest.readers import FileRead
    from pipelines.ingest.receipts import reader
    from pipelines.ingest.warehouse import configure

    landing = tmp_path / "landing"
    n_report, n_pull, n_extra, n_callback = 200_000, 150_000, 7, 130_000

    def report(i: int) -> str:
        return f'{{"biz_id": "A-{i}", "success": true, "report_time": "2026-11-28 10:00:00"}}'

    def pull(i: int) -> str:
        return f'{{"SerialNo": "B-{i}", "ReportStatus": "SUCCESS", "SessionContext": "o{i}"}}'

    def callback(i: int) -> str:
        return f'{{"sid": "C-{i}", "report_status": "FAIL", "errmsg": "E"}}'

    def envelope(lo: int, hi: int) -> str:
        items = ",\n".join(pull(i) for i in range(lo, hi))
        return f'{{"Response": {{"PullSmsSendStatusSet": [{items}], "RequestId": "r"}}}}'

    day = "2026-11-28"
    put(landing, "sms_receipts", day, "a.jsonl", "\n".join(report(i) for i in range(n_report)))
    # two documents: the second one's records go on counting after the first one's
    put(
        landing,
        "sms_receipts",
        day,
        "b.json",
        envelope(0, n_pull) + "\n" + envelope(n_pull, n_pull + n_extra),
    )
    put(
        landing,
        "sms_receipts",
        day,
        "c.json",
        "[" + ",\n".join(callback(i) for i in range(n_callback)) + "]",
    )
    found = landing_files.scan(landing, ("sms_receipts",))
    reads = [FileRead(f, "utf-8", "x") for f in found.files]
    con = duckdb.connect()
    configure(con)
    con.execute("set threads = 4")
    formats = reader.read_files(con, reads, tmp_path)
    assert sorted(formats.values()) == [
        "aliyun_sms_report",
        "tencent_callback",
        "tencent_pull_status",
    ]
    got = con.execute(
        """select _file, count(*),
            count(*) filter (where _row <> cast(split_part(gateway_id, '-', 2) as bigint) + 1)
        from raw group by _file order by _file"""
    ).fetchall()
    p = f"sms_receipts/dt={day}/"
    assert got == [
        (p + "a.jsonl", n_report, 0),
        (p + "b.json", n_pull + n_extra, 0),
        (p + "c.json", n_callback, 0),
    ]


# R by its definition (pipelines.ingest.receipts.overlay._update), each level looked up in
# full: the production query skips the second lookups of what the first level covered
PLAIN_SCOPE = """
with first as (
    select receipt_id, gateway_id, out_id from _ov_changed_receipts
    union select receipt_id, gateway_id, out_id from core.sms_receipts
        where gateway_id in (select message_id from _ov_changed_logs)
    union select receipt_id, gateway_id, out_id from core.sms_receipts
        where out_id in (select out_id from _ov_changed_logs)
    union select receipt_id, gateway_id, out_id from core.sms_receipt_matches
        where log_message_id in (select message_id from _ov_changed_logs)
),
touched as (
    select message_id, out_id from core.sms_logs
        where message_id in (select gateway_id from first)
        or out_id in (select out_id from first)
        or message_id in (
            select log_message_id from core.sms_receipt_matches
            where receipt_id in (select receipt_id from first)
        )
    union select message_id, out_id from _ov_changed_logs
)
select receipt_id from first
union select receipt_id from core.sms_receipts
    where out_id in (select out_id from first union select out_id from touched)
    or gateway_id in (select message_id from touched)
union select receipt_id from core.sms_receipt_matches
    where log_message_id in (select message_id from touched)
"""


def test_the_overlay_scope_is_its_definition(built):
    """For every changed log row and every changed receipt alone, every pair of log rows and
    every pair of a log row and a receipt: the receipts whose match the overlay recomputes."""
    from itertools import combinations, product

    from pipelines.ingest.receipts.overlay import SCOPE_SQL

    con = connect(built)
    try:

        def ids(sql: str) -> list[str]:
            return [r[0] for r in con.execute(sql).fetchall()]

        logs = ids("select message_id from core.sms_logs")
        receipts = ids("select receipt_id from core.sms_receipts")
        cases = [(lg, ()) for lg in combinations(logs, 1)] + [((), (r,)) for r in receipts]
        cases += [(lg, ()) for lg in combinations(logs, 2)]
        cases += [((lg,), (r,)) for lg, r in product(logs, receipts)]
        sizes = set()
        for changed_logs, changed_receipts in cases:
            con.execute(
                "create or replace temp table _ov_changed_logs as select message_id, out_id "
                "from core.sms_logs where list_contains($ids, message_id)",
                {"ids": list(changed_logs)},
            )
            con.execute(
                "create or replace temp table _ov_changed_receipts as "
                "select receipt_id, gateway_id, out_id from core.sms_receipts "
                "where list_contains($ids, receipt_id)",
                {"ids": list(changed_receipts)},
            )
            con.execute(SCOPE_SQL)
            got = {r[0] for r in con.execute("select receipt_id from _ov_scope").fetchall()}
            want = {r[0] for r in con.execute(PLAIN_SCOPE).fetchall()}
            assert got == want, (changed_logs, changed_receipts)
            sizes.add(len(want))
        # A receipt that names no log row and matched none, sharing only a caller's id with a
        # changed receipt: the second level's lookup by caller's id is the one way to it (on
        # the files above, every receipt sharing a caller's id is also reached another way).
        # Receipt 'orphan' with out_id o-a (the log row 100^0's) and gateway id 'nowhere'; the
        # changed receipt is one of 100^0's own (o-a as well).
        con.execute("begin transaction")
        con.execute(
            "insert into core.sms_receipts by name "
            "select * replace ('orphan' as receipt_id, 'nowhere' as gateway_id) "
            "from core.sms_receipts where out_id = 'o-a' limit 1"
        )
        con.execute(
            "create or replace temp table _ov_changed_receipts as "
            "select receipt_id, gateway_id, out_id from core.sms_receipts "
            "where out_id = 'o-a' and receipt_id <> 'orphan' limit 1"
        )
        con.execute(
            "create or replace temp table _ov_changed_logs as "
            "select message_id, out_id from core.sms_logs limit 0"
        )
        con.execute(SCOPE_SQL)
        got = {r[0] for r in con.execute("select receipt_id from _ov_scope").fetchall()}
        want = {r[0] for r in con.execute(PLAIN_SCOPE).fetchall()}
        con.execute("rollback")
    finally:
        con.close()
    assert "orphan" in want and got == want
    assert len(logs) == 7 and len(receipts) > 10
    assert len(sizes) > 3  # scopes of many sizes, not one trivial answer


def test_published_receipts_are_the_receipt_columns_of_the_matches(built, tmp_path):
    """Publish gives readers core.sms_receipts as a view over the published matches (every
    receipt with all its columns) while the matches are current, and as its own table when a
    receipts change has not been through a build yet. Readers see the same rows either way."""
    from pipelines.ingest import changes
    from pipelines.serve.publish import publish
    from pipelines.serve.segments import open_published

    serve = tmp_path / "serve.duckdb"
    rows_sql = "select * from core.sms_receipts order by receipt_id"

    def published() -> tuple[list, bool, list]:
        pub = open_published(serve)
        try:
            is_view = pub.execute(
                "select count(*) > 0 from duckdb_views() "
                "where schema_name = 'core' and view_name = 'sms_receipts'"
            ).fetchone()[0]
            copies = pub.execute(
                "select database_name from duckdb_tables() "
                "where table_name in ('sms_receipts', 'core__sms_receipts')"
            ).fetchall()
            return pub.execute(rows_sql).fetchall(), is_view, copies
        finally:
            pub.close()

    con = connect(built)
    try:
        want = con.execute(rows_sql).fetchall()
        publish(con, serve, "r1")
        rows, is_view, copies = published()
        assert rows == want and len(want) > 10
        assert is_view and copies == []  # no second copy of the receipts anywhere
        # a receipts change the build has not read: the matches may be behind
        changes.record(con, "core.sms_receipts", "select date '2026-11-26'")
        publish(con, serve, "r2")
        rows, is_view, copies = published()
        assert rows == want
        assert copies  # the receipts' own rows, in the segments
    finally:
        con.close()

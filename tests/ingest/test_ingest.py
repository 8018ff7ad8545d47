"""Loading rules on hand-written landing files; every expected number is worked out by hand
in the comments next to the data."""

from __future__ import annotations

import os

import duckdb
import pytest

from pipelines.contract import REASON_CODES, SOURCES
from pipelines.ingest import files
from pipelines.ingest.mask import mask_sql, mask_text
from pipelines.ingest.validate import TYPE_REASON
from tests.fixtures.ingest.helpers import ledger, load, put, put_parquet, query, table_snapshot

USERS_HEADER = "user_id,opened_at,credit_limit,score_band,marketing_consent,province,updated_at\n"


@pytest.fixture
def wh(_isolated_data_dir):
    return _isolated_data_dir / "warehouse.duckdb"


@pytest.fixture
def landing(_isolated_data_dir):
    p = _isolated_data_dir / "landing"
    p.mkdir()
    return p


# --- pure functions ------------------------------------------------------------------------


def test_mask_text():
    assert mask_text("call 13812345678 now") == "call 138****5678 now"
    assert mask_text("13812345678,13912345678") == "138****5678,139****5678"
    assert mask_text("+86 139-1234-5678") == "+86 139****5678"
    # not a mobile number: part of a longer run of digits, or starting 12
    assert mask_text("order 2024013812345678") == "order 2024013812345678"
    assert mask_text("12812345678") == "12812345678"


# Each spelling reaches the replacement through one branch of mask_sql's cheap test: a
# full-width 1 (found by search), or an ASCII 1 followed by an ASCII or full-width 3-9.
@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call 13812345678 now", "call 138****5678 now"),
        ("１３８１２３４５６７８", "１３８****５６７８"),
        ("1３８12345678", "1３８****5678"),  # ASCII 1, full-width 3 and 8
        ("１3812345678", "１38****5678"),  # full-width 1, ASCII 38
        ("13812345678,13912345678", "138****5678,139****5678"),
        ("分12期 15元 2025-01-13", "分12期 15元 2025-01-13"),  # passes the cheap test, no number
        ("order 2024013812345678", "order 2024013812345678"),
        ("12812345678", "12812345678"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_sql_masks_what_mask_text_masks(text, masked):
    con = duckdb.connect()
    assert con.execute(f"select {mask_sql('$t::varchar')}", {"t": text}).fetchone()[0] == masked
    assert mask_text(text) == masked


def test_encoding_detection(tmp_path):
    def fp(name, data):
        p = tmp_path / "users" / "dt=2025-03-01" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        f = files.scan(tmp_path).files[-1]
        assert f.path.endswith(name)
        encoding = files.fingerprint(f).encoding
        p.unlink()
        return encoding

    text = "user_id,province\nu1,浙江\n"
    assert fp("a.csv", text.encode("utf-8")) == "utf-8"
    assert fp("b.csv", b"\xef\xbb\xbf" + text.encode("utf-8")) == "utf-8-sig"
    assert fp("c.csv", text.encode("gb18030")) == "gb18030"
    assert fp("d.csv", b"\x00\xff\xfe\xff garbage \x80") is None


# --- formats and encodings -----------------------------------------------------------------


def test_every_format_and_encoding_loads(wh, landing):
    dt = "2025-03-01"
    put(
        landing,
        "users",
        dt,
        "a.csv",
        USERS_HEADER
        + "u1,2025-01-05 09:00:00,5000.00,a,true,浙江,\n"
        + "u2,2025-01-06 10:00:00,3000,B,1,广东,2025-02-01T08:00:00+08:00\n",
    )
    put(
        landing,
        "users",
        dt,
        "b.csv",
        "\ufeff" + USERS_HEADER + "u3,2025-01-07 10:00:00,1,c,no,上海,\n",
    )
    put(
        landing,
        "users",
        dt,
        "c.csv",
        USERS_HEADER + "u4,2025-01-08 10:00:00,2,d,否,北京,\n",
        encoding="gb18030",
    )
    put(landing, "users", dt, "d.csv.gz", USERS_HEADER + "u5,2025-01-09 10:00:00,3,e,y,,\n")
    put(
        landing,
        "users",
        dt,
        "g.csv.gz",
        USERS_HEADER + "u8,2025-01-10 10:00:00,4,a,t,广东,\n",
        encoding="gb18030",
    )
    # Parquet: a tz-aware timestamp (UTC midnight = 08:00 Shanghai), a naive one (Shanghai)
    put_parquet(
        landing,
        "users",
        dt,
        "e.parquet",
        """
        select 'u6' as user_id,
               timestamptz '2025-01-01 00:00:00+00' as opened_at,
               100.50::decimal(18,2) as credit_limit, 'c' as score_band,
               true as marketing_consent, '江苏' as province,
               timestamp '2025-02-01 12:00:00' as updated_at""",
    )
    put(
        landing,
        "users",
        dt,
        "f.jsonl",
        '{"user_id": "u7", "opened_at": "2025-01-02 03:04:05", "credit_limit": 2000, '
        '"score_band": "E", "marketing_consent": false, "province": null}\n',
    )
    load(wh, landing)

    rows = query(
        wh,
        """select user_id, strftime(opened_at, '%Y-%m-%d %H:%M:%S'), credit_limit::varchar,
        score_band, marketing_consent, province, strftime(updated_at, '%Y-%m-%d %H:%M:%S')
        from core.users order by user_id""",
    )
    assert rows == [
        ("u1", "2025-01-05 09:00:00", "5000.00", "A", True, "浙江", None),
        ("u2", "2025-01-06 10:00:00", "3000.00", "B", True, "广东", "2025-02-01 08:00:00"),
        ("u3", "2025-01-07 10:00:00", "1.00", "C", False, "上海", None),
        ("u4", "2025-01-08 10:00:00", "2.00", "D", False, "北京", None),
        ("u5", "2025-01-09 10:00:00", "3.00", "E", True, None, None),
        ("u6", "2025-01-01 08:00:00", "100.50", "C", True, "江苏", "2025-02-01 12:00:00"),
        ("u7", "2025-01-02 03:04:05", "2000.00", "E", False, None, None),
        ("u8", "2025-01-10 10:00:00", "4.00", "A", True, "广东", None),
    ]
    led = ledger(wh)
    got = {
        p.rsplit("/", 1)[1]: (
            r["format"],
            r["encoding"],
            r["status"],
            r["rows_read"],
            r["rows_loaded"],
        )
        for p, r in led.items()
    }
    assert got == {
        "a.csv": ("csv", "utf-8", "loaded", 2, 2),
        "b.csv": ("csv", "utf-8-sig", "loaded", 1, 1),
        "c.csv": ("csv", "gb18030", "loaded", 1, 1),
        "d.csv.gz": ("csv.gz", "utf-8", "loaded", 1, 1),
        "e.parquet": ("parquet", None, "loaded", 1, 1),
        "f.jsonl": ("jsonl", "utf-8", "loaded", 1, 1),
        "g.csv.gz": ("csv.gz", "gb18030", "loaded", 1, 1),
    }
    assert all(r["dt"].isoformat() == dt and len(r["content_hash"]) == 64 for r in led.values())


def test_column_names_match_case_insensitively_in_any_order(wh, landing):
    put(
        landing,
        "bills",
        "2025-03-01",
        "b.csv",
        " AMOUNT_DUE ,Bill_ID,user_id,Cycle,statement_date,DUE_DATE,remark\n"
        "12.30,b1,u1,2025-02,2025-03-01,2025-03-20,hello\n",
    )
    load(wh, landing)
    assert query(wh, "select bill_id, amount_due::varchar, cycle from core.bills") == [
        ("b1", "12.30", "2025-02")
    ]
    assert ledger(wh)["bills/dt=2025-03-01/b.csv"]["dropped_columns"] == ["remark"]


# --- reject reasons ------------------------------------------------------------------------


def test_every_reject_reason(wh, landing):
    long_id = "x" * 65
    put(
        landing,
        "orders",
        "2025-03-01",
        "o.csv",
        "order_id,user_id,created_at,amount,payment_method,installments,channel,status\n"
        "o1,u1,2025-03-01 10:00:00,100.00,bnpl,1,live,paid\n"  # 1 ok
        "o2,,2025-03-01 10:00:00,100.00,bnpl,1,live,paid\n"  # 2 missing_required
        f"{long_id},u1,2025-03-01 10:00:00,1,card,1,,paid\n"  # 3 bad_id
        "o4,u1,2025-03-01 25:00:00,1,card,1,,paid\n"  # 4 bad_timestamp
        "o5,u1,2025-03-01 10:00:00,1.234,card,1,,paid\n"  # 5 bad_money
        "o6,u1,2025-03-01 10:00:00,1,card,one,,paid\n"  # 6 bad_int
        "o7,u1,2025-03-01 10:00:00,1,crypto,1,,paid\n"  # 7 bad_enum
        "o8,u1,2025-03-01 10:00:00,0,card,1,,paid\n"  # 8 out_of_range (> 0)
        "o9,u1,2025-03-01 10:00:00,5,card,3,,paid\n"  # 9 installments_not_one
        "o10,u1,2025-03-01 10:00:00,5,BNPL_INSTALLMENT,3, Live ,PAID\n"  # 10 ok
        "o11,u1,2025-03-01 10:00:00,,card,x,,paid\n"  # 11 missing before type
        "o12,u1,not a time,-5,card,1,,paid\n",
    )  # 12 type before range
    put(
        landing,
        "bills",
        "2025-03-01",
        "b.csv",
        "bill_id,user_id,cycle,statement_date,due_date,amount_due\n"
        "b1,u1,2025-02,2025-03-01,2025-03-20,100.00\n"  # 1 ok
        "b2,u1,2025-2,2025-03-01,2025-03-20,100.00\n"  # 2 bad_month
        "b3,u1,2025-02,2025/03/01,2025-03-20,100.00\n"  # 3 bad_date
        "b4,u1,2025-02,2025-03-01,2025-02-20,100.00\n"  # 4 due_before_statement
        "b5,u1,2025-02,2025-03-01,2025-03-20,-1\n"  # 5 out_of_range (>= 0)
        "b6,u1,2025-02,2025-03-01,2025-03-01,0\n",
    )  # 6 ok
    put(
        landing,
        "checkout_sessions",
        "2025-03-01",
        "s.csv",
        "session_id,user_id,started_at,bnpl_offered,status,payment_method,order_id\n"
        "s1,u1,2025-03-01 10:00:00,是,completed,bnpl,o1\n"  # 1 ok
        "s2,u1,2025-03-01 10:00:00,maybe,abandoned,,\n"  # 2 bad_bool
        "s3,u1,2025-03-01 10:00:00,N,completed,,\n"  # 3 payment_method_required
        "s4,u1,2025-03-01 10:00:00,no,abandoned,,\n",
    )  # 4 ok
    put(
        landing,
        "sms_preferences",
        "2025-03-01",
        "p.csv",
        "user_id,updated_at,marketing,reminders,max_per_day,quiet_start_hour,quiet_end_hour\n"
        "u1,2025-03-01 10:00:00,false,true,,22,7\n"  # 1 ok: a window wrapping midnight
        "u2,2025-03-01 10:00:00,true,true,,22,\n"  # 2 quiet_window_one_end (no end)
        "u3,2025-03-01 10:00:00,true,true,,,7\n"  # 3 quiet_window_one_end (no start)
        "u4,2025-03-01 10:00:00,true,true,,24,7\n"  # 4 out_of_range (start > 23)
        "u5,2025-03-01 10:00:00,true,true,,-1,7\n"  # 5 out_of_range (start < 0)
        "u6,2025-03-01 10:00:00,true,true,0,,\n"  # 6 out_of_range (max_per_day < 1)
        "u7,2025-03-01 10:00:00,true,false,2,0,23\n",
    )  # 7 ok
    load(wh, landing)

    got = query(
        wh,
        """select source, row_number, reason_code from ingest.quarantine
                       order by source, row_number""",
    )
    assert got == [
        ("bills", 2, "bad_month"),
        ("bills", 3, "bad_date"),
        ("bills", 4, "due_before_statement"),
        ("bills", 5, "out_of_range"),
        ("checkout_sessions", 2, "bad_bool"),
        ("checkout_sessions", 3, "payment_method_required"),
        ("orders", 2, "missing_required"),
        ("orders", 3, "bad_id"),
        ("orders", 4, "bad_timestamp"),
        ("orders", 5, "bad_money"),
        ("orders", 6, "bad_int"),
        ("orders", 7, "bad_enum"),
        ("orders", 8, "out_of_range"),
        ("orders", 9, "installments_not_one"),
        ("orders", 11, "missing_required"),
        ("orders", 12, "bad_timestamp"),
        ("sms_preferences", 2, "quiet_window_one_end"),
        ("sms_preferences", 3, "quiet_window_one_end"),
        ("sms_preferences", 4, "out_of_range"),
        ("sms_preferences", 5, "out_of_range"),
        ("sms_preferences", 6, "out_of_range"),
    ]
    # every value-level reason code is exercised (line-level: tests/ingest/test_ingest_hostile.py)
    value_codes = {"missing_required", "out_of_range", *TYPE_REASON.values()} | {
        code for s in SOURCES.values() for code, _ in s.row_rules
    }
    assert value_codes <= set(REASON_CODES)
    assert {r[2] for r in got} == value_codes
    assert query(
        wh,
        "select order_id, payment_method, installments, channel, status "
        "from core.orders order by order_id",
    ) == [
        ("o1", "bnpl", 1, "live", "paid"),
        ("o10", "bnpl_installment", 3, "live", "paid"),
    ]
    assert query(wh, "select bill_id from core.bills order by 1") == [("b1",), ("b6",)]
    assert query(wh, "select session_id, bnpl_offered from core.checkout_sessions order by 1") == [
        ("s1", True),
        ("s4", False),
    ]
    assert query(
        wh,
        "select user_id, marketing, reminders, max_per_day, quiet_start_hour, quiet_end_hour "
        "from core.sms_preferences order by 1",
    ) == [("u1", False, True, None, 22, 7), ("u7", True, False, 2, 0, 23)]
    msg = query(
        wh,
        "select message from ingest.quarantine where source = 'sms_preferences' and row_number = 4",
    )[0][0]
    assert msg.startswith("quiet_start_hour:") and "(got 24)" in msg
    o = ledger(wh)["orders/dt=2025-03-01/o.csv"]
    assert (o["rows_read"], o["rows_loaded"], o["rows_quarantined"], o["rows_superseded"]) == (
        12,
        2,
        10,
        0,
    )
    # the quarantined row keeps its raw text and says which field broke which rule
    raw, msg = query(
        wh,
        "select raw_row, message from ingest.quarantine where source = 'orders' and row_number = 5",
    )[0]
    assert '"amount":"1.234"' in raw.replace(" ", "") and msg.startswith("amount:")
    assert "1.234" in msg


# --- duplicates, re-delivery, removal ------------------------------------------------------

OPT_HEADER = "opt_out_id,user_id,received_at,channel,raw_text\n"


def _winners(wh):
    return query(wh, "select opt_out_id, raw_text, _file, _row from core.opt_outs order by 1")


def _counts(wh):
    return {
        p: (r["rows_read"], r["rows_loaded"], r["rows_quarantined"], r["rows_superseded"])
        for p, r in ledger(wh, "opt_outs").items()
    }


def test_duplicates_redelivery_and_removal(wh, landing):
    put(
        landing,
        "opt_outs",
        "2025-03-01",
        "a.csv",
        OPT_HEADER
        + "x1,u1,2025-03-01 09:00:00,app,A1\n"  # loses to row 3 (same file, later row)
        + "x2,u1,2025-03-01 09:00:00,app,A2\n"  # loses to b.csv (same dt, later path)
        + "x1,u1,2025-03-01 09:00:00,app,A3\n"  # loses to dt=2025-03-02
        + "x3,u1,bad,app,A4\n",
    )  # quarantined
    put(
        landing,
        "opt_outs",
        "2025-03-01",
        "b.csv",
        OPT_HEADER + "x2,u1,2025-03-01 10:00:00,app,B1\n",
    )
    put(
        landing,
        "opt_outs",
        "2025-03-02",
        "a.csv",
        OPT_HEADER
        + "x1,u1,2025-03-02 09:00:00,sms_reply,C1\n"
        + "x3,u1,2025-03-02 09:00:00,app,C2\n",
    )
    put(
        landing,
        "opt_outs",
        "2025-02-28",
        "z.csv",
        OPT_HEADER + "x2,u1,2025-02-28 09:00:00,app,Z1\n",
    )
    load(wh, landing, "run-1")
    assert _winners(wh) == [
        ("x1", "C1", "opt_outs/dt=2025-03-02/a.csv", 1),
        ("x2", "B1", "opt_outs/dt=2025-03-01/b.csv", 1),
        ("x3", "C2", "opt_outs/dt=2025-03-02/a.csv", 2),
    ]
    # read = loaded + quarantined + superseded, per file
    assert _counts(wh) == {
        "opt_outs/dt=2025-02-28/z.csv": (1, 0, 0, 1),
        "opt_outs/dt=2025-03-01/a.csv": (4, 0, 1, 3),
        "opt_outs/dt=2025-03-01/b.csv": (1, 1, 0, 0),
        "opt_outs/dt=2025-03-02/a.csv": (2, 2, 0, 0),
    }

    # running again without changes: identical tables, run ids included
    before = table_snapshot(wh, exclude_cols=())
    load(wh, landing, "run-2")
    assert table_snapshot(wh, exclude_cols=()) == before

    # an identical re-delivery (same bytes, new mtime) is a no-op
    p = landing / "opt_outs" / "dt=2025-03-01" / "b.csv"
    data = p.read_bytes()
    p.unlink()
    p.write_bytes(data)
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10**9))
    load(wh, landing, "run-3")
    assert table_snapshot(wh, exclude_cols=()) == before

    # a changed re-delivery replaces what the file contributed: x1 falls back to a.csv row 3
    put(
        landing,
        "opt_outs",
        "2025-03-02",
        "a.csv",
        OPT_HEADER + "x3,u1,2025-03-02 09:00:00,app,C3\n",
    )
    load(wh, landing, "run-4")
    assert _winners(wh) == [
        ("x1", "A3", "opt_outs/dt=2025-03-01/a.csv", 3),
        ("x2", "B1", "opt_outs/dt=2025-03-01/b.csv", 1),
        ("x3", "C3", "opt_outs/dt=2025-03-02/a.csv", 1),
    ]
    assert _counts(wh) == {
        "opt_outs/dt=2025-02-28/z.csv": (1, 0, 0, 1),
        "opt_outs/dt=2025-03-01/a.csv": (4, 1, 1, 2),
        "opt_outs/dt=2025-03-01/b.csv": (1, 1, 0, 0),
        "opt_outs/dt=2025-03-02/a.csv": (1, 1, 0, 0),
    }
    assert ledger(wh)["opt_outs/dt=2025-03-02/a.csv"]["run_id"] == "run-4"
    assert ledger(wh)["opt_outs/dt=2025-03-01/b.csv"]["run_id"] == "run-1"

    # removing the winning file withdraws it: x2 falls back to dt=2025-03-01/a.csv? no — the
    # next latest copy is a.csv row 2 (dt 2025-03-01) ahead of z.csv (dt 2025-02-28)
    (landing / "opt_outs" / "dt=2025-03-01" / "b.csv").unlink()
    load(wh, landing, "run-5")
    assert _winners(wh)[1] == ("x2", "A2", "opt_outs/dt=2025-03-01/a.csv", 2)
    assert _counts(wh) == {
        "opt_outs/dt=2025-02-28/z.csv": (1, 0, 0, 1),
        "opt_outs/dt=2025-03-01/a.csv": (4, 2, 1, 1),
        "opt_outs/dt=2025-03-02/a.csv": (1, 1, 0, 0),
    }


def test_quarantined_row_never_replaces_a_loaded_record(wh, landing):
    put(
        landing,
        "opt_outs",
        "2025-03-01",
        "a.csv",
        OPT_HEADER + "x1,u1,2025-03-01 09:00:00,app,OK\n",
    )
    put(
        landing,
        "opt_outs",
        "2025-03-02",
        "a.csv",
        OPT_HEADER + "x1,u1,2025-03-02 09:00:00,fax,NO\n",
    )
    load(wh, landing)
    assert query(wh, "select raw_text from core.opt_outs") == [("OK",)]
    assert query(wh, "select reason_code from ingest.quarantine") == [("bad_enum",)]


# --- unparsable files ----------------------------------------------------------------------


def test_unparsable_files_fail_alone(wh, landing):
    dt = "2025-03-01"
    good = USERS_HEADER + "u1,2025-01-05 09:00:00,5000.00,a,true,,\n"
    put(landing, "users", dt, "a_good.csv", good)
    put(
        landing,
        "users",
        dt,
        "b_ragged.csv",
        good.replace("u1,", "u2,") + "u3,x,1,a,true,,,,,extra\n",
    )
    put(landing, "users", dt, "c_good.csv", good.replace("u1,", "u4,"))
    put(landing, "users", dt, "d_garbage.csv", b"\x00\xff\xfe\x89PNG\r\n\x1a\n\x80\xff")
    put(landing, "users", dt, "e_noheader.csv", "u9,2025-01-01 00:00:00,1,a,true,,\n")
    put(landing, "users", dt, "f_truncated.parquet", b"PAR1\x15\x04\x15\x10\x15")
    put(landing, "users", dt, "g_empty.jsonl", b"")
    put(landing, "users", dt, "h_broken.jsonl", '{"user_id": "u8", "opened_at": \n')
    load(wh, landing)
    # b_ragged.csv: its row 2 has 10 fields for 7 columns -> that line is quarantined, u2 loads
    # h_broken.jsonl: its only line is not a JSON object: nothing to load, the file fails
    assert query(wh, "select user_id from core.users order by 1") == [("u1",), ("u2",), ("u4",)]
    led = {p.rsplit("/", 1)[1]: r for p, r in ledger(wh).items()}
    assert {n: r["status"] for n, r in led.items()} == {
        "a_good.csv": "loaded",
        "b_ragged.csv": "loaded",
        "c_good.csv": "loaded",
        "d_garbage.csv": "failed",
        "e_noheader.csv": "failed",
        "f_truncated.parquet": "failed",
        "g_empty.jsonl": "failed",
        "h_broken.jsonl": "failed",
    }
    for r in led.values():
        if r["status"] == "failed":
            assert r["error"] and (r["rows_read"], r["rows_loaded"]) == (0, 0)
            assert r["dropped_columns"] == []
    assert "neither UTF-8 nor GB18030" in led["d_garbage.csv"]["error"]
    assert "no column matches" in led["e_noheader.csv"]["error"]
    assert "u9" not in led["e_noheader.csv"]["error"]  # no content of a failed file is kept
    assert "empty file" in led["g_empty.jsonl"]["error"]
    got = {
        n: (r["rows_read"], r["rows_loaded"], r["rows_quarantined"])
        for n, r in led.items()
        if r["status"] == "loaded"
    }
    assert got == {
        "a_good.csv": (1, 1, 0),
        "b_ragged.csv": (2, 1, 1),
        "c_good.csv": (1, 1, 0),
    }
    assert query(
        wh, "select path, row_number, reason_code, raw_row from ingest.quarantine order by 1"
    ) == [
        ("users/dt=2025-03-01/b_ragged.csv", 2, "malformed_row", "u3,x,1,a,true,,,,,extra"),
    ]
    assert "no line of the file is a JSON object" in led["h_broken.jsonl"]["error"]


# --- timestamps, phones --------------------------------------------------------------------


def test_utc_timestamps_land_on_the_local_date(wh, landing):
    put(
        landing,
        "users",
        "2025-03-02",
        "a.csv",
        USERS_HEADER
        + "u1,2025-03-01T16:30:00Z,1,a,1,,\n"
        + "u2,2025-03-01 16:30:00+00:00,1,a,1,,\n"
        + "u3,2025-03-01 16:30:00,1,a,1,,\n"  # no offset: Asia/Shanghai
        + "u4,2025-03-02 00:30:00+0800,1,a,1,,\n"
        + "u5,2025-03-01T16:30:00.250Z,1,a,1,,\n"
        + "u6,2025-03-01 08:30:00-0800,1,a,1,,\n"
        + "u7,2025-3-1 16:30:00,1,a,1,,\n"  # not YYYY-MM-DD: bad_timestamp
        + "u8,2025-03-01 16:30,1,a,1,,\n",
    )  # no seconds: bad_timestamp
    load(wh, landing)
    got = query(
        wh,
        """select user_id,
        strftime(timezone('Asia/Shanghai', opened_at), '%Y-%m-%d %H:%M:%S.%g')
        from core.users order by 1""",
    )
    assert got == [
        ("u1", "2025-03-02 00:30:00.000"),
        ("u2", "2025-03-02 00:30:00.000"),
        ("u3", "2025-03-01 16:30:00.000"),
        ("u4", "2025-03-02 00:30:00.000"),
        ("u5", "2025-03-02 00:30:00.250"),
        ("u6", "2025-03-02 00:30:00.000"),
    ]
    assert query(wh, "select row_number, reason_code from ingest.quarantine order by 1") == [
        (7, "bad_timestamp"),
        (8, "bad_timestamp"),
    ]


SMS_HEADER = (
    "message_id,user_id,template_code,purpose,bill_id,content,sent_at,delivery_status,"
    "delivered_at,provider,err_code,segments,Phone,手机号\n"
)


def test_phone_columns_dropped_and_numbers_masked(wh, landing, _isolated_data_dir):
    put(
        landing,
        "sms_logs",
        "2025-03-01",
        "s.csv",
        SMS_HEADER
        + "m1,u1,T1,bill_notice,b1,您的账单已出，客服电话13812345678,2025-03-01 10:00:00,"
        "delivered,,aliyun,DELIVRD,,13900001111,13900001111\n"
        + "m2,u1,T2,marketing,,联系+86 139-1234-5678 或 15011112222/15133334444,"
        "2025-03-01 10:00:00,DELIVERED,,aliyun,DELIVRD,2,13900001111,\n"
        + "m3,u1,T1,bogus,,找13812345678,2025-03-01 10:00:00,delivered,,aliyun,DELIVRD,1,"
        "13900001111,\n",
    )
    put(
        landing,
        "complaints",
        "2025-03-01",
        "c.jsonl",
        '{"complaint_id": "c1", "user_id": "u1", "received_at": "2025-03-01 10:00:00", '
        '"source": "app", "narrative": "半夜13812345678一直发", "status": "open", '
        '"mobile": "13812345678"}\n',
    )
    load(wh, landing)
    assert query(wh, "select message_id, content, segments from core.sms_logs order by 1") == [
        ("m1", "您的账单已出，客服电话138****5678", 1),
        ("m2", "联系+86 139****5678 或 150****2222/151****4444", 2),
    ]
    assert query(wh, "select narrative, category from core.complaints") == [
        ("半夜138****5678一直发", None)
    ]
    led = ledger(wh)
    assert led["sms_logs/dt=2025-03-01/s.csv"]["dropped_columns"] == ["Phone", "手机号"]
    assert led["complaints/dt=2025-03-01/c.jsonl"]["dropped_columns"] == ["mobile"]
    raw = query(wh, "select raw_row from ingest.quarantine")[0][0]
    assert "138****5678" in raw and "13900001111" not in raw and "13812345678" not in raw
    # no column of any table in the warehouse holds a raw number
    assert_no_raw_phone_numbers(wh)


def assert_no_raw_phone_numbers(db):
    """No text column of `db` holds a phone number: every table and view of the database and,
    for a published one, of every segment file it lists (attached)."""
    from pipelines.serve.segments import open_published

    con = open_published(db)
    try:
        cols = con.execute(
            "select database_name, schema_name, table_name, column_name from duckdb_columns() "
            "where database_name not in ('system', 'temp') "
            "and (data_type = 'VARCHAR' or data_type = 'VARCHAR[]') "
            # hex digests and run ids are not text anyone typed
            "and column_name not in ('content_hash', 'run_id', 'data_version')"
        ).fetchall()
        assert cols
        for database, schema, table, col in cols:
            n = con.execute(
                f'select count(*) from "{database}".{schema}."{table}" '
                f"where regexp_matches(\"{col}\"::varchar, '(^|[^0-9])1[3-9][0-9]{{9}}($|[^0-9])')"
            ).fetchone()[0]
            assert n == 0, f"{database}.{schema}.{table}.{col} holds a phone number"
    finally:
        con.close()


def test_loading_twice_gives_identical_tables(wh, landing):
    put(landing, "users", "2025-03-01", "a.csv", USERS_HEADER + "u1,2025-01-05 09:00:00,1,a,1,,\n")
    put(
        landing,
        "orders",
        "2025-03-01",
        "o.csv",
        "order_id,user_id,created_at,amount,payment_method,installments,channel,status\n"
        "o1,u1,2025-03-01 10:00:00,100.00,bnpl,1,live,paid\n"
        "o1,u1,2025-03-01 11:00:00,90.00,bnpl,1,live,paid\n"
        "o2,u1,2025-03-01 10:00:00,0,bnpl,1,live,paid\n",
    )
    load(wh, landing, "run-1")
    first = table_snapshot(wh)
    # a second warehouse loaded from the same files in a different run gives the same tables
    other = wh.with_name("other.duckdb")
    load(other, landing, "run-x")
    assert table_snapshot(other) == first
    load(wh, landing, "run-2")
    assert table_snapshot(wh) == first
    assert query(wh, "select order_id, amount::varchar from core.orders") == [("o1", "90.00")]


def test_csv_headers_differ_within_one_source_and_batch(wh, landing):
    """Headers are read from each file's first record: files of one source with different
    column orders, extra columns, encodings, a BOM, CRLF endings and quoted names load in one
    batch, and row numbers stay per file."""
    dt = "2025-03-01"
    put(landing, "users", dt, "a.csv", USERS_HEADER + "u1,2025-01-05 09:00:00,1,a,1,浙江,\n")
    put(
        landing,
        "users",
        dt,
        "b.csv",
        "score_band,remark,USER_ID,opened_at,credit_limit,marketing_consent\r\n"
        "b,x,u2,2025-01-05 09:00:00,2,0\r\n"
        "b,y,u3,2025-01-05 09:00:00,-2,0\r\n",  # row 2: out_of_range
    )
    put(
        landing,
        "users",
        dt,
        "c.csv",
        "province,user_id,opened_at,credit_limit,score_band,marketing_consent\n"
        "广东,u4,2025-01-05 09:00:00,4,c,是\n",
        encoding="gb18030",
    )
    put(
        landing,
        "users",
        dt,
        "d.csv",
        '\ufeff"user_id","opened_at","credit_limit","score_band","marketing_consent",'
        '"province","note, with comma"\n'
        'u5,2025-01-05 09:00:00,5,d,1,"上海\n浦东",n\n'
        "u6,2025-01-05 09:00:00,6,e,1,,n\n",
    )
    put(landing, "users", dt, "e.csv", USERS_HEADER)  # header only: no rows
    load(wh, landing)
    assert query(
        wh, "select user_id, credit_limit::int, score_band, province from core.users order by 1"
    ) == [
        ("u1", 1, "A", "浙江"),
        ("u2", 2, "B", None),
        ("u4", 4, "C", "广东"),
        ("u5", 5, "D", "上海\n浦东"),
        ("u6", 6, "E", None),
    ]
    assert query(wh, "select path, row_number, reason_code from ingest.quarantine") == [
        ("users/dt=2025-03-01/b.csv", 2, "out_of_range")
    ]
    assert query(wh, "select _file, _row from core.users where user_id = 'u6'") == [
        ("users/dt=2025-03-01/d.csv", 2)
    ]
    led = {p.rsplit("/", 1)[1]: r for p, r in ledger(wh).items()}
    got = {
        n: (r["status"], r["encoding"], r["rows_read"], r["rows_loaded"], r["dropped_columns"])
        for n, r in led.items()
    }
    assert got == {
        "a.csv": ("loaded", "utf-8", 1, 1, []),
        "b.csv": ("loaded", "utf-8", 2, 1, ["remark"]),
        "c.csv": ("loaded", "gb18030", 1, 1, []),
        "d.csv": ("loaded", "utf-8-sig", 2, 2, ["note, with comma"]),
        "e.csv": ("loaded", "utf-8", 0, 0, []),
    }


def test_incremental_merge_mixes_new_keys_and_copies_of_known_keys(wh, landing):
    """A second load with new keys, a newer copy of a known key and a late (older dt) copy of
    a known key: the merge reads new keys from the new files only and still settles every
    winner and every file's counts."""
    put(
        landing,
        "opt_outs",
        "2025-03-01",
        "a.csv",
        OPT_HEADER + "k1,u1,2025-03-01 09:00:00,app,A1\nk2,u1,2025-03-01 09:00:00,app,A2\n",
    )
    load(wh, landing, "run-1")
    put(
        landing,
        "opt_outs",
        "2025-03-02",
        "b.csv",
        OPT_HEADER + "k2,u1,2025-03-02 09:00:00,app,B2\nk3,u1,2025-03-02 09:00:00,app,B3\n",
    )
    put(
        landing,
        "opt_outs",
        "2025-02-28",
        "c.csv",
        OPT_HEADER + "k1,u1,2025-02-28 09:00:00,app,C1\nk4,u1,2025-02-28 09:00:00,app,C4\n"
        "k4,u1,2025-02-28 09:00:00,app,C4b\n",
    )
    load(wh, landing, "run-2")
    assert [(k, t) for k, t, *_ in _winners(wh)] == [
        ("k1", "A1"),
        ("k2", "B2"),
        ("k3", "B3"),
        ("k4", "C4b"),
    ]
    assert _counts(wh) == {
        "opt_outs/dt=2025-02-28/c.csv": (3, 1, 0, 2),
        "opt_outs/dt=2025-03-01/a.csv": (2, 1, 0, 1),
        "opt_outs/dt=2025-03-02/b.csv": (2, 2, 0, 0),
    }
    # the same files loaded into a fresh warehouse in one go give the same tables
    other = wh.with_name("other.duckdb")
    load(other, landing, "run-2")
    assert table_snapshot(other) == table_snapshot(wh)


def test_checks_look_at_their_scope(wh, landing):
    """Checks count problems in the files of their scope only; None checks whole tables."""
    from pipelines.ingest import checks
    from pipelines.ingest.warehouse import connect

    for dt, key in (("2025-03-01", "x1"), ("2025-03-02", "x2")):
        put(landing, "opt_outs", dt, "a.csv", OPT_HEADER + f"{key},u9,{dt} 09:00:00,app,T\n")
    load(wh, landing)
    day1, day2 = "opt_outs/dt=2025-03-01/a.csv", "opt_outs/dt=2025-03-02/a.csv"
    con = connect(wh)
    try:
        assert checks.core_scope(con, "opt_outs") == [day1, day2]  # the first merge's files
        # break the contract on day 1 only, and duplicate day 1's key in core
        con.execute("update staging.opt_outs set channel = 'fax' where _file = $f", {"f": day1})
        con.execute(
            "insert into core.opt_outs select * from core.opt_outs where _file = $f", {"f": day1}
        )
        bad = {"missing_required": 0, "bad_value": 1, "unmasked_phone": 0}
        none = dict.fromkeys(bad, 0)
        assert checks.contract_problems(con, "opt_outs", "staging", [day1]) == bad
        assert checks.contract_problems(con, "opt_outs", "staging", [day2]) == none
        assert checks.contract_problems(con, "opt_outs", "staging", None) == bad
        assert checks.duplicate_keys(con, "opt_outs", [day2]) == 0
        assert checks.duplicate_keys(con, "opt_outs", [day1]) == 1
        assert checks.duplicate_keys(con, "opt_outs", None) == 1
        assert checks.duplicate_keys(con, "opt_outs", []) == 0
        # u9 is not a known user: an orphan in each day's rows
        assert checks.orphan_counts(con, "opt_outs", [day2]) == {"user_id → users": 1}
        assert checks.orphan_counts(con, "opt_outs", None) == {"user_id → users": 3}
        con.execute("update ingest.file_ledger set rows_read = 5 where path = $f", {"f": day2})
        assert checks.reconcile_problems(con, "opt_outs", [day1])["files_not_reconciling"] == 0
        assert checks.reconcile_problems(con, "opt_outs", [day2])["files_not_reconciling"] == 1
        assert checks.reconcile_problems(con, "opt_outs", None)["files_not_reconciling"] == 1
        # after staging, before the merge: the scope is the files not merged yet
        assert checks.staging_scope(con, "opt_outs", "no-such-run") == []
    finally:
        con.close()
    # a later run that brings nothing for opt_outs: its merge touches no file, so its checks
    # look at nothing (not at the first merge's files again)
    put(
        landing,
        "users",
        "2025-03-03",
        "u.csv",
        USERS_HEADER + "u9,2025-03-03 08:00:00,3000,A,yes,上海,\n",
    )
    load(wh, landing, "run-2")
    con = connect(wh)
    try:
        assert checks.core_scope(con, "opt_outs") == []
        assert checks.core_scope(con, "users") == ["users/dt=2025-03-03/u.csv"]
    finally:
        con.close()


def test_fill_temp_puts_python_rows_in_one_statement():
    """Ledger and stat rows go into their temp tables by one statement of list parameters:
    every value, NULL and list arrives in its own row and column."""
    import datetime as dt

    from pipelines.ingest.warehouse import fill_temp

    con = duckdb.connect()
    columns = (("p", "VARCHAR"), ("d", "DATE"), ("n", "BIGINT"), ("l", "VARCHAR[]"))
    rows = [
        ("a.csv", dt.date(2026, 11, 27), 1_700_000_000_000_000_000, ["x", "y"]),
        ("b.csv", None, 0, []),
        (None, dt.date(2026, 1, 1), None, None),
    ]
    fill_temp(con, "t", columns, rows)
    assert con.execute("select * from t order by n nulls last").fetchall() == [
        ("b.csv", None, 0, []),
        ("a.csv", dt.date(2026, 11, 27), 1_700_000_000_000_000_000, ["x", "y"]),
        (None, dt.date(2026, 1, 1), None, None),
    ]
    # filled again: the table is created anew, empty when there are no rows
    fill_temp(con, "t", columns, [])
    assert con.execute("select count(*) from t").fetchone() == (0,)
    assert [r[0] for r in con.execute("describe t").fetchall()] == ["p", "d", "n", "l"]
    with pytest.raises(ValueError):
        fill_temp(con, "t", columns[:1], rows)


def test_trimmed_sql_is_trim_for_every_code_point():
    """The validation's trim only runs where a value can start or end with a space; for every
    Unicode code point, alone, before, after and around text (ASCII and not), both forms give
    exactly nullif(trim(x), '')."""
    from pipelines.ingest.validate import trimmed_sql

    con = duckdb.connect()
    con.execute(
        """create table cps as select chr(cp::integer) as c from range(1, 1114112) as r(cp)
        where cp not between 55296 and 57343"""
    )
    con.execute(
        """create table vals as
        select unnest([c, c || 'a', 'a' || c, c || 'ab' || c, c || '月付', '月付' || c,
            c || c, ' ' || c || ' ']) as x
        from cps
        union all select unnest([null, '', ' ', '  ', '　', 'a b', ' a', 'a '])"""
    )
    total = con.execute("select count(*) from vals").fetchone()[0]
    assert total > 8 * 1_100_000
    for long_text in (False, True):
        differ = con.execute(
            f"select count(*), min(x) from vals "
            f"where {trimmed_sql('x', long_text=long_text)} is distinct from nullif(trim(x), '')"
        ).fetchone()
        assert differ == (0, None), (long_text, differ)
    # and the spaces it must remove are there: U+0020, U+00A0, U+3000 at either end
    got = con.execute(
        f"select {trimmed_sql('$v')}, {trimmed_sql('$v', long_text=True)}",
        {"v": "\u3000 \u00a0月付 a\u3000"},
    ).fetchone()
    assert got == ("月付 a", "月付 a")


def test_timestamp_spellings_hand_worked():
    """Every spelling of the contract's timestamps (no offset: Beijing time), with and without
    the offset marker the validation tests first, against hand-worked UTC instants."""
    import datetime as dt

    from pipelines.contract import TS, Field
    from pipelines.ingest.validate import typed_expr

    expr = typed_expr(Field("t", TS), "$v")
    utc = dt.UTC
    cases = {
        "2025-01-01 08:00:00": dt.datetime(2025, 1, 1, 0, 0, tzinfo=utc),  # Beijing
        "2025-01-01T08:00:00.5": dt.datetime(2025, 1, 1, 0, 0, 0, 500000, tzinfo=utc),
        "2025-01-01 08:00:00+08:00": dt.datetime(2025, 1, 1, 0, 0, tzinfo=utc),
        "2025-01-01T00:00:00Z": dt.datetime(2025, 1, 1, 0, 0, tzinfo=utc),
        "2025-01-01 00:00:00-05:00": dt.datetime(2025, 1, 1, 5, 0, tzinfo=utc),
        "2025-01-01 13:30:00+0530": dt.datetime(2025, 1, 1, 8, 0, tzinfo=utc),
        "2025-01-01 00:00:00.25-0100": dt.datetime(2025, 1, 1, 1, 0, 0, 250000, tzinfo=utc),
        # broken: no time, a marker but no valid offset, a bad month, a sign inside the date
        "2025-01-01": None,
        "2025-01-01 00:00:00+8": None,
        "2025-01-01 00:00:00 Z": None,
        "2025-13-01 00:00:00": None,
        "+2025-01-01 00:00:00": None,
        "2025-01-01 00:00:00Z+08:00": None,
    }
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    got = {v: con.execute(f"select {expr}", {"v": v}).fetchone()[0] for v in cases}
    assert got == cases


def test_late_rows_finds_the_rows_of_a_key_lookup_also_inside_a_transaction():
    """late_rows reads the row ids first and the rows second; rows a transaction inserted
    or deleted and has not committed (the marts build runs in one) are found, or not, the same
    way a plain semi join finds them."""
    from pipelines.ingest.warehouse import late_rows

    con = duckdb.connect()
    con.execute("create table t (id varchar, user_id varchar, v integer)")
    con.execute(
        "insert into t values ('a', 'u1', 1), ('b', 'u2', 2), ('c', 'u1', 3), ('d', 'u3', 4)"
    )
    con.execute("create temp table keys as select * from (values ('u1'), ('u3')) k(user_id)")
    con.execute("begin")
    con.execute("delete from t where id = 'c'")  # u1's committed row, gone in the transaction
    con.execute("insert into t values ('e', 'u3', 5), ('f', 'u2', 6)")  # new, uncommitted
    sql = late_rows("t", "semi join keys as k on k.user_id = t.user_id where t.v <> 4")
    assert sorted(con.execute(sql).fetchall()) == [("a", "u1", 1), ("e", "u3", 5)]
    con.execute("rollback")
    assert sorted(con.execute(sql).fetchall()) == [("a", "u1", 1), ("c", "u1", 3)]

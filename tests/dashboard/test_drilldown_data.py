"""dashboard.data.user_messages, the compliance drill-down's query: which of a user's messages
fall in the window, in what order, with what content.

The dashboard fixture database, plus a user U09 whose messages sit on the window's edges (all
times local, Asia/Shanghai). Asked for U09 up to 03-20 10:00 over 7 days, the window is local
days 03-13..03-20, cut at 03-20 10:00 inclusive:

| id  | sent              | log row | in the window?                                   |
|-----|-------------------|---------|--------------------------------------------------|
| W01 | 03-12 23:59:59    | yes     | no: local day 03-12, before the first day        |
| W02 | 03-13 00:00:00    | yes     | yes: the first second of the first day           |
| W03 | 03-15 12:00       | yes     | yes (content holds a phone number: masked)       |
| W04 | 03-15 12:00       | yes     | yes: same time as W03                            |
| W05 | 03-18 09:00       | no      | yes: a send only the gateway knew, no content    |
| W06 | 03-20 10:00:00    | yes     | yes: exactly the moment asked for                |
| W07 | 03-20 10:00:01    | yes     | no: one second after it                          |
| W08 | 03-16 08:00 (U08) | yes     | no: another user                                 |

So newest first: W06, W05, W03, W04, W02 (W03 and W04 share a time: by message_id, ascending).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from dashboard import data
from tests.fixtures.dashboard.build import build

# (id, user, local sent_at, content or None when the log has no row)
EDGE = [
    ("W01", "U09", "2026-03-12 23:59:59", "账单即将到期"),
    ("W02", "U09", "2026-03-13 00:00:00", "账单即将到期"),
    ("W04", "U09", "2026-03-15 12:00:00", "今日到期"),
    ("W03", "U09", "2026-03-15 12:00:00", "逾期请回电 13812345678"),
    ("W05", "U09", "2026-03-18 09:00:00", None),
    ("W06", "U09", "2026-03-20 10:00:00", "您已逾期"),
    ("W07", "U09", "2026-03-20 10:00:01", "您已逾期"),
    ("W08", "U08", "2026-03-16 08:00:00", "新品上架"),
]

FLAGS_COLUMNS = (
    "message_id, user_id, purpose, template_code, bill_id, sent_at, local_date, local_hour, "
    "delivery_status, is_duplicate, is_quiet_hours, is_after_opt_out, is_over_daily_cap, "
    "is_marketing_in_service, is_marketing_without_consent, is_after_settlement, "
    "is_collection_before_due, is_against_preference"
)


def _add_messages(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """Messages of `rows` into the log (those with content) and the flags mart (all)."""
    for mid, user, sent, content in rows:
        at = f"{sent}+08:00"
        if content is not None:
            con.execute(
                "insert into core.sms_logs values (?, ?, 'T_COLL', 'overdue_collection', "
                "'B09-03', ?, ?, 'delivered', null, 'aliyun', 'DELIVRD', 1, null, "
                "'2026-03-31', 'fixture.csv', 1)",
                [mid, user, content, at],
            )
        con.execute(
            f"insert into mart.sms_message_flags ({FLAGS_COLUMNS}) values (?, ?, "  # noqa: S608
            "'overdue_collection', 'T_COLL', 'B09-03', ?, ?, ?, 'delivered', "
            "false, ?, false, false, false, false, false, false, false)",
            [mid, user, at, sent[:10], int(sent[11:13]), mid == "W05"],
        )


@pytest.fixture
def serve(_isolated_data_dir):
    path = build(_isolated_data_dir / "serve.duckdb")
    con = duckdb.connect(str(path))
    try:
        _add_messages(con, EDGE)
    finally:
        con.close()
    return path


def test_the_window_s_edges_order_and_content(serve):
    df = data.user_messages("U09", pd.Timestamp("2026-03-20 10:00:00+08:00"), days=7)
    assert df["message_id"].tolist() == ["W06", "W05", "W03", "W04", "W02"]
    content = [None if pd.isna(c) else c for c in df["content"]]
    assert content == ["您已逾期", None, "逾期请回电 138****5678", "今日到期", "账单即将到期"]
    assert df["is_quiet_hours"].tolist() == [False, True, False, False, False]
    assert df.columns.tolist() == [
        "sent_at", "message_id", "purpose", "template_code", "bill_id", "delivery_status",
        "is_duplicate", "is_quiet_hours", "is_after_opt_out", "is_over_daily_cap",
        "is_marketing_in_service", "is_marketing_without_consent", "content",
    ]  # fmt: skip
    # a moment without a zone is local time: the same window
    naive = data.user_messages("U09", dt.datetime(2026, 3, 20, 10, 0), days=7)
    assert naive["message_id"].tolist() == ["W06", "W05", "W03", "W04", "W02"]
    # one day: local days 03-19..03-20, so only W06
    assert data.user_messages("U09", pd.Timestamp("2026-03-20 10:00+08:00"), 1)[
        "message_id"
    ].tolist() == ["W06"]
    # a moment given in UTC (02:00 UTC is 10:00 local): the same window
    utc = data.user_messages("U09", pd.Timestamp("2026-03-20 02:00:00+00:00"), days=7)
    assert utc["message_id"].tolist() == ["W06", "W05", "W03", "W04", "W02"]


def test_the_fixture_s_complaint_and_an_unknown_user(serve):
    # C01: U01 at 03-09 11:00, 7 days: M02, M03, M05, M06 (M04 at 23:00 is after it, M01 on
    # 03-01 before the window), newest first, with the log's content
    df = data.user_messages("U01", pd.Timestamp("2026-03-09 11:00+08:00"), days=7)
    assert df["message_id"].tolist() == ["M06", "M05", "M03", "M02"]
    assert df["content"].tolist() == ["周末特惠", "新品上架", "账单即将到期", "账单即将到期"]
    assert df["is_over_daily_cap"].tolist() == [True, False, False, False]
    assert df["is_duplicate"].tolist() == [False, False, True, False]
    assert data.user_messages("U99", pd.Timestamp("2026-03-20 10:00+08:00")).empty


def test_at_most_500_messages_the_newest(_isolated_data_dir):
    # U10: 502 messages on 03-15, one a minute from 00:00 (X000) to 08:21 (X501): the newest
    # 500 are X501 down to X002
    path = build(_isolated_data_dir / "serve.duckdb")
    rows = [
        (f"X{i:03d}", "U10", f"2026-03-15 {i // 60:02d}:{i % 60:02d}:00", "今日到期")
        for i in range(502)
    ]
    con = duckdb.connect(str(path))
    try:
        _add_messages(con, rows)
    finally:
        con.close()
    df = data.user_messages("U10", pd.Timestamp("2026-03-15 23:00+08:00"), days=7)
    assert len(df) == 500
    assert (df["message_id"].iloc[0], df["message_id"].iloc[-1]) == ("X501", "X002")

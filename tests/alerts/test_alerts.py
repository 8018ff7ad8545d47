"""Incident alerts end to end: `nudgescope run` (Dagster in-process) with a webhook receiver on
127.0.0.1. Fixtures are hand-written; expected counts are worked out by hand in the comments."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from pipelines.alerts import notify
from pipelines.alerts.settings import AlertSettings, AlertSettingsError
from pipelines.orchestration.run import run_pipeline
from tests.fixtures.alerts.receiver import Receiver
from tests.fixtures.ingest.helpers import put, query

USERS = "user_id,opened_at,credit_limit,score_band,marketing_consent\n" + "".join(
    f"u{i},2025-01-0{i} 09:00:00,5000,a,1\n" for i in range(1, 7)
)
SMS_HEADER = (
    "message_id,user_id,template_code,purpose,bill_id,content,sent_at,delivery_status,"
    "delivered_at,provider,err_code\n"
)


def sms(mid, user, sent_at, template="T_DUE", purpose="due_reminder", bill=None):
    bill = bill if bill is not None else f"b{user[1:]}"
    content = "您的账单即将到期"
    return f"{mid},{user},{template},{purpose},{bill},{content},{sent_at},delivered,,aliyun,\n"


def quiet_day(day: str, hour: str = "09:00:00") -> str:
    """One ordinary reminder per user: no fault at all."""
    return SMS_HEADER + "".join(sms(f"{day}-q{i}", f"u{i}", f"{day} {hour}") for i in range(1, 7))


def storm_day(day: str) -> str:
    """Users u1..u6 each get reminder T_DUE for their bill three times, at 20:00, 20:02 and
    20:04 local: the 20:02 and 20:04 copies are duplicates (twin ≤ 10 min earlier), so
    2 × 6 = 12 duplicates of 6 users, template T_DUE, provider aliyun, all within one rolling
    hour ending 20:04. One more ordinary message at 21:00 (u1, marketing) ends the day's data
    56 minutes after the storm, inside the 180-minute quiet interval: the incident stays open."""
    rows = [
        sms(f"{day}-s{i}-{k}", f"u{i}", f"{day} 20:0{2 * k}:00")
        for i in range(1, 7)
        for k in range(3)
    ]
    rows.append(sms(f"{day}-m1", "u1", f"{day} 21:00:00", "T_MKT", "marketing", ""))
    return SMS_HEADER + "".join(rows)


@pytest.fixture
def alert_env(monkeypatch):
    def configure(url: str, **extra: str) -> None:
        monkeypatch.setenv("NUDGESCOPE_ALERT_WEBHOOK", url)
        # the storm has 12 duplicates: a minimum of 10 (default 20) keeps the fixture small
        monkeypatch.setenv("NUDGESCOPE_ALERT_DUPLICATE_MIN", "10")
        monkeypatch.setenv("NUDGESCOPE_ALERT_BACKOFF_SECONDS", "0.01")
        monkeypatch.setenv("NUDGESCOPE_ALERT_TIMEOUT_SECONDS", "2")
        for k, v in extra.items():
            monkeypatch.setenv(k, v)

    return configure


def _ok(summary):
    assert summary.success, summary.error
    return summary


def test_storm_opens_once_and_resolves_on_a_quiet_day(_isolated_data_dir, alert_env):
    data = _isolated_data_dir
    landing = data / "landing"
    put(landing, "users", "2025-03-01", "u.csv", USERS)
    put(landing, "sms_logs", "2025-03-01", "s.csv", quiet_day("2025-03-01"))
    with Receiver() as hook:
        alert_env(hook.url)
        _ok(run_pipeline(data))  # first load, nothing wrong: no POST
        assert hook.posts == []

        put(landing, "sms_logs", "2025-03-02", "s.csv", storm_day("2025-03-02"))
        s = _ok(run_pipeline(data))
        assert len(hook.posts) == 1
        post = hook.posts[0]
        assert {k: post[k] for k in post if k != "text"} == {
            "incident_id": 1,
            "kind": "duplicate_burst",
            "status": "open",
            "first_seen": "2025-03-02T20:02:00+08:00",
            "last_seen": "2025-03-02T20:04:00+08:00",
            "messages": 12,
            "users": 6,
            "templates": ["T_DUE"],
            "provider": "aliyun",
            "subject": "aliyun",
        }
        assert "重复短信突增" in post["text"] and "12 条短信" in post["text"]
        assert "6 位用户" in post["text"] and "T_DUE" in post["text"]
        assert hook.content_types[0].startswith("application/json")
        # the open incident is a WARN check in the run (CLI and Dagster UI)
        assert "alerts/incidents no_open_incidents: duplicate_burst: 1" in s.warnings

        serve = data / "serve.duckdb"
        assert query(
            serve, "select incident_id, kind, status, messages, users from alerts.incidents"
        ) == [(1, "duplicate_burst", "open", 12, 6)]
        assert query(serve, "select count(*) from alerts.incident_messages") == [(12,)]

        _incidents_page_shows_the_open_storm(serve, data)

        # nothing new: no POST (and the run stops before Dagster)
        again = _ok(run_pipeline(data))
        assert again.up_to_date and len(hook.posts) == 1

        # a quiet day: the data moves 14 h past the storm's last duplicate → resolved
        put(landing, "sms_logs", "2025-03-03", "s.csv", quiet_day("2025-03-03", "10:00:00"))
        _ok(run_pipeline(data))
        assert len(hook.posts) == 2
        resolved = hook.posts[1]
        assert (resolved["incident_id"], resolved["status"], resolved["messages"]) == (
            1,
            "resolved",
            12,
        )
        assert "已结束" in resolved["text"]

    rows = query(serve, "select event, status, attempts, endpoint from alerts.notifications")
    assert sorted(rows) == [
        ("open", "delivered", 1, hook.url.split("?")[0]),
        ("resolved", "delivered", 1, hook.url.split("?")[0]),
    ]
    # the robot token in the URL's query string is never stored
    assert all("secret-token" not in r[3] for r in rows)
    assert query(serve, "select status from alerts.incidents") == [("resolved",)]


def _incidents_page_shows_the_open_storm(serve, data):
    """The dashboard's Incidents page on the published file: the open storm first, its hourly
    count (12 duplicates, all in the 20:00 hour) and the 12 messages behind it."""
    from streamlit.testing.v1 import AppTest

    from pipelines.settings import REPO_ROOT

    at = AppTest.from_file(str(REPO_ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.session_state["lang"] = "en"
    at.switch_page("views/incidents.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Open incidents"] == "1" and shown["Messages"] == "12"
    assert shown["Users affected"] == "6" and shown["Hours"] == "1"
    # every provider of the incident's messages, with its count
    assert "Messages by provider: Aliyun 12" in " ".join(c.value for c in at.caption)
    tables = [t.value for t in at.dataframe]
    listing = tables[0]
    assert listing["#"].tolist() == [1] and listing["Messages"].tolist() == [12]
    assert listing["Status"].tolist() == ["open"]
    assert len(tables[-2]) == 12  # the messages behind it
    # one template per message: the column says "Template", the list of them "Templates"
    assert set(tables[-2]["Template"]) == {"T_DUE"}
    assert "Templates" in listing.columns
    # provider codes read as the gateway section names them
    assert listing["Subject"].tolist() == ["Aliyun"]
    assert set(tables[-2]["Provider"]) == {"Aliyun"}
    # the timeline's dates read in the page's language: Mar 9 / 3月9日
    import json

    def timeline(app) -> dict:
        specs = [json.loads(el.proto.spec) for el in app.get("plotly_chart")]
        return next(s for s in specs if s["layout"]["title"]["text"] == "Incident timeline"
                    or s["layout"]["title"]["text"] == "事件时间线")  # fmt: skip

    def timeline_axis(app) -> dict:
        return timeline(app)["layout"]["xaxis"]

    # the hover names its fields in the page's words, never the data frame's columns
    hover = timeline(at)["data"][0]["hovertemplate"]
    assert "Subject: %{customdata[1]}" in hover and "Users affected" in hover
    assert "incident_id" not in hover and "users=" not in hover
    # first and last duplicate of the storm (the docstring), Beijing time
    assert timeline(at)["data"][0]["customdata"][0][4:] == ["2025-03-02 20:02", "2025-03-02 20:04"]

    axis = timeline_axis(at)
    assert axis["tickformat"] == "%b %-d"
    # the axis's own hover is a day (the template gives first and last seen to the minute)
    assert axis["hoverformat"] == "%b %-d, %Y"
    assert axis["title"]["text"] == "First to last seen (Beijing time)"
    at.session_state["lang"] = "zh"
    at.run()
    assert timeline_axis(at)["tickformat"] == "%-m月%-d日"
    assert timeline_axis(at)["hoverformat"] == "%Y年%-m月%-d日"  # not Plotly's "Apr"
    assert "对象：%{customdata[1]}" in timeline(at)["data"][0]["hovertemplate"]
    # the app keeps the published file open between its runs (a process of its own when
    # served); this test runs the pipeline next in the same process, which opens that file
    # with another configuration, so the app's hold goes first
    from dashboard.data import connection

    connection.hold_between_runs(False)


def test_failing_endpoint_is_retried_and_never_fails_the_run(_isolated_data_dir, alert_env):
    data = _isolated_data_dir
    landing = data / "landing"
    put(landing, "users", "2025-03-01", "u.csv", USERS)
    put(landing, "sms_logs", "2025-03-01", "s.csv", quiet_day("2025-03-01"))
    put(landing, "sms_logs", "2025-03-02", "s.csv", storm_day("2025-03-02"))
    serve = data / "serve.duckdb"
    # two attempts per run; the receiver answers 500 to the first two requests
    with Receiver(fail_first=2, status=500) as hook:
        alert_env(hook.url, NUDGESCOPE_ALERT_RETRIES="2")
        s = _ok(run_pipeline(data))
        assert s.exit_code == 0
        assert (hook.attempts, hook.posts) == (2, [])
        assert "alerts/incidents notifications_delivered: pending: 1" in s.warnings
        assert query(serve, "select status, attempts, last_error from alerts.notifications") == [
            ("pending", 2, "HTTP 500 Internal Server Error")
        ]

        # nothing changed, but a notification waits: the next run delivers it
        s2 = _ok(run_pipeline(data))
        assert not s2.up_to_date
        assert hook.attempts == 3 and len(hook.posts) == 1
        assert hook.posts[0]["status"] == "open" and hook.posts[0]["messages"] == 12
        assert query(serve, "select status, attempts from alerts.notifications") == [
            ("delivered", 3)
        ]

        # and after that a no-op run is a no-op again
        assert _ok(run_pipeline(data)).up_to_date
        assert hook.attempts == 3


def test_first_load_alerts_only_for_the_last_24_hours(_isolated_data_dir, alert_env):
    """History with a storm on 1 March and one on 3 March, loaded at once. The data ends at
    3 March 21:00: the 1 March storm (last duplicate 48 h 56 min earlier) is kept as a
    resolved incident without any POST; the 3 March one is announced."""
    data = _isolated_data_dir
    landing = data / "landing"
    put(landing, "users", "2025-03-01", "u.csv", USERS)
    put(landing, "sms_logs", "2025-03-01", "s.csv", storm_day("2025-03-01"))
    put(landing, "sms_logs", "2025-03-02", "s.csv", quiet_day("2025-03-02"))
    put(landing, "sms_logs", "2025-03-03", "s.csv", storm_day("2025-03-03"))
    with Receiver() as hook:
        alert_env(hook.url, NUDGESCOPE_ALERT_FORMAT="feishu")
        _ok(run_pipeline(data))
    assert len(hook.posts) == 1
    (post,) = hook.posts
    assert set(post) == {"msg_type", "content"} and post["msg_type"] == "text"
    assert "事件 #2 已开始" in post["content"]["text"]
    assert "2025-03-03 20:02 至 2025-03-03 20:04" in post["content"]["text"]
    assert query(
        data / "serve.duckdb",
        "select incident_id, status, notify, messages, first_seen::varchar "
        "from alerts.incidents order by 1",
    ) == [
        (1, "resolved", False, 12, "2025-03-01 20:02:00+08"),
        (2, "open", True, 12, "2025-03-03 20:02:00+08"),
    ]


EVENT = notify.Event(
    incident_id=7,
    kind="duplicate_burst",
    subject="aliyun",
    event="open",
    first_seen=datetime(2025, 3, 2, 20, 2, tzinfo=ZoneInfo("Asia/Shanghai")),
    last_seen=datetime(2025, 3, 2, 20, 4, tzinfo=ZoneInfo("Asia/Shanghai")),
    messages=12,
    users=6,
    templates=["T_DUE"],
    provider="aliyun",
    hours=1,
)


def test_chat_robot_bodies_have_their_documented_shape():
    text = notify.summary_text(EVENT, "zh")
    # DingTalk custom robot and WeCom group robot: text message
    assert notify.body(EVENT, "dingtalk", "zh") == {"msgtype": "text", "text": {"content": text}}
    assert notify.body(EVENT, "wecom", "zh") == {"msgtype": "text", "text": {"content": text}}
    # Feishu custom bot: msg_type + content.text
    assert notify.body(EVENT, "feishu", "zh") == {"msg_type": "text", "content": {"text": text}}
    # Slack incoming webhook: text
    assert notify.body(EVENT, "slack", "zh") == {"text": text}
    generic = notify.body(EVENT, "json", "zh")
    assert set(generic) >= {
        "incident_id",
        "kind",
        "status",
        "first_seen",
        "last_seen",
        "messages",
        "users",
        "templates",
        "provider",
        "text",
    }
    assert text == (
        "【nudgescope 告警】事件 #7 已开始：重复短信突增（通道 aliyun）。"
        "2025-03-02 20:02 至 2025-03-02 20:04（北京时间）共 12 条短信，"
        "涉及 6 位用户，1 个小时，模板：T_DUE。"
    )
    assert notify.summary_text(EVENT, "en") == (
        "[nudgescope alert] Incident #7 opened: duplicate message burst (provider aliyun). "
        "2025-03-02 20:02 to 2025-03-02 20:04 (Beijing time): 12 messages to 6 users over "
        "1 hour(s), templates: T_DUE."
    )
    # WeCom caps a text at 2048 bytes: long template lists are clipped
    many = notify.Event(**{**EVENT.__dict__, "templates": [f"T{i:04d}" * 50 for i in range(40)]})
    content = notify.body(many, "wecom", "zh")["text"]["content"]
    assert len(content.encode("utf-8")) <= 2048


def test_settings_are_checked(monkeypatch):
    monkeypatch.setenv("NUDGESCOPE_ALERT_FORMAT", "teams")
    with pytest.raises(AlertSettingsError, match="NUDGESCOPE_ALERT_FORMAT"):
        AlertSettings.from_env()
    monkeypatch.setenv("NUDGESCOPE_ALERT_FORMAT", "slack")
    monkeypatch.setenv("NUDGESCOPE_ALERT_STALE_HOURS", "30,sms_logs=2")
    s = AlertSettings.from_env()
    assert s.stale_hours["sms_logs"] == 2 and s.stale_hours["users"] == 30
    monkeypatch.setenv("NUDGESCOPE_ALERT_WEBHOOK", "ftp://x")
    with pytest.raises(AlertSettingsError, match="not an http"):
        AlertSettings.from_env()
    assert json.dumps(s.rule_params())


OPT_OUTS = "opt_out_id,user_id,received_at,channel\no1,u1,2025-03-01 08:00:00,sms_reply\n"


def test_opt_out_night_batch_and_stale_source_rules(_isolated_data_dir, monkeypatch):
    """One day, evaluated directly (no Dagster): u1 opted out at 08:00 and gets a marketing
    message at 12:00 (after_opt_out: 1 message, threshold 1); reminders to u2, u3, u4 at
    23:10, 23:20, 23:30 (night_batch with a minimum of 3: 3 messages, 3 users, aliyun);
    sms_logs is expected every hour and the clock is put 2 hours after its load (stale_source).
    The data ends at 23:30: the 12:00 breach is 11.5 h old, so it opens and resolves in the
    same evaluation; the night batch stays open."""
    from datetime import UTC, timedelta

    from pipelines.alerts import evaluate
    from pipelines.ingest.warehouse import connect
    from pipelines.marts import run_build
    from tests.fixtures.ingest.helpers import load

    data = _isolated_data_dir
    landing = data / "landing"
    put(landing, "users", "2025-03-01", "u.csv", USERS)
    put(landing, "opt_outs", "2025-03-01", "o.csv", OPT_OUTS)
    rows = [sms("m1", "u1", "2025-03-01 12:00:00", "T_MKT", "marketing", "")]
    rows += [sms(f"n{i}", f"u{i}", f"2025-03-01 23:{i - 1}0:00", f"T_N{i}") for i in range(2, 5)]
    put(landing, "sms_logs", "2025-03-01", "s.csv", SMS_HEADER + "".join(rows))
    warehouse = data / "warehouse.duckdb"
    load(warehouse, landing)
    monkeypatch.setenv("NUDGESCOPE_ALERT_NIGHT_MIN", "3")
    monkeypatch.setenv("NUDGESCOPE_ALERT_STALE_HOURS", "1000,sms_logs=1")
    con = connect(warehouse)
    try:
        run_build(con)
        later = datetime.now(UTC) + timedelta(hours=2)
        first = evaluate(con, "run-1", now=later)
        got = con.execute(
            "select incident_id, kind, subject, status, messages, users, templates "
            "from alerts.incidents order by incident_id"
        ).fetchall()
        assert first.first_load and len(first.opened) == 3 and len(first.resolved) == 1
        # episodes are numbered by first_seen: 12:00, 23:10, then the stale source (now)
        assert got == [
            (1, "after_opt_out", "all", "resolved", 1, 1, ["T_MKT"]),
            (2, "night_batch", "aliyun", "open", 3, 3, ["T_N2", "T_N3", "T_N4"]),
            (3, "stale_source", "sms_logs", "open", 0, 0, []),
        ]
        # back to the real clock: sms_logs is fresh again, nothing else changed
        second = evaluate(con, "run-2")
        assert (second.opened, second.resolved) == ([], [3])
        assert con.execute(
            "select incident_id from alerts.incidents where status = 'open'"
        ).fetchall() == [(2,)]
    finally:
        con.close()


@pytest.mark.parametrize("base_hour, drop_hour", [("10:00", "10:00"), ("00:00", "23:59")])
def test_delivery_drop_against_the_trailing_week(_isolated_data_dir, base_hour, drop_hour):
    """60 users each get one reminder at 10:00 on 1 and 2 March, provider aliyun. On 1 March
    all 60 are delivered (the baseline: rate 1.0 over 60 receipts); on 2 March the first 30
    fail: rate 0.5 < 0.8 x 1.0 → one delivery_drop incident with the 30 failed messages of
    30 users. 1 March itself has no baseline (fewer than 50 receipts before it): no hit.
    Again at the edges of the local days: the baseline at 00:00 on 1 March (16:00 UTC the day
    before) and the drop at 23:59 on 2 March; the log is read by a send-time range, which must
    hold both."""
    from pipelines.alerts import evaluate
    from pipelines.ingest.warehouse import connect
    from pipelines.marts import run_build
    from tests.fixtures.ingest.helpers import load

    data = _isolated_data_dir
    landing = data / "landing"
    users = "user_id,opened_at,credit_limit,score_band,marketing_consent\n" + "".join(
        f"v{i},2025-01-01 09:00:00,5000,a,1\n" for i in range(60)
    )
    put(landing, "users", "2025-03-01", "u.csv", users)
    for day, failed, hour in (("2025-03-01", 0, base_hour), ("2025-03-02", 30, drop_hour)):
        rows = [
            f"{day}-{i},v{i},T_DUE,due_reminder,b{i},您的账单即将到期,{day} {hour}:{i:02d},"
            f"{'failed' if i < failed else 'delivered'},,aliyun,\n"
            for i in range(60)
        ]
        put(landing, "sms_logs", day, "s.csv", SMS_HEADER + "".join(rows))
    warehouse = data / "warehouse.duckdb"
    load(warehouse, landing)
    con = connect(warehouse)
    try:
        run_build(con)
        result = evaluate(con, "run-1")
        got = con.execute(
            "select kind, subject, status, messages, users, first_seen::varchar "
            "from alerts.incidents"
        ).fetchall()
    finally:
        con.close()
    drop = ("delivery_drop", "aliyun", "open", 30, 30, f"2025-03-02 {drop_hour}:00+08")
    if base_hour == "10:00":
        assert result.opened == [1] and result.resolved == []
        assert got == [drop]
    else:  # night sends: the night-batch rule opens its own incidents beside the drop
        assert drop in got and {g[0] for g in got} == {"delivery_drop", "night_batch"}


def test_the_alert_dates_bound_send_times_in_local_days():
    """1 and 2 March in Asia/Shanghai (UTC+8) run from 28 February 16:00 UTC up to 2 March
    16:00 UTC: the range the log is read by."""
    import duckdb

    from pipelines.alerts.evaluate import _date_bounds

    con = duckdb.connect()
    con.execute(
        "create temp table alert_dates as "
        "select * from (values (date '2025-03-02'), (date '2025-03-01')) as t(local_date)"
    )
    dates, sent = _date_bounds(con)
    utc = ZoneInfo("UTC")
    assert dates == {"first_date": date(2025, 3, 1), "last_date": date(2025, 3, 2)}
    assert sent["sent_from"] == datetime(2025, 2, 28, 16, 0, tzinfo=utc)
    assert sent["sent_before"] == datetime(2025, 3, 2, 16, 0, tzinfo=utc)


def test_a_gateways_own_retries_carry_its_name_not_unknown():
    """Flagged duplicates on 1 and 2 March: m1 and m2 are in the log (provider aliyun; their
    receipts' provider, tencent, is not asked), g1 and g2 are gateway retries the log does
    not know, with the providers of their receipts (aliyun, tencent). The rules group by
    provider: the retries are each their gateway's, not one 'unknown' subject. A message with
    neither name (g3) stays 'unknown'. m1 is sent at 00:00 on 1 March local (16:00 UTC the day
    before) and m2 at 23:59:59 on 2 March: the log is read by the send-time range of those
    local days, which must hold both (a range of UTC days, or one ending a day early, would
    give them tencent)."""
    import duckdb

    from pipelines import sqlfiles
    from pipelines.alerts.evaluate import _date_bounds

    con = duckdb.connect()
    con.execute("create schema mart")
    con.execute("create schema core")
    con.execute(
        """create table mart.sms_message_flags as select * from (values
            ('m1', 'tencent', timestamptz '2025-03-01 00:00:00+08'),
            ('m2', 'tencent', timestamptz '2025-03-02 23:59:59+08'),
            ('g1', 'aliyun', timestamptz '2025-03-01 10:00:00+08'),
            ('g2', 'tencent', timestamptz '2025-03-01 10:00:00+08'),
            ('g3', null, timestamptz '2025-03-01 10:00:00+08')
        ) as t(message_id, provider, sent_at)"""
    )
    con.execute(
        """alter table mart.sms_message_flags add column user_id VARCHAR default 'u1';
        alter table mart.sms_message_flags add column purpose VARCHAR default 'due_reminder';
        alter table mart.sms_message_flags add column template_code VARCHAR default 'T';
        alter table mart.sms_message_flags add column local_date DATE;
        update mart.sms_message_flags
            set local_date = cast(sent_at at time zone 'Asia/Shanghai' as date);
        alter table mart.sms_message_flags add column delivery_status VARCHAR default 'delivered';
        alter table mart.sms_message_flags add column is_duplicate BOOLEAN default true;
        alter table mart.sms_message_flags add column is_quiet_hours BOOLEAN default false;
        alter table mart.sms_message_flags add column is_after_opt_out BOOLEAN default false;
        alter table mart.sms_message_flags add column is_over_daily_cap BOOLEAN default false;
        alter table mart.sms_message_flags
            add column is_marketing_in_service BOOLEAN default false;"""
    )
    con.execute(
        """create table core.sms_logs as
        select message_id, 'aliyun' as provider, sent_at
        from mart.sms_message_flags
        where message_id in ('m1', 'm2')"""
    )
    con.execute(
        "create temp table alert_window as "
        "select * from (values (date '2025-03-01'), (date '2025-03-02')) as t(local_date)"
    )
    con.execute("create temp table alert_dates as from alert_window")
    dates, sent = _date_bounds(con)
    sqlfiles.run(con, "alerts/flagged", dates | sent)
    got = con.execute("select message_id, provider from alert_flagged order by 1").fetchall()
    assert got == [
        ("g1", "aliyun"),
        ("g2", "tencent"),
        ("g3", "unknown"),
        ("m1", "aliyun"),
        ("m2", "aliyun"),
    ]

"""AppTest of every dashboard page on the hand-made fixture database (tests/fixtures/dashboard).

Each test reads values off the page (metrics, tables, Plotly figure specs) and compares them with
numbers worked out by hand from the fixture's docstring and tables.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.sandbox import connect
from pipelines.settings import REPO_ROOT
from tests.fixtures.dashboard.build import build

APP = str(REPO_ROOT / "dashboard" / "app.py")
MARCH = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    path = build(tmp_path_factory.mktemp("serve") / "serve.duckdb")
    # Keep one connection open for the module so DuckDB reuses its database instance: every
    # connection the app opens then costs ~1 ms instead of ~60 ms. (AppTest gives every run a
    # fresh st.cache_data store, so each run really queries the file.)
    warm = connect(path)
    yield path
    warm.close()


@pytest.fixture
def app(fixture_db, monkeypatch):
    monkeypatch.setenv("NUDGESCOPE_SERVE", str(fixture_db))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["lang"] = "en"
    return at  # not run yet: open_page() runs the app on the page it is given


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, tuple[str, str | None]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def _plain(value):
    """Plotly's base64 typed arrays ({dtype, bdata}) as plain lists."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        if set(value) <= {"dtype", "bdata", "shape"} and "bdata" in value:
            arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
            if "shape" in value:
                shape = value["shape"]
                dims = shape if isinstance(shape, list) else str(shape).split(",")
                arr = arr.reshape([int(d) for d in dims])
            return arr.tolist()
        return {k: _plain(v) for k, v in value.items()}
    return value


def figures(at: AppTest) -> dict[str, dict]:
    """Plotly specs on the page by their title text."""
    out = {}
    for el in at.get("plotly_chart"):
        spec = _plain(json.loads(el.proto.spec))
        out[spec["layout"].get("title", {}).get("text", "")] = spec
    return out


def trace(spec: dict, name: str) -> dict:
    return next(t for t in spec["data"] if t.get("name") == name)


def table_with(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


# ---------------------------------------------------------------------------------------------


def test_default_language_is_chinese_and_switches(fixture_db, monkeypatch):
    monkeypatch.setenv("NUDGESCOPE_SERVE", str(fixture_db))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert at.title[0].value == "总览"
    assert metrics(at)["活跃账户"][0] == "8"
    at.sidebar.radio(key="lang").set_value("en").run()
    assert at.title[0].value == "Overview"


def test_missing_database_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("NUDGESCOPE_SERVE", str(tmp_path / "nope.duckdb"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert "nudgescope run" in at.error[0].value


def test_overview_headlines_against_previous_month(app):
    at = open_page(app, "overview")
    m = metrics(at)
    assert m["Active accounts"] == ("8", "+1")  # 8 in March, 7 in February
    assert m["Pay-later GMV"] == ("¥12,346", "+2,346")  # 12,345.60 vs 10,000.00
    assert m["On-time rate"] == ("75.0%", "-12.5 pp")  # 6/8 vs 7/8
    assert m["30+ DPD"] == ("12.5%", "+12.5 pp")  # Feb (latest matured) 1/8 vs Jan 0/8
    assert m["Complaints per 10k accounts"][0] == "6,250.0"  # 5 x 10,000 / 8
    assert m["Messages per active account"] == ("1.75", "+1.46")  # 14/8 vs 2/7
    assert m["Opt-outs"] == ("2", "+1")
    assert "(30+ DPD: latest month 2026-02)" in [c.value for c in at.caption]
    helps = {x.label: x.proto.help for x in at.metric}
    assert helps["On-time rate"] == "2026-03: 6 / 8"  # what the rate rests on
    assert helps["30+ DPD"] == "2026-02: 1 / 8"
    spec = figures(at)["On-time rate · 30+ DPD"]
    assert trace(spec, "On-time rate")["y"] == [1.0, 0.875, 0.75]


def test_overview_band_filter_changes_figures(app):
    at = open_page(app, "overview")
    at.sidebar.selectbox(key="band").set_value("E").run()
    m = metrics(at)
    assert m["On-time rate"] == ("0.0%", "+0.0 pp")  # band E: 0/1 in March and February
    assert m["30+ DPD"][0] == "100.0%"  # band E, February: 1/1
    assert m["Active accounts"][0] == "8"  # not published per band: all accounts
    assert trace(figures(at)["On-time rate · 30+ DPD"], "On-time rate")["y"] == [0.0, 0.0]


def test_tradeoffs_defaults_to_the_current_policy(app):
    at = open_page(app, "tradeoffs")
    m = metrics(at)
    assert m["Messages removed"][0] == "0"
    for label in ("Change in on-time repayments", "Change in complaints", "Net value (yuan)"):
        assert m[label][0] == "0" and not m[label][1]  # a zero: no sign, no arrow
    assert "Current policy (no change)" in " ".join(x.value for x in at.markdown)


def test_tradeoffs_whatif_counts_and_effects(app):
    at = open_page(app, "tradeoffs")
    at.sidebar.date_input(key="date_range").set_value(MARCH).run()
    for key in ("p_compliance", "p_duplicates", "p_quiet", "p_promo"):
        at.checkbox(key=key).check().run()
    at.selectbox(key="p_max_reminders").set_value(1).run()
    at.selectbox(key="p_daily_cap").set_value(3).run()
    assert not at.exception
    rules = table_with(at, "Removes on its own")
    combined = rules["Removed in the combined policy (each once)"].tolist()
    alone = rules["Removes on its own"].tolist()
    # M07+M08 | M03 | M04+M13 (M08 counted under compliance) | M11+M12 (one due reminder a
    # bill: B05-03 keeps M10) | none | M09 rewritten (a bill notice, never capped)
    assert combined == ["2", "1", "2", "2", "0", "1", "7"]
    # alone: quiet hours M04, M08, M13; due reminders after the first on the log as sent: M03,
    # M04, M11, M12; over 3 a day: M06
    assert alone == ["2", "1", "3", "4", "1", "1", ""]
    m = metrics(at)
    assert m["Messages removed"][0] == "7"
    # Experiment in March: cadences from late bills: control 2 (U05's bill: 3 pre-due
    # messages), two_reminders 0 (U04's bill: 1). On time 3/4 in both arms ->
    # the cap changes nothing. Complaints: filters 1 (C01, duplicates) + 1 (C04, compliance,
    # regulator) + 1 x 2/3 (C02, quiet hours: M04, M13 of M04, M08, M13); the cap: complained
    # 3/4 (cadence 2) vs 2/4 (cadence 0), rate(1) = 0.625, 4 control bills x -0.125 = -0.5.
    assert m["Change in on-time repayments"][0] == "0"
    assert m["Change in complaints"][0] == "-3"  # -3.17
    assert m["Change in compliance violations"][0] == "-2"
    # net value: 200 x (3.1667 - 1.1) + 2000 x 1.1 (regulator: C04 + 0.5 x 1/5)
    # + 30 x (2/3 - 0.5) (opt-outs: 2 per 3 reachable marketing messages x M07; the cap: opted
    # out 1/4 at cadence 0 vs 0/4 -> +0.5) + 500 x 2 + 0.04 x 7 = 3,618.61
    assert m["Net value (yuan)"][0] == "+3,619"
    outcomes = table_with(at, "Whole period")
    row = outcomes.set_index("Outcome").loc["Compliance violations"]
    assert row["Whole period"] == "-2" and row["2026-03"] == "-2"
    ranking = table_with(at, "Tied")
    assert len(ranking) == 10
    assert "observational" in " ".join(w.value for w in at.warning)


def test_tradeoffs_charts_curve_arms_frontier(app):
    at = open_page(app, "tradeoffs")
    figs = figures(at)
    curve = next(s for title, s in figs.items() if title.startswith("Outcome vs pre-due"))
    assert trace(curve, "All")["y"] == [0.6, 0.7, 0.8, 0.85, 0.86, 0.86]
    assert trace(curve, "All")["x"] == ["0", "1", "2", "3", "4", "5+"]
    arms = figs["Arms vs control: difference with 95% CI"]
    arm = trace(arms, "EXP-REMIND-01 · two_reminders")
    assert dict(zip(arm["y"], arm["x"], strict=True))["On time"] == pytest.approx(-0.05)
    at.sidebar.selectbox(key="band").set_value("A").run()
    curve = next(s for t, s in figures(at).items() if t.startswith("Outcome vs pre-due"))
    assert trace(curve, "Score band A")["y"] == [0.8, 0.88, 0.92, 0.94, 0.95, 0.95]
    at.sidebar.selectbox(key="experiment").set_value("EXP-REMIND-01").run()
    frontier = next(s for t, s in figures(at).items() if t.startswith("Frontier"))
    # band A, Jan-Mar bills: U01 (control) and U08 (two_reminders), all on time
    assert frontier["data"][0]["text"] == ["control", "two_reminders"]
    assert frontier["data"][0]["y"] == [1.0, 1.0]


def test_repayment_page(app):
    at = open_page(app, "repayment")
    figs = figures(at)
    rates = next(s for t, s in figs.items() if "By due month" in t)
    assert trace(rates, "On-time rate")["y"] == [1.0, 0.875, 0.75]
    assert trace(rates, "7+ DPD")["y"] == [0.0, 0.125, 0.25]
    vintage = figs["Vintage curves: 30+ DPD rate"]
    assert trace(vintage, "2026-01")["y"] == [0.0, 0.0625]  # 1 of 16 bills at month 1
    at.sidebar.selectbox(key="band").set_value("E").run()
    vintage = figures(at)["Vintage curves: 30+ DPD rate"]
    assert trace(vintage, "2026-01")["y"] == [0.0, 0.5]


def test_conversion_page(app):
    at = open_page(app, "conversion")
    figs = figures(at)
    conv = figs["Checkout conversion with / without pay-later"]
    assert trace(conv, "Pay-later offered")["y"] == [0.6, 0.75]
    assert trace(conv, "Not offered")["y"] == [0.4, 0.5]
    heat = figs["Cohort retention heatmap"]["data"][0]
    assert heat["y"] == ["2026-01", "2026-02"]
    assert heat["z"][0] == [1.0, 0.8, 0.6]
    assert heat["z"][1][:2] == [1.0, 0.5]


def test_complaints_page_masks_narratives(app):
    at = open_page(app, "complaints")
    by_cat = next(s for t, s in figures(at).items() if "By category" in t)
    march = {
        tr["name"]: sum(y for x, y in zip(tr["x"], tr["y"], strict=True) if x.startswith("2026-03"))
        for tr in by_cat["data"]
    }
    assert march == {
        "fees": 1, "sms_duplicate": 1, "sms_frequency": 1, "sms_marketing": 1, "sms_night": 1,
        "refund": 0,
    }  # fmt: skip
    narratives = table_with(at, "narrative")
    text = " ".join(narratives["narrative"])
    assert "138****5678" in text and "13812345678" not in text
    assert len(narratives) == 7
    res = table_with(at, "median_hours").set_index("source")
    assert res.loc["hotline", "median_hours"] == 15.0  # C01 24 h, C05 6 h (C07 open)


def test_sms_health_page(app):
    at = open_page(app, "sms_health")
    m = metrics(at)
    assert m["Duplicate"][0] == "1"
    assert m["Quiet hours"][0] == "4"  # M04, M08, M13, F02
    assert m["Marketing after opt-out"][0] == "1"
    assert m["Over daily cap"][0] == "1"
    assert m["Marketing without consent"][0] == "1"
    tpl = figures(at)["Worst templates"]["data"][0]
    # T_MKT: M07, M08, F02 of 4; T_DUE: M03, M04 of 7; then one each, by share and name
    assert tpl["x"] == ["T_MKT", "T_DUE", "T_BILL_PROMO", "T_COLL", "T_MKT2", "T_BILL"]
    assert tpl["y"] == [3, 2, 1, 1, 1, 0]
    bad = table_with(at, "reason")
    assert bad["message_id"].tolist() == ["M08", "M07"]
    assert bad["reason"].tolist() == ["after_opt_out", "no_consent"]
    heat = figures(at)["Local hour × weekday"]["data"][0]
    assert sum(map(sum, heat["z"])) == 16  # 14 March + 2 February messages, no verification
    at.sidebar.selectbox(key="band").set_value("D").run()  # only U04
    m = metrics(at)
    assert (m["Duplicate"][0], m["Quiet hours"][0]) == ("0", "1")


def test_data_status_page(app):
    at = open_page(app, "data_status")
    m = metrics(at)
    assert m["As of"][0] == "2026-03-31"
    assert m["Last publish"][0] == "2026-04-01 02:05"
    assert m["Run id"][0] == "run-fixture"
    warnings = [w.value for w in at.warning]
    assert "1 files failed to load" in warnings
    # the fixture ledger has files for 4 of the 9 sources
    assert (
        "No files yet for: bills, checkout_sessions, experiment_assignments, opt_outs, repayments"
        in warnings
    )
    fresh = table_with(at, "days_behind").set_index("source")
    assert fresh.loc["complaints", "days_behind"] == 1
    assert fresh.loc["sms_logs", "rows_superseded"] == 1
    q = table_with(at, "reason_code")
    assert sorted(q["reason_code"]) == ["bad_enum", "bad_ts", "missing_required"]
    rows = figures(at)["Rows per source"]["data"][0]
    assert dict(zip(rows["x"], rows["y"], strict=True))["bills"] == 24


def run_sql(at: AppTest, sql: str) -> AppTest:
    at.text_area(key="sql_text").set_value(sql)
    at.button(key="sql_run").click().run()
    assert not at.exception
    return at


def test_sql_page_runs_queries_and_shows_schema(app):
    at = open_page(app, "sql")
    run_sql(at, "select metric, value from mart.metrics where metric = 'bnpl_gmv' order by period")
    assert not at.error
    result = table_with(at, "metric")
    assert result["value"].tolist() == [8000.0, 10000.0, 12345.6]
    assert "3 rows" in " ".join(c.value for c in at.caption)
    assert any(e.label == "mart.user_cycle" for e in at.expander)


ESCAPES = [
    ("select * from read_csv('/etc/passwd')", "file, network and extension access"),
    ("copy core.users to '/tmp/users.csv'", "COPY"),
    ("export database '/tmp/dump'", "EXPORT DATABASE"),
    ("attach '/tmp/other.duckdb' as other", "ATTACH"),
    ("install httpfs", "extensions"),
    ("load httpfs", "extensions"),
    ("set threads = 8", "settings are locked"),
    ("reset memory_limit", "settings are locked"),
    ("create table mart.evil as select 1", "read-only"),
]


def test_sql_page_refuses_escapes(app):
    at = open_page(app, "sql")
    for sql, message in ESCAPES:
        run_sql(at, sql)
        assert at.error, f"expected a refusal for {sql!r}"
        assert at.error[0].value.startswith("Refused:"), at.error[0].value
        assert message in at.error[0].value, (sql, at.error[0].value)
        assert not any("rows in" in c.value for c in at.caption)  # no result shown


def test_sql_page_interrupts_runaway_query(fixture_db, monkeypatch):
    monkeypatch.setenv("NUDGESCOPE_SERVE", str(fixture_db))
    monkeypatch.setenv("NUDGESCOPE_SQL_TIMEOUT", "1")
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["lang"] = "en"
    open_page(at, "sql")
    run_sql(at, "select count(*) from range(100000) a cross join range(1000000000) b")
    assert at.error[0].value.startswith("Interrupted:")
    assert "1 s time limit" in at.error[0].value


def test_every_page_in_chinese(fixture_db, monkeypatch):
    monkeypatch.setenv("NUDGESCOPE_SERVE", str(fixture_db))
    at = AppTest.from_file(APP, default_timeout=60)
    titles = {
        "overview": "总览",
        "tradeoffs": "短信权衡",
        "repayment": "还款与风险",
        "conversion": "转化与粘性",
        "complaints": "投诉与退订",
        "sms_health": "短信健康与合规",
        "sql": "SQL 查询",
        "data_status": "数据状态",
    }
    for page, title in titles.items():
        open_page(at, page)
        assert at.title[0].value == title
    assert metrics(open_page(at, "data_status"))["数据截至"][0] == "2026-03-31"


def test_labels_exist_in_both_languages_with_the_same_placeholders():
    import string

    from dashboard.i18n import L

    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    for key, (zh, en) in L.items():
        assert zh and en, key
        assert fields(zh) == fields(en), key

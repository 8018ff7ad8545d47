"""AppTest of the SMS health page's sections added for messages that should never have gone
out and the preference centre (dashboard/views/preferences.py), on the hand-made fixture
database (tests/fixtures/dashboard/build.py: its docstring lists the settings and flags).
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.serve.sandbox import connect
from pipelines.settings import REPO_ROOT
from tests.fixtures.dashboard.build import build

APP = str(REPO_ROOT / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    path = build(tmp_path_factory.mktemp("serve") / "serve.duckdb")
    warm = connect(path)
    yield path
    warm.close()


def _page(fixture_db, monkeypatch, lang: str = "en") -> AppTest:
    monkeypatch.setenv("NUDGESCOPE_SERVE", str(fixture_db))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["lang"] = lang
    at.switch_page("views/sms_health.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _plain(value):
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        if set(value) <= {"dtype", "bdata", "shape"} and "bdata" in value:
            return np.frombuffer(
                base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])
            ).tolist()
        return {k: _plain(v) for k, v in value.items()}
    return value


def _figures(at: AppTest) -> dict[str, dict]:
    out = {}
    for el in at.get("plotly_chart"):
        spec = _plain(json.loads(el.proto.spec))
        out[spec["layout"].get("title", {}).get("text", "")] = spec
    return out


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_never_sent_and_preference_centre(fixture_db, monkeypatch):
    at = _page(fixture_db, monkeypatch)
    m = _metrics(at)
    # default range: 2026-01-01 .. 2026-03-31. M04 is after B01-03's settlement; no
    # collection before due; M04 (quiet window 22-7) and M08 (marketing off) against settings
    assert m["After settlement"] == "1"
    assert m["Collection before due"] == "0"
    assert m["Against the user's settings"] == "2"
    figs = _figures(at)
    tpl = figs["Should never have gone out, by template"]
    # T_DUE: M04 (after settlement, against); T_MKT: M08 (against)
    assert tpl["layout"]["xaxis"]["categoryarray"] == ["T_DUE", "T_MKT"]
    # the drill-down list, latest first: M08 (03-12 23:30), M04 (03-09 23:00)
    bad = next(d.value for d in at.dataframe if "reason" in d.value.columns
               and "bill_id" in d.value.columns)  # fmt: skip
    assert bad["message_id"].tolist() == ["M08", "M04"]
    # shown as labels, two reasons joined (the CSV keeps the codes)
    assert bad["reason"].tolist() == [
        "Against the user's settings",
        "Bill settled, Against the user's settings",
    ]
    # preference centre: U03 (02-10), U01 (03-02), U04 (03-05, 03-20) saved settings in range
    assert m["Users who changed a setting"] == "3"
    assert m["Setting changes"] == "4"
    assert m["Messages against a setting in force"] == "2"
    changes = figs["What users chose (by kind of change)"]["data"][0]
    assert dict(zip(changes["y"], changes["x"], strict=True)) == {
        "Reminders off": 1,
        "Quiet window set": 1,
        "Marketing off": 1,
        "Daily maximum set": 1,
    }
    force = figs["Settings in force now (users)"]["data"][0]
    assert dict(zip(force["x"], force["y"], strict=True)) == {
        "Marketing off": 1,  # U04
        "Reminders off": 1,  # U03
        "Own quiet window": 1,  # U01
        "Own daily maximum": 1,  # U04
    }
    # nobody's first choice has 30 complete days before and after inside Feb-Mar
    assert any("30 complete days" in i.value for i in at.info)

    # score band D: U04 only
    at.sidebar.selectbox(key="band").set_value("D").run()
    m = _metrics(at)
    assert (m["Users who changed a setting"], m["Setting changes"]) == ("1", "2")
    assert (m["Against the user's settings"], m["After settlement"]) == ("1", "0")


def test_sections_in_chinese(fixture_db, monkeypatch):
    at = _page(fixture_db, monkeypatch, lang="zh")
    subheaders = [s.value for s in at.subheader]
    assert "本不该发出的短信" in subheaders and "用户偏好中心" in subheaders
    assert _metrics(at)["违背用户设置"] == "2"


def test_no_preferences_delivered(fixture_db, monkeypatch, tmp_path):
    import duckdb

    path = tmp_path / "serve.duckdb"
    path.write_bytes(fixture_db.read_bytes())
    con = duckdb.connect(str(path))
    for table in ("core.sms_preferences", "mart.preference_changes", "mart.preference_users"):
        con.execute(f"delete from {table}")
    con.close()
    at = _page(path, monkeypatch)
    assert any("sms_preferences" in i.value for i in at.info)


def test_before_after_chart_shows_rates_with_their_counts(fixture_db, monkeypatch):
    """The 30-day before/after chart: complaints, SMS complaints and opt-outs per 1,000 users,
    each bar labelled with its rate and the count behind it; messages against a setting (none
    can come before a setting exists) are not in it. Hand-made figures for 200 users."""
    import pandas as pd

    from dashboard.views import preferences as view

    frame = pd.DataFrame(
        {
            "measure": ["messages", "complaints", "sms_complaints", "opt_outs", "against"],
            "before": [3000.0, 1.0, 0.0, 4.0, None],
            "after": [2000.0, 2.0, 1.0, 3.0, 50.0],
        }
    )
    frame["before_per_1k"] = frame["before"] / 200 * 1000
    frame["after_per_1k"] = frame["after"] / 200 * 1000
    monkeypatch.setattr(view, "before_after", lambda f: (200, frame))
    at = _page(fixture_db, monkeypatch)
    chart = _figures(at)["30 days before vs after the first choice (per 1,000 users)"]
    bars = {tr["name"]: dict(zip(tr["x"], tr["text"], strict=True)) for tr in chart["data"]}
    assert bars == {
        "Before": {"Complaints": "5.0 (1)", "SMS complaints": "0.0 (0)", "Opt-outs": "20.0 (4)"},
        "After": {"Complaints": "10.0 (2)", "SMS complaints": "5.0 (1)", "Opt-outs": "15.0 (3)"},
    }
    # messages per user: 2000 / 200 after, 3000 / 200 before; the label names the windows
    label = "Messages per user in the 30 days after the first choice (vs the 30 days before)"
    assert _metrics(at)[label] == "10.0"
    # the users behind it, with a thousands separator like every other count
    monkeypatch.setattr(view, "before_after", lambda f: (5034, frame))
    again = _page(fixture_db, monkeypatch)
    assert any("the 5,034 users" in c.value for c in again.caption)

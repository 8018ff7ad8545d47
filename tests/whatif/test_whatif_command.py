"""`nudgescope whatif` on the dashboard fixture: JSON shape, counts by hand, user mistakes."""

from __future__ import annotations

import json

import pytest

from pipelines.cli import main
from pipelines.whatif.engine import OUTCOMES
from tests.fixtures.dashboard.build import build


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("whatif")
    build(root / "serve.duckdb")
    return root


@pytest.fixture(autouse=True)
def _serve_from_data_dir(monkeypatch):
    monkeypatch.delenv("NUDGESCOPE_SERVE", raising=False)


def run_json(data_dir, capsys, *flags) -> dict:
    code = main(["whatif", "--data-dir", str(data_dir), "--format", "json", *flags])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_json_shape_and_counts(data_dir, capsys):
    doc = run_json(
        data_dir, capsys,
        "--from", "2026-03-01", "--to", "2026-03-31",
        "--block-marketing-without-permission", "--suppress-duplicates", "--quiet-hours",
        "--no-promo-in-reminders", "--max-pre-due-reminders", "1", "--daily-cap", "3",
    )  # fmt: skip
    assert doc["period"] == {
        "from": "2026-03-01",
        "to": "2026-03-31",
        "months": 1.02,  # 31 days / 30.44
        "calendar_months": ["2026-03"],
    }
    assert doc["policy"]["max_pre_due_reminders"] == 1
    # fixture docstring: M07+M08 | M03 | M04+M13 | M11+M12 (B05-03 keeps one due reminder) |
    # none
    assert doc["messages_removed"] == {
        "compliance": 2, "user_settings": 0, "after_settlement": 0, "duplicates": 1,
        "quiet_hours": 2, "reminder_cap": 2, "daily_cap": 0, "total": 7,
    }  # fmt: skip
    assert doc["messages_rewritten"] == 1  # M09
    assert doc["messages_in_scope"] == 14
    assert set(doc["outcomes"]) == set(OUTCOMES)
    for o in OUTCOMES:
        iv = doc["outcomes"][o]
        assert set(iv) == {"change", "ci_low", "ci_high"}
        assert iv["ci_low"] <= iv["change"] <= iv["ci_high"]
        assert doc["per_month"]["2026-03"]["outcomes"][o] == iv  # one month: the same
    assert doc["outcomes"]["violations"] == {"change": -2, "ci_low": -2, "ci_high": -2}
    assert doc["outcomes"]["messages"]["change"] == -7
    # the regulator complaint C04 ("没同意还发广告") is attributed to the compliance rule
    assert doc["complaints_attributed"]["compliance (regulator)"] == 1


def test_settings_and_settled_bills(data_dir, capsys):
    doc = run_json(
        data_dir, capsys,
        "--from", "2026-03-01", "--to", "2026-03-31",
        "--block-marketing-without-permission", "--honour-user-settings",
        "--suppress-after-settlement",
    )  # fmt: skip
    assert doc["policy"]["honour_user_settings"] is True
    assert doc["policy"]["suppress_after_settlement"] is True
    # fixture docstring: M07 (no consent) and M08 (after opt-out, also against U04's settings)
    # go for compliance; M04 (U01's quiet window, also after B01-03 was settled) for the
    # settings, which come before after-settlement
    assert doc["messages_removed"] == {
        "compliance": 2, "user_settings": 1, "after_settlement": 0, "duplicates": 0,
        "quiet_hours": 0, "reminder_cap": 0, "daily_cap": 0, "total": 3,
    }  # fmt: skip
    assert doc["messages_removed_alone"]["user_settings"] == 2  # M04 M08
    assert doc["messages_removed_alone"]["after_settlement"] == 1  # M04
    # violations: compliance 2 + against the user's settings 1; no complaint of the fixture
    # names the settings or a repaid bill
    assert doc["outcomes"]["violations"] == {"change": -3, "ci_low": -3, "ci_high": -3}
    assert doc["outcomes"]["messages"]["change"] == -3
    assert "user_settings" not in doc["complaints_attributed"]
    assert "after_settlement" not in doc["complaints_attributed"]


def test_after_settlement_before_the_reminder_cap(data_dir, capsys):
    doc = run_json(
        data_dir, capsys, "--from", "2026-03-01", "--to", "2026-03-31",
        "--suppress-after-settlement", "--max-pre-due-reminders", "1",
    )  # fmt: skip
    # M04 goes as after settlement, then B01-03 keeps M02 (M03 capped), B05-03 keeps M10
    assert doc["messages_removed"]["after_settlement"] == 1
    assert doc["messages_removed"]["reminder_cap"] == 3
    assert doc["outcomes"]["violations"]["change"] == 0


def test_help_states_the_levers_assumptions(capsys):
    with pytest.raises(SystemExit):
        main(["whatif", "--help"])
    out = capsys.readouterr().out
    for text in ("--honour-user-settings", "--suppress-after-settlement", "judged on the log as",
                 "collection_conduct"):  # fmt: skip
        assert text in out, text


def test_whole_period_by_default_and_per_month(data_dir, capsys):
    doc = run_json(data_dir, capsys, "--quiet-hours")
    assert doc["period"]["from"] == "2026-02-01" and doc["period"]["to"] == "2026-03-31"
    per = doc["per_month"]
    assert list(per) == ["2026-02", "2026-03"]
    # quiet hours: F02 in February; M04 M08 M13 in March
    assert per["2026-02"]["messages_removed"]["quiet_hours"] == 1
    assert per["2026-03"]["messages_removed"]["quiet_hours"] == 3
    assert doc["messages_removed"]["total"] == 4


def test_table_output(data_dir, capsys):
    assert main(["whatif", "--data-dir", str(data_dir), "--daily-cap", "1"]) == 0
    out = capsys.readouterr().out
    assert "net value (yuan)" in out and "2026-03" in out
    assert "daily_cap" in out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--weights", "on_time=abc"], "not a number"),
        (["--weights", "speed=1"], "unknown weight"),
        (["--band", "Q"], "unknown score band 'Q'"),
        (["--max-pre-due-reminders-by-band", "A=1,Z=2"], "unknown score band 'Z'"),
        (["--from", "2026-02-30"], "not a date"),
        (["--from", "2026-03-10", "--to", "2026-03-01"], "before it starts"),
        (["--daily-cap", "9"], "daily cap 9"),
        (["--max-pre-due-reminders", "7"], "reminder cap 7"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(data_dir, capsys, flags, message):
    code = main(["whatif", "--data-dir", str(data_dir), *flags])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_missing_database_is_a_user_error(tmp_path, capsys):
    assert main(["whatif", "--data-dir", str(tmp_path)]) == 2
    assert "nudgescope run" in capsys.readouterr().err

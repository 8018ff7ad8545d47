"""Shared test setup: every test gets its own data directory, never the real data/."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("NUDGESCOPE_DATA_DIR", str(data))
    for var in ("NUDGESCOPE_LANDING", "NUDGESCOPE_WAREHOUSE", "NUDGESCOPE_SERVE"):
        monkeypatch.delenv(var, raising=False)
    # every publish of the suite checks its change-log fingerprints against a full rehash, so
    # a write to a large table that does not note its dates fails the test that made it
    monkeypatch.setenv("NUDGESCOPE_VERIFY_PUBLISH", "1")
    yield data
    # the app (run by AppTest) keeps the published file open between its runs; a test's
    # published file is not another test's business
    connection = sys.modules.get("dashboard.data.connection")
    if connection is not None:
        connection.hold_between_runs(False)

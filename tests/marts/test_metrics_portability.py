"""The mart SQL stays portable: every file parses as DuckDB and transpiles to Spark with
sqlglot without an unsupported construct, local time is always converted explicitly, and the
few DuckDB idioms live only in the files whose header says so."""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from pipelines import sqlfiles
from pipelines.marts import MART_FILES

# file -> the DuckDB idioms it is allowed to use (each documented in the file's header)
ALLOWED_IDIOMS = {
    "marts/run_context": {"$", "varchar[]"},
    "marts/sms_message_flags": {"unnest("},
    "marts/metrics_balance": {"unnest(", "generate_series("},
    "marts/vintage_curve": {"unnest(", "generate_series(", "strftime("},
    "marts/cohort_retention": {"unnest(", "generate_series("},
    "marts/duplicate_incidents": {"list_sort("},
}
IDIOMS = ("$", "varchar[]", "unnest(", "generate_series(", "strftime(", "list_sort(")
# never: engine-specific or session-dependent constructs
FORBIDDEN = (" qualify ", " asof ", "->", "timezone(", "current_date", "now()", "::")


def _code(name: str) -> str:
    """The SQL without its comments, lower-cased."""
    text = sqlfiles.load(name)
    return re.sub(r"--[^\n]*", "", text).lower()


def test_every_mart_file_is_listed_once():
    assert sorted(name for name, _ in MART_FILES) == sorted(sqlfiles.names("marts"))


@pytest.mark.parametrize("name", [name for name, _ in MART_FILES])
def test_transpiles_to_spark(name):
    statements = sqlglot.transpile(
        sqlfiles.load(name), read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE
    )
    assert len(statements) == 1  # one statement per file


@pytest.mark.parametrize("name", [name for name, _ in MART_FILES])
def test_no_forbidden_or_undocumented_idioms(name):
    code = _code(name)
    for token in FORBIDDEN:
        assert token not in code, (name, token)
    used = {idiom for idiom in IDIOMS if idiom in code}
    assert used <= ALLOWED_IDIOMS.get(name, set()), (name, used)
    header = sqlfiles.load(name).split("create", 1)[0].lower()
    if used:
        assert "duckdb" in header, f"{name} uses {used} without saying so"


def test_local_time_is_converted_explicitly():
    # every timestamp turned into a local date or hour goes through at time zone 'Asia/Shanghai'
    for name, _ in MART_FILES:
        code = _code(name)
        for match in re.finditer(r"at time zone '([^']+)'", code):
            assert match.group(1) == "asia/shanghai", name
        assert "date_trunc('hour'" not in code and "date_trunc('day'" not in code, name

"""A catalogue of hostile and careless landing input (issue #14).

Every case writes a few landing files next to good ones, loads them, and checks by hand-worked
expectations that: the good rows load, every file's counts reconcile
(rows_read = rows_loaded + rows_quarantined + rows_superseded), and the reason is visible —
a quarantine reason code with its row, a failed file's error, or an ignored path with why.
Nothing outside the landing folder is read, and no content of a failed or refused file is kept.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from pipelines.contract import REASON_CODES
from pipelines.ingest import files as landing_files
from pipelines.ingest.readers import MAX_LINE_BYTES
from tests.fixtures.ingest.helpers import ledger, load, put, query

DT = "2025-03-01"
HEADER = "user_id,opened_at,credit_limit,score_band,marketing_consent,province,updated_at\n"
SECRET = "TOP-SECRET-13812345678"


def row(uid: str, province: str = "浙江") -> str:
    return f"{uid},2025-01-05 09:00:00,100,a,true,{province},\n"


def jrow(uid: str, **extra) -> str:
    import json

    rec = {
        "user_id": uid,
        "opened_at": "2025-01-05 09:00:00",
        "credit_limit": "1",
        "score_band": "a",
        "marketing_consent": "true",
        **extra,
    }
    return json.dumps(rec, ensure_ascii=False) + "\n"


GOOD = HEADER + row("g1")  # the good file every case has next to its hostile one


@dataclass
class Case:
    setup: Callable[[Path, Path], None]  # (landing, outside folder)
    core: list[str]  # user_ids expected in core.users (g1 from good.csv included)
    quarantine: set[tuple[str, int, str]] = field(default_factory=set)  # (file, row, reason)
    failed: dict[str, str] = field(default_factory=dict)  # file -> words of its error
    ignored: list[str] = field(default_factory=list)  # words of an ignored entry
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # file -> r, l, q
    rows: dict[str, int] = field(default_factory=dict)  # user_id -> its row number
    sources: tuple[str, ...] = ("users",)


def files(**named: str | bytes) -> Callable[[Path, Path], None]:
    def setup(landing: Path, outside: Path) -> None:
        for name, content in named.items():
            put(landing, "users", DT, name.replace("__", "."), content)

    return setup


def _symlink(kind: str) -> Callable[[Path, Path], None]:
    def setup(landing: Path, outside: Path) -> None:
        secret = outside / "secret.csv"
        secret.write_text(f"{SECRET},x\n" + HEADER + row("s1"))
        if kind == "file":
            target = landing / "users" / f"dt={DT}" / "link.csv"
            target.symlink_to(secret)
        elif kind == "dt":
            d = outside / "dtdir"
            d.mkdir()
            (d / "a.csv").write_text(HEADER + row("s2"))
            (landing / "users" / "dt=2025-03-02").symlink_to(d, target_is_directory=True)
        else:  # a source folder (complaints) pointing outside
            d = outside / "src" / f"dt={DT}"
            d.mkdir(parents=True)
            (d / "c.csv").write_text(f"{SECRET}\n")
            (landing / "complaints").symlink_to(outside / "src", target_is_directory=True)

    return setup


def _glob_names(landing: Path, outside: Path) -> None:
    put(landing, "users", DT, "x*.csv", HEADER + row("x_star"))
    put(landing, "users", DT, "x1.csv", HEADER + row("x_one"))
    put(landing, "users", DT, "a[1].csv", HEADER + row("bracket"))
    put(landing, "users", DT, "q?.csv", HEADER + row("question"))
    put(landing, "users", DT, "qq.csv", HEADER + row("qq"))


def _parquet_with_names(path: Path, names: list[str], values: list[str]) -> None:
    """A Parquet file with exactly these column names (DuckDB would rename a repeated one)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = [pa.array([v]) for v in values]
    pq.write_table(pa.Table.from_arrays(arrays, names=names), path)


def _fifo(landing: Path, outside: Path) -> None:
    os.mkfifo(landing / "users" / f"dt={DT}" / "pipe.csv")


def _leftover_dirs(landing: Path, outside: Path) -> None:
    put(landing, "users", DT, "a.csv", HEADER + row("u1"))


LONG = "长" * ((16 << 20) // 3 + 10)  # 16 MB of UTF-8 in one field: loads
TOO_LONG = "x" * (MAX_LINE_BYTES + 10)  # over the line limit: quarantined

CASES: dict[str, Case] = {
    # --- CSV lines that are not records ---
    "csv_too_few_fields": Case(
        files(**{"a.csv": HEADER + row("u1") + "u2,2025-01-05 09:00:00,1\n" + row("u3")}),
        ["g1", "u1", "u3"],
        {("a.csv", 2, "malformed_row")},
        counts={"a.csv": (3, 2, 1)},
        rows={"u1": 1, "u3": 3},
    ),
    "csv_too_many_fields": Case(
        files(**{"a.csv": HEADER + "u2,2025-01-05 09:00:00,1,a,true,,,x,y\n" + row("u3")}),
        ["g1", "u3"],
        {("a.csv", 1, "malformed_row")},
        counts={"a.csv": (2, 1, 1)},
        rows={"u3": 2},
    ),
    "csv_unterminated_quote": Case(
        files(**{"a.csv": HEADER + row("u1") + 'u2,"2025-01-05 09:00:00,1,a,true,,\n'}),
        ["g1", "u1"],
        {("a.csv", 2, "malformed_row")},
        counts={"a.csv": (2, 1, 1)},
    ),
    "csv_invalid_utf8_field": Case(
        files(
            **{
                "a.csv": HEADER.encode()
                + b"u1,2025-01-05 09:00:00,1,a,true,\xff\xfe,\n"
                + row("u2").encode()
            }
        ),
        ["g1", "u2"],
        {("a.csv", 1, "bad_encoding")},
        counts={"a.csv": (2, 1, 1)},
    ),
    "csv_gz_invalid_utf8_field": Case(
        files(
            **{
                "a.csv.gz": gzip.compress(
                    HEADER.encode()
                    + row("u1").encode()
                    + b"u2,2025-01-05 09:00:00,1,a,true,\xff,\n"
                )
            }
        ),
        ["g1", "u1"],
        {("a.csv.gz", 2, "bad_encoding")},
        counts={"a.csv.gz": (2, 1, 1)},
    ),
    "csv_16mb_field_loads": Case(
        files(**{"a.csv": HEADER + row("u1", LONG) + row("u2")}),
        ["g1", "u1", "u2"],
        counts={"a.csv": (2, 2, 0)},
    ),
    "csv_line_over_the_limit": Case(
        files(**{"a.csv": HEADER + row("u1") + row("u2", TOO_LONG) + row("u3")}),
        ["g1", "u1", "u3"],
        {("a.csv", 2, "line_too_long")},
        counts={"a.csv": (3, 2, 1)},
        rows={"u3": 3},
    ),
    "csv_blank_lines": Case(
        files(**{"a.csv": HEADER + row("u1") + "\n\n" + row("u2")}),
        ["g1", "u1", "u2"],
        counts={"a.csv": (2, 2, 0)},
    ),
    "csv_mixed_line_endings": Case(
        files(
            **{"a.csv": HEADER.replace("\n", "\r\n") + row("u1") + row("u2").replace("\n", "\r\n")}
        ),
        ["g1", "u1", "u2"],
        counts={"a.csv": (2, 2, 0)},
    ),
    # a quote inside an unquoted field is kept as text (DuckDB reads it as RFC 4180 readers do)
    "csv_stray_quote_inside_a_field": Case(
        files(**{"a.csv": HEADER + 'u1,2025-01-05 09:00:00,1,a,true,ab"c,\n' + row("u2")}),
        ["g1", "u1", "u2"],
        counts={"a.csv": (2, 2, 0)},
    ),
    "csv_header_only": Case(files(**{"a.csv": HEADER}), ["g1"], counts={"a.csv": (0, 0, 0)}),
    # --- CSV files that cannot be loaded ---
    "csv_duplicated_contract_column": Case(
        files(
            **{
                "a.csv": "user_id,opened_at,credit_limit,score_band,marketing_consent,"
                "credit_limit\nu1,2025-01-05 09:00:00,1,a,true,999\n"
            }
        ),
        ["g1"],
        failed={"a.csv": "credit_limit appears 2 times"},
    ),
    "csv_duplicated_column_in_other_case": Case(
        files(
            **{
                "a.csv": "user_id,USER_ID,opened_at,credit_limit,score_band,marketing_consent\n"
                "u1,u9,2025-01-05 09:00:00,1,a,true\n"
            }
        ),
        ["g1"],
        failed={"a.csv": "user_id appears 2 times"},
    ),
    "csv_without_header": Case(
        files(**{"a.csv": f"{SECRET},2025-01-05 09:00:00,1,a,true,,\n"}),
        ["g1"],
        failed={"a.csv": "no column matches"},
    ),
    "csv_empty_file": Case(files(**{"a.csv": b""}), ["g1"], failed={"a.csv": "empty file"}),
    "csv_binary_garbage": Case(
        files(**{"a.csv": b"\x00\xff\xfe\x89PNG\r\n\x1a\n\x80\xff" * 50}),
        ["g1"],
        failed={"a.csv": "neither UTF-8 nor GB18030"},
    ),
    "csv_gz_truncated": Case(
        files(**{"a.csv.gz": gzip.compress((HEADER + row("u1") * 50).encode())[:40]}),
        ["g1"],
        failed={"a.csv.gz": ""},
    ),
    "csv_gz_not_gzip": Case(
        files(**{"a.csv.gz": (HEADER + row("u1")).encode()}), ["g1"], failed={"a.csv.gz": ""}
    ),
    "csv_gb18030_loads": Case(
        lambda landing, outside: put(
            landing, "users", DT, "a.csv", HEADER + row("u1", "广东"), encoding="gb18030"
        ),
        ["g1", "u1"],
        counts={"a.csv": (1, 1, 0)},
    ),
    # --- JSONL ---
    "jsonl_truncated_line": Case(
        files(**{"a.jsonl": jrow("j1") + '{"user_id": "j2", "opened_at": \n' + jrow("j3")}),
        ["g1", "j1", "j3"],
        {("a.jsonl", 2, "bad_json")},
        counts={"a.jsonl": (3, 2, 1)},
        rows={"j3": 3},
    ),
    "jsonl_starting_with_bom": Case(
        files(**{"a.jsonl": "\ufeff" + jrow("j1") + jrow("j2")}),
        ["g1", "j1", "j2"],
        counts={"a.jsonl": (2, 2, 0)},
    ),
    "jsonl_array_and_scalar_lines": Case(
        files(**{"a.jsonl": "[1, 2]\n" + jrow("j1") + '"just text"\n'}),
        ["g1", "j1"],
        {("a.jsonl", 1, "bad_json"), ("a.jsonl", 3, "bad_json")},
        counts={"a.jsonl": (3, 1, 2)},
    ),
    "jsonl_blank_lines_are_not_rows": Case(
        files(**{"a.jsonl": jrow("j1") + "\n   \n" + jrow("j2")}),
        ["g1", "j1", "j2"],
        counts={"a.jsonl": (2, 2, 0)},
        rows={"j2": 4},
    ),
    "jsonl_invalid_utf8": Case(
        files(
            **{"a.jsonl": jrow("j1").encode() + b'{"user_id": "j2\xff"}\n' + jrow("j3").encode()}
        ),
        ["g1", "j1", "j3"],
        {("a.jsonl", 2, "bad_encoding")},
        counts={"a.jsonl": (3, 2, 1)},
    ),
    "jsonl_line_over_the_limit": Case(
        files(**{"a.jsonl": jrow("j1") + jrow("j2", province=TOO_LONG) + jrow("j3")}),
        ["g1", "j1", "j3"],
        {("a.jsonl", 2, "line_too_long")},
        counts={"a.jsonl": (3, 2, 1)},
    ),
    "jsonl_crlf": Case(
        files(**{"a.jsonl": (jrow("j1") + jrow("j2")).replace("\n", "\r\n")}),
        ["g1", "j1", "j2"],
        counts={"a.jsonl": (2, 2, 0)},
    ),
    "jsonl_nested_value_is_text": Case(
        files(**{"a.jsonl": jrow("j1", province={"city": "杭州"})}),
        ["g1", "j1"],
        counts={"a.jsonl": (1, 1, 0)},
    ),
    "jsonl_key_twice_in_one_object": Case(
        files(
            **{
                "a.jsonl": jrow("j1")
                + '{"user_id": "j2", "USER_ID": "j9", "opened_at": "2025-01-05 09:00:00"}\n'
                + '{"user_id": "j3", "credit_limit": "1", "credit_limit": "999"}\n'
                + jrow("j4")
            }
        ),
        ["g1", "j1", "j4"],
        {("a.jsonl", 2, "bad_json"), ("a.jsonl", 3, "bad_json")},
        counts={"a.jsonl": (4, 2, 2)},
        rows={"j4": 4},
    ),
    "jsonl_no_contract_key": Case(
        files(**{"a.jsonl": '{"secret": "x"}\n'}), ["g1"], failed={"a.jsonl": "no column matches"}
    ),
    "jsonl_no_object_at_all": Case(
        files(**{"a.jsonl": f"{SECRET}\n"}), ["g1"], failed={"a.jsonl": "no line of the file"}
    ),
    # --- Parquet ---
    "parquet_truncated": Case(
        files(**{"a.parquet": b"PAR1\x15\x04\x15\x10\x15"}), ["g1"], failed={"a.parquet": ""}
    ),
    "parquet_duplicated_column_in_other_case": Case(
        lambda landing, outside: _parquet_with_names(
            landing / "users" / f"dt={DT}" / "a.parquet",
            ["user_id", "USER_ID", "opened_at", "credit_limit", "score_band", "marketing_consent"],
            ["p1", "p9", "2025-01-05 09:00:00", "1", "a", "true"],
        ),
        ["g1"],
        failed={"a.parquet": "user_id appears 2 times"},
    ),
    # --- folders, names, links ---
    "symlink_to_a_file_outside": Case(
        _symlink("file"), ["g1"], ignored=["users/dt=2025-03-01/link.csv (symbolic link"]
    ),
    "symlink_dt_folder": Case(
        _symlink("dt"), ["g1"], ignored=["users/dt=2025-03-02 (symbolic link"]
    ),
    "symlink_source_folder": Case(
        _symlink("source"),
        ["g1"],
        ignored=["complaints (symbolic link"],
        sources=("users", "complaints"),
    ),
    "dot_file": Case(
        files(**{".hidden.csv": HEADER + row("h1")}),
        ["g1"],
        ignored=["users/dt=2025-03-01/.hidden.csv (hidden file)"],
    ),
    "dot_folder": Case(
        lambda landing, outside: (landing / "users" / ".git").mkdir(),
        ["g1"],
        ignored=["users/.git (hidden file)"],
    ),
    "glob_characters_in_names": Case(
        _glob_names,
        ["bracket", "g1", "qq", "question", "x_one", "x_star"],
        counts={n: (1, 1, 0) for n in ("x*.csv", "x1.csv", "a[1].csv", "q?.csv", "qq.csv")},
        rows={"x_star": 1, "x_one": 1},
    ),
    "fifo_is_not_read": Case(
        _fifo, ["g1"], ignored=["users/dt=2025-03-01/pipe.csv (not a regular file)"]
    ),
    "unknown_extension": Case(
        files(**{"notes.txt": "hello"}), ["g1"], ignored=["users/dt=2025-03-01/notes.txt (not a"]
    ),
    "bad_dt_folder_name": Case(
        lambda landing, outside: put(landing, "users", "2025-13-01", "a.csv", HEADER + row("b")),
        ["g1"],
        ignored=["users/dt=2025-13-01 ("],
    ),
    # --- values ---
    "offsets_beyond_14_hours": Case(
        files(
            **{
                "a.csv": HEADER
                + "o1,2025-01-05 09:00:00+14:00,1,a,true,,\n"
                + "o2,2025-01-05 09:00:00+25:00,1,a,true,,\n"
                + "o3,2025-01-05 09:00:00-14:01,1,a,true,,\n"
                + "o4,2025-01-05 09:00:00+0960,1,a,true,,\n"
                + "o5,2025-01-05 09:00:00-1200,1,a,true,,\n"
            }
        ),
        ["g1", "o1", "o5"],
        {
            ("a.csv", 2, "bad_timestamp"),
            ("a.csv", 3, "bad_timestamp"),
            ("a.csv", 4, "bad_timestamp"),
        },
        counts={"a.csv": (5, 2, 3)},
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_landing_input(name, _isolated_data_dir, tmp_path):
    case = CASES[name]
    data = _isolated_data_dir
    landing = data / "landing"
    outside = tmp_path / "outside"
    outside.mkdir()
    put(landing, "users", DT, "good.csv", GOOD)
    case.setup(landing, outside)
    wh = data / "warehouse.duckdb"
    results = load(wh, landing, sources=case.sources)

    # the good rows load
    assert [r[0] for r in query(wh, "select user_id from core.users order by 1")] == case.core
    for uid, n in case.rows.items():
        assert query(wh, "select _row from core.users where user_id = $u", {"u": uid}) == [(n,)]
    # every file reconciles
    led = {p.rsplit("/", 1)[1]: r for p, r in ledger(wh).items()}
    for r in led.values():
        assert r["rows_read"] == r["rows_loaded"] + r["rows_quarantined"] + r["rows_superseded"]
    for fname, (read, loaded, quarantined) in case.counts.items():
        got = led[fname]
        assert (got["rows_read"], got["rows_loaded"], got["rows_quarantined"]) == (
            read,
            loaded,
            quarantined,
        ), fname
        assert got["status"] == "loaded"
    # reasons are visible
    quarantine = query(wh, "select path, row_number, reason_code, message from ingest.quarantine")
    assert {(p.rsplit("/", 1)[1], n, code) for p, n, code, _ in quarantine} == case.quarantine
    for *_, code, message in quarantine:
        assert code in REASON_CODES and message
    for fname, words in case.failed.items():
        assert led[fname]["status"] == "failed"
        assert words in led[fname]["error"]
        assert led[fname]["rows_read"] == 0 and led[fname]["dropped_columns"] == []
    assert {n for n, r in led.items() if r["status"] == "failed"} == set(case.failed)
    ignored = [i for res in results.values() for i in res.ignored]
    for words in case.ignored:
        assert any(words in entry for entry in ignored), (words, ignored)
    # nothing of a refused or unparseable file is stored anywhere
    assert_absent(wh, "TOP-SECRET")


def assert_absent(db: Path, text: str) -> None:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cols = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() "
            "where data_type in ('VARCHAR', 'VARCHAR[]')"
        ).fetchall()
        for schema, table, col in cols:
            n = con.execute(
                f'select count(*) from {schema}."{table}" where contains("{col}"::varchar, $t)',
                {"t": text},
            ).fetchone()[0]
            assert n == 0, f"{schema}.{table}.{col} holds {text!r}"
    finally:
        con.close()


def test_catalogue_has_at_least_40_kinds():
    assert len(CASES) + len(EXTRA_KINDS) >= 40


# --- cases that need more than files ---

EXTRA_KINDS = (
    "unreadable_file",
    "unreadable_dt_folder",
    "unreadable_source_folder",
    "phone_numbers_in_every_spelling",
    "phone_number_in_a_header",
    "killed_run_leftovers",
)


def _deny(monkeypatch, fragment: str) -> None:
    """Make every open/list of a path containing `fragment` fail with EACCES, as mode 000 does
    for a user that is not root (these tests may run as root, which ignores file modes)."""
    real_open, real_entries = landing_files.open_exact, landing_files._entries

    def no(path):
        raise PermissionError(13, "Permission denied")

    def guarded_open(path):
        return no(path) if fragment in str(path) else real_open(path)

    def guarded_entries(path):
        return no(path) if fragment in str(path) else real_entries(path)

    monkeypatch.setattr(landing_files, "open_exact", guarded_open)
    monkeypatch.setattr(landing_files, "_entries", guarded_entries)


def _chmod_or_deny(path: Path, monkeypatch) -> None:
    if os.geteuid() == 0:
        _deny(monkeypatch, str(path))
    else:
        path.chmod(0)


def test_unreadable_file_fails_alone(_isolated_data_dir, monkeypatch):
    landing = _isolated_data_dir / "landing"
    wh = _isolated_data_dir / "warehouse.duckdb"
    put(landing, "users", DT, "good.csv", GOOD)
    locked = put(landing, "users", DT, "locked.csv", HEADER + row("L1"))
    put(
        landing,
        "complaints",
        DT,
        "c.jsonl",
        '{"complaint_id": "c1", "received_at": '
        '"2025-03-01 10:00:00", "source": "app", "status": "open"}\n',
    )
    _chmod_or_deny(locked, monkeypatch)
    load(wh, landing, sources=("users", "complaints"))
    assert query(wh, "select user_id from core.users") == [("g1",)]
    assert query(wh, "select complaint_id from core.complaints") == [("c1",)]
    led = ledger(wh)
    bad = led[f"users/dt={DT}/locked.csv"]
    assert bad["status"] == "failed" and "permission denied" in bad["error"].lower()
    # the next run (permissions fixed) tries it again and loads it
    monkeypatch.undo()
    locked.chmod(0o644)
    load(wh, landing, run_id="run-2", sources=("users",))
    assert query(wh, "select user_id from core.users order by 1") == [("L1",), ("g1",)]


def test_unreadable_dt_folder_fails_alone_and_keeps_what_it_had(_isolated_data_dir, monkeypatch):
    landing = _isolated_data_dir / "landing"
    wh = _isolated_data_dir / "warehouse.duckdb"
    put(landing, "users", DT, "good.csv", GOOD)
    put(landing, "users", "2025-03-02", "b.csv", HEADER + row("b1"))
    load(wh, landing, sources=("users",))
    # the dt folder becomes unreadable: its file is not withdrawn, the folder is a failed entry
    put(landing, "users", "2025-03-03", "c.csv", HEADER + row("c1"))
    _chmod_or_deny(landing / "users" / "dt=2025-03-02", monkeypatch)
    load(wh, landing, run_id="run-2", sources=("users",))
    assert query(wh, "select user_id from core.users order by 1") == [("b1",), ("c1",), ("g1",)]
    led = ledger(wh)
    folder = led["users/dt=2025-03-02/"]
    assert folder["status"] == "failed" and "cannot list the folder" in folder["error"]
    assert folder["run_id"] == "run-2"
    assert led["users/dt=2025-03-02/b.csv"]["status"] == "loaded"
    # readable again: the failed entry goes, the file stays
    monkeypatch.undo()
    (landing / "users" / "dt=2025-03-02").chmod(0o755)
    load(wh, landing, run_id="run-3", sources=("users",))
    assert "users/dt=2025-03-02/" not in ledger(wh)
    assert query(wh, "select count(*) from core.users") == [(3,)]


def test_unreadable_source_folder_is_reported_and_others_load(_isolated_data_dir, monkeypatch):
    from pipelines.orchestration.run import RunSummary, _add_unlisted

    landing = _isolated_data_dir / "landing"
    wh = _isolated_data_dir / "warehouse.duckdb"
    put(landing, "users", DT, "good.csv", GOOD)
    put(landing, "orders", DT, "o.csv", "order_id\no1\n")
    load(wh, landing, sources=("users", "orders"))
    _chmod_or_deny(landing / "orders", monkeypatch)
    results = load(wh, landing, run_id="run-2", sources=("users", "orders"))
    assert results["orders"].failed == ["orders: cannot list the folder: permission denied"]
    # what the folder held before is kept, not withdrawn
    assert f"orders/dt={DT}/o.csv" in ledger(wh)
    assert query(wh, "select user_id from core.users") == [("g1",)]
    summary = RunSummary("r", True, 0.0, None)
    _add_unlisted(summary, landing_files.scan(landing))
    assert summary.files_failed == 1 and summary.exit_code == 3


FULL_WIDTH = "１３８１２３４５６７８"


def test_phone_numbers_in_every_spelling_are_masked(_isolated_data_dir):
    landing = _isolated_data_dir / "landing"
    wh = _isolated_data_dir / "warehouse.duckdb"
    spellings = [
        FULL_WIDTH,
        "138-1234-5678",
        "138 1234 5678",
        "+8613812345678",
        "008613812345678",
        "+86 138 1234 5678",
        "１３８-１２３４-５６７８",
    ]
    lines = "".join(
        f'{{"complaint_id": "c{i}", "received_at": "2025-03-01 10:00:00", "source": "app", '
        f'"status": "open", "narrative": "打{s}投诉"}}\n'
        for i, s in enumerate(spellings)
    )
    # the last line is quarantined (bad source): its raw row is masked too
    lines += (
        '{"complaint_id": "cx", "received_at": "2025-03-01 10:00:00", "source": "mail", '
        f'"status": "open", "narrative": "{FULL_WIDTH}"}}\n'
    )
    put(landing, "complaints", DT, "c.jsonl", lines)
    load(wh, landing, sources=("complaints",))
    got = [r[0] for r in query(wh, "select narrative from core.complaints order by complaint_id")]
    assert got == [
        "打１３８****５６７８投诉",
        "打138****5678投诉",
        "打138****5678投诉",
        "打+86138****5678投诉",
        "打0086138****5678投诉",
        "打+86 138****5678投诉",
        "打１３８****５６７８投诉",
    ]
    raw = query(wh, "select raw_row from ingest.quarantine")[0][0]
    assert FULL_WIDTH not in raw and "１３８****５６７８" in raw


def test_phone_number_in_a_header_is_masked_in_dropped_columns(_isolated_data_dir):
    landing = _isolated_data_dir / "landing"
    wh = _isolated_data_dir / "warehouse.duckdb"
    header = HEADER.rstrip("\n") + f",call {FULL_WIDTH},13812345678\n"
    put(landing, "users", DT, "a.csv", header + row("u1").rstrip("\n") + ",x,y\n")
    load(wh, landing, sources=("users",))
    assert ledger(wh)[f"users/dt={DT}/a.csv"]["dropped_columns"] == [
        "call １３８****５６７８",
        "138****5678",
    ]


def test_next_run_removes_what_a_killed_run_left(_isolated_data_dir):
    landing = _isolated_data_dir / "landing"
    wh = _isolated_data_dir / "warehouse.duckdb"
    put(landing, "users", DT, "a.csv", GOOD)
    leftovers = _isolated_data_dir / ".ingest-tmp"
    (leftovers / "nudgescope-ingest-killed" / "sub").mkdir(parents=True)
    (leftovers / "nudgescope-ingest-killed" / "sub" / "x.utf8.csv").write_text("partial")
    load(wh, landing, sources=("users",))
    assert list(leftovers.iterdir()) == []
    assert query(wh, "select user_id from core.users") == [("g1",)]


def test_run_exits_3_and_publishes_when_a_folder_cannot_be_read(_isolated_data_dir, monkeypatch):
    """Through `nudgescope run`: a dt folder that cannot be listed (never loaded before) is a
    failed entry, the other files are published, exit code 3."""
    from pipelines.orchestration.run import run_pipeline

    landing = _isolated_data_dir / "landing"
    put(landing, "users", DT, "good.csv", GOOD)
    put(landing, "users", "2025-03-02", "b.csv", HEADER + row("b1"))
    _deny(monkeypatch, "dt=2025-03-02")
    summary = run_pipeline(_isolated_data_dir)
    assert summary.success and summary.exit_code == 3
    assert summary.files_failed == 1
    assert summary.failed_files == [
        "users/dt=2025-03-02/: cannot list the folder: permission denied"
    ]
    serve = _isolated_data_dir / "serve.duckdb"
    assert query(serve, "select user_id from core.users") == [("g1",)]

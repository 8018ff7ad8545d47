"""The command line: every subcommand takes --data-dir; user mistakes are one line, exit 2."""

from __future__ import annotations

import gc
import importlib.util

import duckdb
import pytest

from pipelines import cli, engines
from pipelines.cli import run as run_command


def test_every_subcommand_takes_data_dir():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        options = {o for a in p._actions for o in a.option_strings}
        assert "--data-dir" in options, name


def test_sql_reads_the_serve_file_of_data_dir(tmp_path, capsys):
    other = tmp_path / "elsewhere"
    other.mkdir()
    with duckdb.connect(str(other / "serve.duckdb")) as con:
        con.execute("create table t as select 41 + 1 as answer")
    assert cli.main(["sql", "--data-dir", str(other), "--format", "csv", "select * from t"]) == 0
    assert capsys.readouterr().out.splitlines() == ["answer", "42"]


def test_data_dir_that_is_a_file_is_a_user_error(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert cli.main(["sql", "--data-dir", str(f), "select 1"]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_spark_engine_without_its_extra_says_what_to_install(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a)
    )
    assert cli.main(["run", "--engine", "spark"]) == 2
    err = capsys.readouterr().err
    assert "uv sync --extra spark" in err
    assert "Traceback" not in err


def test_spark_engine_without_java_says_so(monkeypatch):
    monkeypatch.setattr(engines.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark not installed: the extra's message is tested above")
    with pytest.raises(cli.UserError, match="Java"):
        engines.check_available("spark")


def test_run_raises_the_collectors_thresholds_before_the_pipeline_starts(monkeypatch, tmp_path):
    # Python's defaults going in; what the pipeline would see is recorded, and it stops there
    seen = []

    def pipeline(*args, **kwargs):
        seen.append(gc.get_threshold())
        raise cli.UserError("stop here")

    monkeypatch.setattr(run_command, "run_pipeline", pipeline)
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        assert cli.main(["run", "--data-dir", str(tmp_path)]) == 2
    finally:
        gc.set_threshold(*before)
    assert seen == [(50000, 20, 100)]


def test_the_command_line_does_not_import_numpy_or_polars_before_a_command_needs_them():
    # every command builds the whole parser; numpy and polars (about 0.4 CPU-s to import) are
    # for the simulator and the what-if engine only, which import them when they run
    import subprocess
    import sys

    script = (
        "import sys; from pipelines.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('numpy', 'polars', 'pandas') if m in sys.modules)); "
        "from pipelines.simulator import simulate; print(simulate.__module__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.splitlines() == ["[]", "pipelines.simulator.run"]

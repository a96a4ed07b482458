"""The sqlsel process ends without the interpreter's teardown: exit status, output and exit handlers kept."""

from __future__ import annotations

import subprocess
import sys

import duckdb

MAIN = "import atexit, sys; from sqlsel.cli import main; atexit.register(print, 'handler ran', file=sys.stderr); main()"


def sqlsel(*args, cwd=None):
    return subprocess.run([sys.executable, "-c", MAIN, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_success_flushes_output_and_runs_exit_handlers():
    done = sqlsel("recipes")
    assert done.returncode == 0, done.stderr
    assert "dsir_select" in done.stdout and done.stdout.endswith("\n")
    assert "handler ran" in done.stderr


def test_an_error_keeps_its_status_and_message(tmp_path):
    done = sqlsel("runs", "--db", str(tmp_path / "missing.duckdb"))
    assert done.returncode == 1
    assert "missing.duckdb" in done.stderr and "handler ran" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_run_leaves_a_closed_checkpointed_catalog(tmp_path, examples):
    db = tmp_path / "cat.duckdb"
    pool, target = f"pool={examples / 'pool.parquet'}", f"target={examples / 'target.jsonl'}"
    done = sqlsel("run", "dsir_select", "-p", pool, "-p", target, "-p", "k=5", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "cat.duckdb.wal").exists() and not (tmp_path / "cat.duckdb.tmp").exists()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.sql("SELECT status, rows_out FROM sel_runs").fetchall() == [("ok", 5)]

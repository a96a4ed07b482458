"""Numba's on-disk cache of the kernels lives in a folder keyed by every kernel source file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sqlsel.kernels import CompileWatch, compiled_cache_dir
from tests.conftest import own_cache_env


def test_the_folder_changes_when_any_kernel_source_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("SQLSEL_CACHE_DIR", str(tmp_path / "cache"))
    sources = tmp_path / "kernels"
    sources.mkdir()
    (sources / "_lz4.py").write_text("MAX_BLOCK = 1\n")
    (sources / "compression.py").write_text("from _lz4 import MAX_BLOCK\n")
    first = compiled_cache_dir(sources)
    assert compiled_cache_dir(sources) == first and first.parent == tmp_path / "cache" / "numba"
    (sources / "_lz4.py").write_text("MAX_BLOCK = 2\n")  # same size: only the inlined module's mtime tells
    os.utime(sources / "_lz4.py", ns=(1, 1))
    assert compiled_cache_dir(sources) != first


def test_a_process_compiles_into_that_folder_unless_told_otherwise(tmp_path):
    code = "import os, sqlsel.kernels as k; print(os.environ['NUMBA_CACHE_DIR'] == str(k.compiled_cache_dir()))"
    env = {**os.environ, "SQLSEL_CACHE_DIR": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"
    given = {**env, "NUMBA_CACHE_DIR": str(tmp_path / "mine")}
    code = "import os, sqlsel.kernels; print(os.environ['NUMBA_CACHE_DIR'])"
    done = subprocess.run([sys.executable, "-c", code], env=given, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str(tmp_path / "mine")


def test_a_compile_watch_counts_what_it_compiles_once_and_calls_back_on_the_first():
    from numba import njit

    from sqlsel.kernels import CompileWatch

    inner = njit(lambda x: x + 1)
    outer = njit(lambda x: inner(x) * 2)
    firsts = []
    with CompileWatch(on_first=lambda: firsts.append(1)) as watch:
        assert outer(1) == 4 and outer(2) == 6  # inner compiles inside outer's compile: one kernel
        assert outer(1.5) == 5.0  # a new signature compiles again
    assert (watch.count, len(firsts)) == (2, 1) and watch.seconds > 0
    with CompileWatch() as again:
        outer(3)
    assert again.count == 0


def test_a_compile_that_began_before_the_watch_is_neither_counted_nor_broken():
    from numba import njit
    from numba.core import event

    from sqlsel.kernels import CompileWatch

    inner = njit(lambda x: x + 1)
    outer = njit(lambda x: inner(x))
    watches = []

    class Enter(event.Listener):  # enters a watch after inner's compile, before outer's ends
        def on_start(self, ev):
            pass

        def on_end(self, ev):
            if ev.data["dispatcher"] is inner and not watches:
                watches.append(CompileWatch().__enter__())

    with event.install_listener("numba:compile", Enter()):
        assert outer(1) == 2  # the watch hears an end it saw no start of: the compile goes on
    watches[0].__exit__(None, None, None)
    assert watches[0].count == 0


@pytest.mark.parametrize("command", ["run", "shell"])
def test_the_first_run_after_an_install_says_it_compiles(tmp_path, examples, command):
    recipe = tmp_path / "count.sql"
    recipe.write_text(f"SELECT sel_token_count(text) AS n FROM '{examples / 'pool.parquet'}';\n")
    env = own_cache_env(tmp_path / "cache")
    runs = []
    for i in range(2):
        db = str(tmp_path / f"{i}.duckdb")
        args = [str(recipe)] if command == "run" else []
        done = subprocess.run(
            [sys.executable, "-m", "sqlsel.cli", command, *args, "--db", db],
            input=None if command == "run" else recipe.read_text(),
            env=env,
            capture_output=True,
            text=True,
        )
        runs.append(done)
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert CompileWatch.NOTICE in runs[0].stderr and "compiled 1 kernel in" in runs[0].stderr
    assert "compil" not in runs[1].stderr


def test_the_run_record_and_the_progress_say_which_statements_compiled(tmp_path, examples):
    recipe = tmp_path / "count.sql"
    recipe.write_text(f"SELECT 1 AS one;\nSELECT sel_token_count(text) AS n FROM '{examples / 'pool.parquet'}';\n")
    env = own_cache_env(tmp_path / "cache")
    code = (
        "import sys, sqlsel; seen = set()\n"
        "def on_progress(p):\n    seen.add((p.index, p.compiling))\n"
        "r = sqlsel.run_recipe(sys.argv[1], {}, db=sys.argv[2], on_progress=on_progress)\n"
        "con = sqlsel.connect(sys.argv[2], read_only=True)\n"
        "print(con.execute('SELECT statements FROM sel_runs ORDER BY run_id DESC LIMIT 1').fetchall()[0][0])\n"
        "print(sorted(i for i, compiling in seen if compiling))"
    )
    seconds, compiling = [], []
    for i in range(2):
        done = subprocess.run(
            [sys.executable, "-c", code, str(recipe), str(tmp_path / f"{i}.duckdb")],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        record, flagged = done.stdout.splitlines()
        seconds.append([s["compile_seconds"] for s in json.loads(record)])
        compiling.append(flagged)
    assert seconds[0][0] == 0 and seconds[0][1] > 0 and seconds[1] == [0, 0]
    assert compiling == ["[2]", "[]"]  # the statement's progress said so (at the latest when it finished)

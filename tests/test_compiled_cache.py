"""Numba's on-disk cache of the kernels lives in a folder keyed by every kernel source file."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlsel.kernels import compiled_cache_dir


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

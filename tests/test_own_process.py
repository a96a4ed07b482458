"""What only the sqlsel process does: it ends without the interpreter's teardown (exit status, output and
exit handlers kept), and pyarrow does not import pandas for sqlsel's own calls."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest

MAIN = (
    "import atexit, sys; from sqlsel.cli import main; atexit.register(print, 'handler ran', file=sys.stderr); "
    "atexit.register(lambda: print('pandas imported:', 'pandas' in sys.modules, file=sys.stderr)); main()"
)


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


def test_a_run_never_imports_pandas(tmp_path, examples):
    from tests.conftest import need

    need("pandas")  # installed (the test extra has it), yet pyarrow does not import it for the run
    pool, target = f"pool={examples / 'pool.parquet'}", f"target={examples / 'target.jsonl'}"
    done = sqlsel("run", "dsir_select", "-p", pool, "-p", target, "-p", "k=5", "--db", str(tmp_path / "c.duckdb"))
    assert done.returncode == 0, done.stderr
    assert "pandas imported: False" in done.stderr


PANDAS_AFTER = """
import sys
import duckdb
import pyarrow as pa
from sqlsel.own_process import refuse_implicit_imports
refuse_implicit_imports()
from sqlsel.kernels.ngrams import token_counts  # sqlsel's code calling pyarrow: no pandas
texts = duckdb.sql("SELECT * FROM (VALUES ('a b'), (NULL)) t(text)").to_arrow_table().column("text")
assert token_counts(texts).tolist() == [2, 0] and "pandas" not in sys.modules
frame = pa.table({"x": [1.5, None]}).to_pandas()  # anyone else's call that needs pandas gets it
import pandas
assert isinstance(frame, pandas.DataFrame) and frame["x"].isna().tolist() == [False, True]
print("ok")
"""


def test_pandas_is_there_for_code_that_asks_for_it():
    from tests.conftest import need

    need("pandas")
    done = subprocess.run([sys.executable, "-c", PANDAS_AFTER], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


BLAS_PROBE = """
import sys
import duckdb
import numpy as np
from sqlsel.own_process import refuse_implicit_imports
refuse_implicit_imports()
from sqlsel.kernels.ngrams import token_counts  # a compiled kernel: numba's registries load, BLAS probe included
texts = duckdb.sql("SELECT 'a b c' AS text").to_arrow_table().column("text")
assert token_counts(texts).tolist() == [3] and "scipy.linalg" not in sys.modules
import numba
dot = numba.njit(lambda a, b: np.dot(a, b))  # compiling np.dot needs BLAS: scipy.linalg comes as before
assert dot(np.ones(3), np.full(3, 2.0)) == 6.0 and "scipy.linalg" in sys.modules
print("ok")
"""


def test_numbas_blas_probe_does_not_import_scipy_but_blas_still_works():
    from tests.conftest import need

    need("scipy")
    done = subprocess.run([sys.executable, "-c", BLAS_PROBE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


# Page faults of batch buffers of 4, 5, ... 23 MB, each written and freed, after tune_malloc() or not.
FAULTS = (
    "import resource, sys, numpy as np\n"
    "from sqlsel.own_process import tune_malloc\n"
    "if sys.argv[1] == 'tuned':\n    tune_malloc()\n"
    "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
    "for mb in range(4, 24):\n    np.ones(mb << 17, np.int64).sum()\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux only")
def test_tuned_malloc_reuses_a_batch_buffer_instead_of_faulting_it_in_again():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    env["NUMPY_MADVISE_HUGEPAGE"] = "0"  # 4 KiB pages, whatever the machine's transparent huge pages

    def faults(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", FAULTS, mode], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return int(done.stdout)

    default, tuned = faults("default"), faults("tuned")
    assert default > 60_000  # each buffer mapped afresh: 270 MB of pages
    assert tuned < 12_000  # the heap reused, grown by 1 MB a batch

"""What only the ``sqlsel`` command's own process does: a library never changes its host process.

:func:`main <sqlsel.cli.main>` calls :func:`limit_malloc_arenas` and :func:`keep_pandas_from_pyarrow`
before the command, and :func:`exit_without_teardown` after it.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.abc
import os
import sys
from typing import Any, NoReturn

__all__ = ["MALLOC_ARENAS", "exit_without_teardown", "keep_pandas_from_pyarrow", "limit_malloc_arenas"]


def exit_without_teardown(code: int | str | None) -> NoReturn:
    """End the process once its work is done, without the interpreter's teardown of every module.

    Every command has closed its catalog connection by now (DuckDB checkpointed it). What is left is
    freeing memory the process gives back anyway: with numba's compiled kernels loaded, the
    interpreter's teardown takes 0.2-0.3 s, as long as a small recipe's statements. The exit
    handlers (``atexit``: spill folders, Spark's session) still run, and standard output is flushed.
    """
    if isinstance(code, str):  # sys.exit("message"): printed, status 1, as the interpreter does
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`sqlsel runs | head`)
            stream.flush()
    os._exit(code or 0)


#: glibc's malloc arenas for a sqlsel process (its default is 8 per core).
MALLOC_ARENAS = 4


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas for the CLI's own process.

    DuckDB's threads, the kernel threads and faiss's OpenMP threads each allocate large numpy
    buffers; with an arena per thread, memory one thread frees stays in its arena and the process's
    RSS stays high. SemDeDup of 400k × 256 under --memory 600MB peaked at 1,340 MB with glibc's
    default, 1,150-1,180 MB with 1-4 arenas, in the same time. Elsewhere (macOS, musl) nothing changes.
    """
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, MALLOC_ARENAS)  # M_ARENA_MAX
    except (OSError, AttributeError):
        return


def _module(frame: Any) -> str:
    return str(frame.f_globals.get("__name__", ""))


class _PandasForPyarrowRefused(importlib.abc.MetaPathFinder):
    """Refuses ``pandas`` to an import made inside a call from sqlsel's code into pyarrow.

    The innermost Python frame outside pyarrow and importlib is sqlsel's. sqlsel has no ``import
    pandas``, so such an import is one pyarrow makes, from C++, Cython or its Python code, for a call
    of ours (``Array.to_numpy``, ``pa.array``, ``pc.fill_null``). pyarrow treats the ImportError as
    "no pandas": it converts as it would without pandas installed, and asks again on a call that
    needs pandas. An import from any other module's code (pyspark, lancedb, a user's) goes through.
    """

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name != "pandas":
            return None
        frame = sys._getframe(1)
        while frame is not None and (
            frame.f_code.co_filename.startswith("<frozen importlib") or _module(frame).startswith("pyarrow.")
        ):
            frame = frame.f_back
        caller = _module(frame) if frame is not None else ""
        if caller == "sqlsel" or caller.startswith("sqlsel."):
            raise ModuleNotFoundError(
                f"pandas is not imported for pyarrow inside sqlsel's CLI ({caller}); "
                "sqlsel code that needs pandas imports it explicitly",
                name="pandas",
            )
        return None


def keep_pandas_from_pyarrow() -> None:
    """Spare the CLI's process pyarrow's import of pandas (0.25-0.4 s), which nothing in a run uses.

    pyarrow imports pandas, when it is installed, the first time an array is built or converted to
    numpy, to prepare conversions to and from pandas objects (apache/arrow#34994). A run hands pyarrow
    none. With pandas installed, the bundled example's ``sqlsel run dsir_select`` took a median 1.68 s
    with the import and 1.43 s without (7 alternating runs, 2-core VM).
    """
    if "pandas" not in sys.modules and not any(isinstance(f, _PandasForPyarrowRefused) for f in sys.meta_path):
        sys.meta_path.insert(0, _PandasForPyarrowRefused())

"""What only the ``sqlsel`` command's own process does: a library never changes its host process.

:func:`main <sqlsel.cli.main>` calls :func:`tune_malloc` and :func:`refuse_implicit_imports`
before the command, and :func:`exit_without_teardown` after it.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.abc
import os
import sys
from typing import Any, NoReturn

__all__ = [
    "MALLOC_ARENAS",
    "MALLOC_MMAP_THRESHOLD",
    "MALLOC_TRIM_THRESHOLD",
    "exit_without_teardown",
    "tune_malloc",
    "refuse_implicit_imports",
]


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
#: Allocations from this size up get pages of their own from the kernel (glibc: 128 KiB, rising to at most this).
MALLOC_MMAP_THRESHOLD = 32 << 20
#: Free memory an arena keeps at its top before giving it back (glibc: 128 KiB, or twice the above).
MALLOC_TRIM_THRESHOLD = 64 << 20


def tune_malloc() -> None:
    """Set glibc's malloc for the CLI's own process: fewer arenas, and batch buffers reused, not faulted in again.

    Arenas: DuckDB's threads, the kernel threads and faiss's OpenMP threads each allocate large numpy
    buffers; with an arena per thread, memory one thread frees stays in its arena and the process's
    RSS stays high. SemDeDup of 400k × 256 under --memory 600MB peaked at 1,340 MB with glibc's
    default, 1,150-1,180 MB with 1-4 arenas, in the same time.

    Thresholds: every 2,048-row batch allocates tokens, n-grams and misses of 1-30 MB, which glibc
    mapped afresh and unmapped after each batch, so every page was faulted in and zeroed again. DSIR's
    featurizing of the 181k corpus took 350k page faults and 1.2 s of system time cold (5.8 s on one
    thread), 47k and 0.5 s with these thresholds (5.0-5.6 s); ``dsir_select``, whole processes
    alternating six times, 6.25 → 5.81 s; SemDeDup of 4M × 256 under --memory 1.5GB peaked at 2,392 MB
    (2,398 MB before). A setting the user made (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``,
    ``MALLOC_TRIM_THRESHOLD_`` or glibc's tunables) is left alone. Elsewhere (macOS, musl) nothing changes.
    """
    if not sys.platform.startswith("linux"):
        return
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    settings = (
        (-8, MALLOC_ARENAS, "MALLOC_ARENA_MAX", "glibc.malloc.arena_max"),  # M_ARENA_MAX
        (-3, MALLOC_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold"),  # M_MMAP_THRESHOLD
        (-1, MALLOC_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_", "glibc.malloc.trim_threshold"),  # M_TRIM_THRESHOLD
    )
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        for option, value, variable, tunable in settings:
            if variable not in os.environ and tunable not in tunables:
                libc.mallopt(option, value)
    except (OSError, AttributeError):
        return


def _module(frame: Any) -> str:
    return str(frame.f_globals.get("__name__", ""))


def _in_package(frame: Any, package: str) -> bool:
    name = _module(frame)
    return name == package or name.startswith(package + ".")


def _importer(frame: Any, skip: str = "") -> Any:
    """The innermost frame outside importlib (and outside the package ``skip``) at or above ``frame``."""
    while frame is not None and (_in_package(frame, "importlib") or (skip and _in_package(frame, skip))):
        frame = frame.f_back
    return frame


def _pyarrow_for_sqlsel(frame: Any) -> bool:
    """pyarrow importing pandas (from C++, Cython or its Python code) inside a call from sqlsel's code.

    sqlsel has no ``import pandas``: ``Array.to_numpy``, ``pa.array`` and ``pc.fill_null`` import it to
    prepare conversions of pandas objects, which a run never hands pyarrow (apache/arrow#34994).
    pyarrow treats the ImportError as "no pandas" and asks again on a call that needs pandas.
    """
    caller = _importer(frame, skip="pyarrow")
    return caller is not None and _in_package(caller, "sqlsel")


def _numbas_blas_probe(frame: Any) -> bool:
    """numba's ``arraymath`` module asking at import whether scipy's BLAS is there (``_check_blas``).

    The answer only chooses how ``np.correlate`` and ``np.convolve`` are compiled, which no sqlsel
    kernel calls; the probe imports ``scipy.linalg`` (0.4 s) in every process that loads a kernel.
    Compiling ``np.dot`` and calling BLAS from compiled code import it as before.
    """
    caller = _importer(frame)
    return (
        caller is not None
        and caller.f_code.co_name == "ensure_blas"
        and caller.f_back is not None
        and caller.f_back.f_code.co_name == "_check_blas"
        and _module(caller.f_back) == "numba.np.arraymath"
    )


class _ImplicitImportsRefused(importlib.abc.MetaPathFinder):
    """Refuses two imports that libraries make on their own and a run never uses (see
    :func:`refuse_implicit_imports`); every other import, of these modules too, goes through."""

    RULES = {"pandas": _pyarrow_for_sqlsel, "scipy.linalg": _numbas_blas_probe}

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        rule = self.RULES.get(name)
        if rule is not None and rule(sys._getframe(1)):
            raise ModuleNotFoundError(f"{name} is not imported for this call inside the sqlsel CLI", name=name)
        return None


def refuse_implicit_imports() -> None:
    """Spare the CLI's process two imports it never uses: 0.25-0.4 s each where the package is installed.

    - pyarrow imports pandas the first time an array is built or converted to numpy
      (:func:`_pyarrow_for_sqlsel`). With pandas installed, the bundled example's ``sqlsel run
      dsir_select`` took a median 1.69 s with the import and 1.57 s without (7 alternating runs,
      2-core VM; 2.38 s and 2.13 s over 10 in a slower hour).
    - numba's first compiled call imports ``scipy.linalg`` for a BLAS probe (:func:`_numbas_blas_probe`).
      With pandas and scipy installed, the same run took 2.51 s with both imports and 1.93 s without
      (medians of 8, alternating).

    The library never does this: a notebook or a user's program imports what it likes.
    """
    if not any(isinstance(f, _ImplicitImportsRefused) for f in sys.meta_path):
        sys.meta_path.insert(0, _ImplicitImportsRefused())

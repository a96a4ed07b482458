"""``@jit``: how every compiled loop of sqlsel is compiled, and how its cached machine code is loaded.

Every kernel loop is ``numba.njit(nogil=True, cache=True)``: it releases the GIL (DuckDB's threads and
the kernel pool run it side by side) and keeps its machine code on disk (see :mod:`sqlsel.kernels`).

Loading that machine code is cheaper than numba makes it. Before numba loads a cached function it
refreshes its compiler's registries, importing about 60 of its modules (the lowering of every Python
and numpy feature): 0.15-0.3 s of a process whose kernels are all cached (the bundled example's whole
``sqlsel run dsir_select``: median 1.22 s with it, 1.07 s without). Compiled code needs none of it to
run, only numba's runtime (NRT; without it a loaded kernel crashes), which :func:`_load_cached` starts
instead. A signature not in the cache is compiled as
usual, and numba's compiler refreshes the registries itself then. Only sqlsel's own functions load
this way; other numba code in the process is untouched.

Example, in a kernel module (numba caches only functions defined in files)::

    @jit
    def total(values):
        return values.sum()

    @jit(inline="always")  # compiled into each caller
    def twice(x):
        return 2 * x
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, overload

import numba

__all__ = ["jit"]

F = TypeVar("F", bound=Callable[..., Any])


def _load_cached(cache: Any, sig: Any, target_context: Any) -> Any:
    """numba's ``Cache.load_overload`` without ``target_context.refresh()``: the runtime started instead."""
    from numba.core.runtime import rtsys

    rtsys.initialize(target_context)
    with cache._guard_against_spurious_io_errors():
        return cache._load_overload(sig, target_context)


def _loads_without_registries(dispatcher: Any) -> Any:
    from numba.core.runtime import rtsys

    cache = getattr(dispatcher, "_cache", None)
    private = ("_load_overload", "_guard_against_spurious_io_errors")
    if all(hasattr(cache, name) for name in private) and hasattr(rtsys, "initialize"):
        cache.load_overload = functools.partial(_load_cached, cache)
    return dispatcher  # a numba without these private names loads the usual way


@overload
def jit(function: F) -> F: ...
@overload
def jit(*, inline: str = "never") -> Callable[[F], F]: ...
def jit(function: Any = None, *, inline: str = "never") -> Any:
    """Compile ``function`` as a sqlsel kernel loop: ``@jit`` or ``@jit(inline="always")``."""

    def compile_(function: Any) -> Any:
        return _loads_without_registries(numba.njit(nogil=True, cache=True, inline=inline)(function))

    return compile_ if function is None else compile_(function)

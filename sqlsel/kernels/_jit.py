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

:func:`load_cached` loads every signature of a kernel that its cache holds and compiles nothing
(:func:`sqlsel.functions.preload` runs it in the background while a run opens its catalog, and leaves
a first run's compiles to the statements, which say so).

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
import threading
from collections.abc import Callable
from typing import Any, TypeVar, overload

import numba

__all__ = ["jit", "load_cached", "NotCached", "LOADS_WITHOUT_REGISTRIES"]

F = TypeVar("F", bound=Callable[..., Any])

_thread = threading.local()


class NotCached(Exception):
    """A kernel loaded by :func:`load_cached` has no machine code in the cache for a signature."""


def load_cached(dispatcher: Any) -> int:
    """Load every signature of ``dispatcher`` (a ``@jit`` kernel) that its on-disk cache holds; how many.

    Nothing is compiled: a signature whose machine code does not load (written on another machine,
    or for an edited source) is skipped, and a call compiles it as usual later. Returns 0 where this
    numba lacks the private names it needs (:data:`LOADS_WITHOUT_REGISTRIES`).
    """
    if not LOADS_WITHOUT_REGISTRIES:
        return 0
    loaded = 0
    _thread.loading_only = True
    try:
        for key in dispatcher._cache._cache_file._load_index():
            try:
                dispatcher.compile(key[0])
                loaded += 1
            except NotCached:
                pass
    finally:
        _thread.loading_only = False
    return loaded


def _load_cached(cache: Any, sig: Any, target_context: Any) -> Any:
    """numba's ``Cache.load_overload`` without ``target_context.refresh()``: the runtime started instead."""
    from numba.core.runtime import rtsys

    rtsys.initialize(target_context)
    with cache._guard_against_spurious_io_errors():
        loaded = cache._load_overload(sig, target_context)
    if loaded is None and getattr(_thread, "loading_only", False):  # numba would compile after a None
        raise NotCached(f"{getattr(cache, '_name', 'a kernel')} is not cached for {sig}")
    return loaded


def _numba_has_private_names() -> bool:
    from numba.core.caching import Cache, IndexDataCacheFile
    from numba.core.runtime import rtsys

    cache = ("_load_overload", "_guard_against_spurious_io_errors")
    return (
        all(hasattr(Cache, n) for n in cache)
        and hasattr(IndexDataCacheFile, "_load_index")
        and hasattr(rtsys, "initialize")
    )


#: Whether kernels load through :func:`_load_cached` (and :func:`load_cached` works): False for a numba
#: without the private names they call, which then loads and compiles the usual way.
LOADS_WITHOUT_REGISTRIES = _numba_has_private_names()


def _loads_without_registries(dispatcher: Any) -> Any:
    cache = getattr(dispatcher, "_cache", None)
    if LOADS_WITHOUT_REGISTRIES and hasattr(cache, "_load_overload"):
        cache.load_overload = functools.partial(_load_cached, cache)
    return dispatcher


@overload
def jit(function: F) -> F: ...
@overload
def jit(*, inline: str = "never") -> Callable[[F], F]: ...
def jit(function: Any = None, *, inline: str = "never") -> Any:
    """Compile ``function`` as a sqlsel kernel loop: ``@jit`` or ``@jit(inline="always")``."""

    def compile_(function: Any) -> Any:
        return _loads_without_registries(numba.njit(nogil=True, cache=True, inline=inline)(function))

    return compile_ if function is None else compile_(function)

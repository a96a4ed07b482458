"""Kernels: pure functions on Arrow/numpy data, one module per primitive family (see ARCHITECTURE.md).

The compiled kernels (numba, ``cache=True``) keep their machine code on disk. Numba checks a cached
function against its own source file only, so code inlined from another module (``compression.py``
calls ``_lz4``'s parser, ``embed.py`` freezes ``sampling.py``'s constants) would be served stale after
that module changed. The cache therefore lives in a folder keyed by the size and modification time of
every kernel source file: ``<sqlsel cache>/numba/<key>`` (:func:`sqlsel.cache.cache_dir`), so an edited
checkout compiles afresh and never runs old machine code. A ``NUMBA_CACHE_DIR`` the user set is left
as it is (numba's own rules then apply).

The first call of a kernel after an install (or an edit) compiles it: the bundled example's
``dsir_select`` takes 7-12 s on its first run (by machine) and about 1.1 s later. :class:`CompileWatch` tells a
caller when that happens, so a CLI can say why a first run is slow.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlsel.cache import cache_dir, cache_key

__all__ = ["CompileWatch", "compiled_cache_dir"]


def compiled_cache_dir(sources: Path = Path(__file__).parent) -> Path:
    """The folder for numba's cache of the kernels in ``sources``: keyed by each file's size and mtime."""
    stamps = []
    for path in sorted(sources.glob("*.py")):
        st = path.stat()
        stamps.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
    return cache_dir() / "numba" / cache_key(*stamps)[:20]


class CompileWatch:
    """Counts the kernels compiled (not loaded from the cache) while it is entered, and their seconds.

    ``on_first`` is called once, from the compiling thread, when the first compile starts. Compiles of
    kernels called by a compiling kernel are part of its time, not counted again. It hears every
    thread of the process (another run's compiles at the same moment count too); a compile that began
    before it was entered is not counted. A process without numba imported compiles nothing here (the
    Spark engine compiles in its own workers).

    Example:
        >>> with CompileWatch() as watch:
        ...     pass
        >>> watch.count, watch.seconds
        (0, 0.0)
    """

    #: What a command line says when the first compile starts.
    NOTICE = (
        "compiling sqlsel's kernels: the first run of a function after an install takes seconds longer "
        "(the bundled dsir_select example: 7-12 s instead of ~1 s); later runs load them"
    )

    def __init__(self, on_first: Callable[[], None] | None = None) -> None:
        self.on_first = on_first
        self.count = 0
        self.seconds = 0.0
        self._listener: Any = None

    def __enter__(self) -> CompileWatch:
        if "numba" not in sys.modules:
            return self
        from numba.core import event

        watch = self
        depth = threading.local()

        class Listener(event.Listener):
            def on_start(self, ev: event.Event) -> None:
                depth.value = getattr(depth, "value", 0) + 1
                if depth.value == 1:
                    depth.started = time.perf_counter()
                    watch.count += 1
                    if watch.count == 1 and watch.on_first is not None:
                        watch.on_first()

            def on_end(self, ev: event.Event) -> None:
                if getattr(depth, "value", 0) == 0:  # began before the watch: not counted, and never an error
                    return
                depth.value -= 1
                if depth.value == 0:
                    watch.seconds += time.perf_counter() - depth.started

        self._listener = Listener()
        event.register("numba:compile", self._listener)
        return self

    def summary(self) -> str | None:
        """``compiled 5 kernels in 11.1s: once per installation``, or None when nothing was compiled."""
        if not self.count:
            return None
        kernels = f"{self.count} kernel" + ("s" if self.count > 1 else "")
        return f"compiled {kernels} in {self.seconds:.1f}s: once per installation"

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._listener is not None:
            from numba.core import event

            event.unregister("numba:compile", self._listener)
            self._listener = None


def _prune(parent: Path, keep: Path, days: float = 14) -> None:
    """Remove the caches of kernel sources not used for ``days`` (an edited checkout leaves one each)."""
    old = time.time() - days * 86400
    for folder in parent.iterdir():
        if folder != keep and folder.is_dir() and folder.stat().st_mtime < old:
            shutil.rmtree(folder, ignore_errors=True)


def _use_compiled_cache_dir() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    folder = compiled_cache_dir()
    try:
        created = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True)  # another process may make it at the same moment
        os.utime(folder)  # marks it used: _prune goes by this time
        if created:
            _prune(folder.parent, keep=folder)
    except OSError:
        return  # numba keeps its cache beside the sources (or compiles every time where it cannot write)
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:  # imported before sqlsel: read the setting again
        sys.modules["numba"].core.config.reload_config()


_use_compiled_cache_dir()

"""Kernels: pure functions on Arrow/numpy data, one module per primitive family (see ARCHITECTURE.md).

The compiled kernels (numba, ``cache=True``) keep their machine code on disk. Numba checks a cached
function against its own source file only, so code inlined from another module (``compression.py``
calls ``_lz4``'s parser, ``embed.py`` freezes ``sampling.py``'s constants) would be served stale after
that module changed. The cache therefore lives in a folder keyed by the size and modification time of
every kernel source file: ``<sqlsel cache>/numba/<key>`` (:func:`sqlsel.cache.cache_dir`), so an edited
checkout compiles afresh and never runs old machine code. A ``NUMBA_CACHE_DIR`` the user set is left
as it is (numba's own rules then apply).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from sqlsel.cache import cache_dir, cache_key

__all__ = ["compiled_cache_dir"]


def compiled_cache_dir(sources: Path = Path(__file__).parent) -> Path:
    """The folder for numba's cache of the kernels in ``sources``: keyed by each file's size and mtime."""
    stamps = []
    for path in sorted(sources.glob("*.py")):
        st = path.stat()
        stamps.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
    return cache_dir() / "numba" / cache_key(*stamps)[:20]


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

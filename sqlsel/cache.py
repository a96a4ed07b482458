"""sqlsel's per-installation cache: what one process learns that the next need not learn again.

Parsed recipe statements (:func:`sqlsel.recipe.statement_facts`) and the LZ4 self-check of
:mod:`sqlsel.kernels.compression` are kept as small JSON files, each under a key that names what
it depends on (a statement's text, a library's version); numba's compiled kernels under ``numba/``,
keyed by the kernel sources (:mod:`sqlsel.kernels`). Nothing in the folder is needed to run:
it may be deleted at any time, and a folder that cannot be written is simply not used.

The folder is ``$SQLSEL_CACHE_DIR``, else ``$XDG_CACHE_HOME/sqlsel``, else ``~/.cache/sqlsel``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "cache_key", "read_cached", "write_cached"]


def cache_dir() -> Path:
    """The cache folder (see the module docstring)."""
    given = os.environ.get("SQLSEL_CACHE_DIR")
    if given:
        return Path(given)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sqlsel"


def cache_key(*parts: object) -> str:
    """A file-name-safe key for the values an entry depends on."""
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()


def read_cached(kind: str, key: str) -> dict[str, Any] | None:
    """The entry ``kind/key``, or None when there is none (or it cannot be read)."""
    try:
        data = json.loads((cache_dir() / kind / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_cached(kind: str, key: str, data: dict[str, Any]) -> None:
    """Write the entry ``kind/key`` atomically; a cache that cannot be written is simply not used."""
    folder = cache_dir() / kind
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        return

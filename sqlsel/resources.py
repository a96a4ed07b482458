"""Where the SQL that ships with sqlsel lives: ``udfs/``, ``sql/`` and ``migrations/``.

In a wheel they are packaged under ``sqlsel/_sql/``; in a source checkout (editable install) they
are the top-level folders of the repository.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

__all__ = ["KEY_MACROS", "SHELL_MACROS", "macro_files", "resource_dir", "sql_files"]

#: ``udfs/keys.sql``: the key hash (``sel_key_hash``), created first: the function table's macros call it.
KEY_MACROS = "keys.sql"
#: ``udfs/shell.sql``: the ``sqlsel_`` twins for a plain DuckDB shell, never used in a recipe.
SHELL_MACROS = "shell.sql"

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(kind: str) -> Path:
    """The folder holding ``kind`` ('udfs', 'sql' or 'migrations')."""
    for candidate in (_PACKAGE / "_sql" / kind, _PACKAGE.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"sqlsel's {kind}/ folder is missing from the installation ({_PACKAGE})")


def sql_files(kind: str) -> list[Path]:
    """The ``.sql`` files of ``kind``, sorted by name."""
    return sorted(resource_dir(kind).glob("*.sql"))


@functools.lru_cache(maxsize=1)
def macro_files() -> Mapping[str, str]:
    """The SQL macro library, ``udfs/*.sql``: file name → text, read once per process.

    Connecting creates these macros, a recipe's check follows the calls in their bodies, and the
    Spark engine expands them in place; all three read them from here.
    """
    return MappingProxyType({path.name: path.read_text() for path in sql_files("udfs")})

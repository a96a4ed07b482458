"""Where the SQL that ships with sqlsel lives: ``udfs/``, ``sql/`` and ``migrations/``.

In a wheel they are packaged under ``sqlsel/_sql/``; in a source checkout (editable install) they
are the top-level folders of the repository.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["resource_dir", "sql_files"]

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

"""Connections with every sqlsel function, macro and catalog migration in place.

A catalog opened with ``connect(path, read_only=True)`` (the way to read one the user cannot write:
a writable open of such a file is refused with a message saying so) is attached read-only to an
in-memory database that holds everything sqlsel creates (macros, the ``sel_scratch`` database,
functions); the catalog's tables appear there as views with the current schema, so reading works on
catalogs of any migration level and nothing is ever written to the file.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import duckdb

from sqlsel.catalog import catalog_file, clean_abandoned, migrate
from sqlsel.duck import run_sql, sql_string
from sqlsel.errors import CatalogNotFoundError, SqlselError
from sqlsel.functions import function_macros, register_functions
from sqlsel.lance import drop_tables
from sqlsel.resources import KEY_MACROS, macro_files

__all__ = [
    "connect",
    "read_catalog",
    "register",
    "SCRATCH",
    "CATALOG",
    "STORAGE_VERSION",
    "storage_version",
    "create_catalog_file",
    "convert_storage",
]

#: An in-memory database attached to every connection for intermediate tables (e.g. embeddings a
#: recipe computes once): unlike TEMP tables, set-level functions such as sel_kmeans_fit can read
#: them, and unlike catalog tables they never land in the catalog file.
SCRATCH = "sel_scratch"
#: The name a read-only catalog is attached under.
CATALOG = "sel_catalog"
#: The storage version new catalog files are written in: the oldest DuckDB release whose format holds
#: everything sqlsel stores, so the current DuckDB CLI release (1.5.6, which reads storage versions
#: up to v1.4.x) opens a catalog that DuckDB 2.0 wrote. ``$SQLSEL_STORAGE_VERSION`` chooses another
#: (e.g. ``latest``); ``sqlsel migrate --storage-version`` converts an existing catalog.
STORAGE_VERSION = "v1.4.0"


def storage_version() -> str:
    """The storage version for new catalogs: ``$SQLSEL_STORAGE_VERSION`` or :data:`STORAGE_VERSION`."""
    return os.environ.get("SQLSEL_STORAGE_VERSION", STORAGE_VERSION)


def connect(database: str | Path | None = None, *, read_only: bool = False, **config: Any) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection ready for curation.

    ``database`` is a catalog file (created and migrated if needed) or None for an in-memory
    catalog; ``read_only=True`` opens an existing catalog without ever writing to it (fits and run
    records are then refused; macros and scratch tables live in memory). ``config`` is passed to
    :func:`duckdb.connect` (e.g. ``threads=2``).

    Example:
        >>> import sqlsel
        >>> con = sqlsel.connect()
        >>> con.sql("SELECT sel_token_count('Hello, world!')").fetchall()
        [(4,)]
        >>> con.close()
    """
    if (read_only or database is None) and "temp_directory" not in config:
        config = {**config, "temp_directory": _spill_folder()}  # in-memory databases would spill into the cwd
    if read_only:
        con, path = _attached_read_only(database, config)
        try:
            return register(con, read_only_catalog=path)
        except BaseException:
            con.close()
            raise
    try:
        if database is not None and not Path(database).exists():
            create_catalog_file(Path(database))
        con = duckdb.connect(str(database) if database is not None else ":memory:", config=config)
    except duckdb.IOException as exc:
        if any(
            reason in str(exc) for reason in ("Permission denied", "Operation not permitted", "Read-only file system")
        ):
            raise SqlselError(
                f"Cannot open catalog {str(database)!r} for writing: {str(exc).splitlines()[0]}. "
                "Open it read-only (sqlsel.connect(path, read_only=True), or --read-only in the shell)."
            ) from None
        raise
    try:
        return register(con)
    except BaseException:
        con.close()
        raise


def create_catalog_file(path: Path, version: str | None = None) -> None:
    """An empty database file in ``version`` (default :func:`storage_version`).

    DuckDB keeps a file's storage version when it reopens it, so the catalog stays readable by that release.
    """
    version = version or storage_version()
    maker = duckdb.connect(":memory:")
    try:
        run_sql(maker, f"ATTACH {sql_string(str(path))} AS new_catalog (STORAGE_VERSION {sql_string(version)})")
        run_sql(maker, "DETACH new_catalog")
    except duckdb.Error as exc:
        path.unlink(missing_ok=True)
        raise SqlselError(
            f"Cannot create catalog {str(path)!r} in storage version {version!r}: {str(exc).splitlines()[0]}. "
            "Set SQLSEL_STORAGE_VERSION to a DuckDB release such as v1.4.0, or to latest."
        ) from None
    finally:
        maker.close()


def convert_storage(path: Path, version: str) -> None:
    """Rewrite catalog ``path`` in storage version ``version``: every table, view, sequence and macro copied.

    The copy is written beside the catalog and renamed over it only once complete, so a failure leaves
    the catalog as it was. The LanceDB folder beside it is not touched (its records are rows, copied).
    """
    if not path.is_file():
        raise CatalogNotFoundError(str(path))
    tmp = path.with_name(path.name + ".converting")
    tmp.unlink(missing_ok=True)
    create_catalog_file(tmp, version)
    con = duckdb.connect(":memory:")
    try:
        run_sql(con, f"ATTACH {sql_string(str(path))} AS old_catalog (READ_ONLY)")
        run_sql(con, f"ATTACH {sql_string(str(tmp))} AS new_catalog")
        run_sql(con, "COPY FROM DATABASE old_catalog TO new_catalog")
        run_sql(con, "DETACH new_catalog")
        run_sql(con, "DETACH old_catalog")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    os.replace(tmp, path)


def _spill_folder() -> str:
    """Where an in-memory catalog's DuckDB spills past memory_limit: a folder of this process, removed at exit.

    DuckDB's default for an in-memory database is ``.tmp`` in the working directory, left behind by a
    process that does not close its connection; a file catalog spills beside itself (``CATALOG.tmp``).
    """
    if not _SPILL:
        folder = tempfile.mkdtemp(prefix="sqlsel-spill-")
        _SPILL.append(folder)
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return _SPILL[0]


_SPILL: list[str] = []


def read_catalog(database: str | Path) -> duckdb.DuckDBPyConnection:
    """A catalog file opened read-only to read its records (runs, models), without sqlsel's functions.

    Its tables appear as views with the current schema, as in ``connect(database, read_only=True)``,
    but no function, macro or kernel is loaded: ``sqlsel runs`` took a median 0.70 s against 1.18 s
    (5 runs each, 2-core VM). To run SQL that calls sqlsel's functions on a catalog, use :func:`connect`.
    """
    con, _ = _attached_read_only(database, {"temp_directory": _spill_folder()})
    try:
        migrate(con)
        _catalog_views(con)
        return con
    except BaseException:
        con.close()
        raise


def _attached_read_only(database: str | Path | None, config: dict[str, Any]) -> tuple[duckdb.DuckDBPyConnection, str]:
    """An in-memory connection with the catalog file ``database`` attached read-only as ``sel_catalog``."""
    if database is None or not Path(database).is_file():
        raise CatalogNotFoundError(str(database) if database is not None else ":memory:")
    con = duckdb.connect(":memory:", config=config)
    try:
        path = str(Path(database).resolve())
        run_sql(con, f"ATTACH {sql_string(path)} AS {CATALOG} (READ_ONLY)")
        return con, path
    except BaseException:
        con.close()
        raise


def register(con: duckdb.DuckDBPyConnection, *, read_only_catalog: str | None = None) -> duckdb.DuckDBPyConnection:
    """Register sqlsel on an existing connection: functions, catalog migrations, SQL macros.

    On a writable catalog it also finishes what a killed run left behind (see
    :func:`sqlsel.catalog.clean_abandoned`). ``read_only_catalog`` is the path of a catalog attached
    read-only as ``sel_catalog`` (see :func:`connect`).
    """
    # progress is tracked for sqlsel's own reporting (CLI), never printed into a caller's stdout; in a
    # Jupyter kernel without ipywidgets DuckDB refuses to change the setting, and prints nothing anyway
    with contextlib.suppress(duckdb.Error):
        run_sql(con, "SET enable_progress_bar_print = false")
    run_sql(con, f"ATTACH IF NOT EXISTS ':memory:' AS {SCRATCH}")
    catalog_path = read_only_catalog or catalog_file(con)
    register_functions(con, catalog_path=catalog_path, read_only=read_only_catalog is not None)
    migrate(con)
    if read_only_catalog is not None:
        _catalog_views(con)
    create_macros(con)
    if read_only_catalog is None:
        _, lance_tables = clean_abandoned(con)
        drop_tables(lance_tables)
    return con


#: A macro returning the hash of every macro statement sqlsel created in a database, created last.
MACROS_STAMP = "sel_macros_stamp"


def create_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create sqlsel's SQL macros in ``con``'s current database, unless it holds these very ones already.

    They are the function table's (:func:`sqlsel.functions.function_macros`) and those of
    ``udfs/*.sql``. In a catalog file they persist (a plain ``duckdb`` shell calls the ``sqlsel_``
    ones), so reopening one finds them: a hash of their SQL, returned by ``sel_macros_stamp()`` and
    created after them, says whether they are current. Creating them all took about 40 ms of every
    connect, and wrote to the catalog each time. A connect interrupted while creating them leaves
    the old hash, so the next one creates them all again.
    """
    # the key macros come first, in function_macros(): the others call them
    texts = function_macros() + [text for name, text in macro_files().items() if name != KEY_MACROS]
    stamp = hashlib.sha256("\n;\n".join(texts).encode()).hexdigest()[:32]
    try:
        if run_sql(con, f"SELECT {MACROS_STAMP}()")[0][0] == stamp:
            return
    except duckdb.Error:
        pass  # no stamp: a new database, or one that sqlsel's macros never reached
    for text in texts:
        for statement in con.extract_statements(text):
            run_sql(con, statement)
    run_sql(con, f"CREATE OR REPLACE MACRO {MACROS_STAMP}() AS {sql_string(stamp)}")


def _catalog_views(con: duckdb.DuckDBPyConnection) -> None:
    """Replace the empty in-memory catalog tables by views over the read-only catalog's tables.

    Columns a later migration added (and the catalog does not have yet) read as NULL.
    """
    sql = (
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = ? AND schema_name = 'main' ORDER BY table_name, column_index"
    )
    current: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in run_sql(con, sql, [_memory_name(con)]):
        current.setdefault(table, []).append((column, kind))
    stored: dict[str, set[str]] = {}
    for table, column, _ in run_sql(con, sql, [CATALOG]):
        stored.setdefault(table, set()).add(column)
    for table, columns in current.items():
        if table not in stored:
            continue  # the catalog predates this table: it stays empty
        # qualified: a macro parameter of a column's name (sqlsel_cluster's level) would clash with a bare one
        select = ", ".join(f'stored."{c}"' if c in stored[table] else f'NULL::{kind} AS "{c}"' for c, kind in columns)
        run_sql(con, f'DROP TABLE "{table}"')
        run_sql(con, f'CREATE VIEW "{table}" AS SELECT {select} FROM {CATALOG}.main."{table}" AS stored')


def _memory_name(con: duckdb.DuckDBPyConnection) -> str:
    return str(run_sql(con, "SELECT current_database()")[0][0])

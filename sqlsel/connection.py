"""Connections with every sqlsel function, macro and catalog migration in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from sqlsel.catalog import migrate
from sqlsel.duck import run_sql
from sqlsel.functions import register_functions
from sqlsel.resources import sql_files

__all__ = ["connect", "register"]


def connect(database: str | Path | None = None, **config: Any) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection ready for curation.

    ``database`` is a catalog file (created and migrated if needed) or None for an in-memory
    catalog; ``config`` is passed to :func:`duckdb.connect` (e.g. ``threads=2``).

    Example:
        >>> import sqlsel
        >>> con = sqlsel.connect()
        >>> con.sql("SELECT sel_token_count('Hello, world!')").fetchall()
        [(4,)]
        >>> con.close()
    """
    con = duckdb.connect(str(database) if database is not None else ":memory:", config=config)
    try:
        return register(con)
    except BaseException:
        con.close()
        raise


#: An in-memory database attached to every connection for intermediate tables (e.g. embeddings a
#: recipe computes once): unlike TEMP tables, set-level functions such as sel_kmeans_fit can read
#: them, and unlike catalog tables they never land in the catalog file.
SCRATCH = "sel_scratch"


def register(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Register sqlsel on an existing connection: functions, catalog migrations, SQL macros."""
    # progress is tracked for sqlsel's own reporting (CLI), never printed into a caller's stdout
    run_sql(con, "SET enable_progress_bar_print = false")
    run_sql(con, f"ATTACH IF NOT EXISTS ':memory:' AS {SCRATCH}")
    register_functions(con)
    migrate(con)
    for path in sql_files("udfs"):
        for statement in con.extract_statements(path.read_text()):
            run_sql(con, statement)
    return con

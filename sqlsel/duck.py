"""One helper for DuckDB 2.0's rule that a result must be consumed before the next statement."""

from __future__ import annotations

from typing import Any

import duckdb

__all__ = ["run_sql"]


def run_sql(con: duckdb.DuckDBPyConnection, sql: Any, params: Any = None) -> list[tuple[Any, ...]]:
    """Execute one statement (text or a parsed statement) and fetch all its rows."""
    return con.execute(sql, params if params is not None else []).fetchall()

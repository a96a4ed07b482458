"""The catalog: migrations that create it, and read helpers for models and runs.

Migrations are ``migrations/NNNN_name.sql`` files, applied in order, each in one transaction
together with its row in ``sel_migrations``; a failed migration leaves the catalog as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from sqlsel.errors import MigrationError
from sqlsel.resources import sql_files

__all__ = ["Migration", "migrations", "pending_migrations", "migrate", "list_models", "list_runs", "record_run"]

_TRACKING = """CREATE TABLE IF NOT EXISTS sel_migrations (
    name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"""


@dataclass(frozen=True)
class Migration:
    name: str
    path: Path
    applied_at: datetime | None = None


def migrations(con: duckdb.DuckDBPyConnection) -> list[Migration]:
    """Every known migration with the time it was applied (None if pending)."""
    applied = dict(_applied(con))
    return [Migration(p.stem, p, applied.get(p.stem)) for p in sql_files("migrations")]


def pending_migrations(con: duckdb.DuckDBPyConnection) -> list[Migration]:
    return [m for m in migrations(con) if m.applied_at is None]


def _applied(con: duckdb.DuckDBPyConnection) -> list[tuple[str, datetime]]:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'sel_migrations' AND schema_name = current_schema()"
    ).fetchone()
    if not exists or not exists[0]:
        return []
    return con.execute("SELECT name, applied_at FROM sel_migrations ORDER BY name").fetchall()


def migrate(con: duckdb.DuckDBPyConnection) -> list[Migration]:
    """Apply every pending migration, each in its own transaction; returns those applied."""
    todo = pending_migrations(con)
    if not todo:
        return []
    con.execute(_TRACKING)
    done = []
    for m in todo:
        try:
            con.execute("BEGIN TRANSACTION")
            for statement in con.extract_statements(m.path.read_text()):
                con.execute(statement)
            con.execute("INSERT INTO sel_migrations (name) VALUES (?)", [m.name])
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise MigrationError(f"Migration {m.name} failed and was rolled back: {exc}") from exc
        done.append(m)
    return done


def list_models(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = con.execute("SELECT name, kind, params, created FROM sel_models ORDER BY name").fetchall()
    return [{"name": n, "kind": k, "params": json.loads(p), "created": c} for n, k, p, c in rows]


def list_runs(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict[str, Any]]:
    cur = con.execute(
        "SELECT run_id, recipe, status, rows_out, output_path, started, ended, seed, selection_digest, metrics, error "
        "FROM sel_runs ORDER BY run_id DESC LIMIT ?",
        [limit],
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def record_run(con: duckdb.DuckDBPyConnection, run: dict[str, Any]) -> int:
    """Insert one run row (in its own transaction); returns its id."""
    cols = list(run)
    values = [json.dumps(v, default=str) if isinstance(v, (dict, list)) else v for v in run.values()]
    placeholders = ", ".join("?" for _ in cols)
    row = con.execute(
        f"INSERT INTO sel_runs ({', '.join(cols)}) VALUES ({placeholders}) RETURNING run_id", values
    ).fetchone()
    return int(row[0]) if row else -1

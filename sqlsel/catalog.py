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

from sqlsel.duck import run_sql
from sqlsel.errors import MigrationError
from sqlsel.resources import sql_files

__all__ = [
    "Migration",
    "migrations",
    "pending_migrations",
    "migrate",
    "list_models",
    "list_runs",
    "record_run",
    "store_model",
    "replace_row",
]

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
    exists = run_sql(
        con,
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'sel_migrations' AND schema_name = current_schema()",
    )[0][0]
    if not exists:
        return []
    return run_sql(con, "SELECT name, applied_at FROM sel_migrations ORDER BY name")


def migrate(con: duckdb.DuckDBPyConnection) -> list[Migration]:
    """Apply every pending migration, each in its own transaction; returns those applied."""
    todo = pending_migrations(con)
    if not todo:
        return []
    run_sql(con, _TRACKING)
    done = []
    for m in todo:
        try:
            run_sql(con, "BEGIN TRANSACTION")
            for statement in con.extract_statements(m.path.read_text()):
                run_sql(con, statement)
            run_sql(con, "INSERT INTO sel_migrations (name) VALUES (?)", [m.name])
            run_sql(con, "COMMIT")
        except duckdb.Error as exc:
            run_sql(con, "ROLLBACK")
            raise MigrationError(f"Migration {m.name} failed and was rolled back: {exc}") from exc
        done.append(m)
    return done


def list_models(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = run_sql(con, "SELECT name, kind, params, created FROM sel_models ORDER BY name")
    return [{"name": n, "kind": k, "params": json.loads(p), "created": c} for n, k, p, c in rows]


def list_runs(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict[str, Any]]:
    rel = con.sql(
        "SELECT run_id, recipe, status, rows_out, output_path, started, ended, seed, selection_digest, metrics, error "
        "FROM sel_runs ORDER BY run_id DESC LIMIT $limit",
        params={"limit": limit},
    )
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def record_run(con: duckdb.DuckDBPyConnection, run: dict[str, Any]) -> int:
    """Insert one run row (in its own transaction); returns its id."""
    cols = list(run)
    values = [json.dumps(v, default=str) if isinstance(v, (dict, list)) else v for v in run.values()]
    placeholders = ", ".join("?" for _ in cols)
    rows = run_sql(con, f"INSERT INTO sel_runs ({', '.join(cols)}) VALUES ({placeholders}) RETURNING run_id", values)
    return int(rows[0][0])


def store_model(
    cur: duckdb.DuckDBPyConnection, name: str, kind: str, params: str, payload_table: str, payload: Any
) -> int:
    """Register model ``name`` (a new model id, replacing any model of that name) with its payload rows.

    ``payload`` is an Arrow table whose columns follow ``payload_table``'s after its leading
    ``model_id``. Call it on a cursor inside a transaction (``FunctionContext.writing``), so a
    failure leaves the previous model in place.
    """
    model_id = int(run_sql(cur, "SELECT nextval('sel_model_ids')")[0][0])
    run_sql(
        cur,
        "INSERT INTO sel_models (name, model_id, kind, params) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET model_id = excluded.model_id, kind = excluded.kind, "
        "params = excluded.params, created = excluded.created, input_fingerprint = NULL",
        [name, model_id, kind, params],
    )
    run_sql(cur, f"DELETE FROM {payload_table} WHERE model_id NOT IN (SELECT model_id FROM sel_models)")
    cur.register("_sel_model_payload", payload)
    try:
        run_sql(cur, f"INSERT INTO {payload_table} SELECT ?, * FROM _sel_model_payload", [model_id])
    finally:
        cur.unregister("_sel_model_payload")
    return model_id


def replace_row(cur: duckdb.DuckDBPyConnection, table: str, values: dict[str, Any]) -> None:
    """Replace the row of ``table`` whose ``name`` is ``values['name']`` by ``values``."""
    run_sql(cur, f"DELETE FROM {table} WHERE name = ?", [values["name"]])
    marks = ", ".join("?" * len(values))
    run_sql(cur, f"INSERT INTO {table} ({', '.join(values)}) VALUES ({marks})", list(values.values()))

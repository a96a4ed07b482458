"""The catalog: migrations, run records, and models that only a run which succeeds can change.

Migrations are ``migrations/NNNN_name.sql`` files, applied in order, each in one transaction
together with its row in ``sel_migrations``; a failed migration leaves the catalog as it was.

A run's row in ``sel_runs`` is written when it starts (:func:`begin_run`, status ``running``) and
completed when it ends (:func:`finish_run`). While it runs, what it stores under a name (models,
vector tables, indexes) is *staged* under ``<name>~staged-run<id>``; :func:`publish` renames the staged
objects over the old ones, with their provenance, in the transaction that records the run as ok, and
:func:`discard` removes them when it fails. A process killed mid-run leaves a ``running`` row and its
staged objects: the next writable open (:func:`clean_abandoned`) marks the run ``killed`` and removes them.
"""

from __future__ import annotations

import json
import os
import socket
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
    "in_transaction",
    "STAGED",
    "staged_name",
    "PAYLOAD_TABLES",
    "NAMED_TABLES",
    "list_models",
    "list_runs",
    "get_run",
    "begin_run",
    "finish_run",
    "store_model",
    "replace_row",
    "publish",
    "discard",
    "clean_abandoned",
    "catalog_file",
]

#: What a staged catalog name carries between the name asked for and the run id.
STAGED = "~staged-run"


def staged_name(name: str, run_id: int) -> str:
    """The name run ``run_id`` stores ``name`` under until it succeeds (see FunctionContext.staging)."""
    return f"{name}{STAGED}{run_id}"


#: Tables holding a model's payload rows, by model_id.
PAYLOAD_TABLES = ("sel_dsir_buckets", "sel_zipfit_texts", "sel_kmeans_centroids", "sel_ot_targets")
#: Catalog objects addressed by name, which a run stages: models, vector tables, vector indexes.
NAMED_TABLES = ("sel_models", "sel_vector_tables", "sel_vector_indexes")

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
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'sel_migrations' "
        "AND database_name = current_database() AND schema_name = current_schema()",
    )[0][0]
    if not exists:
        return []
    return run_sql(con, "SELECT name, applied_at FROM sel_migrations ORDER BY name")


def migrate(con: duckdb.DuckDBPyConnection) -> list[Migration]:
    """Apply every pending migration, each in its own transaction; returns those applied."""
    todo = pending_migrations(con)
    if not todo:
        return []
    joined = in_transaction(con)  # a caller's open transaction: the migrations commit or roll back with it
    run_sql(con, _TRACKING)
    done = []
    for m in todo:
        if not joined:
            run_sql(con, "BEGIN TRANSACTION")
        try:
            for statement in con.extract_statements(m.path.read_text()):
                run_sql(con, statement)
            run_sql(con, "INSERT INTO sel_migrations (name) VALUES (?)", [m.name])
            if not joined:
                run_sql(con, "COMMIT")
        except duckdb.Error as exc:
            if not joined:
                run_sql(con, "ROLLBACK")
            raise MigrationError(f"Migration {m.name} failed and was rolled back: {exc}") from exc
        done.append(m)
    return done


def in_transaction(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``con`` is inside a transaction its user opened (BEGIN): two statements then share an id."""
    first = run_sql(con, "SELECT txid_current()")[0][0]
    return bool(first == run_sql(con, "SELECT txid_current()")[0][0])


def list_models(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every model (staged ones of a run in progress left out), by name."""
    rows = run_sql(
        con,
        "SELECT name, kind, model_id, params, created, run_id, input_fingerprint FROM sel_models "
        "WHERE NOT contains(name, ?) ORDER BY name",
        [STAGED],
    )
    cols = ("name", "kind", "model_id", "params", "created", "run_id", "input_fingerprint")
    return [{**dict(zip(cols, r, strict=True)), "params": _json(r[3])} for r in rows]


_RUN_SUMMARY = "run_id, recipe, status, rows_out, output_path, started, ended, seed, selection_digest, metrics, error"


def list_runs(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent runs, newest first."""
    rel = con.sql(f"SELECT {_RUN_SUMMARY} FROM sel_runs ORDER BY run_id DESC LIMIT $limit", params={"limit": limit})
    return [_run_row(rel.columns, row) for row in rel.fetchall()]


def get_run(con: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, Any] | None:
    """Everything recorded about one run (JSON columns parsed), or None."""
    rel = con.sql("SELECT * FROM sel_runs WHERE run_id = $id", params={"id": run_id})
    rows = rel.fetchall()
    return _run_row(rel.columns, rows[0]) if rows else None


_JSON_COLUMNS = ("params", "inputs", "metrics", "statements", "engine_info")


def _run_row(columns: list[str], row: tuple[Any, ...]) -> dict[str, Any]:
    record = dict(zip(columns, row, strict=True))
    for name in _JSON_COLUMNS:
        if name in record:
            record[name] = _json(record[name])
    return record


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _encoded(value: Any) -> Any:
    return json.dumps(value, default=str) if isinstance(value, (dict, list)) else value


#: Runs this process has begun and not finished, by catalog file. DuckDB lets one process at a time open a
#: catalog file for writing, so on a writable open every other ``running`` row belongs to a dead process.
_IN_FLIGHT: set[tuple[str, int]] = set()


def catalog_file(con: duckdb.DuckDBPyConnection) -> str | None:
    """The file of the connection's current database (None: in memory)."""
    rows = run_sql(con, "SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
    return str(rows[0][0]) if rows and rows[0][0] else None


def begin_run(con: duckdb.DuckDBPyConnection, run: dict[str, Any]) -> int:
    """Insert a run's row with status ``running`` (and this process's pid and host); returns its id."""
    run = {**run, "status": "running", "pid": os.getpid(), "host": socket.gethostname()}
    cols = list(run)
    marks = ", ".join("?" for _ in cols)
    rows = run_sql(
        con,
        f"INSERT INTO sel_runs ({', '.join(cols)}) VALUES ({marks}) RETURNING run_id",
        [_encoded(v) for v in run.values()],
    )
    run_id = int(rows[0][0])
    _IN_FLIGHT.add((catalog_file(con) or ":memory:", run_id))
    return run_id


def finish_run(cur: duckdb.DuckDBPyConnection, run_id: int, fields: dict[str, Any]) -> None:
    """Update a run's row (status, ended, output, error, …); a final status ends it."""
    sets = ", ".join(f"{name} = ?" for name in fields)
    run_sql(cur, f"UPDATE sel_runs SET {sets} WHERE run_id = ?", [*(_encoded(v) for v in fields.values()), run_id])
    if fields.get("status", "running") != "running":
        _IN_FLIGHT.discard((catalog_file(cur) or ":memory:", run_id))


def store_model(
    cur: duckdb.DuckDBPyConnection, name: str, kind: str, params: str, payload_table: str, payload: Any
) -> int:
    """Register model ``name`` (a new model id, replacing any model of that name) with its payload rows.

    ``payload`` is an Arrow table whose columns follow ``payload_table``'s after its leading
    ``model_id``. Call it on a cursor inside a transaction (``FunctionContext.writing``), with the
    name from ``FunctionContext.write_name`` (staged during a run), so a failure leaves the previous
    model in place.
    """
    model_id = int(run_sql(cur, "SELECT nextval('sel_model_ids')")[0][0])
    run_sql(cur, "DELETE FROM sel_models WHERE name = ?", [name])
    run_sql(
        cur, "INSERT INTO sel_models (name, model_id, kind, params) VALUES (?, ?, ?, ?)", [name, model_id, kind, params]
    )
    _drop_orphan_payloads(cur)
    cur.register("_sel_model_payload", payload)
    try:
        run_sql(cur, f"INSERT INTO {payload_table} SELECT ?, * FROM _sel_model_payload", [model_id])
    finally:
        cur.unregister("_sel_model_payload")
    return model_id


def _drop_orphan_payloads(cur: duckdb.DuckDBPyConnection) -> None:
    for table in PAYLOAD_TABLES:
        run_sql(cur, f"DELETE FROM {table} WHERE model_id NOT IN (SELECT model_id FROM sel_models)")


def replace_row(cur: duckdb.DuckDBPyConnection, table: str, values: dict[str, Any]) -> None:
    """Replace the row of ``table`` whose ``name`` is ``values['name']`` by ``values``."""
    run_sql(cur, f"DELETE FROM {table} WHERE name = ?", [values["name"]])
    marks = ", ".join("?" * len(values))
    run_sql(cur, f"INSERT INTO {table} ({', '.join(values)}) VALUES ({marks})", list(values.values()))


def _staged(cur: duckdb.DuckDBPyConnection, table: str, run_id: int) -> list[tuple[str, str]]:
    """(staged name, final name) of every object run ``run_id`` staged in ``table``."""
    suffix = f"{STAGED}{run_id}"
    names = run_sql(cur, f"SELECT name FROM {table} WHERE ends_with(name, ?)", [suffix])
    return [(n, n[: -len(suffix)]) for (n,) in names]


def publish(cur: duckdb.DuckDBPyConnection, run_id: int, fingerprint: str | None) -> list[tuple[str, str]]:
    """Rename what run ``run_id`` staged over the objects of the same names, with its provenance.

    Call inside a transaction. Models get ``run_id`` and ``input_fingerprint`` in the same statement
    that names them. Returns the replaced LanceDB tables ``(folder, table)`` to drop once committed.
    """
    for staged, final in _staged(cur, "sel_models", run_id):
        run_sql(cur, "DELETE FROM sel_models WHERE name = ?", [final])
        run_sql(
            cur,
            "UPDATE sel_models SET name = ?, run_id = ?, input_fingerprint = ? WHERE name = ?",
            [final, run_id, fingerprint, staged],
        )
    _drop_orphan_payloads(cur)
    replaced: list[tuple[str, str]] = []
    for staged, final in _staged(cur, "sel_vector_tables", run_id):
        replaced += run_sql(cur, "SELECT path, lance_table FROM sel_vector_tables WHERE name = ?", [final])
        run_sql(cur, "DELETE FROM sel_vector_tables WHERE name = ?", [final])
        run_sql(cur, "UPDATE sel_vector_tables SET name = ? WHERE name = ?", [final, staged])
        run_sql(cur, "UPDATE sel_vector_indexes SET vector_table = ? WHERE vector_table = ?", [final, staged])
    for staged, final in _staged(cur, "sel_vector_indexes", run_id):
        run_sql(cur, "DELETE FROM sel_vector_indexes WHERE name = ?", [final])
        run_sql(cur, "UPDATE sel_vector_indexes SET name = ? WHERE name = ?", [final, staged])
    return [(str(p), str(t)) for p, t in replaced]


def discard(cur: duckdb.DuckDBPyConnection, run_id: int) -> list[tuple[str, str]]:
    """Remove what run ``run_id`` staged; returns its LanceDB tables ``(folder, table)`` to drop."""
    suffix = f"{STAGED}{run_id}"
    run_sql(cur, "DELETE FROM sel_models WHERE ends_with(name, ?)", [suffix])
    _drop_orphan_payloads(cur)
    tables = run_sql(cur, "SELECT path, lance_table FROM sel_vector_tables WHERE ends_with(name, ?)", [suffix])
    run_sql(cur, "DELETE FROM sel_vector_tables WHERE ends_with(name, ?)", [suffix])
    run_sql(cur, "DELETE FROM sel_vector_indexes WHERE ends_with(name, ?)", [suffix])
    return [(str(p), str(t)) for p, t in tables]


def clean_abandoned(con: duckdb.DuckDBPyConnection) -> tuple[list[int], list[tuple[str, str]]]:
    """Mark runs whose process died ``killed`` and remove what they (or any finished run) left staged.

    Call it on a catalog opened for writing: DuckDB then holds the file for this process alone, so a
    row that says ``running`` and is not one of this process's runs in flight belongs to a process
    that ended without finishing it (``kill -9``, a lost container; its pid and host say which).
    Returns the run ids marked and the LanceDB tables to drop.
    """
    catalog = catalog_file(con) or ":memory:"
    running = [r for (r,) in run_sql(con, "SELECT run_id FROM sel_runs WHERE status = 'running'")]
    dead = [r for r in running if (catalog, r) not in _IN_FLIGHT]
    live = set(running) - set(dead)
    staged_runs: set[int] = set()
    for table in NAMED_TABLES:
        for (name,) in run_sql(con, f"SELECT name FROM {table} WHERE contains(name, ?)", [STAGED]):
            tail = name.rsplit(STAGED, 1)[1]
            if tail.isdigit() and int(tail) not in live:
                staged_runs.add(int(tail))
    if not dead and not staged_runs:
        return [], []
    drops: list[tuple[str, str]] = []
    run_sql(con, "BEGIN TRANSACTION")
    try:
        for run_id in sorted(staged_runs | set(dead)):
            drops += discard(con, run_id)
        for run_id in dead:
            finish_run(
                con,
                run_id,
                {"status": "killed", "error": "The process running it ended before the run finished (killed?)."},
            )
        run_sql(con, "COMMIT")
    except duckdb.Error:
        run_sql(con, "ROLLBACK")
        raise
    return dead, drops

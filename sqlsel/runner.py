"""Run a recipe: bind parameters, execute its statements, write the output atomically, record the run.

:func:`run_recipe` is the library entry point; the CLI's ``sqlsel run`` is a thin wrapper.

Example:
    >>> import sqlsel
    >>> result = sqlsel.run_recipe("dsir_select", {"pool": "examples/pool.parquet",
    ...     "target": "examples/target.jsonl", "k": 5})              # doctest: +SKIP
    >>> result.rows_out                                              # doctest: +SKIP
    5
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from sqlsel.catalog import record_run
from sqlsel.connection import SCRATCH, connect
from sqlsel.duck import run_sql
from sqlsel.errors import InputError, OutputError, SqlselError
from sqlsel.functions import models_fixed
from sqlsel.recipe import Recipe, load_recipe

__all__ = ["RunResult", "run_recipe", "OUTPUT_FORMATS"]

OUTPUT_FORMATS = {".parquet": "parquet", ".jsonl": "json", ".csv": "csv"}
_READERS = {".parquet": "parquet", ".jsonl": "json", ".ndjson": "json", ".json": "json", ".csv": "csv"}
RESULT_TABLE = "_sel_result"


@dataclass
class RunResult:
    """What a run did: where its output went, how many rows, and its catalog record id."""

    run_id: int
    recipe: str
    status: str
    rows_out: int
    output_path: str | None
    selection_digest: str | None
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    table: pa.Table | None = None  # the selected rows, when no output path was given
    timings: list[tuple[str, float]] = field(default_factory=list)  # (statement's first line, seconds)


def run_recipe(
    recipe: str | Path | Recipe,
    params: Mapping[str, Any] | None = None,
    *,
    db: str | Path | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    out: str | Path | None = None,
    threads: int | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> RunResult:
    """Run ``recipe`` with ``params`` and record it in the catalog (``db``, or ``con``'s database).

    Without ``out`` the selected rows are returned in ``RunResult.table``. Errors are
    :class:`~sqlsel.errors.SqlselError`; a failed run writes no output file and is recorded
    with status 'failed'.
    """
    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    given = dict(params or {})
    values = recipe.bind(given)
    out_path, out_format = _output(out)
    own = con is None
    con = connect(db) if con is None else con
    try:
        if threads is not None:
            if threads < 1:
                raise SqlselError(f"--threads must be at least 1; got {threads}")
            run_sql(con, f"SET threads = {int(threads)}")
        return _run(con, recipe, values, out_path, out_format, on_progress)
    finally:
        if own:
            con.close()


def _output(out: str | Path | None) -> tuple[Path | None, str | None]:
    if out is None:
        return None, None
    path = Path(out)
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(
            f"Cannot write {str(path)!r}: the output extension must be one of {', '.join(OUTPUT_FORMATS)}."
        )
    if not path.parent.exists():
        raise OutputError(f"Cannot write {str(path)!r}: folder {str(path.parent)!r} does not exist.")
    return path, fmt


def _run(
    con: duckdb.DuckDBPyConnection,
    recipe: Recipe,
    values: dict[str, Any],
    out_path: Path | None,
    out_format: str | None,
    on_progress: Callable[[float], None] | None,
) -> RunResult:
    started = datetime.now()
    t0 = time.perf_counter()
    statements = recipe.statements(con)
    if not statements:
        raise SqlselError(f"Recipe {recipe.name} has no SQL statements.")
    inputs: list[dict[str, Any]] = []
    views = []
    record: dict[str, Any] = {
        "recipe": recipe.name if recipe.path.parent.name == "sql" else str(recipe.path),
        "query_hash": recipe.text_hash,
        "params": {
            k: (v if isinstance(v, (int, float, str, bool)) or v is None else repr(v)) for k, v in values.items()
        },
        "seed": values.get("seed") if isinstance(values.get("seed"), int) else None,
        "sqlsel_version": _version(),
        "duckdb_version": duckdb.__version__,
        "inputs": inputs,
        "started": started,
    }
    tmp: Path | None = None
    timings: list[tuple[str, float]] = []
    scratch_before = _scratch_tables(con)
    try:
        for p in recipe.params.values():
            if p.is_table:
                inputs.extend(_register_input(con, p.name, values[p.name]))
                views.append(p.name)
        recipe.check(con, values)
        scalar = {k: v for k, v in values.items() if not recipe.params[k].is_table}
        last = statements[-1]
        if last.type != duckdb.StatementType.SELECT:
            raise SqlselError(f"The last statement of recipe {recipe.name} must be a SELECT (its rows are the output).")
        body = last.query.strip().rstrip(";")
        with _Progress(con, on_progress):
            for statement in statements[:-1]:
                timings.append(_execute(con, statement.query, statement.named_parameters, scalar))
            result_sql = f"CREATE OR REPLACE TEMP TABLE {RESULT_TABLE} AS {body}\n"
            timings.append(_execute(con, result_sql, last.named_parameters, scalar))
        rows_out = run_sql(con, f"SELECT count(*) FROM {RESULT_TABLE}")[0][0]
        digest = _digest(con)
        metrics = {}
        for name, sql in recipe.metrics.items():
            params = {k: scalar[k] for k in re.findall(r"\$(\w+)", sql) if k in scalar}
            metrics[name] = run_sql(con, sql, params)[0][0]
        table = None
        if out_path is not None:
            tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
            run_sql(con, f"COPY {RESULT_TABLE} TO '{_quote(tmp)}' (FORMAT {out_format})")
            os.replace(tmp, out_path)
            tmp = None
        else:
            table = con.sql(f"SELECT * FROM {RESULT_TABLE}").to_arrow_table()
        record.update(
            output_path=str(out_path) if out_path else None,
            rows_out=rows_out,
            selection_digest=digest,
            metrics=metrics,
            status="ok",
            ended=datetime.now(),
        )
        _fingerprint_models(con, recipe, values, inputs)
        run_id = record_run(con, record)
        return RunResult(
            run_id,
            recipe.name,
            "ok",
            rows_out,
            record["output_path"],
            digest,
            metrics,
            values,
            time.perf_counter() - t0,
            table,
            timings,
        )
    except BaseException as exc:
        _rollback(con)
        if tmp is not None and tmp.exists():
            tmp.unlink()
        error = _translate(exc) if isinstance(exc, duckdb.Error) else exc
        record.update(status="failed", error=str(error)[:2000], ended=datetime.now())
        try:
            record_run(con, record)
        except duckdb.Error:
            pass  # a catalog that cannot take the record must not hide the real error
        if error is exc:
            raise
        raise error from None
    finally:
        run_sql(con, f"DROP TABLE IF EXISTS {RESULT_TABLE}")
        for t in _scratch_tables(con) - scratch_before:  # what a failed run left in the scratch database
            run_sql(con, f'DROP TABLE IF EXISTS {SCRATCH}."{t}"')
        for v in views:
            run_sql(con, f'DROP VIEW IF EXISTS "{v}"')


def _scratch_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    sql = "SELECT table_name FROM duckdb_tables() WHERE database_name = ?"
    return {r[0] for r in run_sql(con, sql, [SCRATCH])}


def _execute(con: duckdb.DuckDBPyConnection, sql: str, names: set[str], scalar: dict[str, Any]) -> tuple[str, float]:
    """Run one statement with the parameters it names; returns its first SQL line and duration."""
    missing = [n for n in names if n not in scalar]
    if missing:
        raise SqlselError(f"The recipe uses ${missing[0]} but declares no parameter of that name.")
    t0 = time.perf_counter()
    with models_fixed(con):
        run_sql(con, sql, {n: scalar[n] for n in names})
    first = next((ln.strip() for ln in sql.splitlines() if ln.strip() and not ln.strip().startswith("--")), "")
    return first, time.perf_counter() - t0


def _register_input(con: duckdb.DuckDBPyConnection, name: str, value: Any) -> list[dict[str, Any]]:
    """Create the view ``name`` over the files (or relation, Arrow table) passed for it."""
    if isinstance(value, duckdb.DuckDBPyRelation):
        value.create_view(name, replace=True)
        return [{"relation": name}]
    if isinstance(value, (pa.Table, pa.RecordBatchReader)):
        con.register(f"_sel_input_{name}", value)
        run_sql(con, f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT * FROM _sel_input_{name}')
        return [{"arrow": name, "rows": getattr(value, "num_rows", None)}]
    pattern = str(value)
    files = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else ([pattern] if os.path.isfile(pattern) else [])
    if not files:
        what = "No files match" if glob.has_magic(pattern) else "No such file"
        raise InputError(f"{what}: {pattern!r} (parameter {name}). Pass an existing Parquet or JSONL path or glob.")
    if all(os.path.getsize(f) == 0 for f in files):
        raise InputError(f"Parameter {name}: {pattern!r} is empty (0 bytes). Pass a file with rows.")
    kinds = {_READERS.get(Path(f).suffix.lower()) for f in files}
    if None in kinds or len(kinds) != 1:
        raise InputError(f"Parameter {name}: files must all be one of {', '.join(sorted(_READERS))}; got {pattern!r}.")
    kind = kinds.pop()
    if kind == "parquet":
        rel = con.read_parquet(files)
    elif kind == "json":
        rel = con.read_json(files, format="newline_delimited")
    else:
        rel = con.read_csv(files)
    rel.create_view(name, replace=True)
    return [{"path": os.path.abspath(f), "size": os.path.getsize(f), "mtime": os.path.getmtime(f)} for f in files]


def _fingerprint_models(
    con: duckdb.DuckDBPyConnection, recipe: Recipe, values: dict[str, Any], inputs: list[dict[str, Any]]
) -> None:
    """Stamp the models this run fitted with a digest of its input files (path, size, mtime)."""
    names = [str(values[p]) for p in recipe.fits if p in values]
    if not names:
        return
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()
    for name in names:
        run_sql(con, "UPDATE sel_models SET input_fingerprint = ? WHERE name = ?", [digest, name])


def _digest(con: duckdb.DuckDBPyConnection) -> str | None:
    cols = [r[0] for r in run_sql(con, f"DESCRIBE {RESULT_TABLE}")]
    if "id" not in cols:
        return None
    return run_sql(con, f"SELECT sha256(coalesce(string_agg(id::VARCHAR, ',' ORDER BY id), '')) FROM {RESULT_TABLE}")[
        0
    ][0]


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        run_sql(con, "ROLLBACK")
    except duckdb.Error:
        pass  # no transaction was open


_UDF_PREFIX = re.compile(r"^.*?Python exception occurred while executing the UDF: (?:\w+\.)*\w+: ", re.S)


def _translate(exc: duckdb.Error) -> SqlselError:
    """A DuckDB error as a SqlselError with the noise removed (UDF wrapper, error class prefixes)."""
    message = str(exc)
    message = _UDF_PREFIX.sub("", message)
    if "invalid UTF-8" in message or "Invalid unicode" in message:
        return InputError(f"{message.strip()} Fix the file's encoding (e.g. iconv -c) or drop the bad rows.")
    if isinstance(exc, duckdb.IOException):
        return InputError(message.strip())
    return SqlselError(message.strip())


def _version() -> str:
    from sqlsel import __version__

    return __version__


class _Progress:
    """Poll ``con.query_progress()`` on a side thread while statements run."""

    def __init__(self, con: duckdb.DuckDBPyConnection, callback: Callable[[float], None] | None) -> None:
        self.con, self.callback = con, callback
        self.done = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> _Progress:
        if self.callback is not None:
            self.thread = threading.Thread(target=self._poll, daemon=True)
            self.thread.start()
        return self

    def _poll(self) -> None:
        assert self.callback is not None
        while not self.done.wait(0.25):
            try:
                value = self.con.query_progress()
            except duckdb.Error:
                continue
            if value >= 0:
                self.callback(float(value))

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        if self.thread is not None:
            self.thread.join()

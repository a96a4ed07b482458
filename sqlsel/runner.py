"""Run a recipe: record it, check its inputs, execute its statements, write the output atomically.

:func:`run_recipe` is the library entry point; the CLI's ``sqlsel run`` is a thin wrapper. A run's
life, each step before the next:

1. its row in ``sel_runs`` is written (status ``running``), so every run is recorded, even one whose
   parameters do not bind or whose SQL does not parse;
2. parameters are bound and range-checked, inputs become views, their keys are checked (unique,
   non-NULL, an integer or string type) and the output path is checked: all before any work;
3. the statements run, each timed; what they store in the catalog is staged under a run-specific name;
4. the output goes to a temporary file; in one transaction the staged models replace the old ones
   (with the run's input fingerprint and id) and the run is recorded ``ok``; the file is renamed into
   place. Any failure or Ctrl-C instead removes the staged objects and the temporary file, and records
   the run ``failed`` or ``interrupted`` with the whole error text.

Example:
    >>> import sqlsel
    >>> result = sqlsel.run_recipe("dsir_select", {"pool": "examples/pool.parquet",
    ...     "target": "examples/target.jsonl", "k": 5})              # doctest: +SKIP
    >>> result.rows_out                                              # doctest: +SKIP
    5
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from sqlsel.catalog import begin_run, discard, finish_run, in_transaction, publish
from sqlsel.connection import SCRATCH, connect
from sqlsel.duck import error_message, run_sql, sql_identifier, sql_string
from sqlsel.errors import (
    InputError,
    ParameterError,
    ReadOnlyCatalogError,
    RunInterrupted,
    SqlselError,
    did_you_mean,
)
from sqlsel.functions import FunctionContext, function_context, models_fixed, preload
from sqlsel.inputs import (
    OUTPUT_FORMATS,
    PARTS,
    PARTS_MARKER,
    Input,
    check_key,
    check_not_an_input,
    drop_input,
    output_path,
    register_input,
    remove_output,
    remove_stale_temporaries,
    temporary_path,
)
from sqlsel.kernels import CompileWatch
from sqlsel.lance import drop_tables
from sqlsel.recipe import (
    Recipe,
    first_line,
    line_of,
    load_recipe,
    split_statements,
    statement_facts,
    with_columns,
)

__all__ = ["RunResult", "StatementProgress", "run_recipe", "preload_kernels", "OUTPUT_FORMATS", "ENGINES"]

#: Where a recipe can run: DuckDB in this process, or Apache Spark (extra ``spark``).
ENGINES = ("duckdb", "spark")

#: The recipe's output rows while the run finishes: metric queries (``-- metric``) read them by this name.
RESULT_TABLE = "sel_result"
POLL_SECONDS = 0.25  # how often a running statement's progress is reported


@dataclass
class RunResult:
    """What a run did: where its output went, how many rows, and its catalog record id."""

    run_id: int | None  # None when the catalog is read-only: the run was not recorded
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
    notes: list[str] = field(default_factory=list)  # e.g. that the recipe would not carry to Spark


@dataclass
class StatementProgress:
    """Where a run is: the statement running (1-based of ``count``) and the rows sqlsel functions saw.

    ``compiling`` turns True, in the next report, once a kernel the statement calls starts compiling:
    the first run after an install compiles each kernel once (seconds), later runs load it.
    """

    index: int
    count: int
    sql: str  # the statement's first SQL line
    total_rows: int | None  # rows of the largest table the statement reads, when known
    rows_done: int = 0
    seconds: float = 0.0
    rows_out: int | None = None
    finished: bool = False
    compiling: bool = False


def run_recipe(
    recipe: str | Path | Recipe,
    params: Mapping[str, Any] | None = None,
    *,
    db: str | Path | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    out: str | Path | None = None,
    threads: int | None = None,
    key: str = "id",
    on_progress: Callable[[StatementProgress], None] | None = None,
    memory: str | None = None,
    engine: str = "duckdb",
    master: str | None = None,
    spark: Any = None,
) -> RunResult:
    """Run ``recipe`` with ``params`` and record it in the catalog (``db``, or ``con``'s database).

    ``key`` names the column of the keyed inputs (the pool) that identifies rows; recipes see it as
    ``id`` and the output carries its own name again. Without ``out`` the selected rows are returned
    in ``RunResult.table``. ``threads`` and ``memory`` (e.g. ``"1.5GB"``) set DuckDB's ``threads``
    and ``memory_limit`` for the run; set-level functions keep their vectors within a quarter of the
    limit again, reading larger sources cluster by cluster (same result). Errors are
    :class:`~sqlsel.errors.SqlselError` with a one-line message; Ctrl-C raises
    :class:`~sqlsel.errors.RunInterrupted`. Either way no output file is left, no model changes, and
    the run is recorded as failed or interrupted.

    ``engine="spark"`` runs the statements on Apache Spark (extra ``spark``): on ``spark``, a session
    of the caller's, or a new one for ``master`` (``local[N]``, ``spark://HOST:PORT``, ``sc://HOST``);
    the catalog, run record and fits stay in ``db`` (see :mod:`sqlsel.spark.runner`).
    """
    own = con is None
    if own and engine == "duckdb":
        preload_kernels(recipe)
    con = connect(db) if con is None else con
    try:
        if not isinstance(recipe, Recipe):
            try:
                recipe = load_recipe(recipe)
            except ParameterError as exc:  # a header that does not parse: a run that failed, so recorded
                _record_unparsed(con, Path(recipe), dict(params or {}), exc)
                raise
        args = (con, recipe, dict(params or {}), out, threads, key, on_progress, memory)
        if engine == "duckdb":
            if master is not None or spark is not None:
                raise SqlselError("--master and a Spark session go with --engine spark.")
            return _Run(*args).execute()
        if engine == "spark":
            from sqlsel.spark.runner import SparkRun

            return SparkRun(*args, master=master, spark=spark).execute()
        raise SqlselError(f"Unknown engine {engine!r}.{did_you_mean(engine, ENGINES)} Engines: {', '.join(ENGINES)}.")
    finally:
        if own:
            con.close()


def preload_kernels(recipe: str | Path | Recipe) -> None:
    """Start loading the compiled kernels of the ``sel_`` functions ``recipe`` calls, in the background.

    Called before the catalog opens (:func:`sqlsel.functions.preload`); a recipe that does not load
    loads nothing here, and its run reports why.
    """
    with contextlib.suppress(SqlselError, OSError):
        preload((recipe if isinstance(recipe, Recipe) else load_recipe(recipe)).functions_called())


def _record_unparsed(con: duckdb.DuckDBPyConnection, path: Path, given: dict[str, Any], error: Exception) -> None:
    ctx = function_context(con)
    if ctx is None or ctx.read_only:
        return
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    run_id = begin_run(con, _run_record(str(path), text, given, None))
    finish_run(con, run_id, {"status": "failed", "error": str(error), "ended": datetime.now()})


def peak_rss_mb() -> float | None:
    """The process's peak resident memory so far, in MB (None where the platform does not say).

    Recorded after each statement: the statement whose figure grew is the one that set the peak.
    On Linux it is the process image's own high-water mark (``VmHWM``): ``getrusage``'s
    ``ru_maxrss`` also counts what the parent held when it started this process (Linux keeps the
    forked copy's high-water mark through ``exec``), so ``sqlsel run`` started from a Python process
    holding 3 GB reported a 3 GB peak after its first statement.
    """
    with contextlib.suppress(OSError, IndexError, ValueError):
        return round(int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) / 1024, 1)
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1 << 20 if sys.platform == "darwin" else 1 << 10), 1)


class _Run:
    engine = "duckdb"

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        recipe: Recipe,
        given: dict[str, Any],
        out: str | Path | None,
        threads: int | None,
        key: str,
        on_progress: Callable[[StatementProgress], None] | None,
        memory: str | None = None,
    ) -> None:
        self.con, self.recipe, self.given, self.out, self.threads, self.key = con, recipe, given, out, threads, key
        self.memory = memory
        self.on_progress = on_progress
        self.ctx = function_context(con)
        if self.ctx is None:
            raise SqlselError(
                "This connection has no sqlsel functions: open it with sqlsel.connect() or sqlsel.register()."
            )
        self.inputs: list[Input] = []
        self.columns: dict[str, str] = {}  # column parameters -> the input column each names
        self.notes: list[str] = []  # what the run has to say besides its result (RunResult.notes)
        self.timings: list[dict[str, Any]] = []
        self.tmp: Path | None = None
        self.published = False
        self.interrupts: _Interrupts

    def execute(self) -> RunResult:
        t0 = time.perf_counter()
        ctx = self.ctx
        assert ctx is not None
        if in_transaction(self.con):
            raise SqlselError("A recipe cannot run inside an open transaction: COMMIT or ROLLBACK it first.")
        recipe = self.recipe
        label = recipe.name if recipe.path.parent.name == "sql" else str(recipe.path)
        record = _run_record(label, recipe.text, self.given, self.key, self.engine)
        run_id = None if ctx.read_only else begin_run(self.con, record)
        scratch_before = _scratch_tables(self.con)
        interrupts = self.interrupts = _Interrupts(self.con, ctx, self._stop_engine)
        try:
            with interrupts:
                result = self._work(run_id, ctx)
            result.elapsed_s = time.perf_counter() - t0
            return result
        except BaseException as exc:
            if self.published:  # the run is recorded ok and its output is in place; only cleanup failed
                raise
            stopped = interrupts.hit or isinstance(exc, (KeyboardInterrupt, duckdb.InterruptException))
            error = exc if isinstance(exc, SqlselError) else self._translated(exc)
            self._undo(run_id)
            if run_id is not None:
                status = "interrupted" if stopped else "failed"
                text = "Interrupted (Ctrl-C)." if stopped else str(error)
                with contextlib.suppress(duckdb.Error):  # a catalog that cannot take the record must not hide the error
                    finish_run(
                        self.con,
                        run_id,
                        {**self._progress_fields(), "status": status, "error": text, "ended": datetime.now()},
                    )
            if stopped:
                raise RunInterrupted(run_id) from None
            if error is exc:
                raise
            raise error from None
        finally:
            ctx.interrupted = False
            self._clean_up(scratch_before)

    def _work(self, run_id: int | None, ctx: FunctionContext) -> RunResult:
        """The run between its record's start and end: checks, inputs, statements, output, commit."""
        recipe = self.recipe
        self._configure()
        values = recipe.bind(self.given)
        statements = self._checked_statements()
        out_path, out_format = output_path(self.out)  # a bad extension or folder fails before the inputs are read
        self._register_inputs(values, out_path)
        if ctx.read_only and recipe.fits:
            fitted = ", ".join(repr(str(values[p])) for p in recipe.fits if p in values)
            raise ReadOnlyCatalogError(f"what recipe {recipe.name} fits ({fitted})")
        recipe.check(self.con, values)
        fingerprint = self._record_inputs(run_id, values)
        self.columns = self._column_params(values)
        scalar = self._scalar_params(values)
        staging = ctx.staging(run_id) if run_id is not None else contextlib.nullcontext()
        with staging:
            self._start(values)
            self._statements(statements, scalar)
            rows_out, columns = self._result_shape()
            digest = self._digest() if "id" in columns else None
            metrics = self._metrics(scalar)
            table = self._output(out_path, out_format, columns)
            self.interrupts.check()
            self._commit(run_id, fingerprint, out_path, rows_out, digest, metrics)
        return RunResult(
            run_id,
            recipe.name,
            "ok",
            rows_out,
            str(out_path) if out_path else None,
            digest,
            metrics,
            values,
            0.0,
            table,
            [(t["sql"], t["seconds"]) for t in self.timings],
            self.notes,
        )

    def _checked_statements(self) -> list[Any]:
        """The recipe's statements; refused when there are none, the last is no SELECT, or the engine cannot."""
        statements = self.recipe.statements(self.con)
        if not statements:
            raise SqlselError(f"Recipe {self.recipe.name} has no SQL statements.")
        if statements[-1].type != duckdb.StatementType.SELECT:
            raise SqlselError(
                f"The last statement of recipe {self.recipe.name} must be a SELECT (its rows are the output)."
            )
        self._check_statements(statements)
        return statements

    def _register_inputs(self, values: dict[str, Any], out_path: Path | None) -> None:
        """Each table parameter as a view, its key checked; an output that is an input refused."""
        recipe = self.recipe
        for p in recipe.params.values():
            if p.is_table:
                self.inputs.append(register_input(self.con, p.name, values[p.name], recipe.optional.get(p.name)))
        by_name = {i.name: i for i in self.inputs}
        for name in recipe.keyed:
            self._check_key(by_name[name])
        check_not_an_input(out_path, self.inputs)
        if out_path is not None:
            remove_stale_temporaries(out_path)

    def _record_inputs(self, run_id: int | None, values: dict[str, Any]) -> str:
        """Write the bound parameters, seed, inputs and settings into the run record; the inputs' fingerprint."""
        inputs = [r for i in self.inputs for r in i.records]
        fingerprint = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()
        if run_id is not None:
            seed = values.get("seed")
            fields = {"params": _jsonable(values), "seed": seed if isinstance(seed, int) else None, "inputs": inputs}
            finish_run(self.con, run_id, {**fields, **self._settings()})
        return fingerprint

    def _scalar_params(self, values: dict[str, Any]) -> dict[str, Any]:
        """The ``$parameters`` the statements bind: scalars and each input's ``<input>_has_<column>`` flags."""
        recipe = self.recipe
        scalar = {k: v for k, v in values.items() if not (recipe.params[k].is_table or k in self.columns)}
        for given in self.inputs:
            scalar |= given.flags()
        return scalar

    def _metrics(self, scalar: dict[str, Any]) -> dict[str, Any]:
        """The recipe's ``-- metric`` queries over the result, each with the parameters it names."""
        metrics = {}
        for name, sql in self.recipe.metrics.items():
            params = {k: scalar[k] for k in re.findall(r"\$(\w+)", sql) if k in scalar}
            metrics[name] = self._metric(sql, params)
        return metrics

    def _output(self, out_path: Path | None, out_format: str | None, columns: list[str]) -> pa.Table | None:
        """Write the result beside ``out_path`` (moved into place by the commit), or return it as a table."""
        keyed = "id" in (c.lower() for c in columns) and self.key.lower() != "id"
        if out_path is None:
            return self._output_table(keyed)
        self.tmp = temporary_path(out_path)
        self._write_output(self.tmp, out_format, keyed)
        return None

    def _clean_up(self, scratch_before: set[str]) -> None:
        """Drop what the run made: the engine's part, the result table, new scratch tables, the input views."""
        self._cleanup_engine()
        with contextlib.suppress(duckdb.Error):
            run_sql(self.con, f"DROP TABLE IF EXISTS {RESULT_TABLE}")
            for t in _scratch_tables(self.con) - scratch_before:  # what the run left in the scratch database
                run_sql(self.con, f'DROP TABLE IF EXISTS {SCRATCH}."{t}"')
            for given in self.inputs:
                drop_input(self.con, given)

    # The engine's part of a run: DuckDB here, Spark in sqlsel.spark.runner.

    def _configure(self) -> None:
        """Apply the run's threads and memory settings."""
        con = self.con
        if self.threads is not None:
            if self.threads < 1:
                raise SqlselError(f"--threads must be at least 1; got {self.threads}")
            run_sql(con, f"SET threads = {int(self.threads)}")
        if self.memory is not None:
            try:
                run_sql(con, f"SET memory_limit = {sql_string(self.memory)}")
            except duckdb.Error:
                raise SqlselError(f"--memory must be a size such as 1.5GB or 800MB; got {self.memory!r}") from None

    def _check_statements(self, statements: list[Any]) -> None:
        """Refuse statements the engine cannot run, before any input is read.

        DuckDB runs them all; what would not carry to Spark is said in the result's notes.
        """
        from sqlsel.portable import cached_problems

        problems: list[str] = []
        with contextlib.suppress(Exception):  # a note must never fail a run that DuckDB can do
            problems = cached_problems(self.recipe)
        if problems:
            self.notes.append(
                f"recipe {self.recipe.name} would not run on Spark as written ({len(problems)} "
                f"construct{'s' if len(problems) > 1 else ''}; `sqlsel check {self.recipe.path}` names them)"
            )

    def _cleanup_engine(self) -> None:
        """Remove what the run made in the engine (DuckDB's scratch tables and input views go in execute)."""

    def _stop_engine(self) -> None:
        """Ctrl-C: stop the engine's work (DuckDB's connection is interrupted by _Interrupts itself)."""

    def _check_key(self, given: Input) -> None:
        check_key(self.con, given, self.key)

    def _settings(self) -> dict[str, Any]:
        """What the run record keeps of the engine's settings."""
        settings = "SELECT current_setting('threads'), current_setting('memory_limit')"
        threads, memory_limit = run_sql(self.con, settings)[0]
        return {"threads": int(threads), "memory_limit": str(memory_limit)}

    def _start(self, values: dict[str, Any]) -> None:
        """Ready the engine for the statements (nothing to do on DuckDB)."""

    def _result_shape(self) -> tuple[int, list[str]]:
        rows_out = run_sql(self.con, f"SELECT count(*) FROM {RESULT_TABLE}")[0][0]
        return int(rows_out), [r[0] for r in run_sql(self.con, f"DESCRIBE {RESULT_TABLE}")]

    def _digest(self) -> str:
        return _digest(self.con)

    def _metric(self, sql: str, params: dict[str, Any]) -> Any:
        return run_sql(self.con, sql, params)[0][0]

    def _output_sql(self, keyed: bool) -> str:
        rename = f"RENAME (id AS {sql_identifier(self.key)})" if keyed else ""
        return f"SELECT * {rename} FROM {RESULT_TABLE}"  # the key goes out under its own name

    def _write_output(self, path: Path, out_format: str | None, keyed: bool) -> None:
        if out_format == PARTS:  # files of up to 512 MB, part-0.parquet first, in the output's order
            options = "FORMAT parquet, FILE_SIZE_BYTES '512MB', FILENAME_PATTERN 'part-{i}'"
            run_sql(self.con, f"COPY ({self._output_sql(keyed)}) TO {sql_string(path)} ({options})")
            (path / PARTS_MARKER).touch()
            return
        run_sql(self.con, f"COPY ({self._output_sql(keyed)}) TO {sql_string(path)} (FORMAT {out_format})")

    def _output_table(self, keyed: bool) -> pa.Table:
        return self.con.sql(self._output_sql(keyed)).to_arrow_table()

    def _column_params(self, values: dict[str, Any]) -> dict[str, str]:
        """Column parameters and the input column each names (as the input spells it), checked before any work."""
        columns = {}
        for p in self.recipe.params.values():
            if not p.is_column:
                continue
            have = [str(r[0]) for given in self.inputs for r in run_sql(self.con, f'DESCRIBE "{given.name}"')]
            match = [c for c in have if c.lower() == str(values[p.name]).lower()]
            if not match:
                raise ParameterError(
                    f"Parameter {p.name} names no column of the inputs: {values[p.name]!r}."
                    f"{did_you_mean(str(values[p.name]), have)} Their columns: {', '.join(have)}."
                )
            columns[p.name] = match[0]
        return columns

    def _statements(self, statements: list[Any], scalar: dict[str, Any]) -> None:
        if self.columns:  # each statement with its column parameters spliced in, parsed again
            path = str(self.recipe.path)
            statements = [split_statements(self.con, with_columns(s.query, self.columns), path)[0] for s in statements]
        last = statements[-1]
        for index, statement in enumerate(statements, 1):
            self.interrupts.check()
            missing = [n for n in statement.named_parameters if n not in scalar]
            if missing:
                raise SqlselError(f"The recipe uses ${missing[0]} but declares no parameter of that name.")
            progress = StatementProgress(
                index, len(statements), first_line(statement.query), self._rows_read(statement.query)
            )
            self._emit(progress)
            assert self.ctx is not None
            self.ctx.reset_progress()
            t0 = time.perf_counter()
            flag = functools.partial(setattr, progress, "compiling", True)
            with self._polling(progress), CompileWatch(on_first=flag) as compiled:
                progress.rows_out = self._execute(index, statement, statement is last, scalar)
            progress.seconds = time.perf_counter() - t0
            progress.finished = True
            self.timings.append(
                {
                    "sql": progress.sql,
                    "seconds": round(progress.seconds, 6),
                    "rows": progress.rows_out,
                    "peak_rss_mb": peak_rss_mb(),
                    "compile_seconds": round(compiled.seconds, 6),  # of "seconds": a first run after an install
                }
            )
            self._emit(progress)

    def _execute(self, index: int, statement: Any, last: bool, scalar: dict[str, Any]) -> int:
        """Run one statement (the last one into the result table); the rows it produced."""
        body = statement.query.strip().rstrip(";")
        sql = f"CREATE OR REPLACE TEMP TABLE {RESULT_TABLE} AS {body}\n" if last else statement.query
        try:
            with models_fixed(self.con):
                rows = run_sql(self.con, sql, {n: scalar[n] for n in statement.named_parameters})
        except duckdb.Error as exc:
            raise self._translated(exc, index, statement.query) from None
        return int(rows[0][0]) if last else _rows_out(statement, rows)

    def _commit(
        self,
        run_id: int | None,
        fingerprint: str,
        out_path: Path | None,
        rows_out: int,
        digest: str | None,
        metrics: dict[str, Any],
    ) -> None:
        """Publish the staged models and record the run ok in one transaction; rename the output into place."""
        con = self.con
        replaced: list[tuple[str, str]] = []
        if run_id is not None:
            run_sql(con, "BEGIN TRANSACTION")
            replaced = publish(con, run_id, fingerprint)
            fields = {
                **self._progress_fields(),
                "output_path": str(out_path) if out_path else None,
                "rows_out": rows_out,
                "selection_digest": digest,
                "metrics": metrics,
                "status": "ok",
                "ended": datetime.now(),
            }
            finish_run(con, run_id, fields)
        backup = None
        if out_path is not None and self.tmp is not None:
            if out_path.exists():  # kept until the commit, so a failed commit can put it back
                backup = out_path.with_name(f".{out_path.name}.{os.getpid()}.bak")
                os.replace(out_path, backup)
            os.replace(self.tmp, out_path)  # a folder of parts is renamed whole, as a file is
            self.tmp = None
        if run_id is not None:
            try:
                run_sql(con, "COMMIT")
            except BaseException:
                if out_path is not None:
                    remove_output(out_path)
                    if backup is not None:
                        os.replace(backup, out_path)
                raise
        self.published = True
        if backup is not None:
            remove_output(backup)
        with contextlib.suppress(Exception):  # an old Lance table left on disk does not undo a finished run
            drop_tables(replaced)

    def _undo(self, run_id: int | None) -> None:
        """After a failure: roll back, remove what the run staged and its temporary output."""
        with contextlib.suppress(duckdb.Error):
            run_sql(self.con, "ROLLBACK")
        if self.tmp is not None:
            remove_output(self.tmp)
        if run_id is None or self.published:
            return
        try:
            run_sql(self.con, "BEGIN TRANSACTION")
            drops = discard(self.con, run_id)
            run_sql(self.con, "COMMIT")
            drop_tables(drops)
        except duckdb.Error:
            with contextlib.suppress(duckdb.Error):
                run_sql(self.con, "ROLLBACK")  # the next open of the catalog removes them (clean_abandoned)

    def _progress_fields(self) -> dict[str, Any]:
        return {"statements": self.timings}

    def _emit(self, progress: StatementProgress) -> None:
        if self.on_progress is not None:
            self.on_progress(progress)

    @contextlib.contextmanager
    def _polling(self, progress: StatementProgress) -> Iterator[None]:
        """Report the rows sqlsel functions have seen every quarter second while a statement runs."""
        if self.on_progress is None:
            yield
            return
        done = threading.Event()
        t0 = time.perf_counter()

        def poll() -> None:
            assert self.ctx is not None
            while not done.wait(POLL_SECONDS):
                progress.rows_done = max(self.ctx.rows_done.values(), default=0)
                progress.seconds = time.perf_counter() - t0
                self._emit(progress)

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def _rows_read(self, sql: str) -> int | None:
        """Rows of the largest table or input a statement reads (a progress bar's total), when cheap to know."""
        facts = statement_facts(sql)
        if facts is None:
            return None
        by_name = {i.name: i for i in self.inputs}
        counts = []
        for db, name in facts.tables:
            if name in by_name:
                given = by_name[name]
                if given.rows is None and given.reader == "parquet":
                    given.rows = int(run_sql(self.con, f'SELECT count(*) FROM "{name}"')[0][0])
                if given.rows is not None:
                    counts.append(given.rows)
            elif db in ("", SCRATCH) and _is_table(self.con, db or None, name):
                qualified = ".".join(sql_identifier(part) for part in (db, name) if part)
                counts.append(int(run_sql(self.con, f"SELECT count(*) FROM {qualified}")[0][0]))
        return max(counts, default=None)

    def _translated(self, exc: BaseException, index: int | None = None, sql: str | None = None) -> BaseException:
        """A DuckDB error as a one-line SqlselError (InputError for files), naming the statement it came from."""
        if isinstance(exc, OSError):  # a file that vanished or cannot be written: no traceback
            return InputError(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        if not isinstance(exc, duckdb.Error) or isinstance(exc, duckdb.InterruptException):
            return exc
        message = error_message(exc)
        if index is not None and sql is not None and "UDF" not in str(exc):  # not a function's own error
            line = line_of(self.recipe.text, sql)
            message += f" (recipe {self.recipe.name}, statement {index}{f' at line {line}' if line else ''})"
        if "invalid UTF-8" in message or "Invalid unicode" in message:
            return InputError(f"{message} Fix the file's encoding (e.g. iconv -c) or drop the bad rows.")
        if isinstance(exc, duckdb.IOException):
            return InputError(message)
        return SqlselError(message)


class _Interrupts:
    """Ctrl-C during a run: interrupt DuckDB and long sqlsel functions, then let the runner clean up.

    The first SIGINT sets a flag and calls ``con.interrupt()`` (DuckDB stops between batches, and
    sqlsel's set-level functions at their next check); a second one raises KeyboardInterrupt at once.
    Only installed in the main thread (signal handlers live there).
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, ctx: FunctionContext, engine_stop: Callable[[], None] | None = None
    ) -> None:
        self.con, self.ctx, self.engine_stop = con, ctx, engine_stop
        self.hit = False
        self.installed = False
        self.previous: Any = None

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
            self.installed = True
        return self

    def check(self) -> None:
        """Stop between statements: con.interrupt() only stops a query that is running."""
        if self.hit:
            raise KeyboardInterrupt

    def _handle(self, signum: int, frame: Any) -> None:
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True
        self.ctx.interrupted = True
        self.con.interrupt()
        if self.engine_stop is not None:
            self.engine_stop()

    def __exit__(self, *exc: object) -> None:
        if self.installed:  # a handler installed outside Python reads as None: put Python's default back
            signal.signal(signal.SIGINT, self.previous if self.previous is not None else signal.default_int_handler)


def _scratch_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    sql = "SELECT table_name FROM duckdb_tables() WHERE database_name = ?"
    return {r[0] for r in run_sql(con, sql, [SCRATCH])}


def _is_table(con: duckdb.DuckDBPyConnection, database: str | None, name: str) -> bool:
    sql = "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND (? IS NULL OR database_name = ?)"
    return bool(run_sql(con, sql, [name, database, database])[0][0])


def _rows_out(statement: Any, rows: list[tuple[Any, ...]]) -> int:
    """Rows a statement produced: the count DDL and DML report, else the rows returned."""
    kinds = (
        duckdb.StatementType.CREATE,
        duckdb.StatementType.INSERT,
        duckdb.StatementType.DELETE,
        duckdb.StatementType.UPDATE,
    )
    if statement.type in kinds and len(rows) == 1 and len(rows[0]) == 1 and isinstance(rows[0][0], int):
        return int(rows[0][0])
    return len(rows)


def _digest(con: duckdb.DuckDBPyConnection) -> str:
    """sha256 of the selected keys as text, sorted and comma-joined (the run's selection digest).

    Sorted as DuckDB sorts the key's type: integers by value, strings by their UTF-8 bytes.
    """
    sql = f"SELECT sha256(coalesce(string_agg(id::VARCHAR, ',' ORDER BY id), '')) FROM {RESULT_TABLE}"
    return str(run_sql(con, sql)[0][0])


def _run_record(
    label: str, text: str, given: Mapping[str, Any], key: str | None, engine: str = "duckdb"
) -> dict[str, Any]:
    """What a run's row holds when it starts: the recipe as given, its text and hash, the parameters as given."""
    return {
        "recipe": label,
        "query_hash": hashlib.sha256(text.encode()).hexdigest(),
        "recipe_text": text,
        "params": _jsonable(given),
        "sqlsel_version": _version(),
        "duckdb_version": duckdb.__version__,
        "engine": engine,
        "key_column": key,
        "inputs": [],
        "started": datetime.now(),
    }


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter values as the run record keeps them; a relation or Arrow table by its type, never its rows."""
    return {k: (v if isinstance(v, (int, float, str, bool)) or v is None else _described(v)) for k, v in values.items()}


def _described(value: Any) -> str:
    if isinstance(value, Path):
        return str(value)
    rows = getattr(value, "num_rows", None)
    return (
        f"<{type(value).__module__.split('.')[0]}.{type(value).__name__}{f', {rows} rows' if rows is not None else ''}>"
    )


def _version() -> str:
    from sqlsel import __version__

    return __version__

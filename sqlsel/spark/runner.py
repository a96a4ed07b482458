"""A recipe run on Spark: the same life as on DuckDB (record, checks, staged fits, atomic output), Spark doing the work.

The run's catalog, record and fits stay in the driver's DuckDB catalog (``--db``), exactly as on
DuckDB; :class:`SparkRun` replaces only the engine's part of :class:`sqlsel.runner._Run`:

* **Before any work** the recipe passes the portability check (:mod:`sqlsel.portable`).
* **Inputs** are read by Spark from the same files (Parquet, JSONL, CSV), the key column named
  ``id``; keys are counted by Spark and, on a problem, named by DuckDB reading the files.
* **Spark statements** run as Spark SQL. ``CREATE TABLE x AS …`` (TEMP or in ``sel_scratch``) becomes
  a cached temporary view computed once (``CACHE TABLE``): a plain view would featurize again on
  every use. The last statement's rows, in its order, are the output.
* **Driver statements** (a fit, a set-level function) run on the driver's DuckDB as written, over
  copies of the relations they read that are not inputs (at most :data:`DRIVER_ROWS` rows each;
  inputs are read there from their files); a table they write comes back as a cached view. After one,
  the row functions are registered again, carrying the models it fitted.
* **Output**: one file written by Spark from one partition, in the recipe's order, moved into place
  when the run commits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from sqlsel.connection import SCRATCH
from sqlsel.duck import run_sql, sql_identifier
from sqlsel.errors import SqlselError
from sqlsel.functions import models_fixed
from sqlsel.inputs import PARTS, PARTS_MARKER, Input, check_key_counts, key_column
from sqlsel.portable import cached_problems, is_driver_statement, relations_read, spark_statement
from sqlsel.relations import is_table_name
from sqlsel.runner import RESULT_TABLE, _Run
from sqlsel.spark.functions import (
    ModelSnapshot,
    default_values,
    driver_functions,
    model_snapshot,
    register_row_functions,
    spark_type,
)
from sqlsel.spark.partitioned import PARTITIONED
from sqlsel.spark.session import is_connect, spark_session

__all__ = ["SparkRun", "DRIVER_ROWS"]

#: The most rows a driver statement may copy from Spark per relation (SQLSEL_SPARK_DRIVER_ROWS overrides).
DRIVER_ROWS = int(os.environ.get("SQLSEL_SPARK_DRIVER_ROWS", "2000000"))
_ORDER = "_sel_order"  # the output's row order, kept beside the result rows
#: Parameters of driver functions naming a relation they read ...
_READS = ("source", "target_source", "label_source", "vector_table")
_WRITES = ("into_table", "into", "curve_table")  # ... and those they write


class SparkRun(_Run):
    """One recipe run with Spark as the engine (see the module docstring)."""

    engine = "spark"

    def __init__(self, *args: Any, master: str | None = None, spark: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.master = master
        self.spark = spark
        self.views: list[str] = []  # temporary views the run made on Spark, removed when it ends
        self.spark_inputs: dict[str, Any] = {}
        self.snapshot = ModelSnapshot()  # the models the registered row functions carry
        self.models: set[str] = set()  # the models the recipe's functions read, by name
        self.quiet: logging.Logger | None = None
        self.engine_info: dict[str, Any] = {}  # what the run record keeps of Spark: master, version, partitions
        self.quiet_level = logging.NOTSET

    # -- the engine's part of a run ------------------------------------------------------------

    def _configure(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise SqlselError(f"--threads must be at least 1; got {self.threads}")
        if self.memory is not None:
            raise SqlselError("--memory sets DuckDB's memory_limit; on Spark set spark.executor.memory instead.")

    def _check_statements(self, statements: list[Any]) -> None:
        problems = cached_problems(self.recipe)
        if problems:
            listed = "\n  ".join(problems)
            raise SqlselError(f"Recipe {self.recipe.name} does not run on Spark as written:\n  {listed}")
        if self.spark is None:
            self.spark = spark_session(self.master, self.threads)
        # a failed statement is reported in one line; PySpark would also log it with its JVM stack
        self.quiet = logging.getLogger("SQLQueryContextLogger")
        self.quiet_level = self.quiet.level
        self.quiet.setLevel(logging.CRITICAL)

    def _check_key(self, given: Input) -> None:
        column = key_column(self.con, given, self.key)
        frame = self._input_frame(given)
        quoted = f"`{column.replace('`', '``')}`"
        row = frame.selectExpr("count(*) AS n", f"count({quoted}) AS k", f"count(DISTINCT {quoted}) AS d").collect()[0]
        # counted by Spark; only when a key is NULL or repeated does the driver's DuckDB read the files to name it
        check_key_counts(self.con, given, column, int(row["n"]), int(row["k"]), int(row["d"]))
        if column != "id":
            frame = frame.withColumnRenamed(column, "id")
        self.spark_inputs[given.name] = frame
        self._view(given.name, frame, cache=False)

    def _settings(self) -> dict[str, Any]:
        spark = self.spark
        info = self.engine_info
        info |= {"master": self.master or _master(spark), "spark_version": str(spark.version)}
        with contextlib.suppress(Exception):
            info["default_parallelism"] = int(spark.sparkContext.defaultParallelism)
        with contextlib.suppress(Exception):
            info["shuffle_partitions"] = int(spark.conf.get("spark.sql.shuffle.partitions"))
        return {"threads": self.threads, "engine_info": info}

    def _progress_fields(self) -> dict[str, Any]:
        return {**super()._progress_fields(), "engine_info": self.engine_info}

    def _start(self, values: dict[str, Any]) -> None:
        for given in self.inputs:
            if given.name not in self.spark_inputs:
                frame = self._input_frame(given)
                self.spark_inputs[given.name] = frame
                self._view(given.name, frame, cache=False)
        with contextlib.suppress(Exception):  # Spark Connect has no RDDs: the record then says nothing of them
            self.engine_info["input_partitions"] = {n: f.rdd.getNumPartitions() for n, f in self.spark_inputs.items()}
        self.models = self.recipe.models_read(self.con, values)
        self._register_functions()

    def _stop_engine(self) -> None:
        with contextlib.suppress(Exception):
            if is_connect(self.spark):
                self.spark.interruptAll()
            else:
                self.spark.sparkContext.cancelAllJobs()

    def _execute(self, index: int, statement: Any, last: bool, scalar: dict[str, Any]) -> int:
        try:
            if is_driver_statement(statement.query) and not last:
                return self._on_driver(index, statement, scalar)
            return self._on_spark(statement, last, scalar)
        except SqlselError:
            raise
        except duckdb.Error as exc:
            raise self._translated(exc, index, statement.query) from None
        except Exception as exc:
            if type(exc).__module__.startswith(("pyspark", "py4j")):
                raise SqlselError(f"{_spark_message(exc)} (recipe {self.recipe.name}, statement {index})") from None
            raise

    def _result_shape(self) -> tuple[int, list[str]]:
        frame = self.spark.table(RESULT_TABLE)
        return int(frame.count()), [c for c in frame.columns if c != _ORDER]

    def _digest(self) -> str:
        keys = "transform(array_sort(collect_list(id)), x -> CAST(x AS STRING))"  # sorted as DuckDB sorts them
        sql = f"SELECT sha2(coalesce(array_join({keys}, ','), ''), 256) FROM {RESULT_TABLE}"
        return str(self.spark.sql(sql).collect()[0][0])

    def _metric(self, sql: str, params: dict[str, Any]) -> Any:
        if is_driver_statement(sql):
            return self._driver_sql("a metric", sql, params, params)[0][0]
        return _plain_value(self.spark.sql(spark_statement(sql, params).sql(dialect="spark")).collect()[0][0])

    def _ordered_output(self, keyed: bool) -> Any:
        frame = self.spark.table(RESULT_TABLE).orderBy(_ORDER).drop(_ORDER)
        return frame.withColumnRenamed("id", self.key) if keyed else frame

    def _write_output(self, path: Path, out_format: str | None, keyed: bool) -> None:
        if out_format == PARTS:  # a part per partition, written in parallel, named in the output's order
            self._ordered_output(keyed).write.mode("overwrite").parquet(str(path))
            for crc in path.glob(".*.crc"):
                crc.unlink()
            (path / PARTS_MARKER).touch()
            return
        parts = path.with_name(path.name + ".parts")
        writer = self._ordered_output(keyed).coalesce(1).write.mode("overwrite")
        try:
            if out_format == "parquet":
                writer.parquet(str(parts))
            elif out_format == "json":
                writer.json(str(parts))
            else:
                writer.option("header", True).csv(str(parts))
            files = sorted(p for p in parts.iterdir() if p.name.startswith("part-"))
            if len(files) != 1:
                raise SqlselError(f"Spark wrote {len(files)} part files for one output file under {parts}")
            os.replace(files[0], path)
        finally:
            shutil.rmtree(parts, ignore_errors=True)

    def _output_table(self, keyed: bool) -> pa.Table:
        return self._ordered_output(keyed).toArrow()

    def _cleanup_engine(self) -> None:
        if self.quiet is not None:
            self.quiet.setLevel(self.quiet_level)
        for name in reversed(self.views):
            with contextlib.suppress(Exception):
                self.spark.sql(f"UNCACHE TABLE IF EXISTS {name}")
                self.spark.catalog.dropTempView(name)
        self.views = []

    # -- helpers ---------------------------------------------------------------------------------

    def _input_frame(self, given: Input) -> Any:
        """The input as Spark reads it, with the optional columns it lacks as typed NULLs."""
        from pyspark.sql.functions import lit

        read = self.spark.read
        if given.reader == "parquet":
            frame = read.parquet(*given.files)
        elif given.reader == "json":
            frame = read.json(given.files)
        elif given.reader == "csv":
            frame = read.option("header", True).option("inferSchema", True).csv(given.files)
        else:  # an Arrow table or a DuckDB relation: as the driver's DuckDB reads it
            return self.spark.createDataFrame(self.con.sql(f'SELECT * FROM "{given.name}"').to_arrow_table())
        for column in given.missing:
            frame = frame.withColumn(column, lit(None).cast(spark_type(given.optional[column])))
        return frame

    def _view(self, name: str, frame: Any, cache: bool = True) -> None:
        frame.createOrReplaceTempView(name)
        if name not in self.views:
            self.views.append(name)
        if cache:
            self.spark.sql(f"CACHE TABLE {name}")

    def _register_functions(self) -> None:
        assert self.ctx is not None
        names = sorted(set(self.models) | set(self.ctx.staged))
        have = {r[0] for r in run_sql(self.con, "SELECT name FROM sel_models")}
        present = [n for n in names if self.ctx.read_name(n) in have]
        self.snapshot = model_snapshot(self.ctx, present)
        register_row_functions(self.spark, self.snapshot)

    def _on_spark(self, statement: Any, last: bool, scalar: dict[str, Any]) -> int:
        from sqlglot import exp

        tree = spark_statement(statement.query, scalar)
        if last:
            frame = self.spark.sql(tree.sql(dialect="spark"))
            from pyspark.sql.functions import monotonically_increasing_id

            self._view(RESULT_TABLE, frame.withColumn(_ORDER, monotonically_increasing_id()))
            return int(self.spark.table(RESULT_TABLE).count())
        if isinstance(tree, exp.Create) and str(tree.args.get("kind", "")).upper() == "TABLE":
            name = tree.this.name if isinstance(tree.this, exp.Table) else tree.this.this.name
            frame = self.spark.sql(tree.expression.sql(dialect="spark"))
            with contextlib.suppress(Exception):
                self.spark.sql(f"UNCACHE TABLE IF EXISTS {name}")
            self._view(name, frame)
            return int(self.spark.table(name).count())
        return len(self.spark.sql(tree.sql(dialect="spark")).collect())

    def _partitioned(self, statement: Any, scalar: dict[str, Any]) -> int | None:
        """Run a statement that is one call of a function with a partitioned Spark form; None if it is not one."""
        call = _single_call(statement.query, scalar, self.con)
        if call is None or call[0] not in PARTITIONED:
            return None
        name, args = call
        if args.get("index") is not None:
            return None  # index-backed SemDeDup reads a LanceDB index on the driver's disk
        source = self._relation(str(args["source"]), scalar)
        done = PARTITIONED[name](self.spark, source, args, self.snapshot, self.ctx)
        if done is None:
            return None  # the driver reads the rows, as DuckDB would
        frame, _ = done
        if frame is not None:
            self._view(_table_name(str(args["into_table"]))[1], frame)  # cached: computed here, once
        self._register_functions()  # a fit's model travels with the functions from here on
        return 1

    def _relation(self, text: str, scalar: dict[str, Any]) -> Any:
        """A set-level function's source (a table name or a query) as a Spark DataFrame."""
        if not is_table_name(text.strip()):
            return self.spark.sql(spark_statement(text, scalar).sql(dialect="spark"))
        frame = self.spark.table(_table_name(text)[1])
        return frame.drop(_ORDER) if _ORDER in frame.columns else frame

    def _on_driver(self, index: int, statement: Any, scalar: dict[str, Any]) -> int:
        """Run a driver statement on DuckDB over copies of the Spark relations it reads (see the module docstring)."""
        done = self._partitioned(statement, scalar)
        if done is not None:
            return done
        used = {n: scalar[n] for n in statement.named_parameters}
        rows = self._driver_sql(f"statement {index}", statement.query, scalar, used)
        self._register_functions()
        return len(rows)

    def _driver_sql(self, what: str, sql: str, scalar: dict[str, Any], params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """``sql`` run by the driver's DuckDB with ``params`` (the ones it uses) after copying the Spark relations
        it reads (relation arguments may be ``scalar`` parameters); what it creates goes back to Spark."""
        reads, writes = self._driver_relations(sql, scalar)
        for db, name in reads + writes:  # a table written that exists already is read as it is (it may stay so)
            if db in ("", SCRATCH) and name in self.views and name not in self.spark_inputs:
                self._to_driver(what, db, name)
        with models_fixed(self.con):
            rows = run_sql(self.con, sql, params)
        for db, name in writes:
            qualified = ".".join(sql_identifier(p) for p in (db, name) if p)
            self._view(name, self.spark.createDataFrame(self.con.sql(f"SELECT * FROM {qualified}").to_arrow_table()))
        return rows

    def _driver_relations(
        self, sql: str, scalar: dict[str, Any]
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(relations read, tables written) by a driver statement: its FROM tables and relation arguments."""
        from sqlglot import exp

        from sqlsel.portable import parse_statement
        from sqlsel.recipe import statement_facts

        reads = list(relations_read(sql))
        writes: list[tuple[str, str]] = []
        tree = parse_statement(sql)
        if isinstance(tree, exp.Create) and isinstance(tree.this, exp.Table):
            writes.append((tree.this.db, tree.this.name))
            reads = [r for r in reads if r != (tree.this.db, tree.this.name)]
        specs = driver_functions()
        facts = statement_facts(sql)
        for fname, args in facts.calls if facts is not None else ():
            spec = specs.get(fname)
            if spec is None:
                continue
            for pname, arg in zip(spec.params, args, strict=False):
                text = (
                    arg[1]
                    if arg and arg[0] == "string"
                    else (str(scalar[arg[1]]) if arg and arg[1] in scalar else None)
                )
                if not text:
                    continue
                if pname in _WRITES:
                    writes.append(_table_name(text))
                elif pname in _READS:
                    reads.extend([_table_name(text)] if is_table_name(text.strip()) else relations_read(text))
        return reads, writes

    def _to_driver(self, what: str, db: str, name: str) -> None:
        frame = self.spark.table(name)
        if _ORDER in frame.columns:
            frame = frame.drop(_ORDER)
        rows = frame.count()
        if rows > DRIVER_ROWS:
            raise SqlselError(
                f"{what.capitalize()} of {self.recipe.name} runs on the driver and reads {name}: {rows:,} rows, more "
                f"than the {DRIVER_ROWS:,} a driver statement may copy from Spark. Set SQLSEL_SPARK_DRIVER_ROWS "
                "higher if the driver has the memory, or run this recipe on DuckDB."
            )
        table = frame.toArrow()
        self.con.register("_sel_from_spark", table)
        try:
            target = f"{SCRATCH}.{sql_identifier(name)}" if db == SCRATCH else sql_identifier(name)
            temp = "" if db == SCRATCH else "TEMP "
            run_sql(self.con, f"CREATE OR REPLACE {temp}TABLE {target} AS SELECT * FROM _sel_from_spark")
        finally:
            self.con.unregister("_sel_from_spark")


def _plain_value(value: Any) -> Any:
    """A Spark value as DuckDB's Python client gives it: a struct (Row) as a dict, lists of them as lists."""
    if isinstance(value, list):
        return [_plain_value(v) for v in value]
    if hasattr(value, "asDict"):
        return {k: _plain_value(v) for k, v in value.asDict().items()}
    return value


def _single_call(sql: str, scalar: dict[str, Any], con: duckdb.DuckDBPyConnection) -> tuple[str, dict[str, Any]] | None:
    """``(function, {parameter: value})`` when ``sql`` is ``SELECT f(a, b, …)`` whose arguments name no column.

    Arguments are evaluated by the driver's DuckDB (``$model || '_dedup'``, ``$clusters::VARCHAR``).
    """
    from sqlglot import exp

    from sqlsel.portable import parse_statement

    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or tree.args.get("from") or len(tree.expressions) != 1:
        return None
    call = tree.expressions[0]
    spec = driver_functions().get(call.name.lower()) if isinstance(call, exp.Anonymous) else None
    if spec is None:
        return None
    values: dict[str, Any] = default_values(spec)
    for name, arg in zip(spec.params, call.expressions, strict=False):
        if arg.find(exp.Column, exp.Subquery, exp.Select) is not None:
            return None
        used = {p.name: scalar[p.name] for p in arg.find_all(exp.Placeholder) if p.name in scalar}
        values[name] = run_sql(con, f"SELECT {arg.sql(dialect='duckdb')}", used)[0][0]
    return spec.name, values


def _table_name(text: str) -> tuple[str, str]:
    parts = [p.strip().strip('"') for p in text.split(".")]
    return (parts[0], parts[1]) if len(parts) == 2 else ("", parts[-1])


def _master(spark: Any) -> str:
    with contextlib.suppress(Exception):
        return str(spark.sparkContext.master)
    return "spark connect"


def _spark_message(exc: BaseException) -> str:
    """A Spark error in one line: its class and message, without the JVM stack."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if "SqlselError:" in text:  # a function's own error, raised on an executor
        tail = text.split("SqlselError:", 1)[1].strip().splitlines()[0]
        return tail
    if "[RAISE_ERROR" in text or "USER_RAISED_EXCEPTION" in text:
        return first.split("] ", 1)[-1]
    return first

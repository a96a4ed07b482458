"""Every row-level ``sel_`` function as a Spark Arrow UDF: the same kernels, the models carried along.

A row-level function (one value per row, no catalog writes) is registered with
``spark.udf.register(name, arrow_udf(...))``: Spark hands it ``pyarrow`` arrays, exactly as DuckDB
does, so the implementation in ``sqlsel/udfs/`` runs unchanged. What differs is done here:

* **Models.** Executors have no catalog file (cluster deploy mode, Spark Connect). The models a
  query may read travel *inside* the registered function, as a :class:`ModelSnapshot` (Arrow IPC
  bytes of their catalog rows, pickled with the function). An executor opens the snapshot once per
  Python worker as an in-memory catalog, and the function reads its models from there through the
  same :class:`~sqlsel.functions.FunctionContext` as under DuckDB. No broadcast variable and no
  shared file system is needed.
* **NULLs, defaults, keys.** DuckDB never hands a function NULL rows (unless it asks for them),
  fills optional arguments through a macro and hashes KEY arguments in SQL; here the wrapper
  does all three: NULL in any argument gives NULL out, missing trailing arguments take their
  declared defaults, and a key is replaced by its key hash (:func:`sqlsel.kernels.keys.key_hashes`,
  the same function the ``sel_key_hash`` macro computes).

Functions that write the catalog or read whole relations (fits, ``sel_semdedup``, ``sel_kmeans_fit``,
…) are not registered: the Spark runner runs the statements calling them on the driver
(:mod:`sqlsel.spark.runner`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import threading
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from sqlsel.catalog import PAYLOAD_TABLES
from sqlsel.duck import run_sql
from sqlsel.errors import SqlselError
from sqlsel.functions import (
    KEY,
    FunctionContext,
    FunctionSpec,
    arrow_type,
    call_impl,
    driver_functions,
    row_functions,
)

__all__ = ["ModelSnapshot", "model_snapshot", "row_functions", "driver_functions", "register_row_functions"]

_SPARK_TYPES = {"BIGINT": "bigint", "INTEGER": "int", "DOUBLE": "double", "FLOAT": "float", "VARCHAR": "string"}
_SPARK_TYPES |= {"BOOLEAN": "boolean"}


def spark_type(duckdb_type: str) -> str:
    """The Spark DDL type of ``duckdb_type``: ``INTEGER[]`` is ``array<int>``."""
    if duckdb_type.endswith("[]"):
        return f"array<{spark_type(duckdb_type[:-2])}>"
    if duckdb_type.startswith("STRUCT("):
        fields = [f.strip().split(" ", 1) for f in duckdb_type[len("STRUCT(") : -1].split(",")]
        return "struct<" + ",".join(f"{name}:{spark_type(kind.strip())}" for name, kind in fields) + ">"
    return _SPARK_TYPES[duckdb_type]


@dataclass(frozen=True)
class ModelSnapshot:
    """Catalog rows of some models, as Arrow IPC bytes: small, picklable, the same on every executor."""

    tables: dict[str, bytes] = field(default_factory=dict)  # catalog table -> its rows for these models

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for table in sorted(self.tables):
            h.update(table.encode() + b"\0" + self.tables[table])
        return h.hexdigest()

    @property
    def size(self) -> int:
        return sum(len(b) for b in self.tables.values())


def model_snapshot(ctx: FunctionContext, names: list[str] | None = None) -> ModelSnapshot:
    """The models ``names`` (every published model when None) as a :class:`ModelSnapshot`.

    During a run the staged model a name stands for is taken (``ctx.read_name``) and stored under the
    plain name, so executors score with what the run fitted.
    """
    if names is None:
        names = [r[0] for r in ctx.query("SELECT name FROM sel_models WHERE name NOT LIKE '%~staged-run%'")]
    stored = {ctx.read_name(n): n for n in names}
    models = ctx.arrow("SELECT * FROM sel_models WHERE list_contains(?, name)", [list(stored)])
    plain = pa.array([stored[n] for n in models.column("name").to_pylist()], pa.string())
    models = models.set_column(models.schema.get_field_index("name"), "name", plain)
    ids = models.column("model_id").to_pylist()
    tables = {"sel_models": models}
    for table in PAYLOAD_TABLES:
        tables[table] = ctx.arrow(f"SELECT * FROM {table} WHERE list_contains(?, model_id)", [ids])
    return ModelSnapshot({t: _ipc(rows) for t, rows in tables.items()})


def _ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


_OPENED: dict[str, tuple[duckdb.DuckDBPyConnection, FunctionContext]] = {}  # by snapshot digest, oldest first
_KEEP_OPEN = 4
_OPEN_LOCK = threading.Lock()


def snapshot_context(snapshot: ModelSnapshot) -> FunctionContext:
    """An in-memory catalog holding ``snapshot``'s models, opened once per process (an executor's worker)."""
    key = snapshot.digest
    with _OPEN_LOCK:
        if key not in _OPENED:
            from sqlsel.connection import connect
            from sqlsel.functions import function_context

            con = connect(threads=1)  # Spark runs one task per core; a task's kernels do not split
            for table, data in snapshot.tables.items():
                rows = pa.ipc.open_stream(data).read_all()
                con.register("_sel_snapshot_rows", rows)
                run_sql(con, f"INSERT INTO {table} SELECT * FROM _sel_snapshot_rows")
                con.unregister("_sel_snapshot_rows")
            ctx = function_context(con)
            assert ctx is not None
            _OPENED[key] = (con, ctx)
            while len(_OPENED) > _KEEP_OPEN:  # a worker lives across runs and refits: keep the latest few
                old, _ = _OPENED.pop(next(iter(_OPENED)))
                old.close()
        return _OPENED[key][1]


def udf_body(spec: FunctionSpec, snapshot: ModelSnapshot) -> Any:
    """The Python function Spark calls with one Arrow array per argument (see the module docstring)."""
    types = [arrow_type("UBIGINT" if t == KEY else t) for t in spec.params.values()]
    names = list(spec.params)
    defaults = default_values(spec)
    result_type = arrow_type(spec.returns)

    def call(*args: pa.Array) -> pa.Array:
        from sqlsel.kernels.keys import key_hashes

        if not args:
            raise SqlselError(f"{spec.name} takes arguments: {spec.signature}")
        rows = len(args[0])
        given = list(args)
        if len(given) < len(names) - len(defaults) or len(given) > len(names):
            raise SqlselError(f"{spec.name} takes {len(names)} arguments; got {len(given)}: {spec.signature}")
        for name in names[len(given) :]:
            given.append(pa.array([defaults[name]] * rows))
        ctx = snapshot_context(snapshot)
        arrays = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in given]
        if spec.null_handling == "default":
            valid = _all_valid(arrays)
            if valid is not None:
                arrays = [a.filter(valid) for a in arrays]
        else:
            valid = None
        converted = []
        for kind, wanted, array in zip(spec.params.values(), types, arrays, strict=True):
            if kind == KEY:
                converted.append(pa.array(key_hashes(array), pa.uint64()))
            else:
                converted.append(array if array.type == wanted else array.cast(wanted))
        result = call_impl(spec, ctx, converted)
        result = result.combine_chunks() if isinstance(result, pa.ChunkedArray) else result
        if result.type != result_type:
            result = result.cast(result_type)
        return _scattered(result, valid, rows) if valid is not None else result

    call.__name__ = spec.name
    return call


def default_values(spec: FunctionSpec) -> dict[str, Any]:
    """A function's declared defaults (SQL literals) as Python values."""
    if not spec.defaults:
        return {}
    return dict(zip(spec.defaults, _literal_values(tuple(spec.defaults.values())), strict=True))


@functools.cache
def _literal_values(literals: tuple[str, ...]) -> tuple[Any, ...]:
    """SQL literals evaluated by DuckDB, once per process (a connection each time cost 9 ms a function)."""
    con = duckdb.connect()
    try:
        return tuple(run_sql(con, "SELECT " + ", ".join(literals))[0])
    finally:
        con.close()


def _all_valid(arrays: list[pa.Array]) -> pa.Array | None:
    """Where every argument is non-NULL, or None when all rows are (the common case)."""
    import pyarrow.compute as pc

    if not any(a.null_count for a in arrays):
        return None
    valid = pc.is_valid(arrays[0])
    for a in arrays[1:]:
        valid = pc.and_(valid, pc.is_valid(a))
    return valid


def _scattered(values: pa.Array, valid: pa.Array, rows: int) -> pa.Array:
    """``values`` (one per valid row) placed back among ``rows`` rows, NULL where a row was not valid."""
    import numpy as np

    mask = valid.to_numpy(zero_copy_only=False)
    positions = np.full(rows, -1, np.int64)
    positions[mask] = np.arange(int(mask.sum()))
    indices = pa.array(positions, mask=~mask)
    return values.take(indices)


def register_row_functions(
    spark: Any, snapshot: ModelSnapshot, specs: dict[str, FunctionSpec] | None = None
) -> list[str]:
    """Register every row-level function on ``spark`` with ``snapshot``'s models; returns their names."""
    from pyspark.sql.functions import arrow_udf

    registered = []
    for name, spec in row_functions(specs).items():
        carried = snapshot if spec.model_param is not None else ModelSnapshot()  # only model readers carry models
        udf = arrow_udf(udf_body(spec, carried), spark_type(spec.returns))
        spark.udf.register(name, udf)
        registered.append(name)
    return registered

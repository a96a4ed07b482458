"""Relations in and out of set-level functions: the engine side of "one relation in, one relation out".

DuckDB's Python API has no table or aggregate functions, and ``udf(list(x))`` over a million
vectors costs several times their size in memory. A set-level function (k-means fit, SemDeDup,
k-center, vector-table store) therefore takes the *name* of a table or view, or a query, and reads it
through its own cursor (:func:`read_vectors`): every row, once, into one float32 matrix sorted by key,
so the result does not depend on scan order or thread count. What it selects it writes to a table
named by its ``into`` argument (:func:`write_rows`), keys in the source's own type: a scalar
function's return type is fixed when it is registered, so only a table can give back keys of any type.

A cursor cannot see TEMP tables; intermediate tables go to the in-memory ``sel_scratch`` database
every sqlsel connection attaches.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from sqlsel.duck import run_sql
from sqlsel.errors import InputError, ParameterError, RowKeyError
from sqlsel.functions import FunctionContext
from sqlsel.kernels.keys import key_type_problem, sortable_keys
from sqlsel.kernels.vectors import VectorError, permute_rows, vector_matrix

__all__ = [
    "Vectors",
    "model_vectors",
    "VectorBatch",
    "relation_query",
    "is_table_name",
    "read_vectors",
    "vector_batches",
    "memory_budget",
    "stream_batch_rows",
    "source_rows",
    "stored_shape",
    "check_unique_keys",
    "column_names",
    "write_rows",
    "write_table",
]

_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*){0,2}$")
_BATCH = 65536  # rows per batch of a whole read (it holds every row anyway)
_STREAM_BATCH_BYTES = 8 << 20  # vectors per batch of a streamed read: DuckDB's Arrow batches are not in its limit


def stream_batch_rows(dim: int) -> int:
    """Rows per batch of a read that holds one batch at a time: about 8 MB of vectors.

    DuckDB converts each batch to Arrow outside its memory_limit; at 65,536 rows of 256 floats a
    streamed read of a table cost 340 MB above the limit, at 8,192 rows 36 MB.
    """
    return max(1024, min(_BATCH, _STREAM_BATCH_BYTES // max(4 * dim, 1)))


def relation_query(source: str, columns: str) -> str:
    """``SELECT columns`` over a table or view name (optionally qualified) or over a query."""
    text = str(source).strip().rstrip(";")
    if _IDENTIFIER.match(text):
        return f"SELECT {columns} FROM {text}"
    if re.match(r"^(\(|select\b|with\b|from\b)", text, re.I):
        return f"SELECT {columns} FROM ({text})"
    raise ParameterError(f"source must be a table or view name or a SELECT query; got {source!r}")


def is_table_name(text: str) -> bool:
    """Whether ``text`` is a plain (optionally qualified) table name, safe to paste into SQL."""
    return bool(_IDENTIFIER.match(text))


def column_names(ctx: FunctionContext, source: str) -> list[str]:
    """The column names of a table, view or query (lower case), without reading its rows."""
    try:
        return [name.lower() for name in ctx.columns(relation_query(source, "*"))]
    except duckdb.Error:
        return []  # read_vectors says what is wrong with the source


@dataclass
class Vectors:
    """A relation's rows sorted by key: keys, their hashes, the embedding matrix and extra numeric columns.

    Position ``i`` is the i-th smallest key, so row positions break ties in key order.
    """

    keys: np.ndarray  # sortable keys (integers, or Python ints/str objects)
    key_type: str  # the DuckDB type of the source's id column
    hashes: np.ndarray  # uint64 key hashes: the seed of every random choice
    x: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def key(self, row: int) -> object:
        """The key of row ``row`` as a Python value (for messages)."""
        return _plain(self.keys[row])


@dataclass
class VectorBatch:
    """Consecutive rows of a relation as read: keys, their hashes, embeddings and extra numeric columns."""

    keys: np.ndarray  # sortable keys (copies: a column kept as Arrow would keep its whole batch alive)
    hashes: np.ndarray  # uint64
    x: np.ndarray  # float32 (rows, dim)
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def take(self, mask: np.ndarray) -> VectorBatch:
        """The rows where ``mask`` is true, copied (the batch itself may then be released)."""
        return VectorBatch(
            self.keys[mask], self.hashes[mask], self.x[mask], {k: v[mask] for k, v in self.extra.items()}
        )


def describe_source(ctx: FunctionContext, source: str, what: str, columns: tuple[str, ...]) -> str:
    """The DuckDB type of ``source``'s id column, after checking that it has ``columns`` and a usable key."""
    names = ", ".join(columns)
    try:
        described = ctx.query(f"DESCRIBE {relation_query(source, names)}")
    except duckdb.Error as exc:  # a missing table or column: say what is read
        raise InputError(
            f"{what} cannot read {source!r}: {str(exc).splitlines()[0]}. It reads columns {names} from a table "
            "or view (not a TEMP one: use sel_scratch.<name>) or a query."
        ) from None
    key_type = str(described[0][1])
    problem = key_type_problem(key_type)
    if problem is not None:
        raise RowKeyError(f"{what}: the id column of {source!r} is {problem}.")
    return key_type


def vector_batches(
    ctx: FunctionContext,
    source: str,
    what: str,
    extra: tuple[str, ...] = (),
    *,
    computed: dict[str, str] | None = None,
    order_by: str = "",
    batch_rows: int = _BATCH,
) -> Iterator[VectorBatch]:
    """The (id, embedding, *extra) rows of ``source`` in scan order (or ``order_by``), checked batch by batch.

    ``computed`` adds extra columns from SQL expressions over the source's columns (e.g. a cluster
    from ``sel_cluster(embedding, 'm')``). Keys may be of any integer or string type; NULL keys, NULL
    or non-finite extra values, and embeddings that are NULL, ragged, empty or hold NaN are refused,
    naming a row. Duplicate keys are the caller's to find (they need every key).
    """
    expressions = dict.fromkeys(extra, "") | (computed or {})
    select = ", ".join(["id", "embedding", *(f"{e} AS {n}" if e else n for n, e in expressions.items())])
    sql = relation_query(source, f"{select}, sel_key_hash(id) AS _key_hash")
    if order_by:
        sql = f"SELECT * FROM ({sql}) ORDER BY {order_by}"
    dim: int | None = None
    for batch in ctx.sorted_stream(sql, batch_rows) if order_by else ctx.stream(sql, batch_rows):
        ctx.check_interrupt()
        id_col, vec_col = batch.column(0), batch.column(1)
        if id_col.null_count:
            raise RowKeyError(f"{what}: {source!r} has rows with a NULL id; every row needs one.")
        try:
            block = vector_matrix(vec_col, dim)
        except VectorError as exc:
            raise InputError(
                f"{what}: row id {id_col[exc.row].as_py()!r} of {source!r}: {exc}. "
                "Filter such rows out (WHERE embedding IS NOT NULL AND len(embedding) = <dim>) or repair them."
            ) from None
        if block.shape[1] == 0:
            raise InputError(f"{what}: the embeddings of {source!r} have no values; every row needs a vector.")
        dim = block.shape[1]
        yield VectorBatch(
            np.array(sortable_keys(id_col), copy=True),
            batch.column(len(batch.schema) - 1).to_numpy(zero_copy_only=False).astype(np.uint64),
            block,
            {name: _numbers(batch.column(2 + k), name, id_col, what, source) for k, name in enumerate(expressions)},
        )


_UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4, "PB": 1000**5}
_UNITS |= {"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40, "PIB": 1 << 50}


def memory_budget(ctx: FunctionContext) -> int:
    """Bytes of vectors a set-level function holds at once: a quarter of DuckDB's ``memory_limit``.

    DuckDB's limit bounds its own buffers (scans, sorts, scratch tables, which spill to the temp
    directory beyond it); the Python side of a set-level function gets a quarter of it again for its
    vectors. Under ``SET memory_limit = '1.5GB'`` (``sqlsel run --memory 1.5GB``) SemDeDup of 4M × 256
    vectors peaked at 2.4 GB of RSS, imports included (benchmarks/semdedup_memory.py).
    """
    text = str(ctx.query("SELECT current_setting('memory_limit')")[0][0]).strip().upper()
    match = re.fullmatch(r"([0-9.]+)\s*([KMGTP]I?B|B)?", text)
    if match is None:
        return 1 << 62
    return int(float(match.group(1)) * _UNITS[match.group(2) or ""]) // 4


def source_rows(ctx: FunctionContext, source: str, what: str) -> int:
    """Rows of ``source``: a stored table's count, or a count of the query (DuckDB skips its unused columns)."""
    rows = _stored_rows(ctx, source)
    if rows is not None:
        return rows
    try:
        return int(ctx.query(relation_query(source, "count(*)"))[0][0])
    except duckdb.Error as exc:
        raise InputError(f"{what} cannot read {source!r}: {str(exc).splitlines()[0]}") from None


def stored_shape(ctx: FunctionContext, source: str, what: str) -> tuple[int, int] | None:
    """Rows and first-embedding length of ``source`` when it names a stored table; None for a view or query.

    A stored table is the source a function can read again cheaply and with the same rows (a query
    would be run again, its embeddings computed again); its columns and key are checked first.
    """
    rows = _stored_rows(ctx, source)
    if rows is None:
        return None
    describe_source(ctx, source, what, ("id", "embedding"))
    first = ctx.query(relation_query(source, "len(embedding)") + " LIMIT 1")
    return rows, int(first[0][0] or 0) if first else 0


def check_unique_keys(ctx: FunctionContext, source: str, what: str) -> None:
    """Refuse a source whose ids repeat, by a GROUP BY in DuckDB (out of core: for sources read in a stream)."""
    dup = ctx.query(relation_query(source, "id") + " GROUP BY id HAVING count(*) > 1 LIMIT 1")
    if dup:
        raise RowKeyError(f"{what}: id {dup[0][0]!r} appears more than once in {source!r}; ids must be unique.")


def read_vectors(ctx: FunctionContext, source: str, what: str, extra: tuple[str, ...] = ()) -> Vectors:
    """Every (id, embedding, *extra) row of ``source``, read once; ``what`` names the caller in errors.

    Keys may be of any integer or string type; NULL or duplicate keys, NULL or non-finite extra values,
    and embeddings that are NULL, ragged or hold NaN are refused, naming a row.
    """
    key_type = describe_source(ctx, source, what, ("id", "embedding", *extra))
    total = _stored_rows(ctx, source)  # a stored table can be counted first and read into one matrix
    keys: list[np.ndarray] = []
    hashes: list[np.ndarray] = []
    growing: _GrowingMatrix | None = None
    values: dict[str, list[np.ndarray]] = {name: [] for name in extra}
    x: np.ndarray | None = None
    at = 0
    for batch in vector_batches(ctx, source, what, extra):
        block = batch.x
        if total is not None:
            if x is None:
                x = _populated_matrix(total, block.shape[1])
            if at + len(block) > total:
                raise InputError(f"{what}: {source!r} changed while it was read; read it again.")
            x[at : at + len(block)] = block
        else:
            growing = growing or _GrowingMatrix(block.shape[1], 2 * len(block))
            growing.append(block)
        keys.append(batch.keys)
        hashes.append(batch.hashes)
        for name in extra:
            values[name].append(batch.extra[name])
        at += len(block)
    if at == 0:
        raise InputError(f"{what}: {source!r} has no rows.")
    if x is None:
        assert growing is not None
        x = growing.matrix()
    elif at != total:
        raise InputError(f"{what}: {source!r} changed while it was read; read it again.")
    all_keys = np.concatenate(keys) if len(keys) > 1 else keys[0]
    order = np.argsort(all_keys, kind="stable")
    if (order != np.arange(len(order))).any():
        permute_rows(x, order.astype(np.int64))
    sorted_keys = all_keys[order]
    check_unique(sorted_keys, what, source)
    return Vectors(
        sorted_keys,
        key_type,
        np.concatenate(hashes)[order],
        x,
        {name: np.concatenate(v)[order] for name, v in values.items()},
    )


def model_vectors(embedding: pa.Array, dim: int, what: str, model: str, embedded_as: str) -> np.ndarray:
    """A row function's embedding column as a float32 matrix for model ``model``, fitted on ``dim`` values.

    A wrong length, NULL value or NaN is refused naming the model's dimension and how its rows were
    embedded (``embedded_as``, e.g. "the model's fit data").
    """
    try:
        return vector_matrix(embedding, dim)
    except VectorError as exc:
        raise InputError(
            f"{what}: {exc} (model {model!r} was fitted on {dim}-dimensional vectors). "
            f"Embed the rows the way {embedded_as} was embedded."
        ) from None


def check_unique(sorted_keys: np.ndarray, what: str, source: str) -> None:
    """Refuse a relation whose (sorted) keys repeat, naming the first repeated one."""
    if len(sorted_keys) > 1:
        same = sorted_keys[1:] == sorted_keys[:-1]
        if same.any():
            dup = sorted_keys[1:][same][0]
            raise RowKeyError(f"{what}: id {_plain(dup)!r} appears more than once in {source!r}; ids must be unique.")


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value


def _numbers(column: pa.Array, name: str, ids: pa.Array, what: str, source: str) -> np.ndarray:
    """An extra column as float64, refusing NULL, NaN, ±inf and non-numbers with the row that has one."""
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_decimal(column.type)):
        raise InputError(f"{what}: column {name} of {source!r} must be a number; it is {column.type}.")
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise InputError(f"{what}: row id {ids[row].as_py()!r} of {source!r} has a NULL {name}; filter such rows out.")
    out = np.array(column.to_numpy(zero_copy_only=False), np.float64, copy=True)  # not a view into the batch
    bad = ~np.isfinite(out)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{what}: row id {ids[row].as_py()!r} of {source!r} has {name} {out[row]}; it must be a finite number "
            "(filter NaN and infinite values out: WHERE isfinite(...))."
        )
    return out


def _stored_rows(ctx: FunctionContext, source: str) -> int | None:
    """The row count of ``source`` when it names a stored table (a view or query may differ between reads)."""
    text = str(source).strip().rstrip(";")
    if not _IDENTIFIER.match(text):
        return None
    parts = text.split(".")
    sql = "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary"
    params: list[object] = [parts[-1]]
    if len(parts) >= 2:
        sql += " AND (database_name = ? OR schema_name = ?)"
        params += [parts[-2], parts[-2]]
    if not ctx.query(sql, params)[0][0]:
        return None
    return int(ctx.query(f"SELECT count(*) FROM {text}")[0][0])


class _GrowingMatrix:
    """A float32 matrix of ``dim`` columns appended to block by block, in one anonymous mapping.

    A query's rows cannot be counted before they are read (reading twice would give another sample
    of an unseeded ``USING SAMPLE``), so the mapping doubles as it fills: ``mremap`` moves pages
    instead of copying them, and the untouched tail is never resident, so memory stays one matrix
    (a list of blocks concatenated at the end would hold two). Where the platform cannot grow a
    mapping (no MAP_PRIVATE, no mremap, a memory limit), it keeps the blocks and joins them at the end.
    """

    def __init__(self, dim: int, rows: int) -> None:
        self.dim, self.rows, self.capacity = dim, 0, max(rows, 1)
        self.blocks: list[np.ndarray] | None = None
        self.region: mmap.mmap | None = None
        try:
            self.region = mmap.mmap(-1, self.capacity * dim * 4, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        except (AttributeError, OSError, ValueError):
            self.blocks = []

    def append(self, block: np.ndarray) -> None:
        need = self.rows + len(block)
        if self.region is not None and need > self.capacity:
            try:
                self.region.resize(max(need, 2 * self.capacity) * self.dim * 4)
                self.capacity = max(need, 2 * self.capacity)
            except (OSError, ValueError, SystemError, TypeError):
                self.blocks = [np.array(self._view(0, self.rows), copy=True)]
                self.region = None
        if self.region is None:
            assert self.blocks is not None
            self.blocks.append(np.array(block, np.float32, copy=True))
        else:
            view = self._view(self.rows, len(block))
            view[:] = block
            del view  # a live view would pin the mapping: the next resize could not move it
        self.rows = need

    def _view(self, start: int, rows: int) -> np.ndarray:
        assert self.region is not None
        return np.frombuffer(self.region, np.float32, rows * self.dim, start * self.dim * 4).reshape(rows, self.dim)

    def matrix(self) -> np.ndarray:
        """The rows appended, as one writable (rows, dim) matrix."""
        if self.region is None:
            assert self.blocks is not None
            return np.concatenate(self.blocks) if self.blocks else np.zeros((0, self.dim), np.float32)
        return self._view(0, self.rows)


def _populated_matrix(rows: int, dim: int) -> np.ndarray:
    """An uninitialised (rows, dim) float32 matrix whose memory is mapped in one call, not page by page.

    Filled batch by batch, a fresh matrix takes a page fault per 4 KiB written; Linux's MAP_POPULATE
    maps it all at once. On the 2-core benchmark VM, where faults are slow, 1.5 GB took 0.7-0.8 s
    that way against 0.5-4.3 s faulted in (read_vectors of 1M × 384: 5.2-5.8 s instead of 6.9-8.6 s).
    Small matrices, and platforms without MAP_POPULATE, use np.empty.
    """
    nbytes = rows * dim * 4
    populate = getattr(mmap, "MAP_POPULATE", 0)
    if nbytes < 64 << 20 or not populate:
        return np.empty((rows, dim), np.float32)
    try:
        region = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | populate)
    except OSError:  # e.g. a memory limit on mappings: numpy's allocator says so, or fares better
        return np.empty((rows, dim), np.float32)
    return np.frombuffer(region, np.float32).reshape(rows, dim)  # the array keeps the mapping alive


def write_rows(ctx: FunctionContext, into: str, table: pa.Table, key_type: str, key_columns: tuple[str, ...]) -> int:
    """Create (or replace) table ``into`` with ``table``'s rows, ``key_columns`` cast back to ``key_type``."""
    select = ", ".join(f'"{c}"::{key_type} AS "{c}"' if c in key_columns else f'"{c}"' for c in table.column_names)
    write_table(ctx, into, table, select)
    return table.num_rows


def write_table(
    ctx: FunctionContext, into: str, data: pa.Table | pa.RecordBatchReader, select: str = "*", order: str = ""
) -> None:
    """Create (or replace) table ``into`` from Arrow data, through the function's own cursor and transaction.

    ``into`` must name its database or schema (``sel_scratch.picks`` keeps it in memory): the cursor
    cannot see the caller's TEMP tables, so a bare name that a TEMP table shadows would be written
    elsewhere than the caller reads.
    """
    _check_into(into)
    with ctx.writing() as cur:
        _write(cur, into, data, f"CREATE OR REPLACE TABLE {into} AS SELECT {select} FROM _sel_rows_out {order}")


def _check_into(into: str) -> None:
    if not into or not is_table_name(into) or "." not in into:
        raise ParameterError(
            f"into_table must be a qualified table name such as sel_scratch.picks (or main.picks); got {into!r}"
        )


def _write(cur: duckdb.DuckDBPyConnection, into: str, data: pa.Table | pa.RecordBatchReader, sql: str) -> None:
    cur.register("_sel_rows_out", data)
    try:
        run_sql(cur, sql)
    except duckdb.Error as exc:
        raise InputError(f"cannot create {into!r}: {str(exc).splitlines()[0]}") from None
    finally:
        cur.unregister("_sel_rows_out")


def key_array(data: Vectors, rows: np.ndarray) -> pa.Array:
    """The keys of ``rows`` as an Arrow array (written back in the source's key type by write_rows)."""
    picked = data.keys[rows]
    if picked.dtype == object:
        if len(picked) and isinstance(picked[0], str):
            return pa.array(picked.tolist(), pa.string())
        return pa.array([str(v) for v in picked.tolist()], pa.string())  # HUGEINT beyond 64 bits: cast back in SQL
    return pa.array(picked)

"""Reading a whole relation inside a SQL function: the input side of set-level functions.

DuckDB's Python API has no table or aggregate functions, and ``udf(list(x))`` over a million
vectors costs several times their size in memory. A set-level function (k-means fit, SemDeDup,
k-center, vector-table store) therefore takes the *name* of a table or view, or a query, and reads it
through its own cursor: all rows at once, in batches, into one float32 matrix sorted by id, so the
result does not depend on scan order or thread count. A cursor cannot see TEMP tables; intermediate
tables go to the in-memory ``sel_scratch`` database every sqlsel connection attaches.
"""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from sqlsel.errors import InputError, ParameterError
from sqlsel.functions import FunctionContext
from sqlsel.kernels.kmeans import sort_rows
from sqlsel.kernels.vectors import VectorError, vector_matrix

__all__ = ["Vectors", "relation_query", "is_table_name", "read_vectors", "column_names"]

_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*){0,2}$")
_BATCH = 65536


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
    """A relation's rows sorted by id: ids, the embedding matrix and any extra numeric columns."""

    ids: np.ndarray
    x: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def read_vectors(ctx: FunctionContext, source: str, what: str, extra: tuple[str, ...] = ()) -> Vectors:
    """Every (id, embedding, *extra) row of ``source``; ``what`` names the caller in error messages."""
    columns = ", ".join(("id", "embedding", *extra))
    sql = relation_query(source, columns)
    try:
        total = ctx.query(f"SELECT count(*) FROM ({sql})")[0][0]
    except duckdb.Error as exc:  # a missing table or column: say what is read
        raise InputError(
            f"{what} cannot read {source!r}: {exc}. It reads columns {columns} from a table or view "
            "(not a TEMP one: use sel_scratch.<name>) or a query."
        ) from None
    if total == 0:
        raise InputError(f"{what}: {source!r} has no rows.")
    ids = np.empty(total, np.int64)
    values = {name: np.empty(total, np.float64) for name in extra}
    x: np.ndarray | None = None
    at = 0
    for batch in ctx.stream(sql, _BATCH):
        id_col, vec_col = batch.column(0), batch.column(1)
        if id_col.null_count:
            raise InputError(f"{what}: {source!r} has rows with a NULL id; every row needs one.")
        try:
            block = vector_matrix(vec_col, None if x is None else x.shape[1])
        except VectorError as exc:
            raise InputError(
                f"{what}: row id {id_col[exc.row].as_py()} of {source!r}: {exc}. "
                "Filter such rows out (WHERE embedding IS NOT NULL AND len(embedding) = <dim>) or repair them."
            ) from None
        if x is None:
            x = _populated_matrix(total, block.shape[1])
        ids[at : at + len(block)] = id_col.to_numpy(zero_copy_only=False)
        x[at : at + len(block)] = block
        for k, name in enumerate(extra):
            column = batch.column(2 + k)
            if column.null_count:
                raise InputError(f"{what}: {source!r} has rows with a NULL {name}.")
            if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
                raise InputError(f"{what}: column {name} of {source!r} must be a number; it is {column.type}.")
            values[name][at : at + len(block)] = column.to_numpy(zero_copy_only=False)
        at += len(block)
    assert x is not None and at == total
    order = sort_rows(ids, x)
    sorted_ids = ids[order]
    if len(sorted_ids) > 1 and (sorted_ids[1:] == sorted_ids[:-1]).any():
        dup = int(sorted_ids[1:][sorted_ids[1:] == sorted_ids[:-1]][0])
        raise InputError(f"{what}: id {dup} appears more than once in {source!r}; ids must be unique.")
    return Vectors(sorted_ids, x, {name: v[order] for name, v in values.items()})


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

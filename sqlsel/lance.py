"""LanceDB beside the catalog: where vector tables live, and streaming them in and out.

A file catalog ``/data/catalog.duckdb`` keeps its LanceDB database in ``/data/catalog.lance/``; an
in-memory catalog gets a temporary folder that lives as long as its connection. Tables are written
from a stream of Arrow batches (never the whole result in memory) with the embedding column as a
fixed-size float32 list, the type LanceDB indexes.

Example:
    >>> import sqlsel
    >>> con = sqlsel.connect()
    >>> con.sql("CREATE TABLE sel_scratch.v AS SELECT range AS id, [range, 1.0]::FLOAT[] AS embedding "
    ...         "FROM range(3)").fetchall()
    [(3,)]
    >>> con.sql("SELECT sel_vectors_store('pts', 'sel_scratch.v')").fetchall()
    [(3,)]
    >>> con.sql("SELECT sel_vectors_load('pts', 'sel_scratch.back')").fetchall()
    [(3,)]
    >>> con.sql("SELECT id, embedding FROM sel_scratch.back ORDER BY id LIMIT 1").fetchall()
    [(0, (0.0, 1.0))]
    >>> con.close()
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sqlsel.kernels.keys import sortable_keys

__all__ = [
    "lance_folder",
    "open_db",
    "open_table",
    "forget_table",
    "drop_table",
    "drop_tables",
    "fixed_size_batches",
    "VectorIndex",
    "knn",
]

_TEMP: dict[int, str] = {}  # id of the owner of an in-memory catalog -> its Lance folder
_LOCK = threading.Lock()


def lance_folder(catalog_path: str | None, owner: object) -> Path:
    """The LanceDB folder of a catalog file (its sibling ``<stem>.lance``), or for an in-memory catalog
    a temporary one of its own, removed when ``owner`` (the DuckDB connection, which outlives a second
    ``register``) is collected or the process exits."""
    if catalog_path:
        path = Path(catalog_path)
        return path.with_name(path.stem + ".lance")
    with _LOCK:
        folder = _TEMP.get(id(owner))
        if folder is None:
            folder = tempfile.mkdtemp(prefix="sqlsel-lance-")
            _TEMP[id(owner)] = folder
            weakref.finalize(owner, _remove_temp, id(owner), folder)
        return Path(folder)


def _remove_temp(owner: int, folder: str) -> None:
    """Forget an in-memory catalog's Lance handles and remove its folder."""
    with _LOCK:
        _TEMP.pop(owner, None)
        _DBS.pop(folder, None)
        for key in [k for k in _OPEN_TABLES if k[0] == folder]:
            del _OPEN_TABLES[key]
    shutil.rmtree(folder, ignore_errors=True)


_DBS: dict[str, Any] = {}
_OPEN_TABLES: dict[tuple[str, str], Any] = {}


def open_db(folder: Path) -> Any:
    """The LanceDB connection of ``folder``, one per process (each holds open files)."""
    import lancedb

    key = str(folder)
    with _LOCK:
        if key not in _DBS:
            folder.mkdir(parents=True, exist_ok=True)
            _DBS[key] = lancedb.connect(key)
        return _DBS[key]


def open_table(folder: Path, name: str) -> Any:
    """A Lance table of ``folder``, opened once per process: every query on a fresh handle would open
    the table's files again, and a kNN pass issues hundreds of queries."""
    key = (str(folder), name)
    with _LOCK:
        table = _OPEN_TABLES.get(key)
    if table is None:
        table = open_db(folder).open_table(name)
        with _LOCK:
            table = _OPEN_TABLES.setdefault(key, table)
    return table


def forget_table(folder: Path, name: str) -> None:
    """Drop the cached handle of a table that is being dropped."""
    with _LOCK:
        _OPEN_TABLES.pop((str(folder), name), None)


def drop_table(folder: Path, table: str) -> None:
    """Drop a Lance table of ``folder`` (one that was never created has nothing to drop)."""
    forget_table(folder, table)
    try:
        open_db(folder).drop_table(table)
    except Exception:  # noqa: BLE001 - lancedb raises several kinds for a missing table
        pass


def drop_tables(tables: list[tuple[str, str]]) -> None:
    """Drop ``(folder, table)`` pairs, e.g. the vector tables a run replaced or discarded."""
    for folder, table in tables:
        drop_table(Path(folder), table)


def fixed_size_batches(batches: Iterator[pa.RecordBatch], column: str, dim: int) -> Iterator[pa.RecordBatch]:
    """The batches with ``column`` cast from a list to a ``dim``-wide fixed-size float32 list."""
    for batch in batches:
        index = batch.schema.get_field_index(column)
        values = batch.column(index)
        if not pa.types.is_fixed_size_list(values.type) or values.type.value_type != pa.float32():
            values = values.cast(pa.list_(pa.float32(), dim))
        yield batch.set_column(index, pa.field(column, values.type), values)


#: Index types sqlsel builds, by the name users pass, with the LanceDB config class that builds each.
INDEX_TYPES = {
    "IVF_HNSW_SQ": "IvfHnswSq",
    "IVF_HNSW_PQ": "IvfHnswPq",
    "IVF_HNSW_FLAT": "IvfHnswFlat",
    "IVF_PQ": "IvfPq",
    "IVF_SQ": "IvfSq",
    "IVF_FLAT": "IvfFlat",
}
METRICS = ("cosine", "l2", "dot")
#: IVF indexes need enough rows to train their partitions: IVF_PQ below 256 rows silently indexes
#: nothing (docs/PLATFORM.md), so smaller tables are searched exactly instead.
MIN_INDEX_ROWS = 256


def build_index(table: Any, index_type: str, metric: str) -> None:
    """Build (or replace) the vector index on ``table``'s embedding column."""
    import lancedb.index

    config = getattr(lancedb.index, INDEX_TYPES[index_type])(distance_type=metric)
    table.create_index("embedding", config=config, replace=True)


@dataclass(frozen=True)
class VectorIndex:
    """An opened index: its Lance table and what it was built with."""

    table: Any
    metric: str
    index_type: str
    dim: int


#: Query vectors per LanceDB search. A multi-vector search reads every probed partition of every
#: query at once: 8,192 vectors held 10,400 files open (past a default `ulimit -n` of 1,024, and it
#: once failed at 20,000), 128 hold ~270 and answer faster (1,220 vs 570 queries/s, 181k × 256).
QUERY_ROWS = 128
#: Searches at once: each holds its own files open, so two stay far below that limit. On the 2-core
#: benchmark machine 2 answer 1.3× the queries per second of 1 (795 → 1,036/s, 60k × 256), 4 no more.
QUERY_THREADS = 2


def knn(index: VectorIndex, x: np.ndarray, k: int, threads: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour ids and distances of every row of ``x``, flattened, with list offsets (QUERY_ROWS per query).

    ``threads`` > 1 runs up to QUERY_THREADS searches at once (1.3× the queries per second on 2 cores);
    the answer does not depend on it.
    """
    parts = [x[start : start + QUERY_ROWS] for start in range(0, len(x), QUERY_ROWS)]
    workers = min(threads, QUERY_THREADS, len(parts))
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            answers = list(pool.map(lambda part: _search(index, part, k), parts))
    else:
        answers = [_search(index, part, k) for part in parts]
    ids = [np.zeros(0, np.int64)] + [a[0] for a in answers]
    distances = [np.zeros(0)] + [a[1] for a in answers]
    counts = [np.zeros(0, np.int64)] + [a[2] for a in answers]
    offsets = np.r_[0, np.cumsum(np.concatenate(counts))].astype(np.int32)
    return np.concatenate(ids), np.concatenate(distances), offsets


def _search(index: VectorIndex, part: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One multi-vector search: ids and distances sorted per query, and each query's neighbour count."""
    result = (
        index.table.search(part, vector_column_name="embedding")
        .distance_type(index.metric)
        .limit(k)
        .select(["id", "_distance"])
        .to_arrow()
    )
    query = result.column("query_index").to_numpy() if len(part) > 1 else np.zeros(result.num_rows, np.int64)
    order = np.lexsort((result.column("_distance").to_numpy(), query))
    return (
        sortable_keys(result.column("id"))[order],
        result.column("_distance").to_numpy()[order].astype(np.float64),
        np.bincount(query, minlength=len(part)),
    )

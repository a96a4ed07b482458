"""Vector tables in LanceDB beside the catalog: store a table's embeddings once, load them back.

``sel_vectors_store`` streams a table, view or query with ``id`` and ``embedding`` columns into a
LanceDB table (:mod:`sqlsel.lance`) and registers it in ``sel_vector_tables``;
``sel_vectors_load`` copies it back into a DuckDB table. Expensive embeddings (a transformer on CPU
embeds tens of documents a second) are computed once and reused across sessions and recipes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from sqlsel.catalog import replace_row
from sqlsel.duck import run_sql
from sqlsel.errors import (
    InputError,
    ParameterError,
    SqlselError,
    did_you_mean,
)
from sqlsel.functions import FunctionContext, constant_argument, sql_function
from sqlsel.kernels.vectors import VectorError, vector_matrix
from sqlsel.lance import (
    INDEX_TYPES,
    METRICS,
    MIN_INDEX_ROWS,
    build_index,
    drop_table,
    fixed_size_batches,
    knn,
    lance_folder,
    open_db,
)
from sqlsel.relations import relation_query, write_table
from sqlsel.stored import open_index, open_vector_table

_BATCH = 65536


def _folder(ctx: FunctionContext) -> Path:
    return lance_folder(ctx.catalog_path, ctx.connection)


def _checked(ctx: FunctionContext, source: str, dims: list[int]) -> Iterator[pa.RecordBatch]:
    """The source's batches, each embedding checked (no NULL, NaN or ragged vectors)."""
    for batch in ctx.stream(relation_query(source, "*"), _BATCH):
        names = batch.schema.names
        if "id" not in names or "embedding" not in names:
            raise InputError(f"sel_vectors_store: {source!r} needs id and embedding columns; it has {', '.join(names)}")
        try:
            block = vector_matrix(batch.column("embedding"), dims[0] if dims else None)
        except VectorError as exc:
            row = batch.column("id")[exc.row].as_py()
            raise InputError(f"sel_vectors_store: row id {row} of {source!r}: {exc}; nothing was stored.") from None
        if not dims:
            dims.append(block.shape[1])
        yield batch


@sql_function(
    "sel_vectors_store",
    params={"name": "VARCHAR", "source": "VARCHAR"},
    returns="BIGINT",
    doc="""Store a table, view or query with id and embedding columns as a LanceDB table beside the catalog.

    Streams the rows (every column; the embedding as a fixed-size float32 list) into the catalog's
    LanceDB folder (catalog.lance/ next to catalog.duckdb; a temporary folder for an in-memory catalog)
    and registers name in sel_vector_tables with its Lance version. Storing under an existing name
    replaces it; a failed store leaves the previous table in place. Returns the rows stored. It writes
    in a transaction of its own: a caller's ROLLBACK does not undo it.""",
    example=(
        "SELECT sel_vectors_store('pool_vectors', "
        "'SELECT id, sel_hash_embed(text, 64) AS embedding FROM ''examples/pool.parquet''')"
    ),
    side_effects=True,  # it writes: DuckDB must call it once per row, never fold it
    null_handling="special",
)
def sel_vectors_store(ctx: FunctionContext, name: pa.Array, source: pa.Array) -> pa.Array:
    out = []
    for i in range(len(name)):
        table_name, src = name[i].as_py(), source[i].as_py()
        if not table_name or src is None:
            raise SqlselError("sel_vectors_store: name and source must not be NULL or empty")
        out.append(_store(ctx, table_name, src))
    return pa.array(out, pa.int64())


def _store(ctx: FunctionContext, name: str, source: str) -> int:
    ctx.check_writable(f"vector table {name!r}")
    folder = _folder(ctx)
    db = open_db(folder)
    batches = _checked(ctx, source, dims := [])
    first = next(batches, None)
    if first is None:
        raise InputError(f"sel_vectors_store: {source!r} has no rows to store.")
    dim = dims[0]
    schema = next(fixed_size_batches(iter([first]), "embedding", dim)).schema
    stream = fixed_size_batches(_chain(first, batches), "embedding", dim)
    lance_table = f"{name}-{uuid.uuid4().hex[:12]}"
    try:
        table = db.create_table(lance_table, data=pa.RecordBatchReader.from_batches(schema, stream))
    except BaseException:
        drop_table(folder, lance_table)
        raise
    rows, version = table.count_rows(), table.version
    stored_as = ctx.write_name(name)  # staged during a run: the old table stays until the run succeeds
    try:
        with ctx.writing(f"vector table {name!r}") as cur:
            old = run_sql(cur, "SELECT lance_table FROM sel_vector_tables WHERE name = ?", [stored_as])
            replace_row(
                cur,
                "sel_vector_tables",
                {
                    "name": stored_as,
                    "path": str(folder),
                    "lance_table": lance_table,
                    "rows": rows,
                    "dim": dim,
                    "version": version,
                    "source": source,
                },
            )
    except BaseException:  # not registered: the new Lance table must not stay behind
        drop_table(folder, lance_table)
        raise
    for (previous,) in old:
        drop_table(folder, previous)
    return int(rows)


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


@sql_function(
    "sel_vectors_load",
    params={"name": "VARCHAR", "into": "VARCHAR"},
    returns="BIGINT",
    doc="""Copy a stored vector table back into a DuckDB table (created or replaced); returns its rows.

    into is a qualified table name, e.g. sel_scratch.vectors (in-memory, dropped with the connection) or a
    catalog table. The embedding comes back as FLOAT[dim]. It writes in a transaction of its own:
    a caller's ROLLBACK does not undo it.""",
    example="SELECT sel_vectors_load('pool_vectors', 'sel_scratch.pool_vectors')",
    side_effects=True,
    null_handling="special",
)
def sel_vectors_load(ctx: FunctionContext, name: pa.Array, into: pa.Array) -> pa.Array:
    out = []
    for i in range(len(name)):
        table_name, target = name[i].as_py(), into[i].as_py()
        if not table_name:
            raise ParameterError("sel_vectors_load: name must not be NULL or empty")
        table, meta = open_vector_table(ctx, table_name)
        try:
            write_table(ctx, target, table.search().limit(None).to_batches(), order="ORDER BY id")
        except SqlselError as exc:
            raise type(exc)(f"sel_vectors_load: {exc}") from None
        out.append(int(meta["rows"]))  # type: ignore[call-overload]
    return pa.array(out, pa.int64())


@sql_function(
    "sel_index_build",
    params={"name": "VARCHAR", "vector_table": "VARCHAR", "metric": "VARCHAR", "index_type": "VARCHAR"},
    returns="BIGINT",
    doc="""Build a LanceDB vector index over a stored vector table and register it in sel_vector_indexes.

    metric: cosine (default), l2 or dot; index_type: IVF_HNSW_SQ (default), IVF_HNSW_PQ, IVF_HNSW_FLAT,
    IVF_PQ, IVF_SQ or IVF_FLAT. Tables under 256 rows get no ANN index (IVF cannot train on them) and
    are searched exactly (index_type FLAT). The index records the table's Lance version: storing the
    vector table again makes it stale, and searches refuse it until it is rebuilt. Returns the rows.
    It writes in a transaction of its own: a caller's ROLLBACK does not undo it.""",
    example="SELECT sel_index_build('pool_index', 'pool_vectors')",
    side_effects=True,
    null_handling="special",
    defaults={"metric": "'cosine'", "index_type": "'IVF_HNSW_SQ'"},
)
def sel_index_build(
    ctx: FunctionContext, name: pa.Array, vector_table: pa.Array, metric: pa.Array, index_type: pa.Array
) -> pa.Array:
    out = []
    for i in range(len(name)):
        index_name, table_name = name[i].as_py(), vector_table[i].as_py()
        kind = str(index_type[i].as_py() or "").upper()
        distance = str(metric[i].as_py() or "").lower()
        if not index_name or not table_name:
            raise SqlselError("sel_index_build: name and vector_table must not be NULL or empty")
        if distance not in METRICS:
            raise ParameterError(f"metric must be one of {', '.join(METRICS)}; got {metric[i].as_py()!r}")
        if kind not in INDEX_TYPES:
            raise ParameterError(
                f"index_type must be one of {', '.join(INDEX_TYPES)}; got {index_type[i].as_py()!r}."
                f"{did_you_mean(kind, INDEX_TYPES)}"
            )
        if ctx.staging_run is not None and ctx.read_name(table_name) == table_name:
            raise SqlselError(
                f"sel_index_build: a recipe run can index only the vector tables it stores itself; {table_name!r} "
                "was stored before. Building an index changes its Lance table in place, which a failed run could "
                "not undo: build it outside a run (sqlsel shell), or store the vectors in the same recipe."
            )
        table, meta = open_vector_table(ctx, table_name)
        rows = int(meta["rows"])  # type: ignore[call-overload]
        if rows >= MIN_INDEX_ROWS:
            build_index(table, kind, distance)
        else:
            kind = "FLAT"
        with ctx.writing(f"vector index {index_name!r}") as cur:
            values = {
                "name": ctx.write_name(index_name),
                "vector_table": ctx.read_name(table_name),
                "lance_table": meta["lance_table"],
                "metric": distance,
                "index_type": kind,
                "data_version": table.version,
                "rows": rows,
            }  # type: ignore[attr-defined]
            replace_row(cur, "sel_vector_indexes", values)
        out.append(rows)
    return pa.array(out, pa.int64())


KNN_ROW = pa.struct([("id", pa.int64()), ("distance", pa.float64())])


@sql_function(
    "sel_knn",
    params={"embedding": "FLOAT[]", "index": "VARCHAR", "k": "INTEGER"},
    returns="STRUCT(id BIGINT, distance DOUBLE)[]",
    doc="""The k nearest rows of a vector index to an embedding: [{id, distance}], nearest first.

    One LanceDB query per 128 rows of a batch (never one per row). distance is the index's metric (cosine:
    1 − cosine similarity). A row of the indexed table finds itself first, at distance 0. NULL in, NULL out.""",
    example="SELECT id, sel_knn(embedding, 'pool_index', 3) AS neighbours FROM sel_scratch.vectors LIMIT 5",
)
def sel_knn(ctx: FunctionContext, embedding: pa.Array, index: pa.Array, k: pa.Array) -> pa.Array:
    name = str(constant_argument(index, "index"))
    count = int(constant_argument(k, "k"))
    if count < 1:
        raise ParameterError(f"sel_knn: k must be at least 1; got {count}")
    found = open_index(ctx, name)
    try:
        x = vector_matrix(embedding, found.dim)
    except VectorError as exc:
        raise InputError(f"sel_knn: {exc} (index {name!r} holds {found.dim}-dimensional vectors)") from None
    ids, distances, offsets = knn(found, x, count)
    if ids.dtype.kind not in "iu" or (ids.dtype.kind == "u" and len(ids) and ids.max() >= 2**63):
        raise InputError(
            f"sel_knn: index {name!r} holds rows keyed by text or by integers above BIGINT; sel_knn returns BIGINT "
            "ids. Store the vector table with integer ids (e.g. row_number() OVER (ORDER BY id)), or use the "
            "index through sel_semdedup, which takes keys of any type."
        )
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.StructArray.from_arrays([pa.array(ids), pa.array(distances)], fields=list(KNN_ROW))
    )

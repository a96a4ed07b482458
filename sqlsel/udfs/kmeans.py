"""k-means from SQL: fit a (hierarchical) model into the catalog, then cluster rows with it.

``sel_kmeans_fit`` reads a table, view or query of ``id`` and ``embedding`` rows through its own
cursor (so it sees every row at once, in id order, whatever the thread count), fits with
:func:`sqlsel.kernels.kmeans.hierarchical_kmeans` and stores the centroids in
``sel_kmeans_centroids``. ``sel_cluster``, ``sel_clusters`` and ``sel_centroid_distance`` apply a
stored model per batch.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

from sqlsel.catalog import store_model
from sqlsel.errors import InputError, ParameterError, SqlselError, did_you_mean
from sqlsel.functions import FunctionContext, constant_argument, sql_function
from sqlsel.kernels.kmeans import (
    REFINE,
    SAMPLE,
    SAMPLE_ITERATIONS,
    STRATEGIES,
    Level,
    RowStream,
    hierarchical_kmeans,
)
from sqlsel.kernels.vectors import list_array
from sqlsel.relations import (
    Vectors,
    check_unique_keys,
    memory_budget,
    model_vectors,
    read_vectors,
    stored_shape,
    stream_batch_rows,
    vector_batches,
)
from sqlsel.stored import KMEANS, Hierarchy, load_hierarchy

OPTIONS: dict[str, type] = {
    "iterations": int,
    "steps": list,
    "sample_sizes": list,
    "strategy": str,
    "sample": int,
    "sample_iterations": int,
    "refine": int,
}
#: The smallest value of each integer option ('{"sample": 0}' fits as the reference does).
OPTION_MINIMUM = {"iterations": 1, "sample": 0, "sample_iterations": 1, "refine": 0}
#: What a fit uses when an option is left out; the model records them all, so a refit is the same fit.
DEFAULT_OPTIONS = {"sample": SAMPLE, "sample_iterations": SAMPLE_ITERATIONS, "refine": REFINE}


# ---------------------------------------------------------------------------- fitting


def parse_clusters(text: str) -> list[int]:
    """'1000,100' → [1000, 100]: clusters per level, finest first."""
    try:
        counts = [int(part) for part in str(text).replace(" ", "").split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise ParameterError(
            f"clusters must be positive cluster counts per level, finest first, e.g. '1000,100'; got {text!r}"
        )
    return counts


def parse_options(text: str | None) -> dict[str, Any]:
    """The JSON options of sel_kmeans_fit, checked against :data:`OPTIONS`."""
    try:
        options = json.loads(text) if text else {}
    except json.JSONDecodeError as exc:
        raise ParameterError(f"options must be a JSON object such as '{{\"iterations\": 20}}'; got {text!r}") from exc
    if not isinstance(options, dict):
        raise ParameterError(f"options must be a JSON object; got {text!r}")
    for key, value in options.items():
        if key not in OPTIONS:
            raise ParameterError(
                f"Unknown k-means option {key!r}.{did_you_mean(key, OPTIONS)} Options: {', '.join(OPTIONS)}."
            )
        if not isinstance(value, OPTIONS[key]) or isinstance(value, bool):
            raise ParameterError(f"k-means option {key} must be a {OPTIONS[key].__name__}; got {value!r}")
        if key in OPTION_MINIMUM and value < OPTION_MINIMUM[key]:
            raise ParameterError(f"k-means option {key} must be at least {OPTION_MINIMUM[key]}; got {value!r}")
    if options.get("strategy", "closest") not in STRATEGIES:
        raise ParameterError(
            f"k-means option strategy must be one of {', '.join(STRATEGIES)}; got {options['strategy']!r}"
        )
    return options


def level_sizes(levels: list[Level]) -> list[np.ndarray]:
    """Rows under each cluster, per level."""
    sizes = [levels[0].sizes]
    for level in levels[1:]:
        assert level.labels is not None  # levels above the first cluster centroids, always in memory
        sizes.append(np.bincount(level.labels, weights=sizes[-1], minlength=len(level.centroids)).astype(np.int64))
    return sizes


@sql_function(
    "sel_kmeans_fit",
    params={"name": "VARCHAR", "source": "VARCHAR", "clusters": "VARCHAR", "seed": "BIGINT", "options": "VARCHAR"},
    returns="BIGINT",
    doc="""Fit a (hierarchical) k-means model on the id and embedding columns of a table, view or query.

    clusters: counts per level, finest first ('1000,100': 1000 clusters of rows, then 100 clusters of
    their centroids). Seeded k-means++ and 50 Lloyd iterations per level, on every row while the
    source has at most 256 rows per level-1 cluster; past that, level 1 is fitted as faiss trains on
    large data: 15 iterations from a seeded random pick on 256 rows per cluster (drawn by key hash and
    seed), then 2 iterations on every row (1M × 384 at '1000,100': 49 s instead of 356 s, objective
    0.3% higher). Levels above the first are refitted 10 times on the points closest to each centroid
    (Vo et al. 2024). options (JSON): sample (rows per cluster before sampling; 0 fits on every row
    as the reference does), sample_iterations (Lloyd steps on the sample), refine (steps on every row
    after it), iterations (Lloyd steps of every other fit: an every-row level 1, higher levels and
    their refits), steps (k-means runs per level), sample_sizes (points per cluster in a resampling
    step), strategy (closest|random). The model's params record every option the fit used.
    The source must be readable from another cursor: a table, a view, a query, or a sel_scratch table
    (not TEMP). A sampled fit of a stored table larger than a quarter of DuckDB's memory_limit
    streams it (the sample in memory, each Lloyd step a pass; the same centroids); a view or query is
    read into memory once. Stores the centroids in sel_kmeans_centroids under name; returns the rows
    fitted.
    It writes in a transaction of its own: a caller's ROLLBACK does not undo it.""",
    example=(
        "SELECT sel_kmeans_fit('topics', "
        "'SELECT id, sel_hash_embed(text, 64) AS embedding FROM ''examples/pool.parquet''', '16,4', 42)"
    ),
    side_effects=True,  # it writes to the catalog: DuckDB must call it once per row, never fold it
    null_handling="special",
    defaults={"seed": "0", "options": "'{}'"},
)
def sel_kmeans_fit(
    ctx: FunctionContext, name: pa.Array, source: pa.Array, clusters: pa.Array, seed: pa.Array, options: pa.Array
) -> pa.Array:
    out = []
    for i in range(len(name)):
        model, src, counts = name[i].as_py(), source[i].as_py(), clusters[i].as_py()
        if model is None or src is None or counts is None:
            raise SqlselError("sel_kmeans_fit: name, source and clusters must not be NULL")
        out.append(_fit(ctx, model, src, parse_clusters(counts), int(seed[i].as_py() or 0), options[i].as_py()))
    return pa.array(out, pa.int64())


def _fit(ctx: FunctionContext, name: str, source: str, clusters: list[int], seed: int, options_text: str | None) -> int:
    options = {**DEFAULT_OPTIONS, **parse_options(options_text)}
    ctx.check_writable(f"k-means model {name!r}")
    shape = stored_shape(ctx, source, "sel_kmeans_fit")  # only a stored table is read again, cheaply and the same
    data: Vectors | None = None
    if shape is not None and _streams(options, clusters[0], *shape, memory_budget(ctx)):
        rows, dim = shape
        check_unique_keys(ctx, source, "sel_kmeans_fit")
        batch = stream_batch_rows(dim)
        x: np.ndarray | RowStream = RowStream(
            lambda: ((b.hashes, b.x) for b in vector_batches(ctx, source, "sel_kmeans_fit", batch_rows=batch)),
            rows,
            dim,
        )
    else:
        data = read_vectors(ctx, source, "sel_kmeans_fit")
        x, rows, dim = data.x, len(data.x), data.x.shape[1]
    hashes = None if data is None else data.hashes
    return fit_and_store(ctx, name, x, source, clusters, seed, options, rows, dim, hashes)


def fit_and_store(
    ctx: FunctionContext,
    name: str,
    x: np.ndarray | RowStream,
    source: str,
    clusters: list[int],
    seed: int,
    options: dict[str, Any],
    rows: int,
    dim: int,
    hashes: np.ndarray | None = None,
) -> int:
    """Fit ``x`` (a matrix or a :class:`RowStream`: on Spark, one whose passes run on the executors) and
    store the model under ``name`` (staged during a run); the rows fitted."""
    if clusters[0] > rows:
        raise InputError(f"sel_kmeans_fit: {clusters[0]} clusters asked for but {source!r} has only {rows} rows.")
    try:
        levels = hierarchical_kmeans(x, clusters, seed, hashes=hashes, **options)
    except ValueError as exc:
        raise ParameterError(f"sel_kmeans_fit: {exc}") from None
    sizes = level_sizes(levels)
    table = _centroid_rows(levels, sizes)
    params = json.dumps(
        {
            "clusters": clusters,
            "dim": dim,
            "seed": seed,
            "rows": rows,
            **options,
            "potential": [lv.potential for lv in levels],
        }
    )
    with ctx.writing(f"k-means model {name!r}") as cur:
        store_model(cur, ctx.write_name(name), KMEANS, params, "sel_kmeans_centroids", table)
    return int(sizes[0].sum())


def streams_on_sample(options: dict[str, Any], clusters: int, rows: int) -> bool:
    """Whether a fit's level 1 is a sampled fit that can read its rows as a stream (steps[0] == 1)."""
    return 0 < options["sample"] * clusters < rows and (options.get("steps") or [1])[0] == 1


def _streams(options: dict[str, Any], clusters: int, rows: int, dim: int, budget: int) -> bool:
    """Whether a fit reads its (stored) source as a stream: a sampled level 1 and more vectors than ``budget``."""
    return streams_on_sample(options, clusters, rows) and rows * dim * 4 > budget


def _centroid_rows(levels: list[Level], sizes: list[np.ndarray]) -> pa.Table:
    parts = []
    for i, level in enumerate(levels):
        k = len(level.centroids)
        parent = levels[i + 1].labels if i + 1 < len(levels) else None
        parts.append(
            pa.table(
                {
                    "level": pa.array(np.full(k, i + 1, np.int32)),
                    "cluster": pa.array(np.arange(k, dtype=np.int32)),
                    "parent": pa.array(parent, pa.int32()) if parent is not None else pa.nulls(k, pa.int32()),
                    "size": pa.array(sizes[i]),
                    "centroid": list_array(level.centroids),
                }
            )
        )
    return pa.concat_tables(parts)


# ---------------------------------------------------------------------------- applying


def _vectors(ctx: FunctionContext, embedding: pa.Array, model: pa.Array, what: str) -> tuple[Hierarchy, np.ndarray]:
    name = str(constant_argument(model, "model"))
    tree = load_hierarchy(ctx, name)
    return tree, model_vectors(embedding, tree.dim, what, name, "the model's fit data")


def _paths(ctx: FunctionContext, tree: Hierarchy, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`Hierarchy.paths` of a batch on the connection's threads: faiss's OpenMP splits the search itself."""
    return ctx.with_threads(lambda threads: tree.paths(x, threads))


def _level(level: pa.Array, tree: Hierarchy) -> int:
    value = int(constant_argument(level, "level"))
    if not 1 <= value <= len(tree.centroids):
        raise ParameterError(f"level must be between 1 and {len(tree.centroids)} for this model; got {value}")
    return value


@sql_function(
    "sel_cluster",
    params={"embedding": "FLOAT[]", "model": "VARCHAR", "level": "INTEGER"},
    returns="INTEGER",
    doc="""Cluster of an embedding at a level of a fitted k-means model (0-based; level 1, the finest, by default).

    The nearest level-1 centroid (exact L2 search), then its ancestors: level 2 is the level-2 cluster
    of that centroid, so the levels always nest. NULL embedding in, NULL out.""",
    example="SELECT id, sel_cluster(sel_hash_embed(text, 64), 'topics', 2) AS cluster "
    "FROM 'examples/pool.parquet' LIMIT 5",
    model_param="model",
    defaults={"level": "1"},
)
def sel_cluster(ctx: FunctionContext, embedding: pa.Array, model: pa.Array, level: pa.Array) -> pa.Array:
    tree, x = _vectors(ctx, embedding, model, "sel_cluster")
    path, _ = _paths(ctx, tree, x)
    return pa.array(path[:, _level(level, tree) - 1])


@sql_function(
    "sel_clusters",
    params={"embedding": "FLOAT[]", "model": "VARCHAR"},
    returns="INTEGER[]",
    doc="""Cluster of an embedding at every level of a fitted k-means model: [level 1, level 2, …].""",
    example="SELECT id, sel_clusters(sel_hash_embed(text, 64), 'topics') AS clusters "
    "FROM 'examples/pool.parquet' LIMIT 5",
    model_param="model",
)
def sel_clusters(ctx: FunctionContext, embedding: pa.Array, model: pa.Array) -> pa.Array:
    tree, x = _vectors(ctx, embedding, model, "sel_clusters")
    path, _ = _paths(ctx, tree, x)
    return list_array(path)


@sql_function(
    "sel_centroid_distance",
    params={"embedding": "FLOAT[]", "model": "VARCHAR", "level": "INTEGER"},
    returns="DOUBLE",
    doc="""L2 distance from an embedding to the centroid of its cluster at a level (level 1 by default).

    Small: typical of its cluster; large: an outlier. Balanced sampling's 'closest' strategy keeps the
    rows with the smallest level-1 distance per cluster.""",
    example="SELECT id, sel_centroid_distance(sel_hash_embed(text, 64), 'topics') AS distance "
    "FROM 'examples/pool.parquet' LIMIT 5",
    model_param="model",
    defaults={"level": "1"},
)
def sel_centroid_distance(ctx: FunctionContext, embedding: pa.Array, model: pa.Array, level: pa.Array) -> pa.Array:
    tree, x = _vectors(ctx, embedding, model, "sel_centroid_distance")
    path, _ = _paths(ctx, tree, x)
    lv = _level(level, tree)
    # from the row and its centroid only: faiss's float32 distances round differently with the batch's size
    diff = x - tree.centroids[lv - 1][path[:, lv - 1]]
    return pa.array(np.sqrt(np.einsum("ij,ij->i", diff, diff, dtype=np.float64)))

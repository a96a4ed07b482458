"""Semantic dedup and diverse top-k from SQL, over a table, view or query of id and embedding rows.

Each function reads its whole input through :func:`sqlsel.relations.read_vectors` and returns one
list of structs, so SQL turns it back into rows with ``unnest``::

    SELECT unnest(sel_kcenter('sel_scratch.vectors', 100, 0), recursive := true)

The kernels are in :mod:`sqlsel.kernels.diversity`.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

from sqlsel.errors import InputError, ParameterError, SqlselError
from sqlsel.functions import FunctionContext, constant_argument, sql_function
from sqlsel.kernels.diversity import (
    KEEP,
    Selection,
    centroid_cosine,
    identical_groups,
    kcenter_greedy,
    mmr,
    normalize,
    semdedup,
    semdedup_candidates,
    threshold_greedy,
)
from sqlsel.kernels.sampling import uniform
from sqlsel.relations import Vectors, column_names, read_vectors
from sqlsel.udfs.kmeans import load_hierarchy
from sqlsel.udfs.vectors import VectorIndex, knn, open_index

DEDUP_ROW = pa.struct(
    [
        ("id", pa.int64()),
        ("cluster", pa.int32()),
        ("centroid_distance", pa.float64()),
        ("max_sim", pa.float64()),
        ("dup_of", pa.int64()),
        ("removed", pa.bool_()),
    ]
)
PICK_ROW = pa.struct([("id", pa.int64()), ("rank", pa.int64()), ("nearest_sim", pa.float64())])
DEDUP_TYPE = (
    "STRUCT(id BIGINT, cluster INTEGER, centroid_distance DOUBLE, max_sim DOUBLE, dup_of BIGINT, removed BOOLEAN)[]"
)
PICK_TYPE = "STRUCT(id BIGINT, rank BIGINT, nearest_sim DOUBLE)[]"


def _one(values: pa.Array, what: str) -> object:
    """The value of an argument of a set-level function: one per query, never NULL."""
    value = constant_argument(values, what)
    if value is None:
        raise SqlselError(f"{what} must not be NULL")
    return value


def _k(value: object, n: int, what: str) -> int:
    k = int(value)  # type: ignore[call-overload]
    if not 1 <= k <= n:
        raise ParameterError(f"{what}: k must be between 1 and the number of rows ({n}); got {k}")
    return k


@sql_function(
    "sel_semdedup",
    params={
        "source": "VARCHAR",
        "model": "VARCHAR",
        "eps": "DOUBLE",
        "keep": "VARCHAR",
        "seed": "BIGINT",
        "index": "VARCHAR",
    },
    returns=DEDUP_TYPE,
    doc="""SemDeDup (Abbas et al. 2023): near-duplicates within the k-means clusters of a model, a row per input row.

    Within each level-1 cluster of model, rows are ordered by keep (hard: farthest from the centroid
    first, the reference's default; easy: closest first; random: seeded) and a row is removed when its
    cosine similarity to an earlier row of its cluster exceeds 1 − eps, even if that row was removed too
    (the reference's rule). Fields: cluster, centroid_distance (1 − cosine), removed, and for removed
    rows max_sim and dup_of (the earlier row most similar to it; NULL for kept rows). Reads id and
    embedding from source, and its cluster column when it has one (level-1 clusters of the same model,
    e.g. kept from sel_cluster: saves assigning them again). Exact by default: every pair of a cluster
    that could be a duplicate is compared (pairs whose angles to the centroid differ by more than
    arccos(1 − eps) cannot be). With index (a cosine vector index over the same rows, see
    sel_index_build) each row is checked against its 64 nearest neighbours, exactly, and against its
    whole cluster when all 64 are above 1 − eps: a removal is missed only when the index misses one.
    Similarities within 1e-4 of 1 − eps are decided in float64 (quantized embeddings have exact ties
    there); an exact copy of an earlier row names its first copy as dup_of.""",
    example=(
        "SELECT unnest(sel_semdedup('SELECT id, sel_hash_embed(text, 64) AS embedding FROM ''examples/pool.parquet''',"
        " 'topics', 0.05), recursive := true) LIMIT 5"
    ),
    model_param="model",
    random=True,  # a whole-relation read: never folded or cached by DuckDB
    null_handling="special",
    defaults={"keep": "'hard'", "seed": "0", "index": "NULL"},
)
def sel_semdedup(
    ctx: FunctionContext,
    source: pa.Array,
    model: pa.Array,
    eps: pa.Array,
    keep: pa.Array,
    seed: pa.Array,
    index: pa.Array,
) -> pa.Array:
    if len(source) == 0:
        return pa.array([], pa.list_(DEDUP_ROW))
    keep_rule = str(_one(keep, "keep"))
    if keep_rule not in KEEP:
        raise ParameterError(f"keep must be one of {', '.join(KEEP)}; got {keep_rule!r}")
    tree = load_hierarchy(ctx, str(_one(model, "model")))
    name = str(_one(source, "source"))
    given = ("cluster",) if "cluster" in column_names(ctx, name) else ()
    data = read_vectors(ctx, name, "sel_semdedup", extra=given)
    if data.x.shape[1] != tree.dim:
        raise ParameterError(
            f"sel_semdedup: the embeddings have {data.x.shape[1]} values but model {_one(model, 'model')!r} "
            f"was fitted on {tree.dim}"
        )
    labels = _given_clusters(data, len(tree.centroids[0])) if given else tree.paths(data.x)[0][:, 0]
    c = normalize(tree.centroids[0])
    threads = ctx_threads(ctx)
    distance = 1.0 - centroid_cosine(data.x, c, labels, threads)
    index_name = constant_argument(index, "index")
    rule = (float(_one(eps, "eps")), keep_rule, int(constant_argument(seed, "seed") or 0), data.ids)
    try:
        if index_name is None:
            angles = np.arccos(np.clip(1.0 - distance, -1.0, 1.0))
            result = semdedup(data.x, labels, distance, *rule, angles=angles, threads=threads)
        else:
            groups, firsts = identical_groups(data.x, threads)
            candidates = _neighbours(ctx, str(index_name), data, firsts)[groups]
            result = semdedup_candidates(data.x, labels, distance, rule[0], candidates, *rule[1:], groups=groups)
    except ValueError as exc:
        raise ParameterError(f"sel_semdedup: {exc}") from None
    first = ~result.removed  # max_sim and dup_of explain removals; NULL for kept rows
    rows = pa.StructArray.from_arrays(
        [
            pa.array(data.ids),
            pa.array(labels, pa.int32()),
            pa.array(distance),
            pa.array(np.where(first, np.nan, result.max_sim).astype(np.float64), mask=first),
            pa.array(np.where(first, 0, data.ids[np.maximum(result.dup_of, 0)]), mask=first),
            pa.array(result.removed),
        ],
        fields=list(DEDUP_ROW),
    )
    return _single_list(rows, len(source))


def _given_clusters(data: Vectors, clusters: int) -> np.ndarray:
    """The source's own ``cluster`` column (level-1 clusters of the model, e.g. from sel_cluster), checked."""
    given = data.extra["cluster"]
    bad = (given != np.floor(given)) | (given < 0) | (given >= clusters)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"sel_semdedup: row id {data.ids[row]} has cluster {given[row]:g}, but the model's clusters are "
            f"0 to {clusters - 1}. The source's cluster column must come from sel_cluster(embedding, <model>) "
            "with the same model; drop the column to let sel_semdedup assign clusters itself."
        )
    return given.astype(np.int32)


def ctx_threads(ctx: FunctionContext) -> int:
    """The connection's DuckDB thread setting: how many cores a whole-relation kernel may use."""
    return max(1, int(ctx.query("SELECT current_setting('threads')")[0][0]))


NEIGHBOURS = 64  # candidates per row for index-backed SemDeDup


def _neighbours(ctx: FunctionContext, name: str, data: Vectors, rows: np.ndarray) -> np.ndarray:
    """Row indices of the nearest neighbours of ``rows`` in a cosine index over the same rows (−1 pads).

    The last answer is kept per index version and set of ids: trying several eps values on the same
    rows queries the index once.
    """
    found = open_index(ctx, name, metric="cosine")
    if found.dim != data.x.shape[1]:
        raise ParameterError(f"vector index {name!r} holds {found.dim}-dimensional vectors, not {data.x.shape[1]}")
    digest = hashlib.sha256(data.ids.tobytes() + rows.tobytes()).hexdigest()
    key = ("neighbours", name, found.table.version, digest)
    cached = ctx.cache.get("neighbours")
    if cached is not None and cached[0] == key:
        return cached[1]
    out = _query_neighbours(found, data, rows, ctx_threads(ctx))
    with ctx.lock:
        ctx.cache["neighbours"] = (key, out)
    return out


def _query_neighbours(found: VectorIndex, data: Vectors, query_rows: np.ndarray, threads: int) -> np.ndarray:
    out = np.full((len(query_rows), NEIGHBOURS), -1, np.int64)
    for start in range(0, len(query_rows), 8192):
        ids, _, offsets = knn(found, data.x[query_rows[start : start + 8192]], NEIGHBOURS, threads)
        rows = np.searchsorted(data.ids, ids)
        known = (rows < len(data.ids)) & (data.ids[np.minimum(rows, len(data.ids) - 1)] == ids)
        counts = np.diff(offsets)
        slot = np.arange(len(ids)) - np.repeat(offsets[:-1], counts)
        owner = np.repeat(np.arange(len(counts)), counts) + start
        out[owner[known], slot[known]] = rows[known]
    return out


def _single_list(rows: pa.Array, copies: int) -> pa.Array:
    """The result as one list value per calling row (the arguments are the same on every row)."""
    offsets = pa.array(np.arange(copies + 1, dtype=np.int32) * len(rows))
    return pa.ListArray.from_arrays(offsets, rows if copies == 1 else pa.concat_arrays([rows] * copies))


def _picks(data: Vectors, selection: Selection) -> pa.Array:
    """Selected rows in order: id, rank (1-based) and cosine similarity to the nearest earlier pick."""
    e = normalize(data.x[selection.order])
    nearest = np.full(len(e), np.nan)
    for start in range(1, len(e), 4096):  # max similarity to earlier picks, a block of picks at a time
        sims = e[start : start + 4096] @ e[: start + 4096].T
        sims[np.arange(sims.shape[0])[:, None] + start <= np.arange(sims.shape[1])[None, :]] = -np.inf
        nearest[start : start + 4096] = sims.max(axis=1)
    return pa.StructArray.from_arrays(
        [
            pa.array(data.ids[selection.order]),
            pa.array(np.arange(1, len(e) + 1, dtype=np.int64)),
            pa.array(nearest, mask=np.isnan(nearest)),
        ],
        fields=list(PICK_ROW),
    )


@sql_function(
    "sel_kcenter",
    params={"source": "VARCHAR", "k": "BIGINT", "seed": "BIGINT"},
    returns=PICK_TYPE,
    doc="""k-center greedy (farthest-first): k rows of source that cover its embedding space, in selection order.

    Starts at the row with the smallest seeded hash of its id, then repeatedly takes the row farthest
    (Euclidean) from every row taken so far; ties go to the lowest id. Exact, same picks as the eager
    O(N·k) loop but lazy: only rows that reach the top of a heap of stale distances are updated.
    Fields: id, rank, nearest_sim (cosine similarity to the nearest earlier pick).""",
    example=(
        "SELECT unnest(sel_kcenter('SELECT id, sel_hash_embed(text, 64) AS embedding FROM ''examples/pool.parquet''',"
        " 10, 0), recursive := true)"
    ),
    random=True,
    null_handling="special",
    defaults={"seed": "0"},
)
def sel_kcenter(ctx: FunctionContext, source: pa.Array, k: pa.Array, seed: pa.Array) -> pa.Array:
    if len(source) == 0:
        return pa.array([], pa.list_(PICK_ROW))
    data = read_vectors(ctx, str(_one(source, "source")), "sel_kcenter")
    count = _k(_one(k, "k"), len(data.ids), "sel_kcenter")
    start = int(np.lexsort((data.ids, uniform(data.ids, int(constant_argument(seed, "seed") or 0))))[0])
    return _single_list(_picks(data, kcenter_greedy(data.x, count, start)), len(source))


@sql_function(
    "sel_mmr",
    params={"source": "VARCHAR", "k": "BIGINT", "lambda_": "DOUBLE"},
    returns=PICK_TYPE,
    doc="""Maximal marginal relevance: k rows trading relevance against redundancy, in selection order.

    Reads id, embedding and relevance from source. First the most relevant row, then the row
    maximising lambda_·relevance − (1 − lambda_)·(max cosine similarity to the rows taken); ties go to
    the lowest id. lambda_ = 1 is plain top-k by relevance, 0 pure diversity.""",
    example=(
        "SELECT unnest(sel_mmr('SELECT id, sel_hash_embed(text, 64) AS embedding, length(text) / 2000 AS relevance "
        "FROM ''examples/pool.parquet''', 10, 0.5), recursive := true)"
    ),
    random=True,
    null_handling="special",
    defaults={"lambda_": "0.5"},
)
def sel_mmr(ctx: FunctionContext, source: pa.Array, k: pa.Array, lam: pa.Array) -> pa.Array:
    if len(source) == 0:
        return pa.array([], pa.list_(PICK_ROW))
    data = read_vectors(ctx, str(_one(source, "source")), "sel_mmr", extra=("relevance",))
    count = _k(_one(k, "k"), len(data.ids), "sel_mmr")
    try:
        selection = mmr(data.x, data.extra["relevance"], count, float(_one(lam, "lambda")))  # type: ignore[arg-type]
    except ValueError as exc:
        raise ParameterError(f"sel_mmr: {exc}") from None
    return _single_list(_picks(data, selection), len(source))


@sql_function(
    "sel_threshold_greedy",
    params={"source": "VARCHAR", "k": "BIGINT", "tau": "DOUBLE"},
    returns=PICK_TYPE,
    doc="""Threshold-greedy: walk rows by score (highest first, ties by id), keep a row when its cosine
    similarity to every kept row is below tau; stop at k rows.

    Reads id, embedding and score from source. Fewer than k rows come back when the data has fewer
    rows that far apart.""",
    example=(
        "SELECT unnest(sel_threshold_greedy('SELECT id, sel_hash_embed(text, 64) AS embedding, -id AS score "
        "FROM ''examples/pool.parquet''', 10, 0.5), recursive := true)"
    ),
    random=True,
    null_handling="special",
)
def sel_threshold_greedy(ctx: FunctionContext, source: pa.Array, k: pa.Array, tau: pa.Array) -> pa.Array:
    if len(source) == 0:
        return pa.array([], pa.list_(PICK_ROW))
    data = read_vectors(ctx, str(_one(source, "source")), "sel_threshold_greedy", extra=("score",))
    count = _k(_one(k, "k"), len(data.ids), "sel_threshold_greedy")
    order = np.lexsort((data.ids, -data.extra["score"]))
    selection = threshold_greedy(data.x, order, float(_one(tau, "tau")), limit=count)  # type: ignore[arg-type]
    return _single_list(_picks(data, selection), len(source))

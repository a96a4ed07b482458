"""Semantic dedup and diverse top-k from SQL: one relation of id and embedding rows in, one table out.

Each function reads its whole input through :func:`sqlsel.relations.read_vectors` and writes its
rows to the table named by its first argument, keys in the source's own type (any integer or string
key comes back as it went in); it returns the number of rows written::

    SELECT sel_kcenter('sel_scratch.picks', 'sel_scratch.vectors', 100, 0);
    SELECT * FROM sel_scratch.picks ORDER BY rank;

The kernels are in :mod:`sqlsel.kernels.diversity`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from sqlsel.duck import sql_string
from sqlsel.errors import InputError, ParameterError, SqlselError
from sqlsel.functions import FunctionContext, constant_argument, sql_function
from sqlsel.kernels.diversity import (
    KEEP,
    SEMDEDUP_KERNELS,
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
from sqlsel.kernels.kmeans import fit_threads, search_threads
from sqlsel.kernels.sampling import uniform
from sqlsel.kernels.submodular import CoverageGraph, cosine_knn_graph, cosine_similarities, submodular_select
from sqlsel.kernels.vectors import permute_rows
from sqlsel.lance import VectorIndex, knn
from sqlsel.relations import (
    VectorBatch,
    Vectors,
    check_unique_keys,
    column_names,
    describe_source,
    key_array,
    memory_budget,
    read_vectors,
    source_rows,
    stream_batch_rows,
    vector_batches,
    write_rows,
)
from sqlsel.stored import Hierarchy, load_hierarchy, open_index

_INTO = """ into_table is a qualified table name (sel_scratch.<name> keeps it in memory; it cannot be TEMP),
    written in a transaction of the function's own: a caller's ROLLBACK does not undo it."""


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


def _written(
    ctx: FunctionContext, into: pa.Array, rows: pa.Table, data: Vectors, keys: tuple[str, ...], copies: int
) -> pa.Array:
    """Write ``rows`` to the table ``into`` names; the row count, once per calling row."""
    count = write_rows(ctx, str(_one(into, "into_table")), rows, data.key_type, keys)
    return pa.array([count] * copies, pa.int64())


@sql_function(
    "sel_semdedup",
    params={
        "into_table": "VARCHAR",
        "source": "VARCHAR",
        "model": "VARCHAR",
        "eps": "DOUBLE",
        "keep": "VARCHAR",
        "seed": "BIGINT",
        "index": "VARCHAR",
    },
    returns="BIGINT",
    doc="""SemDeDup (Abbas et al. 2023): near-duplicates within the k-means clusters of a model, a row per input row.

    Writes table into_table (id, cluster, centroid_distance, max_sim, dup_of, removed) and returns its row
    count. Within each level-1 cluster of model, rows are ordered by keep (hard: farthest from the
    centroid first, the reference's default; easy: closest first; random: seeded by each key's hash)
    and a row is removed when its cosine similarity to an earlier row of its cluster exceeds 1 − eps,
    even if that row was removed too (the reference's rule). centroid_distance is 1 − cosine; max_sim
    and dup_of (the earlier row most similar to it) explain removed rows and are NULL for kept ones.
    Reads id (any integer or string key; id and dup_of come back in its type) and embedding from
    source, and its cluster column when it has one (level-1 clusters of the same model, e.g. from
    sel_cluster: saves assigning them again). Exact by default: every pair of a cluster that could be
    a duplicate is compared (pairs whose angles to the centroid differ by more than arccos(1 − eps)
    cannot be). With index (a cosine vector index over the same rows, see sel_index_build) each row is
    checked against its 64 nearest neighbours, exactly, and against its whole cluster when all 64 are
    above 1 − eps: a removal is missed only when the index misses one. Similarities within 1e-4 of
    1 − eps are decided in float64 (quantized embeddings have exact ties there); an exact copy of an
    earlier row names its first copy as dup_of. Without index, a source larger than a quarter of
    DuckDB's memory_limit is read sorted by cluster and deduplicated a part of whole clusters at a
    time, with the same result."""
    + _INTO,
    example=(
        "SELECT sel_semdedup('sel_scratch.dedup', 'SELECT id, sel_hash_embed(text, 64) AS embedding "
        "FROM ''examples/pool.parquet''', 'topics', 0.05)"
    ),
    model_param="model",
    side_effects=True,  # it writes a table: DuckDB must call it once per row, never fold it
    null_handling="special",
    defaults={"keep": "'hard'", "seed": "0", "index": "NULL"},
    kernels=SEMDEDUP_KERNELS,
)
def sel_semdedup(
    ctx: FunctionContext,
    into: pa.Array,
    source: pa.Array,
    model: pa.Array,
    eps: pa.Array,
    keep: pa.Array,
    seed: pa.Array,
    index: pa.Array,
) -> pa.Array:
    keep_rule = str(_one(keep, "keep"))
    if keep_rule not in KEEP:
        raise ParameterError(f"keep must be one of {', '.join(KEEP)}; got {keep_rule!r}")
    model_name = str(_one(model, "model"))
    tree = load_hierarchy(ctx, model_name)
    name = str(_one(source, "source"))
    given = ("cluster",) if "cluster" in column_names(ctx, name) else ()
    key_type = describe_source(ctx, name, "sel_semdedup", ("id", "embedding", *given))
    rule = DedupRule(float(_one(eps, "eps")), keep_rule, int(constant_argument(seed, "seed") or 0), ctx.threads())
    index_name = constant_argument(index, "index")
    rows, dim = source_rows(ctx, name, "sel_semdedup"), tree.dim  # rows of any other size are refused as read
    into_table = str(_one(into, "into_table"))
    budget = memory_budget(ctx)
    if index_name is None and rows * dim * 4 > budget:
        check_unique_keys(ctx, name, "sel_semdedup")
        # a part is held twice while it is gathered; results (37 bytes a row) are written once the sort is done:
        # DuckDB, holding the sorted rows it streams, may have no room under its limit for inserts before that
        parts = _cluster_parts(ctx, name, model_name, given, key_type, budget // 4, stream_batch_rows(dim))
        results = []
        for part in parts:
            check_model_dim(part.x.shape[1], tree, model_name)
            results.append(dedup_part(part, tree, rule))
        table = pa.concat_tables(results)
        count = write_rows(ctx, into_table, table, key_type, ("id", "dup_of"))
    else:
        data = read_vectors(ctx, name, "sel_semdedup", extra=given)
        check_model_dim(data.x.shape[1], tree, model_name)
        neighbours = None if index_name is None else _index_candidates(ctx, str(index_name), data, rule.threads)
        count = write_rows(ctx, into_table, dedup_part(data, tree, rule, neighbours), key_type, ("id", "dup_of"))
    return pa.array([count] * len(source), pa.int64())


@dataclass(frozen=True)
class DedupRule:
    eps: float
    keep: str
    seed: int
    threads: int


def check_model_dim(dim: int, tree: Hierarchy, model: str) -> None:
    if dim != tree.dim:
        raise ParameterError(
            f"sel_semdedup: the embeddings have {dim} values but model {model!r} was fitted on {tree.dim}"
        )


def dedup_part(
    data: Vectors, tree: Hierarchy, rule: DedupRule, neighbours: tuple[np.ndarray, np.ndarray] | None = None
) -> pa.Table:
    """SemDeDup's rows for whole clusters (every row of each cluster in ``data``, sorted by key)."""
    known = "cluster" in data.extra  # the source's column, or sel_cluster's answer in a read by cluster
    labels = _given_clusters(data, len(tree.centroids[0])) if known else tree.paths(data.x)[0][:, 0]
    distance = 1.0 - centroid_cosine(data.x, normalize(tree.centroids[0]), labels, rule.threads)
    n = len(data.x)
    # rows are sorted by key, so positions break ties in key order; key hashes seed the random order
    args = (rule.eps, rule.keep, rule.seed, np.arange(n))
    try:
        if neighbours is None:
            angles = np.arccos(np.clip(1.0 - distance, -1.0, 1.0))
            result = semdedup(data.x, labels, distance, *args, angles=angles, threads=rule.threads, hashes=data.hashes)
        else:
            candidates, groups = neighbours
            result = semdedup_candidates(
                data.x, labels, distance, rule.eps, candidates, *args[1:], groups=groups, hashes=data.hashes
            )
    except ValueError as exc:
        raise ParameterError(f"sel_semdedup: {exc}") from None
    kept = ~result.removed  # max_sim and dup_of explain removals; NULL for kept rows
    dup_of = key_array(data, np.maximum(result.dup_of, 0))
    return pa.table(
        {
            "id": key_array(data, np.arange(n)),
            "cluster": pa.array(labels, pa.int32()),
            "centroid_distance": pa.array(distance),
            "max_sim": pa.array(np.where(kept, np.nan, result.max_sim).astype(np.float64), mask=kept),
            "dup_of": pc.if_else(pa.array(kept), pa.nulls(n, dup_of.type), dup_of),
            "removed": pa.array(result.removed),
        }
    )


def _index_candidates(ctx: FunctionContext, index: str, data: Vectors, threads: int) -> tuple[np.ndarray, np.ndarray]:
    groups, firsts = identical_groups(data.x, threads)
    return _neighbours(ctx, index, data, firsts)[groups], groups


def _cluster_parts(
    ctx: FunctionContext, source: str, model: str, given: tuple[str, ...], key_type: str, budget: int, batch_rows: int
) -> Iterator[Vectors]:
    """The rows of ``source`` as parts of whole level-1 clusters, each up to about ``budget`` bytes of vectors.

    DuckDB sorts the rows by cluster (spilling to its temp directory past memory_limit) and streams
    them; a part is cut where a cluster ends, so only a cluster larger than the budget makes a part
    larger. Each part's rows are sorted by key, as a whole read's are: a cluster's result does not
    depend on which part it is in.
    """
    computed = {} if given else {"cluster": f"sel_cluster(embedding, {sql_string(model)})"}
    held: list[VectorBatch] = []
    size = 0
    batches = vector_batches(
        ctx, source, "sel_semdedup", given, computed=computed, order_by="cluster", batch_rows=batch_rows
    )
    for batch in batches:
        held.append(batch)
        size += batch.x.nbytes
        if size >= budget:
            last = batch.extra["cluster"][-1]
            done = [b.take(b.extra["cluster"] < last) for b in held]
            held = [b for b in (b.take(b.extra["cluster"] == last) for b in held) if len(b.keys)]
            size = sum(b.x.nbytes for b in held)
            if any(len(b.keys) for b in done):
                yield sorted_part(done, key_type)
    if held:
        yield sorted_part(held, key_type)


def sorted_part(batches: list[VectorBatch], key_type: str) -> Vectors:
    """One part of whole clusters as :class:`Vectors`: rows sorted by key (the batches are released as copied)."""
    keys = np.concatenate([b.keys for b in batches])
    order = np.argsort(keys, kind="stable")
    x = np.empty((len(keys), batches[0].x.shape[1]), np.float32)
    at = 0
    for b in batches:
        x[at : at + len(b.x)] = b.x
        at += len(b.x)
    hashes = np.concatenate([b.hashes for b in batches])[order]
    clusters = np.concatenate([b.extra["cluster"] for b in batches])[order]
    batches.clear()
    permute_rows(x, order.astype(np.int64))
    return Vectors(keys[order], key_type, hashes, x, {"cluster": clusters})


def _given_clusters(data: Vectors, clusters: int) -> np.ndarray:
    """The source's own ``cluster`` column (level-1 clusters of the model, e.g. from sel_cluster), checked."""
    given = data.extra["cluster"]
    bad = (given != np.floor(given)) | (given < 0) | (given >= clusters)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"sel_semdedup: row id {data.key(row)!r} has cluster {given[row]:g}, but the model's clusters are "
            f"0 to {clusters - 1}. The source's cluster column must come from sel_cluster(embedding, <model>) "
            "with the same model; drop the column to let sel_semdedup assign clusters itself."
        )
    return given.astype(np.int32)


NEIGHBOURS = 64  # candidates per row for index-backed SemDeDup


def _neighbours(ctx: FunctionContext, name: str, data: Vectors, rows: np.ndarray) -> np.ndarray:
    """Row indices of the nearest neighbours of ``rows`` in a cosine index over the same rows (−1 pads).

    The last answer is kept per index version, keys, rows and vectors: trying several eps values on the
    same rows queries the index once, and re-embedded rows under the same keys query it again.
    """
    found = open_index(ctx, name, metric="cosine")
    if found.dim != data.x.shape[1]:
        raise ParameterError(f"vector index {name!r} holds {found.dim}-dimensional vectors, not {data.x.shape[1]}")
    digest = xxhash.xxh3_128()
    for part in (data.hashes, rows, data.x):  # the keys, the rows asked about and their vectors
        digest.update(np.ascontiguousarray(part).data)
    key = (name, found.table.version, digest.hexdigest())
    return ctx.latest("neighbours", key, lambda: _query_neighbours(found, data, rows, ctx.threads()))


def _query_neighbours(found: VectorIndex, data: Vectors, query_rows: np.ndarray, threads: int) -> np.ndarray:
    out = np.full((len(query_rows), NEIGHBOURS), -1, np.int64)
    keys = data.keys
    for start in range(0, len(query_rows), 8192):
        ids, _, offsets = knn(found, data.x[query_rows[start : start + 8192]], NEIGHBOURS, threads)
        rows = np.searchsorted(keys, ids)
        known = (rows < len(keys)) & (keys[np.minimum(rows, len(keys) - 1)] == ids)
        counts = np.diff(offsets)
        slot = np.arange(len(ids)) - np.repeat(offsets[:-1], counts)
        owner = np.repeat(np.arange(len(counts)), counts) + start
        out[owner[known], slot[known]] = rows[known]
    return out


def _picks(data: Vectors, selection: Selection, cosine_scores: bool) -> pa.Table:
    """Selected rows in order: id, rank (1-based) and cosine similarity to the nearest earlier pick.

    MMR and threshold-greedy score each pick by that similarity already (``cosine_scores``); k-center
    scores the Euclidean distance, so the cosine is computed here.
    """
    if cosine_scores:
        nearest = np.where(np.isfinite(selection.score), selection.score, np.nan)
    else:
        nearest = _nearest_earlier_cosine(normalize(data.x[selection.order]))
    return pa.table(
        {
            "id": key_array(data, np.asarray(selection.order)),
            "rank": pa.array(np.arange(1, len(nearest) + 1, dtype=np.int64)),
            "nearest_sim": pa.array(nearest, mask=np.isnan(nearest)),
        }
    )


def _nearest_earlier_cosine(e: np.ndarray, block: int = 1024) -> np.ndarray:
    """Per row of ``e`` (unit rows), the max cosine similarity to the rows before it; NaN for the first.

    Blocks of ``block`` × ``block`` similarities at a time, so memory does not grow with the rows.
    """
    nearest = np.full(len(e), -np.inf)
    for start in range(0, len(e), block):
        rows = e[start : start + block]
        for earlier in range(0, start + len(rows), block):
            sims = rows @ e[earlier : earlier + block].T
            mask = np.arange(start, start + len(rows))[:, None] <= np.arange(earlier, earlier + sims.shape[1])[None, :]
            sims[mask] = -np.inf
            np.maximum(nearest[start : start + len(rows)], sims.max(axis=1), out=nearest[start : start + len(rows)])
    return np.where(np.isfinite(nearest), nearest, np.nan)


_PICKS = """ Writes table into_table (id in the source's key type, rank from 1, nearest_sim: cosine similarity to the
    nearest earlier pick) and returns its row count."""


@sql_function(
    "sel_kcenter",
    params={"into_table": "VARCHAR", "source": "VARCHAR", "k": "BIGINT", "seed": "BIGINT"},
    returns="BIGINT",
    doc="""k-center greedy (farthest-first): k rows of source that cover its embedding space, in selection order.

    Starts at the row with the smallest seeded hash of its key, then repeatedly takes the row farthest
    (Euclidean) from every row taken so far; ties go to the lowest key. Exact, same picks as the eager
    O(N·k) loop but lazy: only rows that reach the top of a heap of stale distances are updated."""
    + _PICKS
    + _INTO,
    example=(
        "SELECT sel_kcenter('sel_scratch.picks', 'SELECT id, sel_hash_embed(text, 64) AS embedding "
        "FROM ''examples/pool.parquet''', 10, 0)"
    ),
    side_effects=True,
    null_handling="special",
    defaults={"seed": "0"},
)
def sel_kcenter(ctx: FunctionContext, into: pa.Array, source: pa.Array, k: pa.Array, seed: pa.Array) -> pa.Array:
    data = read_vectors(ctx, str(_one(source, "source")), "sel_kcenter")
    n = len(data.x)
    count = _k(_one(k, "k"), n, "sel_kcenter")
    start = int(np.lexsort((np.arange(n), uniform(data.hashes, int(constant_argument(seed, "seed") or 0))))[0])
    return _written(
        ctx, into, _picks(data, kcenter_greedy(data.x, count, start), cosine_scores=False), data, ("id",), len(source)
    )


@sql_function(
    "sel_mmr",
    params={"into_table": "VARCHAR", "source": "VARCHAR", "k": "BIGINT", "lambda_": "DOUBLE"},
    returns="BIGINT",
    doc="""Maximal marginal relevance: k rows trading relevance against redundancy, in selection order.

    Reads id, embedding and relevance (finite numbers) from source. First the most relevant row, then
    the row maximising lambda_·relevance − (1 − lambda_)·(max cosine similarity to the rows taken);
    ties go to the lowest key. Cosine similarities lie in [−1, 1], so relevance should be on a
    comparable scale (the diverse_topk recipe rescales its score column to [0, 1]): on a much wider
    scale relevance dominates and MMR becomes top-k by relevance. lambda_ = 1 is plain top-k by
    relevance, 0 pure diversity."""
    + _PICKS
    + _INTO,
    example=(
        "SELECT sel_mmr('sel_scratch.picks', 'SELECT id, sel_hash_embed(text, 64) AS embedding, "
        "least(length(text) / 2000, 1) AS relevance FROM ''examples/pool.parquet''', 10, 0.5)"
    ),
    side_effects=True,
    null_handling="special",
    defaults={"lambda_": "0.5"},
)
def sel_mmr(ctx: FunctionContext, into: pa.Array, source: pa.Array, k: pa.Array, lam: pa.Array) -> pa.Array:
    data = read_vectors(ctx, str(_one(source, "source")), "sel_mmr", extra=("relevance",))
    count = _k(_one(k, "k"), len(data.x), "sel_mmr")
    try:
        selection = mmr(data.x, data.extra["relevance"], count, float(_one(lam, "lambda")))  # type: ignore[arg-type]
    except ValueError as exc:
        raise ParameterError(f"sel_mmr: {exc}") from None
    return _written(ctx, into, _picks(data, selection, cosine_scores=True), data, ("id",), len(source))


@sql_function(
    "sel_threshold_greedy",
    params={"into_table": "VARCHAR", "source": "VARCHAR", "k": "BIGINT", "tau": "DOUBLE"},
    returns="BIGINT",
    doc="""Threshold-greedy: walk rows by score (highest first, ties by key), keep a row when its cosine
    similarity to every kept row is below tau; stop at k rows.

    Reads id, embedding and score (finite numbers) from source. Fewer than k rows come back when the
    data has fewer rows that far apart."""
    + _PICKS
    + _INTO,
    example=(
        "SELECT sel_threshold_greedy('sel_scratch.picks', 'SELECT id, sel_hash_embed(text, 64) AS embedding, "
        "-id AS score FROM ''examples/pool.parquet''', 10, 0.5)"
    ),
    side_effects=True,
    null_handling="special",
)
def sel_threshold_greedy(
    ctx: FunctionContext, into: pa.Array, source: pa.Array, k: pa.Array, tau: pa.Array
) -> pa.Array:
    data = read_vectors(ctx, str(_one(source, "source")), "sel_threshold_greedy", extra=("score",))
    count = _k(_one(k, "k"), len(data.x), "sel_threshold_greedy")
    order = np.lexsort((np.arange(len(data.x)), -data.extra["score"]))
    selection = threshold_greedy(data.x, order, float(_one(tau, "tau")), limit=count)  # type: ignore[arg-type]
    return _written(ctx, into, _picks(data, selection, cosine_scores=True), data, ("id",), len(source))


@sql_function(
    "sel_facility_location",
    params={"into_table": "VARCHAR", "source": "VARCHAR", "k": "BIGINT", "neighbours": "INTEGER"},
    returns="BIGINT",
    doc="""Facility location (submodular coverage): k rows that best represent every row, by lazy greedy.

    Maximises Σ over rows of the squared cosine similarity to their most similar pick (apricot-select's
    facility location with metric cosine; the same picks as its greedy). neighbours = 0 compares every
    pair: N × N doubles, refused when they exceed a quarter of DuckDB's memory_limit (16,000 rows take
    2 GB); neighbours = m keeps each row's m most similar rows (exact search, by squared cosine) and a row
    then covers only those, in memory N × m. Ties go to the lowest key. Writes table into_table (id in the source's key
    type, rank from 1, gain: the pick's marginal coverage, nearest_sim: cosine similarity to the nearest
    earlier pick) and returns its row count."""
    + _INTO,
    example=(
        "SELECT sel_facility_location('sel_scratch.picks', 'SELECT id, sel_hash_embed(text, 64) AS embedding "
        "FROM ''examples/pool.parquet''', 10)"
    ),
    side_effects=True,
    null_handling="special",
    defaults={"neighbours": "0"},
)
def sel_facility_location(
    ctx: FunctionContext, into: pa.Array, source: pa.Array, k: pa.Array, neighbours: pa.Array
) -> pa.Array:
    return _coverage(ctx, into, source, k, neighbours, "facility", None, "sel_facility_location")


def _coverage(
    ctx: FunctionContext,
    into: pa.Array,
    source: pa.Array,
    k: pa.Array,
    neighbours: pa.Array,
    objective: str,
    alpha: float | None,
    what: str,
) -> pa.Array:
    """A submodular coverage objective's picks (kernels/submodular.py), over every pair or a kNN graph."""
    data = read_vectors(ctx, str(_one(source, "source")), what)
    n = len(data.x)
    count = _k(_one(k, "k"), n, what)
    m = int(constant_argument(neighbours, "neighbours") or 0)
    if m < 0:
        raise ParameterError(f"{what}: neighbours must be 0 (every pair) or positive; got {m}")
    if alpha is not None and not alpha > 0:
        raise ParameterError(f"{what}: alpha must be positive; got {alpha}")
    needed, budget = (8 * n * n if m == 0 else 32 * n * min(m, n)), memory_budget(ctx)
    if needed > budget:
        scope = f"comparing every pair of {n:,} rows" if m == 0 else f"{m} neighbours of {n:,} rows"
        raise ParameterError(
            f"{what}: {scope} needs {needed / 1e9:.1f} GB, more than a quarter of memory_limit "
            f"({budget / 1e9:.1f} GB). Pass fewer neighbours (neighbours := 64 in SQL, -p neighbours=64 to "
            "diverse_topk: each row covers its 64 most similar rows), raise memory_limit, or select from a sample."
        )
    if m == 0:
        similarities: np.ndarray | CoverageGraph = cosine_similarities(data.x)
    else:
        search_threads(min(ctx.threads(), fit_threads()))  # faiss's setting is per thread: set it for this one
        similarities = cosine_knn_graph(data.x, m)
    picks = submodular_select(similarities, count, objective, alpha)
    del similarities
    # the pick table of k-center (its scores are not cosines either), with each pick's gain beside its rank
    table = _picks(data, Selection(picks.order, picks.gains), cosine_scores=False)
    return _written(ctx, into, table.add_column(2, "gain", pa.array(picks.gains)), data, ("id",), len(source))


def _alpha(alpha: pa.Array) -> float:
    value = constant_argument(alpha, "alpha")
    return float(value) if value is not None else float("nan")


@sql_function(
    "sel_saturated_coverage",
    params={"into_table": "VARCHAR", "source": "VARCHAR", "k": "BIGINT", "alpha": "DOUBLE", "neighbours": "INTEGER"},
    returns="BIGINT",
    doc="""Saturated coverage (submodular): k rows such that every row holds an alpha share of its similarity.

    Maximises Σ_i min(Σ_{j∈S} s(i, j), alpha · Σ_u s(i, u)), s the squared cosine similarity, by lazy
    greedy (apricot-select's SaturatedCoverageSelection, alpha 0.1 its default; the same picks as its
    naive greedy). Unlike facility location, a row is helped by several picks until it saturates.
    neighbours as in sel_facility_location (0: every pair, N × N doubles; m: each row's m most
    similar rows). Writes table into_table (id, rank, gain, nearest_sim) and returns its row count."""
    + _INTO,
    example=(
        "SELECT sel_saturated_coverage('sel_scratch.picks', 'SELECT id, sel_hash_embed(text, 64) AS embedding "
        "FROM ''examples/pool.parquet''', 10)"
    ),
    side_effects=True,
    null_handling="special",
    defaults={"alpha": "0.1", "neighbours": "0"},
)
def sel_saturated_coverage(
    ctx: FunctionContext, into: pa.Array, source: pa.Array, k: pa.Array, alpha: pa.Array, neighbours: pa.Array
) -> pa.Array:
    return _coverage(ctx, into, source, k, neighbours, "saturated", _alpha(alpha), "sel_saturated_coverage")


@sql_function(
    "sel_graph_cut",
    params={"into_table": "VARCHAR", "source": "VARCHAR", "k": "BIGINT", "alpha": "DOUBLE", "neighbours": "INTEGER"},
    returns="BIGINT",
    doc="""Graph cut (submodular): k rows similar to the whole set and unlike each other.

    Maximises alpha · Σ_i Σ_{j∈S} s(i, j) − Σ_{i,j∈S} s(i, j), s the squared cosine similarity, by lazy
    greedy (apricot-select's GraphCutSelection, alpha 1 its default; the same picks as its naive
    greedy). It is not monotone: once the picks crowd each other, gains turn negative and are still
    taken in order. neighbours as in sel_facility_location. Writes table into_table (id, rank, gain,
    nearest_sim) and returns its row count."""
    + _INTO,
    example=(
        "SELECT sel_graph_cut('sel_scratch.picks', 'SELECT id, sel_hash_embed(text, 64) AS embedding "
        "FROM ''examples/pool.parquet''', 10)"
    ),
    side_effects=True,
    null_handling="special",
    defaults={"alpha": "1.0", "neighbours": "0"},
)
def sel_graph_cut(
    ctx: FunctionContext, into: pa.Array, source: pa.Array, k: pa.Array, alpha: pa.Array, neighbours: pa.Array
) -> pa.Array:
    return _coverage(ctx, into, source, k, neighbours, "graph_cut", _alpha(alpha), "sel_graph_cut")

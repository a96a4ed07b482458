"""Sample quotas from SQL: balanced (hierarchical water-fill) and CCS (stratified) allocations.

Both take the group sizes as lists (one aggregate row) and return quotas in the same order, so a
recipe zips them back with ``unnest``. The kernels are in :mod:`sqlsel.kernels.quotas`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sqlsel.errors import InputError, ParameterError
from sqlsel.functions import FunctionContext, sql_function
from sqlsel.kernels.quotas import hierarchical_quotas, stratified_quotas
from sqlsel.stored import load_hierarchy


def _lists(values: pa.Array, i: int, what: str) -> np.ndarray:
    items = values[i].as_py()
    if items is None or any(v is None for v in items):
        raise InputError(f"{what} must be a list without NULLs")
    return np.asarray(items, np.int64)


def _count(n: pa.Array, i: int, what: str) -> int:
    value = n[i].as_py()
    if value is None or value < 0:
        raise ParameterError(f"{what} must be a non-negative number of rows; got {value!r}")
    return int(value)


@sql_function(
    "sel_balanced_quotas",
    params={"model": "VARCHAR", "clusters": "INTEGER[]", "sizes": "BIGINT[]", "n": "BIGINT", "seed": "BIGINT"},
    returns="BIGINT[]",
    doc="""Rows to take from each level-1 cluster so a sample of n is balanced down a k-means hierarchy.

    clusters/sizes: the level-1 clusters present and their row counts. Water-fills n over the top
    level's clusters (each gets min(cut, size), a seeded +1 for the remainder; Vo et al. 2024), then
    each cluster's quota over its children, down to level 1. Quotas sum to min(n, Σ sizes).""",
    example=(
        "SELECT sel_balanced_quotas('topics', list(c ORDER BY c), list(n ORDER BY c), 100, 0) FROM "
        "(SELECT sel_cluster(sel_hash_embed(text, 64), 'topics') AS c, count(*) AS n FROM 'examples/pool.parquet' "
        "GROUP BY c)"
    ),
    model_param="model",
    on_driver=True,
)
def sel_balanced_quotas(
    ctx: FunctionContext, model: pa.Array, clusters: pa.Array, sizes: pa.Array, n: pa.Array, seed: pa.Array
) -> pa.Array:
    out = []
    for i in range(len(model)):
        tree = load_hierarchy(ctx, model[i].as_py())
        ids, counts = _lists(clusters, i, "clusters"), _lists(sizes, i, "sizes")
        k = len(tree.centroids[0])
        if len(ids) != len(counts) or (ids < 0).any() or (ids >= k).any() or len(np.unique(ids)) != len(ids):
            raise InputError(f"clusters must be distinct level-1 clusters 0..{k - 1}, one size each")
        leaf_sizes = np.zeros(k, np.int64)
        leaf_sizes[ids] = counts
        quotas = hierarchical_quotas(tree.parents, leaf_sizes, _count(n, i, "n"), int(seed[i].as_py() or 0))
        out.append(quotas[ids].tolist())
    return pa.array(out, pa.list_(pa.int64()))


@sql_function(
    "sel_stratified_quotas",
    params={"counts": "BIGINT[]", "budget": "BIGINT"},
    returns="BIGINT[]",
    doc="""CCS's budget allocation over strata: smallest stratum first, each takes min(count, left // strata left).

    Unlike the reference, the floor-division shortfall is handed out again (smallest strata first), so
    the quotas sum to min(budget, Σ counts) exactly.""",
    example="SELECT sel_stratified_quotas([5, 100, 40], 60)",
    on_driver=True,
)
def sel_stratified_quotas(ctx: FunctionContext, counts: pa.Array, budget: pa.Array) -> pa.Array:
    return pa.array(
        [
            stratified_quotas(_lists(counts, i, "counts"), _count(budget, i, "budget")).tolist()
            for i in range(len(counts))
        ],
        pa.list_(pa.int64()),
    )

"""Sample quotas: how many rows to take from each cluster or stratum so the total is exactly n.

Two rules from the literature, re-implemented from their descriptions (docs in
``docs/REFERENCES.md`` §8.2 and §9):

* :func:`water_fill` — Vo et al. 2024's balanced sampling. Find the largest integer cut x with
  Σ min(x, size_i) ≤ n; every cluster gets min(x, size_i); the remainder n − Σ (fewer than the
  clusters larger than x) goes +1 to clusters larger than x, chosen by a seeded hash instead of the
  reference's unseeded ``np.random.choice``. :func:`hierarchical_quotas` applies it top-down over a
  cluster hierarchy, each cluster's quota split over its children by their sizes.
* :func:`stratified_quotas` — CCS's budget allocation over score strata: strata in ascending order
  of size, each takes min(count, remaining // strata_left). The reference can end below the budget;
  here any shortfall is handed out again, one row at a time, to strata with rows left (smallest first),
  so the total is always min(budget, rows).

Example:
    >>> water_fill(np.array([5000, 3000, 1000, 10]), 900, seed=0).sum()
    np.int64(900)
    >>> sorted(water_fill(np.array([5000, 3000, 1000, 10]), 900, seed=0).tolist())
    [10, 296, 297, 297]
"""

from __future__ import annotations

import numpy as np

from sqlsel.kernels.sampling import uniform

__all__ = ["best_cut", "water_fill", "hierarchical_quotas", "stratified_quotas"]


def best_cut(sizes: np.ndarray, n: int) -> int:
    """The largest integer x with Σ min(x, size_i) ≤ n (sizes non-negative, Σ sizes > n)."""
    lo, hi = 0, int(sizes.max())
    while lo < hi:  # invariant: the answer is in [lo, hi]
        mid = (lo + hi + 1) // 2
        if int(np.minimum(sizes, mid).sum()) <= n:
            lo = mid
        else:
            hi = mid - 1
    return lo


def water_fill(sizes: np.ndarray, n: int, seed: int, salt: int = 0) -> np.ndarray:
    """Quotas per cluster that sum to min(n, Σ sizes), as even as the sizes allow.

    ``salt`` separates the remainder draws of different calls with one seed (e.g. the parent
    cluster in a hierarchy).
    """
    sizes = np.asarray(sizes, np.int64)
    if n < 0:
        raise ValueError(f"the sample size must be non-negative; got {n}")
    if (sizes < 0).any():
        raise ValueError("cluster sizes must be non-negative")
    if sizes.sum() <= n:
        return sizes.copy()
    cut = best_cut(sizes, n)
    quotas = np.minimum(sizes, cut)
    remainder = n - int(quotas.sum())
    if remainder:
        larger = np.flatnonzero(sizes > cut)
        draw = uniform(larger, (int(seed) * 1_000_003 + int(salt)) % 2**63)
        quotas[larger[np.lexsort((larger, draw))[:remainder]]] += 1
    return quotas


def hierarchical_quotas(parents: list[np.ndarray], sizes: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Quotas per bottom-level cluster, water-filled top-down through a cluster hierarchy.

    ``sizes[c]`` is the number of rows in bottom cluster c; ``parents[0][c]`` is the level-2 cluster
    of bottom cluster c, ``parents[1][p]`` the level-3 cluster of level-2 cluster p, and so on; the
    last level's clusters are the top. The top clusters' quotas water-fill n over their sizes (rows
    under them); each cluster's quota then water-fills over its children.
    """
    sizes = np.asarray(sizes, np.int64)
    flat = [sizes]  # rows under each cluster, bottom level first
    for parent in parents:
        flat.append(np.bincount(parent, weights=flat[-1], minlength=int(parent.max()) + 1 if len(parent) else 0))
        flat[-1] = flat[-1].astype(np.int64)
    quotas = water_fill(flat[-1], n, seed, salt=len(parents))
    for level in range(len(parents) - 1, -1, -1):
        parent = parents[level]
        below = np.zeros(len(flat[level]), np.int64)
        for p in np.unique(parent):
            children = np.flatnonzero(parent == p)
            below[children] = water_fill(flat[level][children], int(quotas[p]), seed, salt=(level << 40) + int(p))
        quotas = below
    return quotas


def stratified_quotas(counts: np.ndarray, budget: int) -> np.ndarray:
    """CCS's allocation of a budget over strata with ``counts`` rows, summing to min(budget, Σ counts)."""
    counts = np.asarray(counts, np.int64)
    if budget < 0:
        raise ValueError(f"the budget must be non-negative; got {budget}")
    order = np.lexsort((np.arange(len(counts)), counts))  # ascending size, ties by stratum index
    quotas = np.zeros(len(counts), np.int64)
    remaining = min(budget, int(counts.sum()))
    left = len(counts)
    for s in order:
        take = min(int(counts[s]), remaining // left) if left else 0
        quotas[s] = take
        remaining -= take
        left -= 1
    for s in order:  # the reference stops here; hand out any floor-division shortfall
        if remaining == 0:
            break
        extra = min(int(counts[s] - quotas[s]), remaining)
        quotas[s] += extra
        remaining -= extra
    return quotas

"""Diverse selection and semantic dedup on embedding matrices: SemDeDup, k-center greedy, MMR, threshold-greedy.

Pure functions on float32 matrices (rows = items, in a fixed order: callers sort by id first), re-
implemented from the references' rules (docs/REFERENCES.md §3, §5, §6):

* :func:`semdedup` — within each cluster, order the items (``hard``: farthest from the centroid
  first; ``easy``: closest first; ``random``: seeded), and remove item j when its maximum cosine
  similarity to an *earlier* item of the cluster exceeds 1 − ε (strict), even if that earlier item
  was itself removed. Returns the removal mask with ``max_sim`` and ``dup_of`` (the earlier item
  that is most similar) per item.
* :func:`kcenter_greedy` — farthest-first traversal: start at a given item, then repeatedly take the
  item whose Euclidean distance to its nearest selected item is largest (ties: lowest index). Exact,
  and lazy: those distances only shrink, so each item keeps a stale upper bound in a heap and only
  the items that reach the top are brought up to date (the eager version updates all N per pick).
* :func:`mmr` — maximal marginal relevance over a relevance score: first the most relevant, then
  argmax λ·relevance − (1 − λ)·max cosine similarity to the selected (ties: lowest index), with a
  running maximum instead of the reference's full recomputation.
* :func:`threshold_greedy` — walk items in a given order, keep one if its cosine similarity to every
  kept item is below τ.

Example:
    >>> x = np.array([[1, 0], [0.999, 0.045], [0, 1]], np.float32)
    >>> distance = np.array([0.1, 0.2, 0.3])  # to the centroid: 'hard' keeps the farthest of a duplicate pair
    >>> semdedup(x, np.zeros(3, np.int64), distance, eps=0.01).removed.tolist()
    [True, False, False]
    >>> kcenter_greedy(x, 2, start=0).order.tolist()
    [0, 2]
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from sqlsel.kernels._jit import jit
from sqlsel.kernels.sampling import uniform

__all__ = [
    "KEEP",
    "DedupResult",
    "Selection",
    "normalize",
    "centroid_cosine",
    "semdedup",
    "semdedup_candidates",
    "identical_groups",
    "kcenter_greedy",
    "mmr",
    "threshold_greedy",
    "SEMDEDUP_KERNELS",
]

KEEP = ("hard", "easy", "random")  # which item of a duplicate group SemDeDup keeps
_BLAS_LIMIT = threading.Lock()
_BLOCK = 2048  # rows of a cluster's similarity matrix computed at a time
_NEAR_THRESHOLD = 1e-4  # > the float32 error of a 384..4096-value dot product of unit vectors
_TIE = 1e-12  # float64 cosines this close to 1 - eps are equal to it (19/20 with ±v entries), so not above
_COPY_SIM = 0.9999  # below any float32 self-similarity of a unit vector: exact copies are removed at 1 - eps under it
_WINDOW_BLOCK = 128  # the same with an angle window: small blocks waste less of the square (~7% faster than 512)


def normalize(x: np.ndarray, in_place: bool = False) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), float32; unit rows come back without a copy.

    ``in_place`` scales a float32 ``x`` itself instead of a copy (for matrices too big to hold twice).
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = _divisors(x)
    if norms is None:
        return x
    return np.divide(x, norms[:, None].astype(np.float32), out=x if in_place else None)


def _divisors(x: np.ndarray) -> np.ndarray | None:
    """Each row's L2 norm (1 for zero rows), or None when every row is already unit (within 1e-6)."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    if np.all(np.abs(norms - 1.0) < 1e-6):
        return None
    return np.where(norms > 0, norms, 1)


def centroid_cosine(x: np.ndarray, centroids: np.ndarray, labels: np.ndarray, threads: int = 1) -> np.ndarray:
    """Cosine of each row of ``x`` to its (unit) centroid ``centroids[labels[i]]``, in float64.

    The rows need not be unit: each dot product is divided by the row's norm (zero rows give 0). One
    pass, without a normalized copy of ``x`` or the centroids gathered into a matrix its size.
    """
    rows = (np.ascontiguousarray(x, np.float32), np.asarray(labels, np.int64))
    return _in_row_ranges(_row_cosines, threads, rows, (np.ascontiguousarray(centroids, np.float32),))


def _in_row_ranges(kernel: Callable[..., np.ndarray], threads: int, rows: tuple, shared: tuple = ()) -> np.ndarray:
    """``kernel(*rows, *shared)`` for a row-by-row compiled kernel, run on ``threads`` ranges of rows at once.

    The kernels release the GIL and treat each row alone, so the result does not depend on ``threads``.
    """
    n = len(rows[0])
    if threads <= 1 or n < 65536:
        return kernel(*rows, *shared)
    edges = np.linspace(0, n, threads + 1).astype(np.int64)
    with ThreadPoolExecutor(threads) as pool:
        parts = pool.map(lambda lo, hi: kernel(*(r[lo:hi] for r in rows), *shared), edges[:-1], edges[1:])
        return np.concatenate(list(parts))


@jit
def _row_cosines(a: np.ndarray, rows: np.ndarray, b: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    out = np.empty(a.shape[0], np.float64)
    for i in range(a.shape[0]):
        r = rows[i]
        s = 0.0
        norm = 0.0
        for t in range(a.shape[1]):
            v = np.float64(a[i, t])
            s += v * np.float64(b[r, t])
            norm += v * v
        out[i] = s / np.sqrt(norm) if norm > 0 else 0.0
    return out


@dataclass(frozen=True)
class DedupResult:
    removed: np.ndarray  # bool per item
    max_sim: np.ndarray  # float32: max cosine similarity to an earlier item of its cluster (-1: first)
    dup_of: np.ndarray  # int64: that earlier item's index (-1: first of its cluster)


def semdedup(
    x: np.ndarray,
    clusters: np.ndarray,
    distance: np.ndarray,
    eps: float,
    keep: str = "hard",
    seed: int = 0,
    keys: np.ndarray | None = None,
    angles: np.ndarray | None = None,
    threads: int = 1,
    hashes: np.ndarray | None = None,
) -> DedupResult:
    """SemDeDup's rule over ``clusters`` (one id per item), items ordered by ``distance`` to their centroid.

    ``keys`` (default: the row index) break distance ties; ``hashes`` (default: ``keys``) are the key
    hashes that seed the ``random`` order (:func:`sqlsel.kernels.keys.key_hashes`). ``angles``
    (each item's angle to its centroid, radians, monotone in ``distance``) lets hard and easy skip
    pairs that cannot be duplicates: by the triangle inequality on the sphere, two items whose angles
    to the centroid differ by more than arccos(1 − ε) are less similar than 1 − ε. ``max_sim`` and
    ``dup_of`` are exact for removed items; for kept items they may come from the pairs compared.
    ``threads`` clusters are worked on at once, each with a single-threaded BLAS (the result does not
    depend on it). An exact copy of an earlier item (byte-identical vector) is removed without computing
    its similarities: ``max_sim`` is its similarity with itself (1 up to rounding), ``dup_of`` the
    first copy. ``x`` need not be normalized: each cluster's rows are normalized as they are gathered
    (no second copy of ``x``), and similarities at the threshold are decided from ``x`` in float64.
    """
    given, x = x, np.ascontiguousarray(x, np.float32)  # ties are settled from the given (maybe float64) values
    order = _keep_order(clusters, distance, eps, keep, seed, keys, hashes)
    n = len(x)
    sorted_clusters = np.asarray(clusters)[order]
    bounds = np.flatnonzero(np.r_[True, sorted_clusters[1:] != sorted_clusters[:-1], True])
    max_sim = np.full(n, -1.0, np.float32)
    dup_of = np.full(n, -1, np.int64)
    window = None
    if angles is not None and keep != "random":
        window = np.arccos(np.clip(1.0 - eps, -1.0, 1.0)) + 1e-6  # margin for float32 similarities
        signed = -np.asarray(angles, np.float64) if keep == "hard" else np.asarray(angles, np.float64)

    # Exact copies are common in real data (54% of the benchmark's 1M paragraphs repeat an earlier one):
    # a copy's most similar earlier member is its first copy, so only first copies enter the products.
    group = identical_groups(x, threads)[0] if 1.0 - eps < _COPY_SIM else None

    def one_cluster(a: int, b: int) -> None:
        members = order[a:b]
        if group is not None:
            _, first, inverse = np.unique(group[members], return_index=True, return_inverse=True)
            rep = members[first[inverse.ravel()]]
            copies = rep != members
            if copies.any():
                c = members[copies]
                u = normalize(x[c], in_place=True)
                max_sim[c] = np.einsum("ij,ij->i", u, u)
                dup_of[c] = rep[copies]
                members = members[~copies]
        block = normalize(x[members], in_place=True)  # x[members] is already a copy
        sims, best = _earlier_max(block, None if window is None else (signed[members], window))
        max_sim[members] = sims
        dup_of[members] = np.where(best >= 0, members[np.maximum(best, 0)], -1)

    spans = sorted(zip(bounds[:-1], bounds[1:], strict=True), key=lambda s: s[0] - s[1])  # largest first
    # BLAS thread limits are process-wide: one dedup at a time sets and restores them (it uses every core).
    with _BLAS_LIMIT, threadpool_limits(1, user_api="blas"):
        if threads <= 1:
            for a, b in spans:
                one_cluster(a, b)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda s: one_cluster(*s), spans))
    position = np.empty(n, np.int64)
    position[order] = np.arange(n)
    removed = _settled(given, np.asarray(clusters), position, max_sim, dup_of, eps)
    return DedupResult(removed, max_sim, dup_of)


def _keep_order(
    clusters: np.ndarray,
    distance: np.ndarray,
    eps: float,
    keep: str,
    seed: int,
    keys: np.ndarray | None,
    hashes: np.ndarray | None = None,
) -> np.ndarray:
    """Item indices by cluster, then in the order that puts the kept item of a group first, then by key."""
    if keep not in KEEP:
        raise ValueError(f"keep must be one of {', '.join(KEEP)}; got {keep!r}")
    if not 0 <= eps <= 2:
        raise ValueError(f"eps must be between 0 and 2 (remove when similarity > 1 - eps); got {eps}")
    keys = np.arange(len(clusters)) if keys is None else np.asarray(keys, np.int64)
    if keep == "random":
        rank = uniform(keys if hashes is None else hashes, seed)
    else:
        rank = -np.asarray(distance, np.float64) if keep == "hard" else np.asarray(distance, np.float64)
    return np.lexsort((keys, rank, clusters))


def semdedup_candidates(
    x: np.ndarray,
    clusters: np.ndarray,
    distance: np.ndarray,
    eps: float,
    neighbours: np.ndarray,
    keep: str = "hard",
    seed: int = 0,
    keys: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    hashes: np.ndarray | None = None,
) -> DedupResult:
    """SemDeDup's rule checked only against candidate pairs, e.g. each item's approximate nearest neighbours.

    ``neighbours[j]`` lists the row indices (−1 pads) most similar to row j, most similar first;
    similarities are recomputed exactly. A row that no candidate removes but whose full list is all
    above the threshold (more near-copies than the list holds) is checked against every earlier row of
    its cluster, so the result differs from :func:`semdedup` only where the lists are not the true
    nearest neighbours (an approximate index). ``groups`` (from :func:`identical_groups`) saves recomputing
    which rows are exact copies of each other. Rows are normalized as they are gathered (no normalized
    copy of ``x``).
    """
    n = len(x)
    inv = _inverse_norms(x)
    position = np.empty(n, np.int64)
    position[_keep_order(clusters, distance, eps, keep, seed, keys, hashes)] = np.arange(n)
    # Exact copies crowd each other out of a neighbour list: stand every candidate in for the earliest
    # copy of its vector, and give each row the earliest copy of its own vector as a candidate.
    group = identical_groups(x)[0] if groups is None else np.asarray(groups, np.int64)
    earliest = np.full(group.max() + 1, n, np.int64)
    np.minimum.at(earliest, group, position)
    by_position = np.empty(n, np.int64)
    by_position[position] = np.arange(n)
    first_copy = by_position[earliest]
    raw = np.asarray(neighbours, np.int64)
    cand = np.where(raw >= 0, first_copy[group[np.maximum(raw, 0)]], -1)
    cand = np.column_stack([cand, first_copy[group]])
    rows = np.repeat(np.arange(n), cand.shape[1])
    cols = cand.reshape(-1)
    ok = (cols >= 0) & (cols != rows)
    ok[ok] &= (clusters[cols[ok]] == clusters[rows[ok]]) & (position[cols[ok]] < position[rows[ok]])
    rows, cols = rows[ok], cols[ok]
    sims = _pair_sims(x, inv, rows, cols)
    max_sim = np.full(n, -1.0, np.float32)
    dup_of = np.full(n, -1, np.int64)
    order = np.lexsort((position[cols], -sims, rows))  # per row: most similar first, then the earliest
    first = np.r_[True, rows[order][1:] != rows[order][:-1]]
    best = order[first]
    max_sim[rows[best]] = sims[best]
    dup_of[rows[best]] = cols[best]
    # A kept row whose whole candidate list is above the threshold may have more such rows beyond the
    # list (a crowd of near-copies): check it against every earlier row of its cluster.
    crowded = _saturated(x, inv, raw, np.flatnonzero(max_sim <= 1.0 - eps), 1.0 - eps)
    if len(crowded):
        exact_sim, exact_at = _earlier_in_cluster(x, np.asarray(clusters), position, crowded, inv=inv)
        max_sim[crowded], dup_of[crowded] = exact_sim, exact_at
    return DedupResult(_settled(x, np.asarray(clusters), position, max_sim, dup_of, eps), max_sim, dup_of)


def _inverse_norms(x: np.ndarray) -> np.ndarray | None:
    """1 / ‖row‖ for each row of ``x`` (1 for zero rows), or None when every row is unit (as :func:`normalize`)."""
    norms = _divisors(x)
    return None if norms is None else (1.0 / norms).astype(np.float32)


def _unit_rows(x: np.ndarray, inv: np.ndarray | None, idx: np.ndarray) -> np.ndarray:
    """``x[idx]`` (any index shape) with each row scaled to unit length by ``inv`` (None: already unit)."""
    return x[idx] if inv is None else x[idx] * inv[idx][..., None]


def _pair_sims(
    x: np.ndarray, inv: np.ndarray | None, rows: np.ndarray, cols: np.ndarray, chunk: int = 16384
) -> np.ndarray:
    """Cosine of ``x[rows[k]]`` and ``x[cols[k]]`` for every k, a chunk of pairs at a time (never all at once)."""
    out = np.empty(len(rows), np.float32)
    for start in range(0, len(rows), chunk):
        at = slice(start, start + chunk)
        out[at] = np.einsum("ij,ij->i", _unit_rows(x, inv, rows[at]), _unit_rows(x, inv, cols[at]))
    return out


def _saturated(
    x: np.ndarray, inv: np.ndarray | None, neighbours: np.ndarray, rows: np.ndarray, threshold: float
) -> np.ndarray:
    """Those ``rows`` whose neighbour list is full and holds no row as dissimilar as ``threshold``."""
    rows = rows[(neighbours[rows] >= 0).all(axis=1)]
    out = []
    for start in range(0, len(rows), 1024):
        chunk = rows[start : start + 1024]
        sims = np.einsum("ikd,id->ik", _unit_rows(x, inv, neighbours[chunk]), _unit_rows(x, inv, chunk))
        out.append(chunk[sims.min(axis=1) > threshold])
    return np.concatenate(out) if out else rows


def _earlier_in_cluster(
    x: np.ndarray,
    clusters: np.ndarray,
    position: np.ndarray,
    rows: np.ndarray,
    float64: bool = False,
    inv: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact max similarity of each of ``rows`` to the rows before it (by ``position``) in its cluster.

    ``float64`` computes cosines in double precision (for decisions at the threshold), normalizing the
    rows of ``x`` itself; without it rows are scaled by ``inv`` (from :func:`_inverse_norms`; None: unit).
    """
    best_sim = np.full(len(rows), -1.0, np.float64 if float64 else np.float32)
    best_at = np.full(len(rows), -1, np.int64)
    row_clusters = clusters[rows]
    for c in np.unique(row_clusters):
        mine = np.flatnonzero(row_clusters == c)
        members = np.flatnonzero(clusters == c)
        members = members[position[members] < position[rows[mine]].max()]  # only rows before some query
        if len(members) == 0:
            continue  # the queries are their cluster's first rows: nothing earlier
        members = members[np.argsort(position[members])]
        others = _unit64(x[members]) if float64 else _unit_rows(x, inv, members)
        for start in range(0, len(mine), 512):
            at = mine[start : start + 512]
            sims = (_unit64(x[rows[at]]) if float64 else _unit_rows(x, inv, rows[at])) @ others.T
            sims[position[members][None, :] >= position[rows[at]][:, None]] = -np.inf
            top = np.argmax(sims, axis=1)  # members are in position order: ties go to the earliest
            value = sims[np.arange(len(at)), top]
            found = np.isfinite(value)
            best_sim[at] = np.where(found, value, -1.0)
            best_at[at] = np.where(found, members[top], -1)
    return best_sim, best_at


def _unit64(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
    x /= np.where(norms > 0, norms, 1.0)
    return x


def _settled(
    x: np.ndarray, clusters: np.ndarray, position: np.ndarray, max_sim: np.ndarray, dup_of: np.ndarray, eps: float
) -> np.ndarray:
    """Removal decisions, with rows whose float32 max_sim is within rounding of 1 − ε decided in float64.

    Quantized embeddings (hash embeddings: entries ±v) have pairs at exactly the threshold (cosine
    19/20 = 0.95), which float32 and even float64 products round either way depending on the
    summation order. Those rows are decided in float64 from the original vectors ``x`` (a float32
    normalized copy is already off by ~1e-8), with cosines within 1e-12 of 1 − ε counted as equal (so
    kept: the rule removes above 1 − ε), and their max_sim and dup_of replaced.
    """
    threshold = 1.0 - eps
    near = np.flatnonzero(np.abs(max_sim.astype(np.float64) - threshold) <= _NEAR_THRESHOLD)
    removed = max_sim > threshold
    if len(near):
        exact_sim, exact_at = _earlier_in_cluster(x, clusters, position, near, float64=True)
        removed[near] = exact_sim > threshold + _TIE
        max_sim[near], dup_of[near] = exact_sim, exact_at
    return removed


def identical_groups(e: np.ndarray, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Group id per row (rows with byte-identical vectors share one) and the first row of each group.

    Rows are grouped by a 64-bit hash of their bytes, then checked against their group's first row;
    rows a hash collision put in the wrong group are grouped again by their bytes.

    >>> identical_groups(np.array([[1, 2], [3, 4], [1, 2]], np.float32))
    (array([0, 1, 0]), array([0, 1]))
    """
    e = np.ascontiguousarray(e)
    _, first, group = np.unique(_in_row_ranges(_row_hashes, threads, (e,)), return_index=True, return_inverse=True)
    group, first = group.astype(np.int64).ravel(), first.astype(np.int64)
    odd = np.flatnonzero(~_rows_equal(e, first[group]))
    if len(odd):
        rows = e[odd].view(np.dtype((np.void, e.shape[1] * e.itemsize))).ravel()
        _, sub_first, sub_group = np.unique(rows, return_index=True, return_inverse=True)
        group[odd] = len(first) + sub_group.ravel()
        first = np.concatenate([first, odd[sub_first]])
    return group, first


@jit
def _row_hashes(e: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    words = e.reshape(-1).view(np.uint32).reshape(e.shape[0], -1)
    out = np.empty(e.shape[0], np.uint64)
    p = np.uint64(0x100000001B3)
    for i in range(words.shape[0]):
        row = words[i]
        a, b = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)  # two lanes: twice the throughput
        for k in range(0, len(row) - 1, 2):
            a = (a ^ np.uint64(row[k])) * p
            b = (b ^ np.uint64(row[k + 1])) * p
        if len(row) % 2:
            a = (a ^ np.uint64(row[len(row) - 1])) * p
        h = (a ^ (b >> np.uint64(31)) ^ (b << np.uint64(33))) * p
        out[i] = h ^ (h >> np.uint64(29))
    return out


@jit
def _rows_equal(e: np.ndarray, other: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Whether row i equals row other[i], bit for bit."""
    words = e.reshape(-1).view(np.uint32).reshape(e.shape[0], -1)
    out = np.ones(e.shape[0], np.bool_)
    for i in range(words.shape[0]):
        j = other[i]
        if j != i:
            for k in range(words.shape[1]):
                if words[i, k] != words[j, k]:
                    out[i] = False
                    break
    return out


def _earlier_max(e: np.ndarray, window: tuple[np.ndarray, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each row j: max over i < j of e_i · e_j and its argmax (lowest i on ties); -1 for row 0.

    With ``window`` = (ascending key per row, width), only rows i whose key is within width of
    row j's are compared (the others are known to be below the threshold).
    """
    n = len(e)
    best_sim = np.full(n, -1.0, np.float32)
    best_at = np.full(n, -1, np.int64)
    block = _BLOCK if window is None else _WINDOW_BLOCK
    for start in range(1, n, block):
        stop = min(n, start + block)
        lo = 0 if window is None else int(np.searchsorted(window[0], window[0][start] - window[1], side="left"))
        lo = min(lo, start)
        sims = e[start:stop] @ e[lo:stop].T  # rows: items j in [start, stop); columns: candidates i in [lo, stop)
        _fold_earlier(sims, lo, start, best_sim, best_at)
    return best_sim, best_at


@jit
def _fold_earlier(
    sims: np.ndarray, lo: int, start: int, best_sim: np.ndarray, best_at: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Row r of ``sims`` is item start + r against items lo, lo + 1, …: its max over the items before it."""
    for r in range(sims.shape[0]):
        j = start + r
        top = -np.inf
        at = -1
        for c in range(j - lo):
            if sims[r, c] > top:
                top = sims[r, c]
                at = c
        if at >= 0:
            best_sim[j] = top
            best_at[j] = lo + at


@dataclass(frozen=True)
class Selection:
    order: np.ndarray  # int64: selected item indices, in selection order
    score: np.ndarray  # float64 per selected item: distance or similarity to the nearest earlier pick


def kcenter_greedy(x: np.ndarray, k: int, start: int) -> Selection:
    """Farthest-first traversal from item ``start``; ``score`` is each pick's distance to the earlier picks."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = len(x)
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the number of rows ({n}); got {k}")
    if not 0 <= start < n:
        raise ValueError(f"start must be a row index below {n}; got {start}")
    order, score = _kcenter(x, int(k), int(start))
    return Selection(order, score)


@jit
def _dist(x: np.ndarray, i: int, j: int) -> float:  # pragma: no cover - compiled
    """Euclidean distance of rows i and j, summed in float64 over four interleaved lanes."""
    s0 = s1 = s2 = s3 = 0.0
    d = x.shape[1]
    t = 0
    while t + 4 <= d:
        a = np.float64(x[i, t]) - np.float64(x[j, t])
        b = np.float64(x[i, t + 1]) - np.float64(x[j, t + 1])
        c = np.float64(x[i, t + 2]) - np.float64(x[j, t + 2])
        e = np.float64(x[i, t + 3]) - np.float64(x[j, t + 3])
        s0 += a * a
        s1 += b * b
        s2 += c * c
        s3 += e * e
        t += 4
    while t < d:
        a = np.float64(x[i, t]) - np.float64(x[j, t])
        s0 += a * a
        t += 1
    return np.sqrt((s0 + s1) + (s2 + s3))


@jit
def _before(a_val: float, a_idx: int, b_val: float, b_idx: int) -> bool:  # pragma: no cover - compiled
    """Heap order: larger distance first, then lower index."""
    return a_val > b_val or (a_val == b_val and a_idx < b_idx)


@jit
def _sift_down(heap: np.ndarray, bound: np.ndarray, size: int, pos: int) -> None:  # pragma: no cover - compiled
    item = heap[pos]
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        right = child + 1
        if right < size and _before(bound[heap[right]], heap[right], bound[heap[child]], heap[child]):
            child = right
        if _before(bound[heap[child]], heap[child], bound[item], item):
            heap[pos] = heap[child]
            pos = child
        else:
            break
    heap[pos] = item


@jit
def _kcenter(x: np.ndarray, k: int, start: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Lazy farthest-first: distances to the nearest centre only ever shrink, so a stale value is an
    upper bound; pop the largest bound, bring it up to date against the centres added since, and take
    it when it still beats every other bound (exactly the eager argmax, ties to the lowest index)."""
    n = x.shape[0]
    bound = np.empty(n, np.float64)
    seen = np.ones(n, np.int64)  # centres each item's bound accounts for
    order = np.empty(k, np.int64)
    score = np.empty(k, np.float64)
    order[0] = start
    score[0] = np.inf
    for i in range(n):
        bound[i] = _dist(x, i, start)
    heap = np.empty(n - 1, np.int64)
    size = 0
    for i in range(n):
        if i != start:
            heap[size] = i
            size += 1
    for pos in range(size // 2 - 1, -1, -1):
        _sift_down(heap, bound, size, pos)
    for t in range(1, k):
        while True:
            i = heap[0]
            m = bound[i]
            for c in range(seen[i], t):
                d = _dist(x, i, order[c])
                if d < m:
                    m = d
            bound[i] = m
            seen[i] = t
            if size == 1:
                break
            second = heap[1] if size == 2 or _before(bound[heap[1]], heap[1], bound[heap[2]], heap[2]) else heap[2]
            if _before(m, i, bound[second], second):
                break
            _sift_down(heap, bound, size, 0)  # its key only shrank: push it down and look again
        order[t] = i
        score[t] = m
        size -= 1
        heap[0] = heap[size]
        _sift_down(heap, bound, size, 0)
    return order, score


def mmr(x: np.ndarray, relevance: np.ndarray, k: int, lam: float) -> Selection:
    """MMR picks over a relevance score; ``score`` is each pick's max cosine similarity to earlier picks."""
    e = normalize(x)
    rel = np.asarray(relevance, np.float64)
    n = len(e)
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the number of rows ({n}); got {k}")
    if not 0 <= lam <= 1:
        raise ValueError(f"lambda must be between 0 and 1; got {lam}")
    order = np.empty(k, np.int64)
    score = np.empty(k, np.float64)
    nearest = np.full(n, -np.inf)
    chosen = np.zeros(n, bool)
    for t in range(k):
        if t == 0:
            value = rel.copy()
        else:
            value = lam * rel - (1 - lam) * nearest
        value[chosen] = -np.inf
        pick = int(np.argmax(value))
        order[t], score[t] = pick, nearest[pick]
        chosen[pick] = True
        nearest = np.maximum(nearest, (e @ e[pick]).astype(np.float64))
    return Selection(order, score)


def threshold_greedy(x: np.ndarray, order: np.ndarray, tau: float, limit: int | None = None) -> Selection:
    """Keep items (in ``order``) whose cosine similarity to every kept item is below ``tau``; up to ``limit``."""
    e = normalize(x)
    kept: list[int] = []
    scores: list[float] = []
    bank = np.empty((min(len(e), limit or len(e)), e.shape[1]), np.float32)
    for i in np.asarray(order, np.int64):
        top = float((bank[: len(kept)] @ e[i]).max()) if kept else -np.inf
        if top < tau:
            bank[len(kept)] = e[i]
            kept.append(int(i))
            scores.append(top)
            if limit is not None and len(kept) >= limit:
                break
    return Selection(np.array(kept, np.int64), np.array(scores, np.float64))


#: The compiled loops of SemDeDup's search (preloaded by :func:`sqlsel.functions.preload`).
SEMDEDUP_KERNELS = (_row_hashes, _rows_equal, _row_cosines, _fold_earlier)

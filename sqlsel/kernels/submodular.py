"""Submodular coverage: facility location (and saturated coverage, graph cut) by lazy greedy, dense or over a kNN graph.

Facility location scores a set S of rows by how well it represents every row: f(S) = Σ_i max_{j∈S} s(i, j).
It is monotone and submodular when s ≥ 0, so greedy selection (take the row of largest marginal gain,
k times) is within 1 − 1/e of the best set. The similarity is apricot's ``cosine``: the squared cosine
similarity of the embeddings (non-negative, and 1 for a row with itself).

Dense similarities hold N × N float64 values: 16,000 rows take 2 GB, 181,000 rows would take 262 GB.
Past what fits, :func:`cosine_knn_graph` keeps each row's ``neighbours`` most similar rows (exact
search on faiss, by squared cosine), a row then covers only its neighbours, and the greedy runs over that
sparse graph (apricot's ``n_neighbors`` form): the objective is the same function of a sparser
similarity, not an approximation of the dense optimum's value.

Lazy greedy (Minoux 1978) keeps each row's last gain as an upper bound in a max-heap and recomputes
only the row on top; gains only shrink as the set grows, so the row it settles on is the one naive
greedy takes. Ties (gains within 1e-12 relative) go to the lowest row index; a tolerance makes the
heap's order approximate by as much, so a pick's gain may fall short of the best by ~1e-11 relative.

Example:
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.0, 1.0]], np.float32)
    >>> pick = facility_location(cosine_similarities(x), 2)  # one row from each side
    >>> pick.order.tolist()
    [2, 3]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sqlsel.kernels._jit import jit
from sqlsel.kernels.vectors import unit_rows

__all__ = [
    "OBJECTIVES",
    "CoverageGraph",
    "Picks",
    "cosine_similarities",
    "cosine_knn_graph",
    "facility_location",
    "submodular_select",
]


@dataclass(frozen=True)
class CoverageGraph:
    """Sparse similarities as CSR rows: row j covers ``indices[indptr[j]:indptr[j+1]]`` with those ``data``."""

    indptr: np.ndarray  # int64, n + 1
    indices: np.ndarray  # int64
    data: np.ndarray  # float64

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1


@dataclass(frozen=True)
class Picks:
    order: np.ndarray  # int64 row indices in selection order
    gains: np.ndarray  # float64 marginal gain of each pick


def cosine_similarities(x: np.ndarray) -> np.ndarray:
    """Squared cosine similarities of every pair of rows, N × N float64 (a zero row is similar to nothing)."""
    e = unit_rows(x)
    s = e @ e.T
    np.square(s, out=s)
    return s


def cosine_knn_graph(x: np.ndarray, neighbours: int, block: int = 4096) -> CoverageGraph:
    """Each row's ``neighbours`` most similar rows by squared cosine (itself included), by exact search.

    The similarity is cos², so a row at cosine −0.9 is as similar as one at 0.9: faiss finds the m
    largest and the m smallest inner products of unit rows, and the m largest squares of the two are
    kept. A block of queries at a time, so memory stays at the rows plus one block's answers.
    """
    import faiss

    e = np.ascontiguousarray(unit_rows(x), dtype=np.float32)
    n = len(e)
    m = min(int(neighbours), n)
    index = faiss.IndexFlatIP(e.shape[1])
    index.add(e)
    indices = np.empty((n, m), np.int64)
    data = np.empty((n, m), np.float64)
    for start in range(0, n, block):
        queries = e[start : start + block]
        if 2 * m >= n:  # the two searches would overlap: every pair of the block instead
            sims = (queries @ e.T).astype(np.float64)
            found = np.broadcast_to(np.arange(n), sims.shape)
        else:
            high, high_at = index.search(queries, m)
            low, low_at = index.search(-queries, m)
            sims = np.hstack([high, -low]).astype(np.float64)
            found = np.hstack([high_at, low_at])
        squared = np.square(np.clip(sims, -1.0, 1.0))
        keep = np.argsort(-squared, axis=1, kind="stable")[:, :m]
        indices[start : start + len(queries)] = np.take_along_axis(found, keep, axis=1)
        data[start : start + len(queries)] = np.take_along_axis(squared, keep, axis=1)
    return CoverageGraph(np.arange(0, n * m + 1, m, dtype=np.int64), indices.ravel(), data.ravel())


def facility_location(similarities: np.ndarray | CoverageGraph, k: int) -> Picks:
    """``k`` rows by lazy greedy on facility location over dense or sparse similarities (see the module)."""
    return submodular_select(similarities, k, "facility")


#: Objectives :func:`submodular_select` maximises, and apricot-select's default ``alpha`` for each.
OBJECTIVES = {"facility": None, "saturated": 0.1, "graph_cut": 1.0}


def submodular_select(
    similarities: np.ndarray | CoverageGraph, k: int, objective: str = "facility", alpha: float | None = None
) -> Picks:
    """``k`` rows by lazy greedy on one of three coverage objectives of the similarities s (apricot's forms):

    * ``facility``: Σ_i max_{j∈S} s(i, j), every row represented by its most similar pick;
    * ``saturated`` (saturated coverage): Σ_i min(Σ_{j∈S} s(i, j), α Σ_u s(i, u)), a row counts as covered
      once the picks hold an α share of its total similarity (α = 0.1: apricot's default);
    * ``graph_cut``: α Σ_i Σ_{j∈S} s(i, j) − Σ_{i,j∈S} s(i, j), representative picks that are unlike each
      other (α = 1; not monotone: late gains can be negative, and are still taken, as apricot does).

    All three are submodular for s ≥ 0, so lazy greedy takes the rows naive greedy takes.
    """
    n = similarities.rows if isinstance(similarities, CoverageGraph) else len(similarities)
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the number of rows ({n}); got {k}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}; got {objective!r}")
    weight = OBJECTIVES[objective] if alpha is None else float(alpha)
    if objective != "facility" and not (weight is not None and weight > 0):
        raise ValueError(f"alpha must be positive for {objective}; got {alpha}")
    kind = list(OBJECTIVES).index(objective)
    if isinstance(similarities, CoverageGraph):
        g, dense = similarities, np.zeros((0, 0))
        indptr, indices, data = g.indptr, g.indices, g.data
        rows = np.repeat(np.arange(n), np.diff(indptr))
        valid = indices >= 0
        row_sums = np.bincount(rows[valid], weights=data[valid], minlength=n)
        diagonal = np.zeros(n)
        own = valid & (indices == rows)
        diagonal[rows[own]] = data[own]
    else:
        dense = np.ascontiguousarray(similarities, dtype=np.float64)
        indptr = indices = np.zeros(0, np.int64)
        data = np.zeros(0)
        row_sums, diagonal = dense.sum(axis=1), np.diag(dense).copy()
    scaled = (weight or 0.0) * row_sums  # saturated: each row's cap; graph cut: α Σ_u s(j, u)
    start = diagonal if objective == "graph_cut" else np.zeros(n)
    order, gains = _lazy_greedy(dense, indptr, indices, data, n, int(k), kind, scaled, start)
    return Picks(order, gains)


#: Gains this close (relative) are a tie: two rows that cover each other alike (a pair with no other
#: neighbour left) have equal gains in exact arithmetic, and rounding must not pick the higher index.
TIE = 1e-12


@jit
def _before(g1: float, i1: int, g2: float, i2: int) -> bool:  # pragma: no cover - compiled
    """Heap order: the larger gain first; gains within TIE of each other, the lower index."""
    if abs(g1 - g2) <= TIE * max(abs(g1), abs(g2)):
        return i1 < i2
    return g1 > g2


@jit
def heapify(bound: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Row indices as a max-heap of ``bound`` (ties by :data:`TIE`: the lower row on top): lazy greedy's queue."""
    heap = np.arange(len(bound))
    for pos in range(len(bound) // 2 - 1, -1, -1):
        sift_down(heap, bound, len(bound), pos)
    return heap


@jit
def pop_top(heap: np.ndarray, bound: np.ndarray, size: int) -> int:  # pragma: no cover - compiled
    """Remove the row on top of a heap of ``size`` rows; returns the new size."""
    size -= 1
    heap[0] = heap[size]
    sift_down(heap, bound, size, 0)
    return size


@jit
def sift_down(heap: np.ndarray, bound: np.ndarray, size: int, pos: int) -> None:  # pragma: no cover - compiled
    """Move ``heap[pos]`` down to where its bound belongs (a bound only ever shrinks in lazy greedy)."""
    while True:
        best = pos
        for child in (2 * pos + 1, 2 * pos + 2):
            if child < size and _before(bound[heap[child]], heap[child], bound[heap[best]], heap[best]):
                best = child
        if best == pos:
            return
        heap[pos], heap[best] = heap[best], heap[pos]
        pos = best


@jit
def _gain(
    s: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    j: int,
    current: np.ndarray,
    kind: int,
    scaled: np.ndarray,
) -> float:  # pragma: no cover - compiled
    """Row j's marginal gain (dense row s[j] when s has rows, else its CSR entries) under objective ``kind``."""
    if kind == 2:  # graph cut: α Σ_u s(j, u) − s(j, j) − 2 Σ_{i∈S} s(i, j), kept in current[j]
        return scaled[j] - current[j]
    total = 0.0
    if s.shape[0]:
        for i in range(len(current)):
            total += _covered(s[j, i], current[i], kind, scaled[i]) - current[i]
    else:
        for p in range(indptr[j], indptr[j + 1]):
            i = indices[p]
            if i >= 0:
                total += _covered(data[p], current[i], kind, scaled[i]) - current[i]
    return total


@jit
def _covered(similarity: float, current: float, kind: int, cap: float) -> float:  # pragma: no cover - compiled
    """A row's value once a pick of this similarity to it joins: facility max, saturated capped sum, graph
    cut its similarity to the picks (counted twice: the pair appears in both orders)."""
    if kind == 0:
        return similarity if similarity > current else current
    if kind == 1:
        return min(current + similarity, cap)
    return current + 2.0 * similarity


@jit
def _cover(
    s: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    j: int,
    current: np.ndarray,
    kind: int,
    scaled: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Row j is picked: every row's value takes it in (see :func:`_covered`)."""
    if s.shape[0]:
        for i in range(len(current)):
            current[i] = _covered(s[j, i], current[i], kind, scaled[i])
    else:
        for p in range(indptr[j], indptr[j + 1]):
            i = indices[p]
            if i >= 0:
                current[i] = _covered(data[p], current[i], kind, scaled[i])


@jit
def _lazy_greedy(
    s: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    n: int,
    k: int,
    kind: int,
    scaled: np.ndarray,
    start: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    current = start.copy()
    bound = np.empty(n)
    for j in range(n):
        bound[j] = _gain(s, indptr, indices, data, j, current, kind, scaled)
    order, gains = np.empty(k, np.int64), np.empty(k)
    fresh = np.zeros(n, np.int64)  # the step each bound was computed at
    heap, size = heapify(bound), n
    for t in range(k):
        while fresh[heap[0]] != t:  # a stale bound on top: compute its gain now and let it sink
            j = heap[0]
            bound[j] = _gain(s, indptr, indices, data, j, current, kind, scaled)
            fresh[j] = t
            sift_down(heap, bound, size, 0)
        j = heap[0]
        order[t], gains[t] = j, bound[j]
        size = pop_top(heap, bound, size)
        _cover(s, indptr, indices, data, j, current, kind, scaled)
    return order, gains

"""MIG (Chen et al. 2025): rows picked greedily by the information they add to a label graph.

Every row carries labels (tags, topics) and a quality score. The labels form a graph: two labels are
joined with weight ``cos(e_a, e_b)`` when the cosine of their embeddings reaches ``threshold`` (0.9 in
the paper); a label is always joined to itself with weight 1. Off-diagonal weights are multiplied by
``prop_weight`` and every column is divided by its sum, giving the propagation matrix ``P``
(:func:`label_graph`). A row's information is its weight (its quality, divided by its number of
labels when ``normalize``) on each of its labels, spread over the graph:
``v_i = w_i · Σ_{j ∈ labels(i)} P[j, :]``. A set's information on label ``l`` is ``x_l = Σ_{i ∈ S} v_il``
and its value is ``Σ_l φ(x_l)`` with a concave φ: ``(x + a)^b`` (``pow``, a = 1e-6, b = 0.8: the
paper's defaults) or ``1 − exp(−α x)`` (``exp``), so a label already well covered adds less.
:func:`mig_select` takes, k times, the row of largest gain ``v_i · φ'(x)`` (the paper's first-order
gain), as the authors' code does, and returns the picks in order with their gains.

The gain is computed without spreading each row (the authors' ``vec_pool @ P``: rows × labels, 147M
values at 181k documents with 17k derived labels): ``v_i · φ'(x) = w_i Σ_{j ∈ labels(i)} h_j`` with
``h = P φ'(x)``, one number per label, updated after each pick for the labels next to the ones whose
information changed. φ' only falls as x grows and every v_i ≥ 0, so a row's gain never rises: lazy
greedy (a max-heap of stale gains, only the top recomputed) takes the same rows as recomputing every
gain each step. Ties (gains within 1e-12 relative) go to the lowest row, as the authors' ``argmax``
does.

Differences from the authors' code, which needs torch: a label listed twice on a row counts once
(there too) and ``normalize`` divides by the number of *distinct* labels (there, by the list's
length); a label whose embedding is zero still joins itself with weight 1 (there, its column would
be 0 / 0).

Example:
    >>> import numpy as np
    >>> e = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]])  # labels 0 and 1 alike, 2 apart
    >>> graph = label_graph(e, threshold=0.9)
    >>> quality = np.array([1.0, 1.0, 0.9])
    >>> picks = mig_select(np.array([0, 1, 2, 3]), np.array([0, 1, 2]), quality, graph, 2)  # a row per label
    >>> picks.order.tolist()  # then the label nothing covers yet, though its quality is lower
    [0, 2]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sqlsel.kernels._jit import jit
from sqlsel.kernels.submodular import Picks, heapify, pop_top, sift_down
from sqlsel.kernels.vectors import unit_rows

__all__ = ["PHIS", "LabelGraph", "label_graph", "label_sums", "mig_select"]

PHIS = ("pow", "exp")

#: Labels compared with the others at once in :func:`label_graph`: at most 2,048, and at most 2^25 cosines
#: (128 MB of float32, with a mask beside them) however many labels there are.
_BLOCK = 2048
_BLOCK_VALUES = 1 << 25


@dataclass(frozen=True)
class LabelGraph:
    """The propagation matrix P as CSR rows, both ways: row l holds the labels ``indices[indptr[l]:indptr[l+1]]``.

    ``spread[p]`` is P[l, j] (how label l's information spreads to j) and ``gather[p]`` is P[j, l] (how
    j takes from l); the graph is symmetric, so one index structure serves both.
    """

    indptr: np.ndarray  # int64, labels + 1
    indices: np.ndarray  # int64
    spread: np.ndarray  # float64
    gather: np.ndarray  # float64

    @property
    def labels(self) -> int:
        return len(self.indptr) - 1

    @property
    def edges(self) -> int:
        return len(self.indices)


#: Bytes :class:`LabelGraph` holds per edge (indices, spread, gather) and, transiently, while it is built.
EDGE_BYTES = 48


def label_graph(
    embeddings: np.ndarray, threshold: float = 0.9, prop_weight: float = 1.0, max_edges: int | None = None
) -> LabelGraph:
    """The propagation matrix P: cosines ≥ threshold, self-weight 1, columns summing to 1 (see the module).

    Each pair's cosine is computed once (in the block of its lower label) and used both ways, so the
    graph is exactly symmetric. ``max_edges``: refuse (ValueError naming the threshold) a graph with
    more edges than that.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1] (a cosine similarity); got {threshold}")
    if not prop_weight >= 0:
        raise ValueError(f"prop_weight must be 0 or more; got {prop_weight}")
    e = np.ascontiguousarray(unit_rows(embeddings), dtype=np.float32)
    n = len(e)
    block = max(1, min(_BLOCK, _BLOCK_VALUES // max(n, 1)))  # block × labels cosines at a time
    lower: list[np.ndarray] = []
    upper: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    edges = n
    for start in range(0, n, block):
        sims = e[start : start + block] @ e[start:].T  # against this label and the ones after it
        r, c = np.nonzero(sims >= threshold)
        pair = (r + start) < (c + start)
        lower.append(r[pair] + start)
        upper.append(c[pair] + start)
        vals.append(sims[r[pair], c[pair]].astype(np.float64) * prop_weight)
        edges += 2 * int(pair.sum())
        if max_edges is not None and edges > max_edges:
            raise ValueError(
                f"the label graph at threshold {threshold} has more than {max_edges:,} edges "
                f"({edges:,} after {min(start + block, n):,} of {n:,} labels); raise threshold"
            )
    a, b, w = np.concatenate(lower), np.concatenate(upper), np.concatenate(vals)
    loops = np.arange(n)
    r = np.concatenate([a, b, loops])
    c = np.concatenate([b, a, loops])
    v = np.concatenate([w, w, np.ones(n)])
    order = np.lexsort((c, r))
    r, c, v = r[order], c[order], v[order]
    column_sums = np.bincount(c, weights=v, minlength=n)  # = row sums: the graph is symmetric
    indptr = np.searchsorted(r, np.arange(n + 1)).astype(np.int64)
    return LabelGraph(indptr, c.astype(np.int64), v / column_sums[c], v / column_sums[r])


def mig_select(
    label_indptr: np.ndarray,
    label_ids: np.ndarray,
    weights: np.ndarray,
    graph: LabelGraph,
    k: int,
    phi: str = "pow",
    a: float = 1e-6,
    b: float = 0.8,
    alpha: float = 1.0,
) -> Picks:
    """``k`` rows by greedy information gain (see the module); their gains in order.

    Row i's labels are ``label_ids[label_indptr[i]:label_indptr[i+1]]`` (distinct), its weight ``weights[i]``.
    """
    rows = len(label_indptr) - 1
    if not 1 <= k <= rows:
        raise ValueError(f"k must be between 1 and the number of rows ({rows}); got {k}")
    if phi not in PHIS:
        raise ValueError(f"phi must be one of {', '.join(PHIS)}; got {phi!r}")
    if phi == "pow" and not (a > 0 and 0 < b < 1):
        raise ValueError(f"phi pow needs a > 0 and 0 < b < 1 (concave); got a = {a}, b = {b}")
    if phi == "exp" and not alpha > 0:
        raise ValueError(f"phi exp needs alpha > 0; got {alpha}")
    w = np.asarray(weights, np.float64)
    if (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("weights must be finite and 0 or more: every quality must be")
    order, gains = _lazy_gain(
        np.asarray(label_indptr, np.int64),
        np.asarray(label_ids, np.int64),
        w,
        graph.indptr,
        graph.indices,
        graph.spread,
        graph.gather,
        int(k),
        phi == "pow",
        a,
        b,
        alpha,
    )
    return Picks(order, gains)


@jit
def _slope(x: float, power: bool, a: float, b: float, alpha: float) -> float:  # pragma: no cover - compiled
    """φ'(x): b (x + a)^(b − 1) for pow, α e^(−α x) for exp."""
    if power:
        return b * (x + a) ** (b - 1.0)
    return alpha * np.exp(-alpha * x)


@jit
def _row_gain(i: int, indptr: np.ndarray, ids: np.ndarray, w: np.ndarray, h: np.ndarray) -> float:  # pragma: no cover
    total = 0.0
    for p in range(indptr[i], indptr[i + 1]):
        total += h[ids[p]]
    return w[i] * total


@jit
def _lazy_gain(
    indptr: np.ndarray,
    ids: np.ndarray,
    w: np.ndarray,
    g_indptr: np.ndarray,
    g_indices: np.ndarray,
    spread: np.ndarray,
    gather: np.ndarray,
    k: int,
    power: bool,
    a: float,
    b: float,
    alpha: float,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    n, labels = len(indptr) - 1, len(g_indptr) - 1
    x = np.zeros(labels)
    slope = np.full(labels, _slope(0.0, power, a, b, alpha))
    h = np.zeros(labels)  # h_j = Σ_l P[j, l] φ'(x_l)
    for j in range(labels):
        for p in range(g_indptr[j], g_indptr[j + 1]):
            h[j] += spread[p] * slope[g_indices[p]]
    bound = np.empty(n)
    for i in range(n):
        bound[i] = _row_gain(i, indptr, ids, w, h)
    fresh = np.zeros(n, np.int64)  # the step each bound was computed at
    heap, size = heapify(bound), n
    order, gains = np.empty(k, np.int64), np.empty(k)
    changed = np.empty(labels, np.int64)
    mark = np.full(labels, -1, np.int64)
    for t in range(k):
        while fresh[heap[0]] != t:
            i = heap[0]
            bound[i] = _row_gain(i, indptr, ids, w, h)
            fresh[i] = t
            sift_down(heap, bound, size, 0)
        i = heap[0]
        order[t], gains[t] = i, bound[i]
        size = pop_top(heap, bound, size)
        count = 0
        for p in range(indptr[i], indptr[i + 1]):  # x += v_i, over the labels its labels spread to
            j = ids[p]
            for q in range(g_indptr[j], g_indptr[j + 1]):
                label = g_indices[q]
                x[label] += w[i] * spread[q]
                if mark[label] != t:
                    mark[label] = t
                    changed[count] = label
                    count += 1
        for c in range(count):  # h follows φ' on every label next to one whose information changed
            label = changed[c]
            new = _slope(x[label], power, a, b, alpha)
            step = new - slope[label]
            slope[label] = new
            for q in range(g_indptr[label], g_indptr[label + 1]):
                h[g_indices[q]] += gather[q] * step
    return order, gains


def label_sums(
    indptr: np.ndarray, numbers: np.ndarray, x: np.ndarray, has: np.ndarray, labels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each label's summed row embeddings (rows with ``has``) and how many rows gave one: a mean's direction.

    Labels are compared by cosine, so the sum stands for the mean.
    """
    return _label_sums(np.asarray(indptr, np.int64), np.asarray(numbers, np.int64), x, has, labels)


@jit
def _label_sums(
    indptr: np.ndarray, numbers: np.ndarray, x: np.ndarray, has: np.ndarray, labels: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    sums = np.zeros((labels, x.shape[1]), np.float32)
    counts = np.zeros(labels, np.int64)
    for i in range(len(indptr) - 1):
        if not has[i]:
            continue
        for p in range(indptr[i], indptr[i + 1]):
            label = numbers[p]
            counts[label] += 1
            for d in range(x.shape[1]):
                sums[label, d] += x[i, d]
    return sums, counts

"""MIG (Chen et al. 2025): rows picked greedily by the information they add to a label graph.

Every row carries labels (tags, topics) and a quality score. The labels form a graph: two labels are
joined with weight ``cos(e_a, e_b)`` when the cosine of their embeddings reaches ``threshold`` (0.9 in
the paper); a label is always joined to itself with weight 1. Off-diagonal weights are multiplied by
``prop_weight`` and every column is divided by its sum, giving the propagation matrix ``P``
(:func:`label_graph`). A row's information is its quality on each of its labels (divided by its
number of labels when ``normalize``), spread over the graph: ``v_i = q_i · Σ_{l ∈ labels(i)} P[l, :]``
(:func:`propagate`). A set's information on label ``l`` is ``x_l = Σ_{i ∈ S} v_il`` and its value is
``Σ_l φ(x_l)`` with a concave φ: ``(x + a)^b`` (``pow``, a = 1e-6, b = 0.8: the paper's defaults) or
``1 − exp(−α x)`` (``exp``), so a label already well covered adds less. :func:`mig_select` takes, k
times, the row of largest gain ``v_i · φ'(x)`` (the paper's first-order gain), as the authors' code
does, and returns the picks in order with their gains.

φ' only falls as x grows and every v_i ≥ 0, so a row's gain never rises: lazy greedy (a max-heap of
stale gains, only the top recomputed) takes the same rows as recomputing every gain each step. Ties
(gains within 1e-12 relative) go to the lowest row, as the authors' ``argmax`` does.

Differences from the authors' code, which needs torch: a label listed twice on a row counts once
(there too) and ``normalize`` divides by the number of *distinct* labels (there, by the list's
length); a label whose embedding is zero still joins itself with weight 1 (there, its column would
be 0 / 0).

Example:
    >>> import numpy as np
    >>> e = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]])  # labels 0 and 1 alike, 2 apart
    >>> graph = label_graph(e, threshold=0.9)
    >>> quality = np.array([1.0, 1.0, 0.9])
    >>> rows = propagate(np.array([0, 1, 2, 3]), np.array([0, 1, 2]), quality, graph)  # a row per label
    >>> mig_select(rows, 2).order.tolist()  # then the label nothing covers yet, though its quality is lower
    [0, 2]
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from sqlsel.kernels.submodular import Picks, _sift_down
from sqlsel.kernels.vectors import unit_rows

__all__ = ["PHIS", "Sparse", "label_graph", "label_sums", "mig_select", "propagate", "propagated_size"]

PHIS = ("pow", "exp")

#: Labels compared with every label at once in :func:`label_graph` (block × labels float32 cosines).
_BLOCK = 2048


@dataclass(frozen=True)
class Sparse:
    """A sparse matrix as CSR rows: row r holds ``data[indptr[r]:indptr[r+1]]`` at ``indices[...]``."""

    indptr: np.ndarray  # int64, rows + 1
    indices: np.ndarray  # int64 column of each value
    data: np.ndarray  # float64
    columns: int

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1


def label_graph(embeddings: np.ndarray, threshold: float = 0.9, prop_weight: float = 1.0) -> Sparse:
    """The propagation matrix P (labels × labels): cosines ≥ threshold, self-weight 1, columns summing to 1."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1] (a cosine similarity); got {threshold}")
    if not prop_weight >= 0:
        raise ValueError(f"prop_weight must be 0 or more; got {prop_weight}")
    e = np.ascontiguousarray(unit_rows(embeddings), dtype=np.float32)
    n = len(e)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for start in range(0, n, _BLOCK):
        sims = e[start : start + _BLOCK] @ e.T
        r, c = np.nonzero(sims >= threshold)
        r = r + start
        off = r != c
        rows += [r[off], np.arange(start, min(start + _BLOCK, n))]
        cols += [c[off], np.arange(start, min(start + _BLOCK, n))]
        vals += [sims[r[off] - start, c[off]].astype(np.float64) * prop_weight, np.ones(min(_BLOCK, n - start))]
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    column_sums = np.bincount(c, weights=v, minlength=n)
    order = np.lexsort((c, r))
    r, c, v = r[order], c[order], v[order] / column_sums[c[order]]
    return Sparse(np.searchsorted(r, np.arange(n + 1)).astype(np.int64), c.astype(np.int64), v, n)


def propagate(label_indptr: np.ndarray, label_ids: np.ndarray, weights: np.ndarray, graph: Sparse) -> Sparse:
    """Each row's information over the labels: ``weights[i] · Σ_{l ∈ its labels} P[l, :]`` (labels as CSR)."""
    indptr = np.asarray(label_indptr, np.int64)
    ids = np.asarray(label_ids, np.int64)
    sizes = _propagated_sizes(indptr, ids, graph.indptr, graph.indices, graph.columns)
    out_indptr = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum(sizes, out=out_indptr[1:])
    indices, data = _propagate(
        indptr, ids, np.asarray(weights, np.float64), graph.indptr, graph.indices, graph.data, out_indptr, graph.columns
    )
    return Sparse(out_indptr, indices, data, graph.columns)


def propagated_size(label_indptr: np.ndarray, label_ids: np.ndarray, graph: Sparse) -> int:
    """Values :func:`propagate` will hold: for a memory check before it runs."""
    indptr, ids = np.asarray(label_indptr, np.int64), np.asarray(label_ids, np.int64)
    return int(_propagated_sizes(indptr, ids, graph.indptr, graph.indices, graph.columns).sum())


@numba.njit(cache=True, nogil=True)
def _propagated_sizes(
    indptr: np.ndarray, ids: np.ndarray, g_indptr: np.ndarray, g_indices: np.ndarray, labels: int
) -> np.ndarray:  # pragma: no cover - compiled
    sizes = np.zeros(len(indptr) - 1, np.int64)
    mark = np.full(labels, -1, np.int64)
    for i in range(len(indptr) - 1):
        for p in range(indptr[i], indptr[i + 1]):
            j = ids[p]
            for q in range(g_indptr[j], g_indptr[j + 1]):
                if mark[g_indices[q]] != i:
                    mark[g_indices[q]] = i
                    sizes[i] += 1
    return sizes


@numba.njit(cache=True, nogil=True)
def _propagate(
    indptr: np.ndarray,
    ids: np.ndarray,
    weights: np.ndarray,
    g_indptr: np.ndarray,
    g_indices: np.ndarray,
    g_data: np.ndarray,
    out_indptr: np.ndarray,
    labels: int,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    indices = np.empty(out_indptr[-1], np.int64)
    data = np.empty(out_indptr[-1])
    slot = np.full(labels, -1, np.int64)  # where label l sits in the current row's output
    for i in range(len(indptr) - 1):
        at = out_indptr[i]
        for p in range(indptr[i], indptr[i + 1]):
            j = ids[p]
            for q in range(g_indptr[j], g_indptr[j + 1]):
                col = g_indices[q]
                if slot[col] < out_indptr[i]:
                    slot[col] = at
                    indices[at] = col
                    data[at] = 0.0
                    at += 1
                data[slot[col]] += weights[i] * g_data[q]
    return indices, data


def mig_select(rows: Sparse, k: int, phi: str = "pow", a: float = 1e-6, b: float = 0.8, alpha: float = 1.0) -> Picks:
    """``k`` rows by greedy information gain over propagated rows (see the module); their gains in order."""
    if not 1 <= k <= rows.rows:
        raise ValueError(f"k must be between 1 and the number of rows ({rows.rows}); got {k}")
    if phi not in PHIS:
        raise ValueError(f"phi must be one of {', '.join(PHIS)}; got {phi!r}")
    if phi == "pow" and not (a > 0 and 0 < b < 1):
        raise ValueError(f"phi pow needs a > 0 and 0 < b < 1 (concave); got a = {a}, b = {b}")
    if phi == "exp" and not alpha > 0:
        raise ValueError(f"phi exp needs alpha > 0; got {alpha}")
    if (rows.data < 0).any():
        raise ValueError("information must not be negative: every quality must be 0 or more")
    order, gains = _lazy_gain(rows.indptr, rows.indices, rows.data, rows.columns, int(k), phi == "pow", a, b, alpha)
    return Picks(order, gains)


@numba.njit(cache=True, nogil=True)
def _slope(x: float, power: bool, a: float, b: float, alpha: float) -> float:  # pragma: no cover - compiled
    """φ'(x): b (x + a)^(b − 1) for pow, α e^(−α x) for exp."""
    if power:
        return b * (x + a) ** (b - 1.0)
    return alpha * np.exp(-alpha * x)


@numba.njit(cache=True, nogil=True)
def _lazy_gain(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    labels: int,
    k: int,
    power: bool,
    a: float,
    b: float,
    alpha: float,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    n = len(indptr) - 1
    x = np.zeros(labels)
    slope = np.full(labels, _slope(0.0, power, a, b, alpha))
    bound = np.empty(n)
    for i in range(n):
        total = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            total += data[p] * slope[indices[p]]
        bound[i] = total
    fresh = np.zeros(n, np.int64)
    heap = np.arange(n)
    size = n
    for pos in range(size // 2 - 1, -1, -1):
        _sift_down(heap, bound, size, pos)
    order, gains = np.empty(k, np.int64), np.empty(k)
    for t in range(k):
        while fresh[heap[0]] != t:
            i = heap[0]
            total = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                total += data[p] * slope[indices[p]]
            bound[i] = total
            fresh[i] = t
            _sift_down(heap, bound, size, 0)
        i = heap[0]
        order[t], gains[t] = i, bound[i]
        size -= 1
        heap[0] = heap[size]
        _sift_down(heap, bound, size, 0)
        for p in range(indptr[i], indptr[i + 1]):
            label = indices[p]
            x[label] += data[p]
            slope[label] = _slope(x[label], power, a, b, alpha)
    return order, gains


def label_sums(
    indptr: np.ndarray, numbers: np.ndarray, x: np.ndarray, has: np.ndarray, labels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each label's summed row embeddings (rows with ``has``) and how many rows gave one: a mean's direction.

    Labels are compared by cosine, so the sum stands for the mean.
    """
    return _label_sums(np.asarray(indptr, np.int64), np.asarray(numbers, np.int64), x, has, labels)


@numba.njit(cache=True, nogil=True)
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

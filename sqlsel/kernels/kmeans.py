"""Seeded k-means: greedy k-means++ initialisation, Lloyd iterations, nearest-centroid assignment.

Pure numpy (float32 data, BLAS matrix products); every random choice comes from a
``numpy.random.Generator`` seeded by the caller, so a seed gives the same centroids every time.

* :func:`kmeans_plus_plus` — scikit-learn's greedy variant (also the ssl-data-curation reference's,
  REFERENCES.md §8.1): the first centre uniformly at random, then ``2 + int(log k)`` candidates drawn
  with probability ∝ squared distance to the closest centre, keeping the one that lowers the total
  the most.
* :func:`lloyd` — assign every point to its nearest centre, move each centre to its points' mean;
  a centre that loses all its points stays where it was.
* :func:`assign` — nearest centre and squared distance per point, in row chunks so memory stays
  bounded by ``chunk × k``.

Example:
    >>> rng = np.random.default_rng(0)
    >>> blobs = np.vstack([rng.normal(c, 0.1, (50, 2)) for c in (0, 5, 10)]).astype(np.float32)
    >>> fit = kmeans(blobs, 3, seed=1)
    >>> sorted(np.round(fit.centroids[:, 0]).astype(int).tolist())
    [0, 5, 10]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["KMeansFit", "kmeans", "kmeans_plus_plus", "lloyd", "assign"]

CHUNK = 8192  # rows per distance block: 8192 × k float32 at a time


@dataclass(frozen=True)
class KMeansFit:
    centroids: np.ndarray  # (k, d) float32
    labels: np.ndarray  # (n,) int32
    potential: float  # sum of squared distances to the assigned centres


def _check(x: np.ndarray, k: int) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"k-means needs a non-empty (rows, dim) matrix; got shape {x.shape}")
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= x.shape[0]:
        raise ValueError(f"k must be between 1 and the number of rows ({x.shape[0]}); got {k!r}")
    if not np.isfinite(x).all():
        raise ValueError("vectors contain NaN or infinite values; drop or repair those rows first")
    return x


def _sq_norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x)


def assign(x: np.ndarray, centroids: np.ndarray, chunk: int = CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest centroid (lowest index on ties) and the squared distance, per row."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    c = np.ascontiguousarray(centroids, dtype=np.float32)
    c_norms = _sq_norms(c)
    labels = np.empty(len(x), np.int32)
    dist = np.empty(len(x), np.float32)
    for start in range(0, len(x), chunk):
        block = x[start : start + chunk]
        d2 = c_norms[None, :] - 2.0 * (block @ c.T)
        best = np.argmin(d2, axis=1)
        labels[start : start + chunk] = best
        dist[start : start + chunk] = np.maximum(d2[np.arange(len(block)), best] + _sq_norms(block), 0.0)
    return labels, dist


def kmeans_plus_plus(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k initial centres by greedy k-means++ (``2 + int(log k)`` trials per centre)."""
    x = _check(x, k)
    rng = np.random.default_rng(seed)
    n = len(x)
    trials = 2 + int(np.log(k))
    norms = _sq_norms(x)
    chosen = [int(rng.integers(n))]
    closest = np.maximum(norms - 2.0 * (x @ x[chosen[0]]) + norms[chosen[0]], 0.0)
    for _ in range(1, k):
        total = float(closest.sum())
        if total <= 0:  # every point sits on a centre already: take unused points in order
            used = set(chosen)
            chosen.append(next(i for i in range(n) if i not in used))
            continue
        cumulative = np.cumsum(closest, dtype=np.float64)
        candidates = np.minimum(np.searchsorted(cumulative, rng.random(trials) * total), n - 1)
        d = np.maximum(norms[None, :] - 2.0 * (x[candidates] @ x.T) + norms[candidates][:, None], 0.0)
        pots = np.minimum(closest[None, :], d).sum(axis=1)
        best = int(np.argmin(pots))
        chosen.append(int(candidates[best]))
        closest = np.minimum(closest, d[best])
    return x[chosen].copy()


def lloyd(x: np.ndarray, centroids: np.ndarray, iterations: int) -> KMeansFit:
    """Lloyd iterations from the given centres; stops early once no assignment changes."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    c = np.array(centroids, dtype=np.float32)
    labels, dist = assign(x, c)
    for _ in range(iterations):
        sums = _cluster_sums(x, labels, len(c))
        counts = np.bincount(labels, minlength=len(c))
        moved = counts > 0
        c[moved] = (sums[moved] / counts[moved, None]).astype(np.float32)
        new_labels, dist = assign(x, c)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
    return KMeansFit(c, labels, float(dist.sum(dtype=np.float64)))


def _cluster_sums(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per-cluster sums of the rows (float64), a chunk at a time: sort the chunk by label, reduceat."""
    sums = np.zeros((k, x.shape[1]), np.float64)
    for start in range(0, len(x), CHUNK):
        lab = labels[start : start + CHUNK]
        order = np.argsort(lab, kind="stable")
        sorted_labels = lab[order]
        firsts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
        sums[sorted_labels[firsts]] += np.add.reduceat(x[start : start + CHUNK][order], firsts, axis=0)
    return sums


def kmeans(x: np.ndarray, k: int, seed: int, iterations: int = 50) -> KMeansFit:
    """k-means++ then Lloyd: the reference's per-level fit (50 iterations by default)."""
    x = _check(x, k)
    return lloyd(x, kmeans_plus_plus(x, k, seed), iterations)

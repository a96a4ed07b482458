"""Seeded k-means and hierarchical k-means with resampling (Vo et al. 2024), on faiss.

Every step runs on faiss-cpu's compiled, multi-threaded code (k-means++ initialisation, Lloyd
iterations, exact nearest-centroid search); this module adds the input checks, the hierarchy and the
resampling rule of the ssl-data-curation reference (REFERENCES.md §8.1):

* :func:`kmeans` — k-means++ (or a seeded random pick of rows) then ``iterations`` Lloyd steps, seeded.
* :func:`assign` — nearest centroid (lowest index on ties) and squared L2 distance per row.
* :func:`hierarchical_kmeans` — level 1 clusters the rows, level ℓ > 1 clusters the centroids of
  level ℓ − 1. A level with ``steps > 1`` is refitted ``steps − 1`` times: take the
  ``sample_size`` points closest to each centroid (or random ones), run a fresh k-means on that
  sample, reassign every point. Past ``sample`` rows per cluster, level 1 is fitted on a sample (see
  :func:`hierarchical_kmeans`); ``sample=0`` is the reference's fit on every row.

Example:
    >>> rng = np.random.default_rng(0)
    >>> blobs = np.vstack([rng.normal(c, 0.1, (50, 2)) for c in (0, 5, 10)]).astype(np.float32)
    >>> fit = kmeans(blobs, 3, seed=1)
    >>> sorted(np.round(fit.centroids[:, 0]).astype(int).tolist())
    [0, 5, 10]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import faiss
import numpy as np

from sqlsel.kernels.sampling import uniform

__all__ = [
    "KMeansFit",
    "Level",
    "kmeans",
    "assign",
    "nearest_centroids",
    "hierarchical_kmeans",
    "STRATEGIES",
    "SAMPLE",
    "SAMPLE_ITERATIONS",
    "REFINE",
]

STRATEGIES = ("closest", "random")  # how a resampling step picks its points per cluster
#: A large level 1 (see hierarchical_kmeans): rows per cluster it trains on, its Lloyd steps on them,
#: and the steps on every row after; the defaults of sel_kmeans_fit.
SAMPLE, SAMPLE_ITERATIONS, REFINE = 256, 15, 2
THREADS = faiss.omp_get_max_threads()  # a fit uses every core, whatever a caller's thread last set


@dataclass(frozen=True)
class KMeansFit:
    centroids: np.ndarray  # (k, d) float32
    labels: np.ndarray  # (n,) int32
    distances: np.ndarray  # (n,) float32: squared distance to the assigned centre

    @property
    def potential(self) -> float:
        """Sum of squared distances to the assigned centres."""
        return float(self.distances.sum(dtype=np.float64))


@dataclass(frozen=True)
class Level:
    """One level of a hierarchy: its centroids, and the cluster of each item of the level below."""

    centroids: np.ndarray  # (k, d) float32
    labels: np.ndarray  # level 1: cluster per row; level ℓ > 1: cluster per level ℓ−1 centroid
    potential: float


def check_vectors(x: np.ndarray, k: int) -> np.ndarray:
    """``x`` as a C-contiguous float32 matrix, or ValueError when k-means cannot run on it."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"k-means needs a non-empty (rows, dim) matrix; got shape {x.shape}")
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= x.shape[0]:
        raise ValueError(f"k must be between 1 and the number of rows ({x.shape[0]}); got {k!r}")
    if not np.isfinite(x).all():
        raise ValueError("vectors contain NaN or infinite values; drop or repair those rows first")
    return x


def kmeans(
    x: np.ndarray,
    k: int,
    seed: int,
    iterations: int = 50,
    init: np.ndarray | str = "kmeans++",
) -> KMeansFit:
    """``iterations`` Lloyd steps from k-means++ (the reference's per-level fit: 50), from a seeded
    random pick of ``k`` rows (``init="random"``, faiss's default), or from given centroids."""
    x = check_vectors(x, k)
    faiss.omp_set_num_threads(THREADS)
    if not isinstance(init, str) and iterations <= 0:  # nothing to train: the given centroids, assigned
        centroids = np.ascontiguousarray(init, dtype=np.float32)
        return KMeansFit(centroids, *assign(x, centroids))
    km = faiss.Kmeans(
        x.shape[1],
        int(k),
        niter=int(iterations),
        seed=int(seed) % 2**31,
        max_points_per_centroid=x.shape[0],  # never subsample here: the caller chose the rows
        min_points_per_centroid=1,  # few points per centroid is the caller's choice, not a warning
    )
    if isinstance(init, str):
        if init == "kmeans++":
            km.cp.init_method = faiss.ClusteringInitMethod_KMEANS_PLUS_PLUS
        km.train(x)
    else:
        km.train(x, init_centroids=np.ascontiguousarray(init, dtype=np.float32))
    centroids = np.ascontiguousarray(km.centroids, dtype=np.float32)
    labels, dist = assign(x, centroids)
    return KMeansFit(centroids, labels, dist)


def assign(x: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest centroid and the squared L2 distance to it, per row (exact search)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    c = np.ascontiguousarray(centroids, dtype=np.float32)
    index = faiss.IndexFlatL2(c.shape[1])
    index.add(c)
    faiss.omp_set_num_threads(THREADS)
    return nearest_centroids(index, x, c)


NEAR_TIE_CANDIDATES = 3  # nearest centroids searched per row, so that near ties can be settled


def nearest_centroids(index: faiss.Index, x: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest of ``centroids`` (held by the flat L2 ``index``) per row and the squared distance to it."""
    dist, labels = index.search(x, min(NEAR_TIE_CANDIDATES, len(centroids)))
    return settle_near_ties(x, centroids, dist, labels)


def settle_near_ties(
    x: np.ndarray, centroids: np.ndarray, dist: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid per row from a faiss search's k best ``labels`` and ``dist``, near ties settled in float64.

    faiss computes ‖x‖² + ‖c‖² − 2x·c in float32 with BLAS, whose rounding depends on how many rows
    are searched together and on how many threads: two centroids within rounding of each other can
    swap between a 2,048-row batch and a whole table. Rows whose best candidates are that close get
    exact float64 distances, and the lowest index wins a true tie, so a row's cluster depends only on
    the row. Returns the cluster (int32) and squared distance (float32) per row.
    """
    best, best_dist = labels[:, 0].astype(np.int32), np.maximum(dist[:, 0], 0.0)
    if labels.shape[1] < 2 or not len(x):
        return best, best_dist
    scale = np.einsum("ij,ij->i", x, x) + float(np.einsum("ij,ij->i", centroids, centroids).max())
    close = (dist - dist[:, :1]) <= 1e-5 * scale[:, None]  # within float32 rounding of the best
    rows = np.flatnonzero(close[:, 1])
    if len(rows):
        cand = labels[rows]
        diff = x[rows, None, :].astype(np.float64) - centroids[cand].astype(np.float64)
        exact = np.where(close[rows] & (cand >= 0), np.einsum("ijk,ijk->ij", diff, diff), np.inf)
        lowest = exact.min(axis=1, keepdims=True)
        best[rows] = np.where(exact == lowest, cand, np.iinfo(np.int64).max).min(axis=1)
        best_dist[rows] = lowest[:, 0]
    return best, best_dist


def _resample(
    x: np.ndarray, labels: np.ndarray, dist: np.ndarray, per_cluster: int, strategy: str, seed: int
) -> np.ndarray:
    """Row indices of up to ``per_cluster`` points per cluster: the closest, or a seeded random set."""
    rank_key = dist if strategy == "closest" else uniform(np.arange(len(x)), seed)
    order = np.lexsort((np.arange(len(x)), rank_key, labels))  # by cluster, then key, then row
    sorted_labels = labels[order]
    starts = np.searchsorted(sorted_labels, sorted_labels, side="left")
    return np.sort(order[np.arange(len(order)) - starts < per_cluster])


def hierarchical_kmeans(
    x: np.ndarray,
    clusters: Sequence[int],
    seed: int,
    *,
    iterations: int = 50,
    steps: Sequence[int] | None = None,
    sample_sizes: Sequence[int] | None = None,
    strategy: str = "closest",
    sample: int = 0,
    sample_iterations: int = SAMPLE_ITERATIONS,
    refine: int = REFINE,
    hashes: np.ndarray | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Level]:
    """Fit a hierarchy bottom-up; ``clusters[0]`` is the finest level (clusters of rows).

    ``steps[l]`` k-means runs per level (1: no resampling; the reference's configs use 1 at the
    first level and 10 above, the default here); ``sample_sizes[l]`` points per cluster in each
    resampling step (default: half the level's average cluster size, at least 1).

    When the rows are more than ``sample`` per level-1 cluster (``sample`` > 0), level 1 is fitted
    the way faiss trains on large data: ``sample_iterations`` Lloyd steps from a seeded random pick of
    rows, on ``sample`` rows per cluster (those whose key ``hashes``, default the row positions, draw
    the smallest seeded uniforms), then ``refine`` Lloyd steps on every row. On 1M × 384 hash
    embeddings at 1,000 clusters that took 38-49 s against 356-361 s for k-means++ and 50 steps on every
    row, at an objective 0.3% higher (benchmarks/kmeans.py). ``sample=0`` is the reference's fit.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
    levels = len(clusters)
    steps = list(steps) if steps is not None else [1] + [10] * (levels - 1)
    if len(steps) != levels or min(steps) < 1:
        raise ValueError(f"steps needs one value ≥ 1 per level ({levels}); got {steps}")
    if sample_sizes is not None and len(sample_sizes) != levels:
        raise ValueError(f"sample_sizes needs one value per level ({levels}); got {list(sample_sizes)}")
    out: list[Level] = []
    data = check_vectors(x, int(clusters[0]))
    for level, k in enumerate(clusters):
        level_seed = int(seed) * 7919 + level
        if not 1 <= int(k) <= len(data):
            what = "rows" if level == 0 else f"clusters at level {level}"
            raise ValueError(f"level {level + 1} asks for {k} clusters but there are only {len(data)} {what}")
        if level == 0 and sample > 0 and sample * int(k) < len(data):
            keys = np.arange(len(data)) if hashes is None else hashes
            chosen = np.sort(np.argpartition(uniform(keys, level_seed), sample * int(k))[: sample * int(k)])
            centroids = kmeans(data[chosen], int(k), level_seed, sample_iterations, init="random").centroids
            fit = kmeans(data, int(k), level_seed, refine, init=centroids)
        else:
            fit = kmeans(data, int(k), level_seed, iterations)
        centroids, labels, dist = fit.centroids, fit.labels, fit.distances
        per_cluster = int(sample_sizes[level]) if sample_sizes is not None else max(1, len(data) // (2 * int(k)))
        for step in range(1, steps[level]):
            picked = _resample(data, labels, dist, per_cluster, strategy, level_seed + step)
            if len(picked) < k:
                break  # too few points to refit k clusters: keep the last fit
            centroids = kmeans(data[picked], int(k), level_seed + step, iterations).centroids
            labels, dist = assign(data, centroids)
        out.append(Level(centroids, labels, float(dist.sum(dtype=np.float64))))
        if progress is not None:
            progress(f"level {level + 1}: {k} clusters over {len(data):,} points")
        data = centroids
    return out

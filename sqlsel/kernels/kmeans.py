"""Seeded k-means and hierarchical k-means with resampling (Vo et al. 2024), on faiss.

Every step runs on faiss-cpu's compiled, multi-threaded code (k-means++ initialisation, Lloyd
iterations, exact nearest-centroid search); this module adds the input checks, the hierarchy and the
resampling rule of the ssl-data-curation reference (docs/REFERENCES.md §8.1):

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

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sqlsel.kernels.sampling import uniform

if TYPE_CHECKING:
    import faiss

__all__ = [
    "KMeansFit",
    "Level",
    "kmeans",
    "train_centroids",
    "assign",
    "nearest_centroids",
    "hierarchical_kmeans",
    "RowStream",
    "add_scaled_rows",
    "means_of",
    "lloyd_scale",
    "potential_of",
    "STRATEGIES",
    "SAMPLE",
    "SAMPLE_ITERATIONS",
    "REFINE",
    "flat_index",
    "fit_threads",
    "search_threads",
]

STRATEGIES = ("closest", "random")  # how a resampling step picks its points per cluster
#: A large level 1 (see hierarchical_kmeans): rows per cluster it trains on, its Lloyd steps on them,
#: and the steps on every row after; the defaults of sel_kmeans_fit.
SAMPLE, SAMPLE_ITERATIONS, REFINE = 256, 15, 2
_STEP_ROWS = 16384  # rows searched at a time by a streamed step (their int64 copy is 32 MB at d = 256)


def _faiss() -> Any:
    """faiss, imported on first use: 0.12 s of start-up that a run without k-means need not pay."""
    import faiss

    return faiss


@functools.cache
def fit_threads() -> int:
    """OpenMP threads of a fit: every core, whatever a caller's thread last set."""
    return int(_faiss().omp_get_max_threads())


def search_threads(count: int) -> None:
    """OpenMP threads of the faiss searches this thread runs next (the setting is per calling thread)."""
    _faiss().omp_set_num_threads(count)


def flat_index(centroids: np.ndarray) -> faiss.Index:
    """An exact L2 index over ``centroids`` (float32, one row each), for :func:`nearest_centroids`."""
    index = _faiss().IndexFlatL2(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    return index


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
    labels: np.ndarray | None  # level 1: cluster per row (None when the rows were streamed); ℓ > 1: per ℓ−1 centroid
    potential: float
    sizes: np.ndarray  # items of the level below in each cluster (int64)


@dataclass(frozen=True)
class RowStream:
    """Rows that a fit reads block by block, as often as it needs: each ``blocks()`` call reads them anew.

    A block is (key hashes, float32 rows). A large level 1 is fitted from a stream (see
    :func:`hierarchical_kmeans`), so a source larger than memory is never held whole; ``RowStream.of``
    streams an in-memory matrix, with the same result.
    """

    blocks: Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]
    rows: int
    dim: int

    # The three passes a sampled fit makes over the rows. Another engine (Spark) overrides them to run
    # where the rows are; each gives the same answer in any row order or partitioning.

    def sample(self, m: int, seed: int) -> tuple[np.ndarray, float]:
        """The ``m`` rows whose key hashes draw the smallest seeded uniforms, ordered by hash; max |value|."""
        return _seeded_sample(self, m, seed)

    def lloyd_step(self, centroids: np.ndarray, scale: float) -> np.ndarray:
        """One Lloyd step over every row, its sums in integers (see :func:`_lloyd_step`)."""
        return _lloyd_step(self, centroids, scale)

    def assignment(self, centroids: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray, float]:
        """Every row's cluster and squared distance (None where they stay with the rows), cluster sizes, potential."""
        labels, dist = [], []
        for _, lab, d in _assigned(self, centroids):
            labels.append(lab)
            dist.append(d)
        all_labels, all_dist = np.concatenate(labels), np.concatenate(dist)
        sizes = np.bincount(all_labels, minlength=len(centroids)).astype(np.int64)
        return all_labels, all_dist, sizes, potential_of(all_dist)

    @staticmethod
    def of(x: np.ndarray, hashes: np.ndarray | None = None, block_rows: int = 65536) -> RowStream:
        keys = np.arange(len(x)) if hashes is None else hashes

        def blocks() -> Iterable[tuple[np.ndarray, np.ndarray]]:
            return ((keys[a : a + block_rows], x[a : a + block_rows]) for a in range(0, len(x), block_rows))

        return RowStream(blocks, len(x), x.shape[1])


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
    random pick of ``k`` rows (``init="random"``, faiss's default), or from given centroids; every row
    assigned to the result."""
    x = check_vectors(x, k)
    centroids = _train(x, k, seed, iterations, init)
    return KMeansFit(centroids, *assign(x, centroids))


def train_centroids(
    x: np.ndarray,
    k: int,
    seed: int,
    iterations: int = 50,
    init: np.ndarray | str = "kmeans++",
) -> np.ndarray:
    """The centroids :func:`kmeans` fits, without assigning ``x`` to them (a refit on a sample assigns
    every row afterwards, not the sample)."""
    return _train(check_vectors(x, k), k, seed, iterations, init)


def _train(x: np.ndarray, k: int, seed: int, iterations: int, init: np.ndarray | str) -> np.ndarray:
    """:func:`train_centroids` of a matrix :func:`check_vectors` has already passed."""
    faiss = _faiss()
    faiss.omp_set_num_threads(fit_threads())
    if not isinstance(init, str) and iterations <= 0:  # nothing to train: the given centroids
        return np.ascontiguousarray(init, dtype=np.float32)
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
    return np.ascontiguousarray(km.centroids, dtype=np.float32)


def assign(x: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest centroid and the squared L2 distance to it, per row (exact search)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    c = np.ascontiguousarray(centroids, dtype=np.float32)
    index = flat_index(c)
    search_threads(fit_threads())
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
    x: np.ndarray | RowStream,
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
    the smallest seeded uniforms, ordered by hash), then ``refine`` Lloyd steps on every row, their
    sums in integers so that the centroids do not depend on row order. On 1M × 384 hash embeddings at
    1,000 clusters that took 38-49 s against 356-361 s for k-means++ and 50 steps on every row, at an
    objective 0.3% higher (benchmarks/kmeans.py). ``sample=0`` is the reference's fit.

    ``x`` may be a :class:`RowStream` (rows read block by block, larger than memory): level 1 is then
    fitted on a sample as above, holding the sample, the centroids and 8 bytes per row; the result
    equals the fit of the same rows in memory. Level 1's ``labels`` are then None (``sizes`` count them).
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
    streamed = isinstance(x, RowStream)
    rows = x.rows if isinstance(x, RowStream) else len(x)
    data = None if isinstance(x, RowStream) else check_vectors(x, int(clusters[0]))
    for level, k in enumerate(clusters):
        level_seed = int(seed) * 7919 + level
        count = rows if data is None else len(data)
        if not 1 <= int(k) <= count:
            what = "rows" if level == 0 else f"clusters at level {level}"
            raise ValueError(f"level {level + 1} asks for {k} clusters but there are only {count} {what}")
        sizes: np.ndarray | None = None
        if level == 0 and sample > 0 and sample * int(k) < count:
            stream = x if isinstance(x, RowStream) else RowStream.of(data, hashes)  # type: ignore[arg-type]
            fitted = _sampled_fit(stream, int(k), level_seed, sample, sample_iterations, refine)
            centroids, labels, dist, sizes, potential = fitted
        elif data is None:
            raise ValueError(
                f"streamed rows are fitted on a sample: level 1 needs sample > 0 and more than sample × k rows "
                f"({sample} × {k}); read the rows into memory instead"
            )
        else:
            fit = kmeans(data, int(k), level_seed, iterations)
            centroids, labels, dist = fit.centroids, fit.labels, fit.distances
        per_cluster = int(sample_sizes[level]) if sample_sizes is not None else max(1, count // (2 * int(k)))
        for step in range(1, steps[level]):
            if data is None:
                raise ValueError("streamed rows cannot be resampled at level 1: steps[0] must be 1")
            picked = _resample(data, labels, dist, per_cluster, strategy, level_seed + step)
            if len(picked) < k:
                break  # too few points to refit k clusters: keep the last fit
            centroids = train_centroids(data[picked], int(k), level_seed + step, iterations)
            labels, dist = assign(data, centroids)
            sizes = None
        if sizes is None:
            potential = potential_of(dist)
            sizes = np.bincount(labels, minlength=int(k)).astype(np.int64)
        out.append(Level(centroids, None if streamed and level == 0 else labels, potential, sizes))
        if progress is not None:
            progress(f"level {level + 1}: {k} clusters over {count:,} points")
        data = centroids
    return out


def potential_of(dist: np.ndarray) -> float:
    """The k-means objective: squared distances summed in float64, sorted first (the same in any row order)."""
    return float(np.sort(dist).sum(dtype=np.float64))


def _sampled_fit(
    stream: RowStream, k: int, seed: int, sample: int, sample_iterations: int, refine: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray, float]:
    """Level 1 of a large fit: a sample's k-means, then ``refine`` Lloyd steps over every row, streamed.

    Returns centroids, the cluster and squared distance of every row in stream order (None from a
    stream that keeps them where the rows are), cluster sizes and the potential. Each read of the
    stream holds one block at a time: the sample (``sample × k`` rows), the centroids and 8 bytes per
    row for the labels and distances are all that stay.
    """
    chosen, peak = stream.sample(sample * k, seed)
    centroids = train_centroids(chosen, k, seed, sample_iterations, init="random")
    del chosen
    # integer sums (at a scale that cannot overflow) are the same in any order: a Lloyd step gives the
    # same centroids whatever blocks, threads, row order or partitions the stream has
    for _ in range(refine):
        centroids = stream.lloyd_step(centroids, lloyd_scale(stream.rows, peak))
    return (centroids, *stream.assignment(centroids))


def lloyd_scale(rows: int, peak: float) -> float:
    """The power of two rows are scaled by before they are summed as int64: as fine as cannot overflow."""
    shift = 40 if peak == 0 else min(40, int(np.floor(62 - np.log2(max(rows, 2)) - np.log2(peak))))
    return float(2.0**shift)


def _lloyd_step(stream: RowStream, centroids: np.ndarray, scale: float) -> np.ndarray:
    """One Lloyd step over a stream: every row to its nearest centroid, each centroid to its rows' mean.

    Rows are summed as integers (``round(value × scale)``, ``scale`` a power of two small enough
    that no sum overflows), so the means do not depend on the order of the rows. A centroid that
    gets no rows stays where it was.
    """
    k, d = centroids.shape
    sums = np.zeros((k, d), np.int64)
    counts = np.zeros(k, np.int64)
    for part, labels, _ in _assigned(stream, centroids):
        add_scaled_rows(sums, counts, part, labels, scale)
    return means_of(centroids, sums, counts, scale)


def add_scaled_rows(sums: np.ndarray, counts: np.ndarray, x: np.ndarray, labels: np.ndarray, scale: float) -> None:
    """Add rows ``x`` (as ``round(value × scale)`` int64) and their count to their clusters' ``sums`` and ``counts``."""
    order = np.argsort(labels, kind="stable")
    grouped = labels[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    q = np.rint(x[order] * scale).astype(np.int64)
    sums[grouped[starts]] += np.add.reduceat(q, starts, axis=0)
    counts += np.bincount(labels, minlength=len(counts))


def means_of(centroids: np.ndarray, sums: np.ndarray, counts: np.ndarray, scale: float) -> np.ndarray:
    """Centroids from integer row sums; a centroid without rows stays where it was."""
    filled = counts > 0
    means = centroids.astype(np.float64)
    means[filled] = sums[filled] / counts[filled, None] / scale
    return np.ascontiguousarray(means, np.float32)


def _seeded_sample(stream: RowStream, m: int, seed: int) -> tuple[np.ndarray, float]:
    """The ``m`` rows whose key hashes draw the smallest seeded uniforms, ordered by hash, and max |value|.

    Two passes: the first draws every row's uniform and keeps only the hashes that can still be among
    the m smallest (at most about 2m at a time, 16 bytes each), the second gathers those rows into one
    (m, dim) matrix. So the sample is the only copy of vectors a fit holds besides one block.
    """
    held_u, held_h = np.empty(0), np.empty(0, np.uint64)
    bound, peak, seen = np.inf, 0.0, 0
    for hashes, x in stream.blocks():
        seen += len(x)
        peak = max(peak, float(np.abs(x).max(initial=0.0)))
        if not np.isfinite(peak):
            raise ValueError("vectors contain NaN or infinite values; drop or repair those rows first")
        u = uniform(hashes, seed)
        take = u < bound
        held_u = np.concatenate([held_u, u[take]])
        held_h = np.concatenate([held_h, np.asarray(hashes, np.uint64)[take]])
        if len(held_u) > 2 * m:
            keep = np.argpartition(held_u, m - 1)[:m]
            held_u, held_h = held_u[keep], held_h[keep]
            bound = float(held_u.max())
    _check_rows(stream, seen)
    if len(held_u) > m:
        held_h = held_h[np.argpartition(held_u, m - 1)[:m]]
    chosen = np.sort(held_h)  # by hash: the same sample matrix in any row order
    sample = np.empty((len(chosen), stream.dim), np.float32)
    found = 0
    for hashes, x in stream.blocks():
        h = np.asarray(hashes, np.uint64)
        at = np.minimum(np.searchsorted(chosen, h), len(chosen) - 1)
        hit = chosen[at] == h
        sample[at[hit]] = x[hit]
        found += int(hit.sum())
    if found != len(chosen):
        raise ValueError(f"the rows changed while they were read ({len(chosen)} sampled, {found} found again)")
    return sample, peak


def _check_rows(stream: RowStream, seen: int) -> None:
    if seen != stream.rows:
        raise ValueError(f"the rows changed while they were read ({stream.rows} rows, then {seen})")


def _assigned(stream: RowStream, centroids: np.ndarray) -> Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Rows, their nearest centroid and squared distance, block by block (a row's answer depends on it alone)."""
    index = flat_index(centroids)
    search_threads(fit_threads())
    seen = 0
    for _, x in stream.blocks():
        seen += len(x)
        for a in range(0, len(x), _STEP_ROWS):
            part = np.ascontiguousarray(x[a : a + _STEP_ROWS], np.float32)
            yield (part, *nearest_centroids(index, part, centroids))
    _check_rows(stream, seen)

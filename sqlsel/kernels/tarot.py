"""TAROT (Feng et al. 2024): targeted selection by whitened features and optimal transport.

Three steps, each a function here:

1. :func:`whiten`: centre the pool's and the target's embeddings on their joint mean and multiply them
   by the inverse Cholesky factor of their joint covariance, so the few directions that dominate raw
   embeddings (document length, language, format) stop deciding every similarity; then scale each row
   to unit length. This is the authors' whitened feature distance (their code whitens with the
   covariance of pool and target together, plus a ridge on the diagonal). The ridge here is relative:
   ``ridge`` × the mean variance, so a covariance of fewer rows than dimensions (a small target, a
   small pool) is still invertible; directions the rows do not span get no weight either way.
2. :func:`nearest_pool_rows`: for every target row, the pool rows in order of whitened cosine
   similarity (ties: the lower pool row first). Layer ``l`` is every target's ``l``-th nearest row.
3. Selection. :func:`tarot_select` with ``k ≥ 1`` adds whole layers while they fit in ``k`` (each
   target in turn gets its next nearest row, so the selection spreads over the target as a transport
   plan does) and fills the rest from the next layer by similarity (the authors' ``fixed_size``; they
   break that last layer by dual potentials, here by similarity, so no solver runs). With ``k = 0`` it
   chooses the size (the authors' ``otm``): the target is split into ``folds`` seeded parts; for each,
   the layers of that part's rows are added one at a time and the exact optimal-transport distance
   (:func:`sqlsel.kernels.transport.ot_distance`, cost 2 − 2·cosine of whitened rows) from the growing
   selection to the *other* parts is measured, until it stops falling (a layer that adds no new row is
   skipped, not measured). The selection is the union of each part's best prefix; the curve of every
   (part, layers, rows, distance) is returned. (The authors' loop keeps the prefix one layer past the
   minimum; this keeps the minimum.)

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> pool = rng.normal(size=(200, 8)).astype(np.float32)
    >>> target = pool[:20] + 0.01 * rng.normal(size=(20, 8)).astype(np.float32)
    >>> picked = tarot_select(pool, target, k=20)
    >>> sorted(picked.rows.tolist()) == list(range(20))
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sqlsel.kernels.transport import ot_distance
from sqlsel.kernels.vectors import unit_rows

__all__ = ["CurvePoint", "NearestRows", "TarotSelection", "nearest_pool_rows", "tarot_select", "whiten"]

#: Pool rows multiplied by the target in one block (block × target float32 similarities at a time).
_BLOCK = 8192


def whiten(pool: np.ndarray, target: np.ndarray, ridge: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """Pool and target rows whitened by their joint covariance, then scaled to unit length (float32).

    Memory: the two float32 results plus a block of float64 rows.
    """
    if not ridge > 0:
        raise ValueError(f"ridge must be positive (e.g. 1e-5); got {ridge}")
    if pool.shape[1] != target.shape[1]:
        raise ValueError(f"pool rows have {pool.shape[1]} dimensions, target rows {target.shape[1]}")
    n, d = len(pool) + len(target), pool.shape[1]
    mean = (pool.sum(axis=0, dtype=np.float64) + target.sum(axis=0, dtype=np.float64)) / n
    covariance = np.zeros((d, d))
    for part in (pool, target):
        for start in range(0, len(part), _BLOCK):
            centred = part[start : start + _BLOCK].astype(np.float64) - mean
            covariance += centred.T @ centred
    covariance /= n
    scale = float(np.trace(covariance)) / d
    covariance[np.diag_indices(d)] += ridge * (scale if scale > 0 else 1.0)
    # rows · (L⁻¹)ᵀ with L the Cholesky factor: the whitened rows have identity covariance
    inverse_t = np.linalg.inv(np.linalg.cholesky(covariance)).T
    out = []
    for part in (pool, target):
        whitened = np.empty(part.shape, np.float32)
        for start in range(0, len(part), _BLOCK):
            block = (part[start : start + _BLOCK].astype(np.float64) - mean) @ inverse_t
            whitened[start : start + _BLOCK] = unit_rows(block)
        out.append(whitened)
    return out[0], out[1]


def nearest_pool_rows(pool: np.ndarray, target: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Each target row's ``depth`` most similar pool rows (unit rows: cosine), most similar first.

    Returns (rows, similarities), both target × depth; ties go to the lower pool row, at the depth
    cut too. Memory: the answers plus one block of pool rows × target similarities.
    """
    depth = min(int(depth), len(pool))
    m = len(target)
    best_rows = np.empty((m, 0), np.int64)
    best_sims = np.empty((m, 0), np.float32)
    t = np.ascontiguousarray(target.T, dtype=np.float64)
    for start in range(0, len(pool), _BLOCK):
        # in float64, then rounded to float32: BLAS rounds a row's product by where it sits in the block,
        # and a copy of a row must tie with it exactly
        sims = (pool[start : start + _BLOCK].astype(np.float64) @ t).T.astype(np.float32)  # target × block
        rows = np.broadcast_to(np.arange(start, start + sims.shape[1], dtype=np.int64), sims.shape)
        # what is kept comes first, ties in row order, and holds lower rows than this block: equal
        # similarities are met in row order along each line
        sims = np.concatenate([best_sims, sims], axis=1)
        rows = np.concatenate([best_rows, rows], axis=1)
        if sims.shape[1] > depth:
            cut = -np.partition(-sims, depth - 1, axis=1)[:, depth - 1 : depth]  # each line's depth-th best
            above = sims > cut
            level = sims == cut
            wanted = depth - above.sum(axis=1, keepdims=True)  # ties to keep: the first ones met
            keep = above | (level & (np.cumsum(level, axis=1) <= wanted))
            sims, rows = sims[keep].reshape(m, depth), rows[keep].reshape(m, depth)
        order = np.lexsort((rows, -sims), axis=1)
        best_sims, best_rows = np.take_along_axis(sims, order, axis=1), np.take_along_axis(rows, order, axis=1)
    return best_rows, best_sims


class NearestRows:
    """Each target row's nearest pool rows, searched again deeper when a caller needs a later layer."""

    def __init__(self, pool: np.ndarray, target: np.ndarray, depth: int) -> None:
        self.pool, self.target = pool, target
        self.rows, self.sims = nearest_pool_rows(pool, target, max(1, depth))

    @property
    def depth(self) -> int:
        return self.rows.shape[1]

    def layer(self, index: int, targets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Layer ``index`` (0-based): the (pool row, similarity) of each of ``targets`` (default: all)."""
        if index >= self.depth and self.depth < len(self.pool):
            self.rows, self.sims = nearest_pool_rows(self.pool, self.target, max(2 * self.depth, index + 1))
        chosen = slice(None) if targets is None else targets
        return self.rows[chosen, index], self.sims[chosen, index]


@dataclass(frozen=True)
class CurvePoint:
    fold: int  # 1-based part of the target whose nearest rows grow the selection
    layers: int  # layers added so far
    rows: int  # distinct pool rows in the selection
    distance: float  # exact OT distance from the selection to the other parts of the target


@dataclass(frozen=True)
class TarotSelection:
    rows: np.ndarray  # pool rows in selection order: by the layer they entered, then similarity, then row
    layers: np.ndarray  # the layer (1-based) each row entered at (k = 0: the earliest over the folds)
    similarities: np.ndarray  # its whitened cosine to the target row that took it (k = 0: the highest)
    curve: list[CurvePoint] = field(default_factory=list)  # k = 0 only


def _new_rows(rows: np.ndarray, sims: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A layer's rows not seen yet, each once with its best similarity, most similar first (ties: lower row)."""
    fresh = ~seen[rows]
    rows, sims = rows[fresh], sims[fresh]
    order = np.lexsort((rows, -sims))
    rows, sims = rows[order], sims[order]
    _, first = np.unique(rows, return_index=True)
    first.sort()
    return rows[first], sims[first]


def _fixed_size(nearest: NearestRows, k: int) -> TarotSelection:
    seen = np.zeros(len(nearest.pool), bool)
    rows: list[np.ndarray] = []
    sims: list[np.ndarray] = []
    layers: list[np.ndarray] = []
    taken, layer = 0, 0
    while taken < k:
        new, similarity = _new_rows(*nearest.layer(layer), seen)
        new, similarity = new[: k - taken], similarity[: k - taken]
        seen[new] = True
        rows.append(new)
        sims.append(similarity)
        layers.append(np.full(len(new), layer + 1, np.int64))
        taken += len(new)
        layer += 1
    return TarotSelection(np.concatenate(rows), np.concatenate(layers), np.concatenate(sims))


def _chosen_size(nearest: NearestRows, pool: np.ndarray, target: np.ndarray, folds: int, seed: int) -> TarotSelection:
    m, n = len(target), len(pool)
    if m < 2:
        raise ValueError(f"choosing the size (k = 0) needs at least 2 target rows to hold some out; got {m}")
    parts = np.array_split(np.random.default_rng(seed).permutation(m), min(folds, m))
    never = np.iinfo(np.int64).max
    entered = np.full(n, never)  # the earliest layer each row entered at in a fold's best prefix
    best_sim = np.full(n, -np.inf)
    curve: list[CurvePoint] = []
    for fold, part in enumerate(parts, start=1):
        others = np.setdiff1d(np.arange(m), part)
        seen = np.zeros(n, bool)
        chosen: list[np.ndarray] = []
        sims: list[np.ndarray] = []
        best, best_layers, layer = np.inf, 0, 0
        while seen.sum() < n and layer < n:
            new, similarity = _new_rows(*nearest.layer(layer, part), seen)
            seen[new] = True
            chosen.append(new)
            sims.append(similarity)
            layer += 1
            if len(new) == 0:  # every row of this layer is in already: the distance cannot change
                continue
            selection = np.concatenate(chosen)
            distance = ot_distance(pool[selection], target[others])
            curve.append(CurvePoint(fold, layer, len(selection), distance))
            if distance >= best:
                break
            best, best_layers = distance, layer
        for at in range(best_layers):
            np.minimum.at(entered, chosen[at], at + 1)
            np.maximum.at(best_sim, chosen[at], sims[at])
    picked = np.flatnonzero(entered != never)
    order = np.lexsort((picked, -best_sim[picked], entered[picked]))
    picked = picked[order]
    return TarotSelection(picked, entered[picked], best_sim[picked].astype(np.float32), curve)


def tarot_select(
    pool: np.ndarray, target: np.ndarray, k: int, folds: int = 5, ridge: float = 1e-5, seed: int = 0
) -> TarotSelection:
    """TAROT's selection of ``k`` pool rows for ``target`` (``k = 0``: choose the size; see the module)."""
    n = len(pool)
    if n < 1 or len(target) < 1:
        raise ValueError(f"TAROT needs pool and target rows; got {n} and {len(target)}")
    if not 0 <= k:
        raise ValueError(f"k must be 0 (choose) or positive; got {k}")
    if folds < 2:
        raise ValueError(f"folds must be at least 2; got {folds}")
    pool_w, target_w = whiten(pool, target, ridge)
    k = min(int(k), n)
    # layers needed: about k / target rows when the targets' neighbours differ; searched deeper if not
    nearest = NearestRows(pool_w, target_w, 4 * -(-max(k, 1) // len(target)) + 4)
    if k:
        return _fixed_size(nearest, k)
    return _chosen_size(nearest, pool_w, target_w, folds, seed)

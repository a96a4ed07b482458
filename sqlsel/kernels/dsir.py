"""DSIR importance weights (Xie et al. 2023) over hashed n-gram features: apply and evaluate a fitted model.

The model is two bucket histograms, target and raw, and their per-bucket log ratio
``log(p_target + 1e-8) - log(p_raw + 1e-8)`` as in data-selection 1.0.3, with optional Laplace
smoothing of the target. The fit, log ratio included, is SQL (``udfs/dsir.sql``,
``sql/dsir_select.sql``). A document's log importance weight is the dot product of the log ratio
with its bucket counts: a sum over its n-grams.

Example:
    >>> import numpy as np
    >>> ratio = np.array([1.0986, -1.0986])
    >>> np.round(weights_from_features(ratio, np.array([0, 0, 1]), np.array([0, 3])), 4)
    array([1.0986])
"""

from __future__ import annotations

import numpy as np

from sqlsel.kernels._jit import jit

__all__ = ["FLOOR", "weights_from_features", "kl_divergence", "kl_reduction", "WEIGHT_KERNELS"]

#: The reference's additive floor inside the logarithms.
FLOOR = 1e-8


def probabilities(counts: np.ndarray) -> np.ndarray:
    """Normalised histogram (for the KL reduction of a selection)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        raise ValueError("cannot fit a distribution to an empty histogram: the input has no tokens")
    return counts / total


def weights_from_features(
    ratio: np.ndarray, buckets: np.ndarray, offsets: np.ndarray, normalize: bool = False
) -> np.ndarray:
    """Log importance weight of every document from its feature buckets.

    ``buckets[offsets[i]:offsets[i+1]]`` are document i's features. A document's weight is the sum
    of ``ratio[b]`` over its features in order, exactly as ``np.bincount(doc, ratio[buckets])``
    adds them (the reference's ``np.dot(log_diff, counts)`` to rounding), in one compiled pass
    without the GIL. ``normalize`` divides by the number of features (documents without features
    get 0). Raises ValueError naming the first bucket id outside ``0..len(ratio) - 1``.
    """
    buckets = np.ascontiguousarray(buckets)
    weights, bad = _feature_sums(np.ascontiguousarray(ratio, np.float64), buckets, np.ascontiguousarray(offsets))
    if bad >= 0:
        raise ValueError(f"bucket id {int(buckets[bad])} is outside 0..{len(ratio) - 1}")
    if normalize:
        nfeat = np.diff(offsets)
        weights = np.divide(weights, nfeat, out=np.zeros(len(weights)), where=nfeat > 0)
    return weights


@jit
def _feature_sums(ratio, buckets, offsets):  # pragma: no cover - compiled
    """Each document's sum of ``ratio`` over its buckets, and the first bad bucket's position (or -1)."""
    n = len(offsets) - 1
    out = np.zeros(n)
    size = len(ratio)
    for i in range(n):
        acc = 0.0
        for j in range(offsets[i], offsets[i + 1]):
            b = buckets[j]
            if b < 0 or b >= size:
                return out, j
            acc += ratio[b]
        out[i] = acc
    return out, -1


def kl_divergence(p: np.ndarray, q: np.ndarray, eps: float = 1e-10) -> float:
    """KL(p‖q) over hashed n-gram distributions, as the DSIR maintainer computes it (issue #11)."""
    return float(np.inner(p, np.log(p + eps) - np.log(q + eps)))


def kl_reduction(target_counts: np.ndarray, raw_counts: np.ndarray, selected_counts: np.ndarray) -> float:
    """KL(target‖raw) − KL(target‖selected): how much closer to the target the selection is."""
    p_t = probabilities(target_counts)
    return kl_divergence(p_t, probabilities(raw_counts)) - kl_divergence(p_t, probabilities(selected_counts))


#: The compiled loops :func:`weights_from_features` runs (preloaded by :func:`sqlsel.functions.preload`).
WEIGHT_KERNELS = (_feature_sums,)

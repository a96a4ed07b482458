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

__all__ = ["FLOOR", "weights_from_features", "kl_divergence", "kl_reduction"]

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

    ``buckets[offsets[i]:offsets[i+1]]`` are document i's features. Summation is per bucket
    (counts · ratio), the reference's ``np.dot(log_diff, counts)``, so results match it to
    rounding. ``normalize`` divides by the number of features (documents without features get 0).
    """
    n = len(offsets) - 1
    per_feature = ratio[buckets]
    doc = np.repeat(np.arange(n), np.diff(offsets))
    weights = np.bincount(doc, weights=per_feature, minlength=n)
    if normalize:
        nfeat = np.diff(offsets)
        weights = np.divide(weights, nfeat, out=np.zeros(n), where=nfeat > 0)
    return weights


def kl_divergence(p: np.ndarray, q: np.ndarray, eps: float = 1e-10) -> float:
    """KL(p‖q) over hashed n-gram distributions, as the DSIR maintainer computes it (issue #11)."""
    return float(np.inner(p, np.log(p + eps) - np.log(q + eps)))


def kl_reduction(target_counts: np.ndarray, raw_counts: np.ndarray, selected_counts: np.ndarray) -> float:
    """KL(target‖raw) − KL(target‖selected): how much closer to the target the selection is."""
    p_t = probabilities(target_counts)
    return kl_divergence(p_t, probabilities(raw_counts)) - kl_divergence(p_t, probabilities(selected_counts))

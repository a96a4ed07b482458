from __future__ import annotations

import numpy as np
import pytest

from sqlsel.kernels.dsir import kl_reduction, log_ratio, probabilities, reference_length, weights_from_features


def test_log_ratio_reference_formula():
    t, r = np.array([3, 1, 0]), np.array([1, 1, 2])
    expected = np.log(t / t.sum() + 1e-8) - np.log(r / r.sum() + 1e-8)
    assert np.allclose(log_ratio(t, r), expected)


def test_laplace_smoothing_matches_reference_head():
    t = np.array([3, 1, 0])
    assert np.allclose(probabilities(t, 1.0), (t + 1.0) / (t.sum() + 3.0))


def test_empty_histogram_is_an_error():
    with pytest.raises(ValueError, match="no tokens"):
        probabilities(np.zeros(4))


def test_weights_sum_ratio_over_features():
    ratio = np.array([1.0, -2.0, 0.5])
    w = weights_from_features(ratio, np.array([0, 0, 1, 2]), np.array([0, 3, 3, 4]))
    assert w.tolist() == [0.0, 0.0, 0.5]


def test_normalized_weights_divide_by_feature_count():
    ratio = np.array([1.0, 3.0])
    w = weights_from_features(ratio, np.array([0, 1]), np.array([0, 2, 2]), normalize=True)
    assert w.tolist() == [2.0, 0.0]


def test_reference_length():
    assert reference_length(np.array([9, 1, 0]), 2).tolist() == [5, 1, 0]


def test_kl_reduction_positive_when_selection_matches_target():
    target, raw = np.array([10, 0, 0]), np.array([1, 1, 1])
    assert kl_reduction(target, raw, np.array([5, 0, 0])) > kl_reduction(target, raw, np.array([0, 5, 5]))

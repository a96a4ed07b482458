"""DSIR arithmetic: the SQL macros the recipe fits with, and the kernels that apply a model."""

from __future__ import annotations

import numpy as np
import pytest

from sqlsel.kernels.dsir import kl_reduction, probabilities, weights_from_features


def test_log_ratio_macro_is_the_reference_formula(con):
    t, r = np.array([3, 1, 0]), np.array([1, 1, 2])
    rows = con.execute(
        "SELECT sel_dsir_log_ratio(tc, sum(tc) OVER (), rc, sum(rc) OVER (), 3, 0.0) "
        "FROM (SELECT unnest($1::BIGINT[]) AS tc, unnest($2::BIGINT[]) AS rc)",
        [t.tolist(), r.tolist()],
    ).fetchall()
    expected = np.log(t / t.sum() + 1e-8) - np.log(r / r.sum() + 1e-8)
    assert np.allclose([row[0] for row in rows], expected, rtol=1e-12)


def test_laplace_smoothing_macro_matches_the_reference_head(con):
    """data-selection's later target_laplace_smoothing: (c + alpha) / (N + alpha * B) for the target."""
    rows = con.execute(
        "SELECT sel_dsir_log_ratio(0, 4, 1, 4, 3, 1.0), sel_dsir_log_ratio(3, 4, 1, 4, 3, 1.0)"
    ).fetchall()
    assert np.allclose(
        rows[0], [np.log(1 / 7 + 1e-8) - np.log(1 / 4 + 1e-8), np.log(4 / 7 + 1e-8) - np.log(1 / 4 + 1e-8)]
    )


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


def test_length_macro_is_the_references_token_count(con):
    """(features + n(n-1)/2) // n: the reference's length metadata, tokens when a text is long enough."""
    rows = con.execute("SELECT sel_dsir_length(range(f), 2) FROM unnest([9, 1, 0]) t(f)").fetchall()
    assert [r[0] for r in rows] == [5, 1, 0]


def test_kl_reduction_positive_when_selection_matches_target():
    target, raw = np.array([10, 0, 0]), np.array([1, 1, 1])
    assert kl_reduction(target, raw, np.array([5, 0, 0])) > kl_reduction(target, raw, np.array([0, 5, 5]))

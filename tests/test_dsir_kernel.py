"""DSIR arithmetic: the SQL macros the recipe fits with, and the kernels that apply a model."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlsel.kernels.dsir import kl_reduction, probabilities, weights_from_features
from sqlsel.runner import run_recipe


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


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 49), max_size=30), min_size=1, max_size=20), st.integers(0, 2**32 - 1))
def test_weights_equal_bincounts_sums_bit_for_bit(docs, seed):
    """The compiled pass adds in the order np.bincount does: the same doubles, not just close ones."""
    ratio = np.random.default_rng(seed).normal(size=50)
    buckets = np.array([b for doc in docs for b in doc], np.int32)
    offsets = np.cumsum([0] + [len(doc) for doc in docs])
    doc = np.repeat(np.arange(len(docs)), np.diff(offsets))
    want = np.bincount(doc, weights=ratio[buckets], minlength=len(docs))
    assert weights_from_features(ratio, buckets, offsets).tolist() == want.tolist()


@pytest.mark.parametrize("bad", [3, -1])
def test_a_bucket_outside_the_ratio_is_named(bad):
    with pytest.raises(ValueError, match=f"bucket id {bad} is outside 0..2"):
        weights_from_features(np.array([1.0, 2.0, 3.0]), np.array([0, bad], np.int32), np.array([0, 1, 2]))


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


def test_features_of_another_bucket_count_are_refused_by_name(con, examples):
    params = {"pool": str(examples / "pool.parquet"), "target": str(examples / "target.jsonl"), "model": "m"}
    run_recipe("dsir_select", {**params, "k": "5"}, con=con)
    with pytest.raises(
        duckdb.Error,
        match=r"bucket id 20000 is outside 0\.\.9999 for model 'm', which has 10000 buckets.*\(text, 10000, 2\)",
    ):
        con.execute("SELECT sel_dsir_weight_features([1, 20000], 'm')").fetchall()
    assert con.execute("SELECT sel_dsir_weight_features([1, 2], 'm')").fetchall()[0][0] is not None

"""Quotas: the reference's documented cases, and properties against plain implementations of the rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlsel.kernels.quotas import best_cut, hierarchical_quotas, stratified_quotas, water_fill

# docs/REFERENCES.md §8.2: leaves [5000, 3000, 1000, 500, 200, 100, 50, 10] under tops of size [8000, 1700, 160]
LEAVES = np.array([5000, 3000, 1000, 500, 200, 100, 50, 10])
TOP_OF = [np.array([0, 0, 1, 1, 1, 2, 2, 2])]


@pytest.mark.parametrize("n, tops", [(300, [100, 100, 100]), (1500, [670, 670, 160]), (3000, [1420, 1420, 160])])
def test_reference_cases_per_top_cluster(n, tops):
    quotas = hierarchical_quotas(TOP_OF, LEAVES, n, seed=0)
    assert np.bincount(TOP_OF[0], weights=quotas).astype(int).tolist() == tops


def test_reference_case_leaves():
    assert hierarchical_quotas(TOP_OF, LEAVES, 3000, seed=0).tolist() == [710, 710, 720, 500, 200, 100, 50, 10]


def test_reference_cut_with_remainder():
    for seed in range(5):
        q = water_fill(np.array([5000, 3000, 1000, 10]), 900, seed)
        assert q.sum() == 900 and q[3] == 10 and sorted(q[:3].tolist()) == [296, 297, 297]


def plain_water_fill(sizes, n):
    """The rule written the slow way: raise a common cap one row at a time (for Σ sizes > n)."""
    cap = 0
    while sum(min(s, cap + 1) for s in sizes) <= n:
        cap += 1
    return [min(s, cap) for s in sizes], cap


def is_water_fill(quotas, sizes):
    """Whether quotas are the rule's answer for their total: the common cap, +1 only above it."""
    quotas, sizes = list(map(int, quotas)), list(map(int, sizes))
    n = sum(quotas)
    if sum(sizes) <= n:
        return quotas == sizes
    base, cap = plain_water_fill(sizes, n)
    extra = [q - b for q, b in zip(quotas, base, strict=True)]
    return set(extra) <= {0, 1} and all(sizes[i] > cap for i, e in enumerate(extra) if e)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=1, max_size=12), st.integers(0, 400), st.integers(0, 3))
def test_water_fill_is_the_rule(sizes, n, seed):
    q = water_fill(np.array(sizes), n, seed)
    assert q.sum() == min(n, sum(sizes)) and is_water_fill(q, sizes)
    if sum(sizes) > n:
        assert best_cut(np.array(sizes), n) == plain_water_fill(sizes, n)[1]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=16), st.data())
def test_hierarchy_water_fills_every_level(sizes, data):
    n_mid = data.draw(st.integers(1, len(sizes)))
    mid = np.array(data.draw(st.lists(st.integers(0, n_mid - 1), min_size=len(sizes), max_size=len(sizes))))
    n_top = int(mid.max()) + 1
    top = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n_top, max_size=n_top)))
    n = data.draw(st.integers(0, sum(sizes) + 5))
    q = hierarchical_quotas([mid, top], np.array(sizes), n, seed=1)
    assert q.sum() == min(n, sum(sizes))
    mid_rows, mid_q = np.bincount(mid, weights=sizes, minlength=n_top), np.bincount(mid, weights=q, minlength=n_top)
    top_rows = np.bincount(top, weights=mid_rows)
    assert is_water_fill(np.bincount(top, weights=mid_q), top_rows)
    for p in np.unique(top):
        assert is_water_fill(mid_q[top == p], mid_rows[top == p])
    for c in range(n_top):
        assert is_water_fill(q[mid == c], np.array(sizes)[mid == c])


def test_same_seed_same_quotas_other_seed_other_remainder():
    sizes = np.full(50, 7)
    assert (water_fill(sizes, 101, 3) == water_fill(sizes, 101, 3)).all()
    assert any((water_fill(sizes, 101, 3) != water_fill(sizes, 101, s)).any() for s in range(4, 8))


def plain_ccs(counts, budget):
    """CCS's bin_allocate: ascending by count, min(count, remaining // bins_left)."""
    out, remaining = {}, budget
    order = sorted(range(len(counts)), key=lambda i: (counts[i], i))
    for k, i in enumerate(order):
        out[i] = min(counts[i], remaining // (len(counts) - k))
        remaining -= out[i]
    return [out[i] for i in range(len(counts))]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=20), st.integers(0, 600))
def test_stratified_quotas_follow_ccs_and_never_fall_short(counts, budget):
    q = stratified_quotas(np.array(counts), budget)
    ref = plain_ccs(counts, min(budget, sum(counts)))
    assert q.sum() == min(budget, sum(counts)) and (q <= np.array(counts)).all()
    assert (q >= np.array(ref)).all()  # the reference's allocation, plus any shortfall handed out again


def test_bad_sizes_and_budgets():
    with pytest.raises(ValueError, match="non-negative"):
        water_fill(np.array([3, -1]), 2, 0)
    with pytest.raises(ValueError, match="budget must be non-negative"):
        stratified_quotas(np.array([3]), -1)

"""Diversity kernels against plain implementations of the references' rules."""

from __future__ import annotations

import numpy as np
import pytest

from sqlsel.kernels import diversity
from sqlsel.kernels.diversity import (
    _unit64,
    centroid_cosine,
    identical_groups,
    kcenter_greedy,
    mmr,
    normalize,
    semdedup,
    semdedup_candidates,
    threshold_greedy,
)


def clustered(seed=0, n=300, d=16, clusters=5, dup_share=0.3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d))
    labels = rng.integers(clusters, size=n)
    x = centres[labels] + rng.normal(0, 0.5, (n, d))
    dups = rng.random(n) < dup_share
    x[dups] = x[rng.integers(n, size=dups.sum())] + rng.normal(0, 0.01, (dups.sum(), d))
    return x.astype(np.float32), labels


def brute_semdedup(x, labels, distance, eps, keep):
    e = normalize(x)
    removed = np.zeros(len(x), bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        key = -distance[idx] if keep == "hard" else distance[idx]
        idx = idx[np.lexsort((idx, key))]
        s = np.triu(e[idx] @ e[idx].T, 1)  # the reference: triu, column max, strict threshold
        if len(idx) > 1:
            removed[idx[1:]] = s.max(axis=0)[1:] > 1 - eps
    return removed


@pytest.mark.parametrize("keep", ["hard", "easy"])
@pytest.mark.parametrize("eps", [0.0005, 0.01, 0.1])
def test_semdedup_equals_the_brute_force_rule(keep, eps):
    x, labels = clustered()
    distance = np.random.default_rng(1).random(len(x))
    got = semdedup(x, labels, distance, eps, keep)
    assert np.array_equal(got.removed, brute_semdedup(x, labels, distance, eps, keep))
    removed = np.flatnonzero(got.removed)
    assert (labels[got.dup_of[removed]] == labels[removed]).all()  # a duplicate of an item of its own cluster


@pytest.mark.parametrize("angles", [False, True])
def test_semdedup_gives_the_same_answer_on_several_threads(angles):
    x, labels = clustered(n=3000, clusters=12, dup_share=0.5)
    e = normalize(x)
    centroids = normalize(np.stack([e[labels == c].mean(0) for c in range(12)]))
    cos = centroid_cosine(e, centroids, labels)
    window = np.arccos(np.clip(cos, -1, 1)) if angles else None
    one = semdedup(e, labels, 1 - cos, 0.02, angles=window, threads=1)
    two = semdedup(e, labels, 1 - cos, 0.02, angles=window, threads=2)
    assert np.array_equal(one.removed, two.removed) and np.array_equal(one.dup_of, two.dup_of)
    assert np.array_equal(one.max_sim, two.max_sim)
    assert np.array_equal(one.removed, brute_semdedup(x, labels, 1 - cos, 0.02, "hard"))


def test_centroid_cosine_is_the_float64_cosine_of_raw_rows():
    rng = np.random.default_rng(2)
    x, c = (3 * rng.normal(size=(500, 33))).astype(np.float32), normalize(rng.normal(size=(7, 33)))
    x[4] = 0
    labels = rng.integers(7, size=500)
    x64 = x.astype(np.float64)
    dots = np.einsum("ij,ij->i", x64, c[labels].astype(np.float64))
    expected = dots / np.maximum(np.linalg.norm(x64, axis=1), 1e-300)
    got = centroid_cosine(x, c, labels)
    assert np.allclose(got, expected, rtol=0, atol=1e-12) and got[4] == 0


def test_semdedup_removes_chains_and_keeps_singletons():
    a = np.array([1.0, 0.0])
    b = np.array([np.cos(0.1), np.sin(0.1)])  # a ~ b ~ c, but a and c are not within eps
    c = np.array([np.cos(0.2), np.sin(0.2)])
    x = np.array([a, b, c, [0, 1]], np.float32)
    got = semdedup(x, np.array([0, 0, 0, 1]), np.array([3.0, 2.0, 1.0, 0.0]), eps=1 - np.cos(0.15))
    assert got.removed.tolist() == [False, True, True, False]  # hard: a first; b by a, c by b
    assert got.dup_of.tolist() == [-1, 0, 1, -1]


def test_semdedup_random_order_depends_on_the_seed_only():
    x, labels = clustered(dup_share=0.6)
    d = np.zeros(len(x))
    one, two = semdedup(x, labels, d, 0.01, "random", seed=3), semdedup(x, labels, d, 0.01, "random", seed=3)
    assert np.array_equal(one.removed, two.removed)
    assert not np.array_equal(one.removed, semdedup(x, labels, d, 0.01, "random", seed=4).removed)


def naive_kcenter(x, k, start):
    x64 = x.astype(np.float64)
    mind = np.sqrt(((x64 - x64[start]) ** 2).sum(1))
    mind[start] = -1
    order = [start]
    for _ in range(1, k):
        p = int(np.argmax(mind))
        order.append(p)
        mind = np.minimum(mind, np.sqrt(((x64 - x64[p]) ** 2).sum(1)))
        mind[order] = -1
    return order


@pytest.mark.parametrize("n, k", [(400, 40), (300, 300)])
def test_kcenter_equals_the_eager_version_even_with_duplicates(n, k):
    x, _ = clustered(n=n, dup_share=0.4)
    x[5:15] = x[0]
    assert kcenter_greedy(x, k, start=7).order.tolist() == naive_kcenter(x, k, 7)


def naive_mmr(x, rel, k, lam):
    e = normalize(x).astype(np.float64)
    picks = [int(np.argmax(rel))]
    while len(picks) < k:
        best, best_value = -1, -np.inf
        for i in range(len(x)):
            if i not in picks:
                value = lam * rel[i] - (1 - lam) * max(float(e[i] @ e[j]) for j in picks)
                if value > best_value:
                    best, best_value = i, value
        picks.append(best)
    return picks


@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0])
def test_mmr_equals_the_recomputing_reference(lam):
    x, _ = clustered(n=120)
    rel = np.random.default_rng(2).random(120)
    assert mmr(x, rel, 15, lam).order.tolist() == naive_mmr(x, rel, 15, lam)


def test_threshold_greedy_keeps_a_set_below_tau_that_covers_the_rest():
    x, _ = clustered(n=200, dup_share=0.5)
    e = normalize(x)
    kept = threshold_greedy(x, np.arange(200), tau=0.9).order
    sims = e[kept] @ e[kept].T
    assert (sims[np.triu_indices(len(kept), 1)] < 0.9).all()
    dropped = np.setdiff1d(np.arange(200), kept)
    assert ((e[dropped] @ e[kept].T).max(axis=1) >= 0.9).all()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: kcenter_greedy(x, 0, 0), "k must be between 1"),
        (lambda x: kcenter_greedy(x, 5, 99), "start must be a row index"),
        (lambda x: semdedup(x, np.zeros(10), np.zeros(10), 0.1, "middle"), "keep must be one of hard, easy, random"),
        (lambda x: semdedup(x, np.zeros(10), np.zeros(10), -1, "hard"), "eps must be between 0 and 2"),
        (lambda x: mmr(x, np.zeros(10), 3, 1.5), "lambda must be between 0 and 1"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call(np.ones((10, 3), np.float32))


@pytest.mark.parametrize("keep", ["hard", "easy"])
@pytest.mark.parametrize("eps", [0.01, 0.2])
def test_the_angle_window_skips_pairs_without_changing_removals(keep, eps):
    x, labels = clustered(n=2500, d=8, clusters=3, dup_share=0.3)
    e = normalize(x)
    centroids = normalize(np.array([x[labels == c].mean(0) for c in range(3)]))
    cosine = np.clip(np.einsum("ij,ij->i", e, centroids[labels], dtype=np.float64), -1, 1)
    full = semdedup(x, labels, 1 - cosine, eps, keep)
    windowed = semdedup(x, labels, 1 - cosine, eps, keep, angles=np.arccos(cosine))
    assert np.array_equal(full.removed, windowed.removed)
    assert np.array_equal(full.dup_of[full.removed], windowed.dup_of[full.removed])


def test_candidates_stand_in_for_the_earliest_exact_copy():
    rng = np.random.default_rng(4)
    base = rng.normal(size=(20, 6)).astype(np.float32)
    x = base[rng.integers(20, size=400)]  # 400 rows, 20 distinct vectors: crowds of exact copies
    labels, distance = np.zeros(400, np.int64), rng.random(400)
    later_only = np.array([[j, (j + 1) % 400, -1] for j in range(400)])  # neighbour lists that miss every earlier copy
    got = semdedup_candidates(x, labels, distance, 0.01, later_only)
    want = semdedup(x, labels, distance, 0.01)
    assert np.array_equal(got.removed, want.removed) and got.removed.sum() == 380


def test_crowds_larger_than_the_neighbour_list_are_checked_exactly():
    rng = np.random.default_rng(6)
    x = (rng.normal(size=(1, 16)) + rng.normal(0, 0.02, (300, 16))).astype(np.float32)  # one crowd of near-copies
    x[::3] = rng.normal(size=(100, 16))  # and a third of unrelated rows
    labels, distance = np.zeros(300, np.int64), rng.random(300)
    e = normalize(x)
    true_knn = np.argsort(-(e @ e.T), axis=1, kind="stable")[:, :8]  # exact lists, far shorter than the crowd
    got = semdedup_candidates(x, labels, distance, 0.05, true_knn)
    want = semdedup(x, labels, distance, 0.05)
    assert want.removed.sum() > 150 and np.array_equal(got.removed, want.removed)
    assert np.array_equal(got.dup_of[want.removed], want.dup_of[want.removed])


def test_kcenter_distances_are_float64_exact():
    from sqlsel.kernels.diversity import _dist

    x = np.random.default_rng(5).normal(size=(20, 384)).astype(np.float32)
    want = np.sqrt(((x.astype(np.float64)[3] - x.astype(np.float64)) ** 2).sum(1))
    got = np.array([_dist(x, 3, j) for j in range(20)])
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)  # float32 sums drift by ~1e-8


@pytest.mark.parametrize("keep", ["hard", "easy", "random"])
def test_exact_copies_are_removed_as_duplicates_of_their_first_copy(keep):
    x, labels = clustered(n=400, dup_share=0.2)
    copies = np.random.default_rng(2).integers(400, size=150)
    x, labels = np.vstack([x, x[copies]]), np.r_[labels, labels[copies]]  # byte-identical rows
    distance = 1 - centroid_cosine(normalize(x), normalize(np.eye(5, 16, dtype=np.float32) + 0.1), labels)
    got = semdedup(x, labels, distance, 0.01, keep)
    if keep != "random":
        assert np.array_equal(got.removed, brute_semdedup(x, labels, distance, 0.01, keep))
    rows = np.flatnonzero(got.removed)
    same = (x[got.dup_of[rows]] == x[rows]).all(axis=1)
    assert same.sum() >= 150 and (got.max_sim[rows][same] > 0.9999).all()


@pytest.mark.parametrize("above", [True, False])
def test_similarities_at_the_threshold_are_decided_in_float64(above):
    rng = np.random.default_rng(5)
    a = normalize(rng.normal(size=(1, 384)).astype(np.float32))
    b = normalize((a + rng.normal(0, 0.12, (1, 384))).astype(np.float32))
    u = a.astype(np.float64)[0] / np.linalg.norm(a.astype(np.float64))
    v = b.astype(np.float64)[0] / np.linalg.norm(b.astype(np.float64))
    cosine = float(u @ v)
    eps = 1 - (cosine - 1e-9 if above else cosine + 1e-9)  # float32 products cannot tell these apart
    got = semdedup(np.vstack([a, b]), np.zeros(2, int), np.array([0.2, 0.1]), eps)
    assert got.removed.tolist() == [False, above]


def test_a_similarity_exactly_at_the_threshold_is_not_above_it():
    a, b = np.zeros((2, 42), np.float32), np.zeros((2, 42), np.float32)
    a[0, :40], a[1, 2:42] = 1, 1  # cosine 38/40 exactly; float64 products round it to 0.9500000000000002
    b[0, :40], b[1, 2:42] = 3, 3
    for x in (a, b):
        assert not semdedup(x, np.zeros(2, int), np.array([0.2, 0.1]), 0.05).removed.any()
        assert semdedup(x, np.zeros(2, int), np.array([0.2, 0.1]), 0.0501).removed.tolist() == [False, True]


def test_threshold_ties_are_decided_from_the_raw_vectors_not_a_float32_normalized_copy():
    rng = np.random.default_rng(7)
    a = rng.normal(size=384)
    x = (3 * np.vstack([a, a + rng.normal(0, 0.1, 384)])).astype(np.float32)  # not unit
    raw, rounded = _unit64(x), _unit64(normalize(x))
    exact, off = raw[0] @ raw[1], rounded[0] @ rounded[1]
    assert abs(exact - off) > 1e-10  # float32 normalization moves the cosine by more than the tie margin
    eps = 1 - (exact + off) / 2  # the threshold between the two: only the raw cosine decides right
    got = semdedup(x, np.zeros(2, int), np.array([0.2, 0.1]), eps)
    assert got.removed.tolist() == [False, bool(exact > off)]


def test_eps_2_removes_every_row_but_each_clusters_first():
    x, labels = clustered(n=60)
    got = semdedup(x, labels, np.random.default_rng(3).random(60), 2.0)
    assert got.removed.sum() == 60 - len(np.unique(labels))


def test_row_kernels_give_the_same_answer_on_several_threads():
    rng = np.random.default_rng(8)
    x = rng.integers(0, 3, (70_000, 8)).astype(np.float32)  # past the size split into row ranges; all 3^8 rows repeat
    c, labels = normalize(rng.normal(size=(5, 8))), rng.integers(5, size=70_000)
    assert np.array_equal(centroid_cosine(x, c, labels, 1), centroid_cosine(x, c, labels, 2))
    one, two = identical_groups(x, 1), identical_groups(x, 2)
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1]) and len(one[1]) == 3**8


def test_pair_similarities_in_chunks_equal_one_gather():
    rng = np.random.default_rng(9)
    e = normalize(rng.normal(size=(50, 16)).astype(np.float32))
    rows, cols = rng.integers(50, size=1000), rng.integers(50, size=1000)
    want = np.einsum("ij,ij->i", e[rows], e[cols])
    assert np.array_equal(diversity._pair_sims(e, None, rows, cols, chunk=64), want)


def test_pair_similarities_of_raw_rows_are_cosines():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(50, 16)).astype(np.float32) * rng.uniform(0.1, 10, (50, 1)).astype(np.float32)
    x[7] = 0  # a zero row has cosine 0 with everything
    rows, cols = rng.integers(50, size=1000), rng.integers(50, size=1000)
    e = normalize(x)
    got = diversity._pair_sims(x, diversity._inverse_norms(x), rows, cols, chunk=64)
    np.testing.assert_allclose(got, np.einsum("ij,ij->i", e[rows], e[cols]), atol=2e-7)


def test_float64_input_settles_ties_from_its_own_values():
    a, b = np.zeros(105), np.zeros(105)
    a[:100], b[5:] = 1 / 3, 1 / 3
    b[5:55] *= 1 + 1e-7  # a change float32 rounds differently: the cosine moves by more than the tie margin
    x = np.vstack([a, b])  # float64
    exact = float(_unit64(x)[0] @ _unit64(x)[1])
    rounded = float(_unit64(x.astype(np.float32))[0] @ _unit64(x.astype(np.float32))[1])
    eps = 1 - (exact + rounded) / 2
    assert abs(exact - rounded) > 1e-10
    got = semdedup(x, np.zeros(2, int), np.array([0.2, 0.1]), eps)
    assert got.removed.tolist() == [False, exact > rounded]

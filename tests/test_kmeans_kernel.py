"""Seeded k-means: blobs are found, the seed decides everything, the hierarchy nests."""

from __future__ import annotations

import numpy as np
import pytest

from sqlsel.kernels.kmeans import RowStream, assign, hierarchical_kmeans, kmeans


def blobs(seed=0, per=60, dim=8, centers=(0.0, 4.0, 8.0, 12.0)):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(c, 0.2, (per, dim)) for c in centers]).astype(np.float32)


def test_separated_blobs_are_found():
    x = blobs()
    fit = kmeans(x, 4, seed=3)
    assert sorted(np.round(fit.centroids[:, 0] / 4).astype(int).tolist()) == [0, 1, 2, 3]
    assert [len(set(fit.labels[i * 60 : (i + 1) * 60].tolist())) for i in range(4)] == [1, 1, 1, 1]


def test_same_seed_same_fit_other_seed_other_fit():
    x = np.random.default_rng(1).normal(size=(400, 4)).astype(np.float32)
    a, b = kmeans(x, 6, seed=11), kmeans(x, 6, seed=11)
    assert np.array_equal(a.centroids, b.centroids) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.centroids, kmeans(x, 6, seed=12).centroids)


def test_more_iterations_do_not_raise_the_potential():
    x = np.random.default_rng(5).normal(size=(500, 6)).astype(np.float32)
    potentials = [kmeans(x, 10, seed=0, iterations=it).potential for it in (1, 2, 5, 20)]
    assert all(b <= a * (1 + 1e-5) for a, b in zip(potentials, potentials[1:], strict=False))


def test_assign_matches_brute_force():
    rng = np.random.default_rng(2)
    x, c = rng.normal(size=(1000, 5)).astype(np.float32), rng.normal(size=(7, 5)).astype(np.float32)
    labels, dist = assign(x, c)
    brute = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    assert np.array_equal(labels, brute.argmin(1))
    np.testing.assert_allclose(dist, brute.min(1), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "x, k, message",
    [
        (np.zeros((5, 2)), 6, "k must be between 1 and the number of rows \\(5\\); got 6"),
        (np.zeros((5, 2)), 0, "k must be between 1"),
        (np.array([[0.0, np.nan]]), 1, "NaN or infinite"),
        (np.zeros((0, 3)), 1, "non-empty"),
    ],
)
def test_bad_input(x, k, message):
    with pytest.raises(ValueError, match=message):
        kmeans(x, k, seed=0)


def test_hierarchy_levels_nest_and_resampling_keeps_k():
    x = blobs(per=100)
    levels = hierarchical_kmeans(x, [12, 4], seed=0, steps=[3, 5], iterations=10)
    assert [lv.centroids.shape[0] for lv in levels] == [12, 4]
    assert len(levels[0].labels) == len(x) and len(levels[1].labels) == 12
    top = levels[1].labels[levels[0].labels]  # level-2 cluster of every row, through its level-1 cluster
    assert [len(set(top[i * 100 : (i + 1) * 100].tolist())) for i in range(4)] == [1, 1, 1, 1]


def test_hierarchy_refuses_more_clusters_than_the_level_below_has():
    with pytest.raises(ValueError, match="level 2 asks for 20 clusters but there are only 10"):
        hierarchical_kmeans(blobs(), [10, 20], seed=0, iterations=2)


def test_near_ties_are_settled_in_float64_whatever_the_batch():
    rng = np.random.default_rng(3)
    centroids = np.zeros((3, 8), np.float32)
    centroids[0, 0], centroids[1, 0], centroids[2, 1] = 1.0, -1.0, 40.0  # 0 and 1 mirror each other
    x = rng.normal(size=(400, 8)).astype(np.float32)
    x[:, 0] = rng.choice([-1e-8, 1e-8], 400)  # nearly on the bisector: float32 distances cannot tell
    x[:, 1] = np.abs(x[:, 1])
    x[:7, 0] = 0.0  # exactly on it: the lowest index wins
    labels, _ = assign(x, centroids)
    want = np.where(x[:, 0] < 0, 1, 0)
    assert labels.tolist() == want.tolist()
    assert [int(assign(x[i : i + 1], centroids)[0][0]) for i in range(0, 400, 37)] == want[::37].tolist()


def test_a_large_fit_trains_on_a_seeded_sample_then_refines_on_every_row():
    x = blobs()
    full = hierarchical_kmeans(x, [3], seed=2, sample=0)
    sampled = hierarchical_kmeans(x, [3], seed=2, sample=10)  # 30 of the rows train, every row refines
    again = hierarchical_kmeans(x, [3], seed=2, sample=10)
    assert np.array_equal(sampled[0].centroids, again[0].centroids)
    assert sampled[0].potential <= full[0].potential * 1.05
    other = hierarchical_kmeans(x, [3], seed=2, sample=10, hashes=np.arange(len(x))[::-1].copy())
    assert other[0].potential <= full[0].potential * 1.05  # another sample, as good a fit


def test_a_streamed_sampled_fit_equals_the_in_memory_fit_in_any_row_order():
    x = np.random.default_rng(7).normal(size=(600, 5)).astype(np.float32)
    hashes = np.arange(1000, 1600, dtype=np.uint64)
    whole = hierarchical_kmeans(x, [6, 2], seed=4, sample=20, hashes=hashes)
    streamed = hierarchical_kmeans(RowStream.of(x, hashes, block_rows=37), [6, 2], seed=4, sample=20)
    shuffled = np.random.default_rng(1).permutation(len(x))
    reordered = hierarchical_kmeans(RowStream.of(x[shuffled], hashes[shuffled], block_rows=50), [6, 2], 4, sample=20)
    for other in (streamed, reordered):
        assert all(np.array_equal(a.centroids, b.centroids) for a, b in zip(whole, other, strict=True))
        assert np.array_equal(whole[0].sizes, other[0].sizes) and whole[0].potential == other[0].potential
    assert streamed[0].labels is None and len(whole[0].labels) == len(x)


def test_streamed_rows_need_a_sampled_level_one():
    x = blobs()
    with pytest.raises(ValueError, match="fitted on a sample"):
        hierarchical_kmeans(RowStream.of(x), [4], seed=0, sample=0)

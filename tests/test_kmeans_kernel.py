"""Seeded k-means: blobs are found, the seed decides everything, Lloyd never raises the potential."""

from __future__ import annotations

import numpy as np
import pytest

from sqlsel.kernels.kmeans import assign, kmeans, kmeans_plus_plus, lloyd


def blobs(seed=0, per=60, dim=8, centers=(0.0, 4.0, 8.0, 12.0)):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(c, 0.2, (per, dim)) for c in centers]).astype(np.float32)


def test_separated_blobs_are_found():
    x = blobs()
    fit = kmeans(x, 4, seed=3)
    assert sorted(np.round(fit.centroids[:, 0] / 4).astype(int).tolist()) == [0, 1, 2, 3]
    assert [len(set(fit.labels[i * 60 : (i + 1) * 60].tolist())) for i in range(4)] == [1, 1, 1, 1]


def test_same_seed_same_fit_other_seed_other_start():
    x = blobs(dim=4)
    a, b = kmeans(x, 6, seed=11), kmeans(x, 6, seed=11)
    assert np.array_equal(a.centroids, b.centroids) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(kmeans_plus_plus(x, 6, 11), kmeans_plus_plus(x, 6, 12))


def test_lloyd_does_not_raise_the_potential():
    x = np.random.default_rng(5).normal(size=(500, 6)).astype(np.float32)
    start = kmeans_plus_plus(x, 10, seed=0)
    potentials = [lloyd(x, start, it).potential for it in (0, 1, 2, 5, 20)]
    assert all(b <= a * (1 + 1e-6) for a, b in zip(potentials, potentials[1:], strict=False))


def test_assign_matches_brute_force_in_chunks():
    rng = np.random.default_rng(2)
    x, c = rng.normal(size=(1000, 5)).astype(np.float32), rng.normal(size=(7, 5)).astype(np.float32)
    labels, dist = assign(x, c, chunk=128)
    brute = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    assert np.array_equal(labels, brute.argmin(1))
    np.testing.assert_allclose(dist, brute.min(1), rtol=1e-4, atol=1e-5)


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


def test_identical_points_still_give_k_centres():
    fit = kmeans(np.ones((10, 3), np.float32), 3, seed=0)
    assert fit.centroids.shape == (3, 3) and fit.potential == 0

from __future__ import annotations

import numpy as np

from sqlsel.kernels.sampling import gumbel, uniform


def test_same_key_and_seed_same_noise():
    keys = np.arange(1000)
    assert np.array_equal(gumbel(keys, 3), gumbel(keys, 3))
    assert not np.array_equal(gumbel(keys, 3), gumbel(keys, 4))


def test_noise_does_not_depend_on_batch():
    keys = np.arange(5000)
    assert np.array_equal(gumbel(keys, 9)[2048:], gumbel(keys[2048:], 9))


def test_gumbel_moments():
    g = gumbel(np.arange(200_000), 1)
    assert abs(g.mean() - np.euler_gamma) < 0.02
    assert abs(g.var() - np.pi**2 / 6) < 0.05


def test_uniform_strictly_inside_unit_interval():
    u = uniform(np.array([0, -1, 2**62, -(2**63)]), 0)
    assert ((u > 0) & (u < 1)).all()


def test_sql_gumbel(con):
    rows = con.sql("SELECT sel_gumbel(i, 5) FROM range(3) t(i)").fetchall()
    assert [r[0] for r in rows] == gumbel(np.arange(3), 5).tolist()

"""Deterministic randomness: every random choice is a function of (row key, seed).

``gumbel(keys, seed)`` gives Gumbel(0, 1) noise per key. Adding it to log weights and keeping the
k largest is sampling k rows without replacement with probability proportional to the weights
(Gumbel-top-k), the way DSIR resamples, but reproducible at any thread count or batch size.

Example:
    >>> import numpy as np
    >>> a = gumbel(np.array([1, 2, 3]), seed=7)
    >>> bool(np.all(a == gumbel(np.array([1, 2, 3]), seed=7)))
    True
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["mix64", "uniform", "gumbel"]

# splitmix64's constants; the compiled kernels (embed.py) use the same finaliser
MIX_M1 = np.uint64(0xBF58476D1CE4E5B9)
MIX_M2 = np.uint64(0x94D049BB133111EB)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijective, well-mixed 64-bit hash."""
    z = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= MIX_M1
        z ^= z >> np.uint64(27)
        z *= MIX_M2
        z ^= z >> np.uint64(31)
    return z


def uniform(keys: np.ndarray, seed: int) -> np.ndarray:
    """Uniform (0, 1) per key, from 53 bits of ``mix64(mix64(key) + seed * golden)`` (mod 2⁶⁴).

    ``keys`` are key hashes (:func:`sqlsel.kernels.keys.key_hashes`: uint64) or integer keys, which
    hash to their own value modulo 2⁶⁴.
    """
    k = np.asarray(keys)
    k = k.view(np.uint64) if k.dtype == np.uint64 else k.astype(np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        z = mix64(mix64(k) + np.uint64(seed % 2**64) * GOLDEN + GOLDEN)
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def gumbel(keys: np.ndarray, seed: int) -> np.ndarray:
    """Gumbel(0, 1) noise ``-log(-log(u))`` per key, with the C library's ``log``.

    numpy's own ``log`` differs from the C library's in the last bit for ~0.3% of values where numpy
    uses AVX-512 (and only there), so noise from ``np.log`` would depend on the CPU. The C library's
    is the one DuckDB's ``ln`` calls (the shell's ``sqlsel_gumbel``) and Python's ``math.log``: about
    0.25 µs a key here, against 0.01 µs for ``np.log``.
    """
    u = uniform(keys, seed).tolist()
    return np.fromiter((-math.log(-math.log(x)) for x in u), np.float64, len(u))

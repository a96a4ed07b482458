"""Model-free text embeddings: hashed word n-grams through a sparse random projection.

A text's tokens are its lowercased runs of letters, digits and ``_`` (bytes of non-ASCII characters
count as letters) and each other non-space byte on its own (so code keeps ``(``, ``{``, ``;``). Every
unigram and bigram is hashed to ``PROBES`` coordinates of a ``dim``-vector with random signs: a sparse
Johnson–Lindenstrauss projection of the bag of n-grams (feature hashing with several hashes), so
cosine similarity approximates the overlap of the two bags. The vector is L2-normalised. Everything
is a fixed function of the bytes: the same text gives the same vector in any batch, thread or process.

Use it when no embedding model is at hand: it separates code, prose, languages and formats well,
but knows nothing of meaning (synonyms are unrelated tokens).

Example:
    >>> import numpy as np
    >>> from sqlsel.kernels.rows import Rows
    >>> e = hash_embed(Rows.of([b"the cat sat on the mat", b"the cat sat on a mat", b"def f(x): return x"]), 256)
    >>> e.shape, bool(np.allclose(np.linalg.norm(e, axis=1), 1))
    ((3, 256), True)
    >>> bool(e[0] @ e[1] > e[0] @ e[2])
    True
"""

from __future__ import annotations

import numpy as np

from sqlsel.kernels._jit import jit
from sqlsel.kernels.rows import Rows
from sqlsel.kernels.sampling import GOLDEN, MIX_M1, MIX_M2

__all__ = ["PROBES", "MIN_DIM", "MAX_DIM", "hash_embed", "embed_with_tokens", "EMBED_KERNELS"]

PROBES = 4  # coordinates per n-gram: enough for a stable projection, cheap per token
MIN_DIM = 8
MAX_DIM = 4096

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@jit(inline="always")
def _mix(x):  # pragma: no cover - compiled
    """splitmix64's finaliser (compiled twin of :func:`sqlsel.kernels.sampling.mix64`) on one value."""
    x = (x ^ (x >> np.uint64(30))) * MIX_M1
    x = (x ^ (x >> np.uint64(27))) * MIX_M2
    return x ^ (x >> np.uint64(31))


@jit(inline="always")
def _is_word_byte(c):  # pragma: no cover - compiled
    return (c >= 48 and c <= 57) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122) or c == 95 or c >= 128


@jit(inline="always")
def _add(out, row, feature, dim):  # pragma: no cover - compiled
    for k in range(PROBES):
        g = _mix(feature + np.uint64(k + 1) * GOLDEN)
        idx = ((g >> np.uint64(32)) * np.uint64(dim)) >> np.uint64(32)
        out[row, idx] += 1.0 if (g & np.uint64(1)) else -1.0


@jit
def _embed(data, offsets, dim):  # pragma: no cover - compiled
    rows = len(offsets) - 1
    out = np.zeros((rows, dim), np.float32)
    tokens = np.zeros(rows, np.int64)
    for r in range(rows):
        i, end = offsets[r], offsets[r + 1]
        previous = np.uint64(0)
        have_previous = False
        while i < end:
            c = data[i]
            if c <= 32:  # ASCII space and control bytes separate tokens
                i += 1
                continue
            h = _FNV_OFFSET
            if _is_word_byte(c):
                while i < end and _is_word_byte(data[i]):
                    b = data[i]
                    if 65 <= b <= 90:
                        b += 32
                    h = (h ^ np.uint64(b)) * _FNV_PRIME
                    i += 1
            else:
                h = (h ^ np.uint64(c)) * _FNV_PRIME
                i += 1
            unigram = _mix(h)
            _add(out, r, unigram, dim)
            if have_previous:
                _add(out, r, _mix(previous * GOLDEN + unigram), dim)
            previous = unigram
            have_previous = True
            tokens[r] += 1
        norm = 0.0
        for j in range(dim):
            norm += out[r, j] * out[r, j]
        if norm > 0:
            scale = 1.0 / np.sqrt(norm)
            for j in range(dim):
                out[r, j] *= scale
    return out, tokens


def hash_embed(rows: Rows, dim: int) -> np.ndarray:
    """L2-normalised ``dim``-dimensional embeddings of UTF-8 rows, float32 ``(len(rows), dim)``.

    Rows without a token (empty or whitespace only) are all zeros.
    """
    return embed_with_tokens(rows, dim)[0]


def embed_with_tokens(rows: Rows, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`hash_embed` and each row's number of tokens (0: no embedding)."""
    if not isinstance(dim, int) or isinstance(dim, bool) or not MIN_DIM <= dim <= MAX_DIM:
        raise ValueError(f"dim must be an integer in {MIN_DIM}..{MAX_DIM}; got {dim!r}")
    return _embed(rows.data, rows.offsets, dim)


#: The compiled loops :func:`embed_with_tokens` runs (preloaded by :func:`sqlsel.functions.preload`).
EMBED_KERNELS = (_embed,)

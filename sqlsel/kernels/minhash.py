"""MinHash signatures, LSH banding and Jaccard similarity of texts' shingle sets.

A text's shingles (``unit='word'``, the default) are its ``ngram`` consecutive lowercased ``\\w+``
tokens (Python's ``str.lower`` and ``re``, see :mod:`sqlsel.kernels.tokens`); a text with fewer
tokens is one shingle of all of them. With ``unit='char'`` they are its ``ngram`` consecutive
characters after Unicode lowercasing (Arrow's ``utf8_lower``) and turning every run of whitespace
into one space, trimmed; a shorter text is one shingle. A text with no shingle (empty, blank, or
only punctuation in word mode) has no signature: NULL, so it is never a candidate.

Each shingle is hashed to 64 bits (splitmix64's finalizer over a weighted sum of its tokens' hashes);
permutation ``j`` maps a shingle hash ``h`` to ``(a_j·h + b_j) mod 2^64 >> 32`` (multiply-add-shift,
a 2-universal family) with odd ``a_j`` and ``b_j`` drawn from ``numpy.random.default_rng(seed)``;
the signature is the minimum of each permutation over the shingle set, ``num_perm`` uint32 values.
The fraction of equal positions of two signatures estimates their sets' Jaccard similarity
(standard error ``sqrt(J(1−J)/num_perm)``).

LSH cuts a signature into ``bands`` bands of ``rows`` values; two texts are candidates when some
band is equal, with probability ``1 − (1 − J^rows)^bands``. :func:`lsh_params` picks them from a
threshold as datasketch's ``MinHashLSH`` does. A band's bucket is a 64-bit hash of the band's index
and values, so buckets of different bands never meet.

Example:
    >>> import pyarrow as pa
    >>> sig = signatures(pa.array(["the cat sat on the mat today", "The cat sat on the mat, today!"]), 64, 5, 1)
    >>> float(estimated_jaccard(sig.values[:1], sig.values[1:])[0])
    1.0
    >>> lsh_params(0.8, 128)
    (9, 13)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from sqlsel.kernels.rows import utf8_rows
from sqlsel.kernels.tokens import ASCII_LOWER, WORDS, tokenize

__all__ = [
    "UNITS",
    "Shingles",
    "Signatures",
    "shingles",
    "signatures",
    "lsh_params",
    "band_hashes",
    "estimated_jaccard",
    "exact_jaccard",
    "check_minhash_params",
    "components",
]

UNITS = ("word", "char")
MAX_PERM = 1024
MAX_NGRAM = 64

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_BYTE_BASE = np.uint64(0x100000001B3)


@dataclass(frozen=True)
class Shingles:
    """64-bit hashes of every row's shingles: row i's are ``hashes[offsets[i]:offsets[i+1]]``.

    A row without shingles (NULL, or nothing to shingle) has none and ``valid`` False.
    """

    hashes: np.ndarray  # uint64
    offsets: np.ndarray  # int64, n + 1
    valid: np.ndarray  # bool, n


@dataclass(frozen=True)
class Signatures:
    """MinHash signatures of a batch: ``values[i]`` (uint32, num_perm) is row i's when ``valid[i]``."""

    values: np.ndarray
    valid: np.ndarray


def check_minhash_params(num_perm: int, ngram: int, unit: str) -> None:
    """Raise ValueError naming the bad value when the signature parameters are out of range."""
    if not 1 <= num_perm <= MAX_PERM:
        raise ValueError(f"num_perm must be in 1..{MAX_PERM}; got {num_perm} (128 is the common choice)")
    if not 1 <= ngram <= MAX_NGRAM:
        raise ValueError(f"ngram must be in 1..{MAX_NGRAM}; got {ngram} (5 words, or about 5 to 9 characters)")
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}; got {unit!r}")


def shingles(texts: pa.Array | pa.ChunkedArray, ngram: int = 5, unit: str = "word") -> Shingles:
    """The shingle hashes of every text (see the module docstring for what a shingle is)."""
    check_minhash_params(1, ngram, unit)
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        texts = texts.cast(pa.large_string())
    if unit == "char":
        spaced = pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.utf8_lower(texts), r"\s+", " "))
        rows = utf8_rows(spaced)
        hashes, offsets = _char_shingles(rows.data, rows.offsets, ngram)
        valid = ~np.asarray(texts.is_null().to_numpy(zero_copy_only=False), bool)
    else:
        token_hash, first, count, valid = _word_token_hashes(texts)
        hashes, offsets = _word_shingles(token_hash, first, count, ngram)
    return Shingles(hashes, offsets, valid & (np.diff(offsets) > 0))


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The multipliers (odd) and increments of the ``num_perm`` permutations of ``seed``."""
    rng = np.random.default_rng(seed % 2**64)
    a = rng.integers(0, 2**64, num_perm, dtype=np.uint64, endpoint=False) | np.uint64(1)
    b = rng.integers(0, 2**64, num_perm, dtype=np.uint64, endpoint=False)
    return a, b


def signatures(
    texts: pa.Array | pa.ChunkedArray, num_perm: int = 128, ngram: int = 5, seed: int = 1, unit: str = "word"
) -> Signatures:
    """MinHash signatures of every text; rows without shingles are not valid."""
    check_minhash_params(num_perm, ngram, unit)
    sh = shingles(texts, ngram, unit)
    a, b = permutations(num_perm, seed)
    return Signatures(_minimums(sh.hashes, sh.offsets, a, b), sh.valid)


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false-positive and false-negative areas, as datasketch picks them.

    For every bands × rows ≤ num_perm, the area under the candidate probability ``1 − (1 − s^r)^b``
    below ``threshold`` (false positives) and above it of its complement (false negatives) are
    integrated; the pair with the least ``fp_weight·fp + fn_weight·fn`` wins (first found on ties).
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold}")
    best, best_error = (1, 1), float("inf")
    nodes, weights = np.polynomial.legendre.leggauss(64)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = _integral(lambda s, b=b, r=r: 1.0 - (1.0 - s**r) ** b, 0.0, threshold, nodes, weights)
            fn = _integral(lambda s, b=b, r=r: (1.0 - s**r) ** b, threshold, 1.0, nodes, weights)
            error = fp * fp_weight + fn * fn_weight
            if error < best_error:
                best, best_error = (b, r), error
    return best


def _integral(f, lo: float, hi: float, nodes: np.ndarray, weights: np.ndarray) -> float:  # noqa: ANN001
    half = (hi - lo) / 2.0
    return float(half * np.sum(weights * f(lo + half * (nodes + 1.0))))


def band_hashes(values: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """The bucket of each of a signature's first ``bands`` bands of ``rows`` values: int64 (n, bands)."""
    n, num_perm = values.shape
    if bands < 1 or rows < 1 or bands * rows > num_perm:
        raise ValueError(f"bands × rows must be at most num_perm ({num_perm}), each at least 1; got {bands} × {rows}")
    return _bands(np.ascontiguousarray(values), bands, rows).view(np.int64)


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The fraction of equal positions of signatures ``a[i]`` and ``b[i]`` (float64)."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"signatures of different lengths cannot be compared: {a.shape[1]} and {b.shape[1]}")
    return (a == b).mean(axis=1) if a.shape[1] else np.zeros(len(a))


def exact_jaccard(left: Shingles, right: Shingles) -> np.ndarray:
    """|A ∩ B| / |A ∪ B| of the shingle sets of row i of ``left`` and of ``right`` (NaN where either has none)."""
    return _jaccard(left.hashes, left.offsets, right.hashes, right.offsets)


@njit(nogil=True, cache=True, inline="always")
def _mix(z):  # pragma: no cover - compiled
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _word_token_hashes(texts: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """64-bit hashes of every row's lowercased ``\\w+`` tokens: (hashes, first, count, valid).

    Row i's tokens are ``hashes[first[i]:first[i] + count[i]]``. ASCII rows are hashed in one compiled
    pass over their bytes; other rows are tokenized with Python's semantics first.
    """
    valid = ~np.asarray(texts.is_null().to_numpy(zero_copy_only=False), bool)
    ascii_mask = np.asarray(pc.fill_null(pc.string_is_ascii(texts), False).to_numpy(zero_copy_only=False))
    ascii_rows = np.flatnonzero(ascii_mask & valid)
    other_rows = np.flatnonzero(~ascii_mask & valid)
    count = np.zeros(len(texts), np.int64)
    parts = []
    if len(ascii_rows):
        utf8 = utf8_rows(texts)
        hashes, per_row = _ascii_word_hashes(utf8.data, utf8.offsets, ascii_rows, WORDS.ascii, ASCII_LOWER)
        count[ascii_rows] = per_row
        parts.append((hashes, ascii_rows, per_row))
    if len(other_rows):
        toks, _ = tokenize(texts.take(pa.array(other_rows)), WORDS)
        per_row = np.bincount(toks.doc, minlength=len(other_rows)).astype(np.int64)
        count[other_rows] = per_row
        parts.append((_token_hashes(toks.data, toks.starts, toks.ends, ASCII_LOWER), other_rows, per_row))
    first = np.zeros(len(texts), np.int64)
    at = 0
    for hashes, rows, per_row in parts:  # each part's rows are in order, their tokens consecutive
        first[rows] = at + np.cumsum(per_row) - per_row
        at += len(hashes)
    all_hashes = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.uint64)
    return all_hashes, first, count, valid


@njit(nogil=True, cache=True, inline="always")
def _token_end(h, length):  # pragma: no cover - compiled
    return _mix(h ^ np.uint64(length))


@njit(nogil=True, cache=True)
def _ascii_word_hashes(data, offsets, rows, classes, lower):  # pragma: no cover - compiled
    """Hashes of the word tokens of ASCII ``rows`` (read through ``lower``), in one pass each; and counts."""
    total = 0
    for d in rows:
        prev = 0
        for i in range(offsets[d], offsets[d + 1]):
            c = classes[data[i]]
            total += (c != 0) & (prev == 0)
            prev = c
    out = np.empty(total, np.uint64)
    per_row = np.zeros(len(rows), np.int64)
    t = 0
    for k in range(len(rows)):
        d = rows[k]
        prev = 0
        h = np.uint64(0)
        start = 0
        before = t
        for i in range(offsets[d], offsets[d + 1]):
            c = classes[data[i]]
            if c != 0:
                if prev == 0:
                    h = np.uint64(0)
                    start = i
                h = (h + np.uint64(lower[data[i]]) + np.uint64(1)) * _BYTE_BASE
            elif prev != 0:
                out[t] = _token_end(h, i - start)
                t += 1
            prev = c
        if prev != 0:
            out[t] = _token_end(h, offsets[d + 1] - start)
            t += 1
        per_row[k] = t - before
    return out, per_row


@njit(nogil=True, cache=True)
def _token_hashes(data, starts, ends, lower):  # pragma: no cover - compiled
    """The same hash as :func:`_ascii_word_hashes` of tokens given as byte ranges."""
    out = np.empty(len(starts), np.uint64)
    for t in range(len(starts)):
        h = np.uint64(0)
        for i in range(starts[t], ends[t]):
            h = (h + np.uint64(lower[data[i]]) + np.uint64(1)) * _BYTE_BASE
        out[t] = _token_end(h, ends[t] - starts[t])
    return out


@njit(nogil=True, cache=True)
def _word_shingles(token_hash, first, count, ngram):  # pragma: no cover - compiled
    """Hashes of every row's shingles of ``ngram`` consecutive tokens (all of them when fewer)."""
    n_rows = len(count)
    offsets = np.zeros(n_rows + 1, np.int64)
    for d in range(n_rows):
        c = count[d]
        offsets[d + 1] = offsets[d] + (0 if c == 0 else max(c - ngram + 1, 1))
    out = np.empty(offsets[n_rows], np.uint64)
    weights = np.empty(ngram, np.uint64)  # odd multipliers: a shingle's hash is mix(sum of weighted token hashes)
    w = _GOLDEN
    for q in range(ngram):
        weights[q] = w
        w = _mix(w) | np.uint64(1)
    for d in range(n_rows):
        width = min(ngram, count[d])
        for s in range(offsets[d + 1] - offsets[d]):
            h = np.uint64(width)
            start = first[d] + s
            for q in range(width):
                h += token_hash[start + q] * weights[q]
            out[offsets[d] + s] = _mix(h)
    return out, offsets


@njit(nogil=True, cache=True)
def _char_shingles(data, offsets_in, ngram):  # pragma: no cover - compiled
    """Hashes of every row's windows of ``ngram`` code points (UTF-8 continuation bytes are not starts)."""
    n = len(offsets_in) - 1
    chars = np.zeros(n, np.int64)
    for d in range(n):
        for i in range(offsets_in[d], offsets_in[d + 1]):
            if (data[i] & 0xC0) != 0x80:
                chars[d] += 1
    offsets = np.zeros(n + 1, np.int64)
    for d in range(n):
        c = chars[d]
        offsets[d + 1] = offsets[d] + (0 if c == 0 else max(c - ngram + 1, 1))
    out = np.empty(offsets[n], np.uint64)
    starts = np.empty(np.max(chars) + 1 if n else 1, np.int64)
    for d in range(n):
        c = 0
        for i in range(offsets_in[d], offsets_in[d + 1]):
            if (data[i] & 0xC0) != 0x80:
                starts[c] = i
                c += 1
        starts[c] = offsets_in[d + 1]
        width = min(ngram, c)
        for s in range(offsets[d + 1] - offsets[d]):
            h = np.uint64(width) * _GOLDEN
            for i in range(starts[s], starts[s + width]):
                h = (h + np.uint64(data[i]) + np.uint64(1)) * _BYTE_BASE
            out[offsets[d] + s] = _mix(h)
    return out, offsets


@njit(nogil=True, cache=True)
def _minimums(hashes, offsets, a, b):  # pragma: no cover - compiled
    n = len(offsets) - 1
    p = len(a)
    out = np.empty((n, p), np.uint32)
    low = np.empty(p, np.uint64)
    for d in range(n):
        low[:] = np.uint64(0xFFFFFFFFFFFFFFFF)
        for i in range(offsets[d], offsets[d + 1]):
            h = hashes[i]
            for j in range(p):
                low[j] = min(low[j], a[j] * h + b[j])
        for j in range(p):
            out[d, j] = np.uint32(low[j] >> np.uint64(32))
    return out


@njit(nogil=True, cache=True)
def _bands(values, bands, rows):  # pragma: no cover - compiled
    n = values.shape[0]
    out = np.empty((n, bands), np.uint64)
    for d in range(n):
        for k in range(bands):
            h = _mix(np.uint64(k + 1) * _GOLDEN)
            for j in range(k * rows, (k + 1) * rows):
                h = _mix(h ^ np.uint64(values[d, j]))
            out[d, k] = h
    return out


@njit(nogil=True, cache=True)
def _jaccard(ha, oa, hb, ob):  # pragma: no cover - compiled
    n = len(oa) - 1
    out = np.empty(n, np.float64)
    for d in range(n):
        x = np.unique(ha[oa[d] : oa[d + 1]])
        y = np.unique(hb[ob[d] : ob[d + 1]])
        if len(x) == 0 or len(y) == 0:
            out[d] = np.nan
            continue
        i = j = common = 0
        while i < len(x) and j < len(y):
            if x[i] == y[j]:
                common += 1
                i += 1
                j += 1
            elif x[i] < y[j]:
                i += 1
            else:
                j += 1
        out[d] = common / (len(x) + len(y) - common)
    return out


def components(left: np.ndarray, right: np.ndarray, n: int) -> np.ndarray:
    """The connected components of nodes ``0..n-1`` joined by edges ``(left[i], right[i])``.

    Returns each node's component as its smallest node (union-find, the smaller root wins).
    """
    return _union_find(left.astype(np.int64), right.astype(np.int64), n)


@njit(nogil=True, cache=True)
def _root(parent, x):  # pragma: no cover - compiled
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(nogil=True, cache=True)
def _union_find(left, right, n):  # pragma: no cover - compiled
    parent = np.arange(n)
    for i in range(len(left)):
        a = _root(parent, left[i])
        b = _root(parent, right[i])
        if a < b:
            parent[b] = a
        elif b < a:
            parent[a] = b
    for x in range(n):
        parent[x] = _root(parent, x)
    return parent

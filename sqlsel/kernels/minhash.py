"""MinHash signatures, LSH banding and Jaccard similarity of texts' shingle sets.

A text's shingles (``unit='word'``, the default) are its ``ngram`` consecutive lowercased ``\\w+``
tokens (Python's ``str.lower`` and ``re``, see :mod:`sqlsel.kernels.tokens`); a text with fewer
tokens is one shingle of all of them. With ``unit='char'`` they are its ``ngram`` consecutive
characters after Unicode lowercasing (Arrow's ``utf8_lower``) and turning every run of whitespace
into one space, trimmed; a shorter text is one shingle. A text with no shingle (empty, blank, or
only punctuation in word mode) has no signature: NULL, so it is never a candidate.

Each shingle is hashed to 64 bits (splitmix64's finalizer over a weighted sum of its tokens' hashes;
exact Jaccard compares these); permutation ``j`` maps the top 32 bits ``h`` of a shingle's hash to
``(a_j·h + b_j) mod 2^32`` (a bijection: ``a_j`` is odd) with ``a_j`` and ``b_j`` drawn from
``numpy.random.default_rng(seed)``, and the signature is the minimum of each permutation over the
shingle set, ``num_perm`` uint32 values. 32-bit arithmetic runs 8 lanes wide; the shingle hashes it
permutes are already mixed, so a linear family is enough (``tests/test_minhash_kernel.py`` checks the
estimates' bias and spread). The fraction of equal positions of two signatures estimates their
sets' Jaccard similarity (standard error ``sqrt(J(1−J)/num_perm)``).

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
from functools import cache, lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlsel.kernels._jit import jit
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
    "SIGNATURE_KERNELS",
    "BAND_KERNELS",
    "COMPONENT_KERNELS",
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


@lru_cache(maxsize=64)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The multipliers (odd) and increments, uint32, of the ``num_perm`` permutations of ``seed`` (read-only).

    Kept per (num_perm, seed): drawing them takes 0.18 ms, 7% of signing a 256-row piece of a batch
    split over threads, and every piece asks.
    """
    rng = np.random.default_rng(seed % 2**64)
    a = rng.integers(0, 2**32, num_perm, dtype=np.uint32, endpoint=False) | np.uint32(1)
    b = rng.integers(0, 2**32, num_perm, dtype=np.uint32, endpoint=False)
    a.flags.writeable = b.flags.writeable = False
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


@jit(inline="always")
def _mix(z):  # pragma: no cover - compiled
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@cache
def _bmp_tables() -> tuple[np.ndarray, np.ndarray]:
    """Python's ``str.lower`` and ``\\w`` of the lowered character for every code point below 0x10000.

    ``lower[cp]`` is -1 where Python's lowercasing is not one code point of its own: a longer result
    (U+0130) or one that depends on context (U+03A3, final sigma). Rows holding such a character, or
    one above the BMP, take the Python path.
    """
    lower = np.full(0x10000, -1, np.int32)
    word = np.zeros(0x10000, np.bool_)
    for cp in range(0x10000):
        if 0xD800 <= cp < 0xE000 or cp == 0x03A3:
            continue
        low = chr(cp).lower()
        if len(low) == 1:
            lower[cp] = ord(low)
            word[cp] = WORDS.classify(low) == 1
    return lower, word


def _word_token_hashes(texts: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """64-bit hashes of every row's lowercased ``\\w+`` tokens: (hashes, first, count, valid).

    Row i's tokens are ``hashes[first[i]:first[i] + count[i]]``. One compiled pass decodes each row's
    UTF-8 and lowercases and classifies its characters by table; the rare row with a character the
    tables do not cover is tokenized by Python itself (the same hashes).
    """
    valid = ~np.asarray(texts.is_null().to_numpy(zero_copy_only=False), bool)
    rows = np.flatnonzero(valid)
    count = np.zeros(len(texts), np.int64)
    first = np.zeros(len(texts), np.int64)
    if not len(rows):
        return np.zeros(0, np.uint64), first, count, valid
    utf8 = utf8_rows(texts)
    lower, word = _bmp_tables()
    hashes, per_row, python_rows = _utf8_word_hashes(utf8.data, utf8.offsets, rows, lower, word)
    count[rows] = per_row
    first[rows] = np.cumsum(per_row) - per_row
    if len(python_rows):
        toks, _ = tokenize(texts.take(pa.array(python_rows)), WORDS)
        extra = np.bincount(toks.doc, minlength=len(python_rows)).astype(np.int64)
        count[python_rows] = extra
        first[python_rows] = len(hashes) + np.cumsum(extra) - extra
        hashes = np.concatenate([hashes, _token_hashes(toks.data, toks.starts, toks.ends, ASCII_LOWER)])
    return hashes, first, count, valid


@jit(inline="always")
def _token_end(h, length):  # pragma: no cover - compiled
    return _mix(h ^ np.uint64(length))


@jit(inline="always")
def _add_byte(h, b):  # pragma: no cover - compiled
    return (h + np.uint64(b) + np.uint64(1)) * _BYTE_BASE


@jit
def _utf8_word_hashes(data, offsets, rows, lower, word):  # pragma: no cover - compiled
    """Hashes of the lowercased word tokens of ``rows``, their counts, and the rows left to Python.

    A token's hash is over the UTF-8 bytes of its lowercased characters, as :func:`_token_hashes`
    computes it from Python's own lowercasing.
    """
    bound = 0  # tokens start at an ASCII word byte after a non-word one, or at a non-ASCII character
    for d in rows:
        prev = False
        for i in range(offsets[d], offsets[d + 1]):
            b0 = data[i]
            if b0 < 0x80:
                w = word[b0]
                bound += w and not prev
                prev = w
            elif b0 >= 0xC0:
                bound += 1
                prev = False
    out = np.empty(bound, np.uint64)
    per_row = np.zeros(len(rows), np.int64)
    python_rows = np.empty(len(rows), np.int64)
    n_python = 0
    t = 0
    for k in range(len(rows)):
        d = rows[k]
        before = t
        in_word = False
        h = np.uint64(0)
        length = 0
        i = offsets[d]
        stop = offsets[d + 1]
        fallback = False
        while i < stop:
            b0 = data[i]
            if b0 < 0x80:
                cp = np.int64(b0)
                i += 1
            elif b0 < 0xE0:
                cp = (np.int64(b0 & 0x1F) << 6) | np.int64(data[i + 1] & 0x3F)
                i += 2
            elif b0 < 0xF0:
                cp = (np.int64(b0 & 0x0F) << 12) | (np.int64(data[i + 1] & 0x3F) << 6) | np.int64(data[i + 2] & 0x3F)
                i += 3
            else:
                fallback = True
                break
            low = lower[cp]
            if low < 0:
                fallback = True
                break
            if word[cp]:
                if not in_word:
                    in_word = True
                    h = np.uint64(0)
                    length = 0
                if low < 0x80:
                    h = _add_byte(h, low)
                    length += 1
                elif low < 0x800:
                    h = _add_byte(_add_byte(h, 0xC0 | (low >> 6)), 0x80 | (low & 0x3F))
                    length += 2
                else:
                    h = _add_byte(h, 0xE0 | (low >> 12))
                    h = _add_byte(_add_byte(h, 0x80 | ((low >> 6) & 0x3F)), 0x80 | (low & 0x3F))
                    length += 3
            elif in_word:
                in_word = False
                out[t] = _token_end(h, length)
                t += 1
        if fallback:
            t = before
            python_rows[n_python] = d
            n_python += 1
            continue
        if in_word:
            out[t] = _token_end(h, length)
            t += 1
        per_row[k] = t - before
    return out[:t], per_row, python_rows[:n_python]


@jit
def _token_hashes(data, starts, ends, lower):  # pragma: no cover - compiled
    """The hash :func:`_utf8_word_hashes` gives, of tokens given as byte ranges (read through ``lower``)."""
    out = np.empty(len(starts), np.uint64)
    for t in range(len(starts)):
        h = np.uint64(0)
        for i in range(starts[t], ends[t]):
            h = (h + np.uint64(lower[data[i]]) + np.uint64(1)) * _BYTE_BASE
        out[t] = _token_end(h, ends[t] - starts[t])
    return out


@jit
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


@jit
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


@jit
def _minimums(hashes, offsets, a, b):  # pragma: no cover - compiled
    """Each row's minimum of every permutation ``(a_j·h + b_j) mod 2^32`` of its shingles' 32-bit hashes."""
    n = len(offsets) - 1
    p = len(a)
    out = np.empty((n, p), np.uint32)
    low = np.empty(p, np.uint32)
    for d in range(n):
        low[:] = np.uint32(0xFFFFFFFF)
        for i in range(offsets[d], offsets[d + 1]):
            h = np.uint32(hashes[i] >> np.uint64(32))
            for j in range(p):  # min(), not a branch: the loop compiles to 8-lane 32-bit vector code
                low[j] = min(low[j], np.uint32(a[j] * h + b[j]))
        out[d] = low
    return out


@jit
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


@jit
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


@jit
def _root(parent, x):  # pragma: no cover - compiled
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@jit
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


#: The compiled loops :func:`signatures` runs (preloaded by :func:`sqlsel.functions.preload`).
SIGNATURE_KERNELS = (_utf8_word_hashes, _token_hashes, _word_shingles, _minimums)
#: The compiled loops :func:`band_hashes` runs (preloaded by :func:`sqlsel.functions.preload`).
BAND_KERNELS = (_bands,)
#: The compiled loops :func:`components` runs (preloaded by :func:`sqlsel.functions.preload`).
COMPONENT_KERNELS = (_union_find,)

"""Compressed sizes, NCD and ZIP-FIT scores (Obbad et al. 2024, arXiv 2410.18194).

C(s) is ``len(compress(s.encode("utf-8")))`` exactly as zip-fit 1.0.9 computes it: ``gzip.compress``
(levels 1–9), ``lz4.frame.compress`` (levels 0–16) or ``zstandard.ZstdCompressor(level).compress``
(levels 1–22). From sizes:

    NCD(x, t)   = (C(x ‖ t) − min(C(x), C(t))) / max(C(x), C(t))     x ‖ t: plain concatenation, pool text first
    ZIPFIT(x)   = mean over the target set of 1 − NCD(x, t)

Exact scores need C(x ‖ t) for every pair. LZ4 at levels 0–2 (the default codec) is simulated exactly
by :mod:`sqlsel.kernels._lz4`, which reuses the parse of x across targets; other codecs call the
library once per pair (it releases the GIL, so DuckDB threads run in parallel).

The fast score does not grow with the number of targets. 1 − NCD(x, t) equals
s / max(C(x), C(t)) where s = C(x) + C(t) − C(x ‖ t) is what compressing the two together saves.
The fast score keeps the exact denominators and estimates the mean saving as
``overhead + byte_cost · coverage(x)``, capped per pair at min(C(x), C(t)): ``overhead`` is the
container cost a concatenation pays once (23 bytes for an LZ4 frame), ``byte_cost`` the codec's
compressed bytes per target byte, and
``coverage(x)`` the mean over targets of the number of distinct 4-byte sequences of x the target
contains (the bytes a match into x can replace; 4 bytes is LZ4's minimum match). One pass over x
against a table built once from the target set. The count is estimated from a fixed, content-defined
quarter of all 4-byte sequences (those whose hash has its top two bits clear, the same ones in every
text), scaled by 4: a 4× smaller table that stays in cache and a quarter of the lookups, for a
small loss of rank agreement (Spearman 0.97 → 0.96 on the benchmark). It is an approximation;
``benchmarks/zipfit.py`` measures its rank correlation with the exact score.

Example:
    >>> gz = Codec("gzip", 6)
    >>> fox, digits = b"the quick brown fox jumps over the lazy dog. " * 4, b"0123456789" * 18
    >>> alike = ncd(gz.size(fox), gz.size(fox), gz.size(fox + fox))
    >>> unrelated = ncd(gz.size(fox), gz.size(digits), gz.size(fox + digits))
    >>> bool(alike < unrelated)
    True
"""

from __future__ import annotations

import functools
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lz4.frame
import numpy as np
import zstandard

from sqlsel.cache import cache_key, read_cached, write_cached
from sqlsel.errors import ParameterError, UnknownAlgorithmError
from sqlsel.kernels import _lz4
from sqlsel.kernels._jit import jit
from sqlsel.kernels.rows import Rows

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "DEFAULT_LEVEL",
    "Codec",
    "TargetSet",
    "ncd",
    "TARGET_KERNELS",
    "EXACT_KERNELS",
    "FAST_KERNELS",
]

ALGORITHMS = {"gzip": (1, 9), "lz4": (0, 16), "zstd": (1, 22)}
DEFAULT_ALGORITHM = "lz4"
DEFAULT_LEVEL = 0
_GZIP_FRAMING = 18  # gzip.compress: 10-byte header + raw deflate + 8-byte trailer (CRC32, size)
_LZ4_FAST_LEVELS = (0, 1, 2)  # lz4.frame levels below 3 use the fast parser that _lz4 simulates


@dataclass(frozen=True)
class Codec:
    """A compressor and level, checked on construction; ``size`` is the reference's C(s).

    >>> Codec("lz4", 0).size(b"hello hello hello hello")
    38
    >>> Codec("gzip", 0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sqlsel.errors.ParameterError: gzip level 0 stores the input without compressing it, ...
    """

    algorithm: str = DEFAULT_ALGORITHM
    level: int = DEFAULT_LEVEL
    _local: threading.local = field(default_factory=threading.local, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise UnknownAlgorithmError(
                str(self.algorithm), ALGORITHMS, "Pass one of them as algorithm (lz4 level 0 is the default)."
            )
        if self.algorithm == "gzip" and self.level == 0:
            raise ParameterError(
                "gzip level 0 stores the input without compressing it, so every NCD becomes a function of the "
                "lengths alone and the selection is no better than random (zip-fit 1.0.9's default; its top-k "
                "precision measured 0.000). Use gzip levels 1-9, or the default lz4 level 0."
            )
        lo, hi = ALGORITHMS[self.algorithm]
        if not isinstance(self.level, int) or isinstance(self.level, bool) or not lo <= self.level <= hi:
            raise ParameterError(f"{self.algorithm} levels are {lo}..{hi}; got level {self.level!r}.")

    @property
    def simulated(self) -> bool:
        """Whether sizes come from the compiled LZ4 simulation rather than library calls."""
        return self.algorithm == "lz4" and self.level in _LZ4_FAST_LEVELS and lz4_simulation_matches()

    def size(self, data: bytes) -> int:
        if self.algorithm == "gzip":
            return len(zlib.compress(data, self.level, -15)) + _GZIP_FRAMING
        if self.algorithm == "lz4":
            return len(lz4.frame.compress(data, compression_level=self.level))
        zc = getattr(self._local, "zstd", None)
        if zc is None:  # a ZstdCompressor must not be shared between threads
            zc = self._local.zstd = zstandard.ZstdCompressor(level=self.level)
        return len(zc.compress(data))

    def sizes(self, rows: Rows, known: np.ndarray | None = None) -> np.ndarray:
        """C(row) for every row; ``known`` (filled in place) holds sizes already computed, -1 elsewhere."""
        if known is None:
            known = _lz4.frame_sizes(rows.data, rows.offsets) if self.simulated else np.full(len(rows), -1, np.int64)
        for i in np.flatnonzero(known < 0):
            known[i] = self.size(rows[i])
        return known

    def pair_sizes(self, rows: Rows, targets: Rows) -> np.ndarray:
        """C(x ‖ t) for every row x and target t: a (rows, targets) int64 array."""
        if self.simulated:
            out = _lz4.pair_frame_sizes(rows.data, rows.offsets, targets.data, targets.offsets)
            for i, j in zip(*np.nonzero(out < 0), strict=True):
                out[i, j] = self.size(rows[i] + targets[j])
            return out
        tbytes = [targets[j] for j in range(len(targets))]
        out = np.empty((len(rows), len(tbytes)), np.int64)
        for i in range(len(rows)):
            x = rows[i]
            out[i] = [self.size(x + t) for t in tbytes]
        return out

    def overhead(self) -> int:
        """Bytes of container a concatenation pays once instead of twice (frame headers, trailers)."""
        return self.size(b"a") + self.size(b"b") - self.size(b"ab")


@functools.cache
def lz4_simulation_matches() -> bool:
    """Whether the compiled LZ4 sizes equal the installed python-lz4's on a fixed sample.

    A guard against a future LZ4 release that parses differently: sizes then come from the library
    (slower, still exact). Checked once per installation, not per process (it loads two compiled
    functions, 0.2 s): the answer is cached under the versions of lz4 and of the simulation's source.
    """
    key = cache_key("lz4-simulation", lz4.__version__, lz4.library_version_string(), Path(_lz4.__file__).read_bytes())
    cached = read_cached("checks", key)
    if cached is not None and isinstance(cached.get("matches"), bool):
        return bool(cached["matches"])
    matches = _lz4_sizes_match()
    write_cached("checks", key, {"matches": matches})
    return matches


def _lz4_sizes_match() -> bool:
    text = b"".join(b"%d: the quick brown fox jumps over the lazy dog %d times\n" % (i, i * i) for i in range(300))
    sample = [b"", b"a", b"abcd" * 3, b"abcd" * 4, bytes(range(256)) * 2, text, text[:4000] + bytes(range(97, 123)) * 9]
    rows = Rows.of(sample)
    want = [len(lz4.frame.compress(b, compression_level=0)) for b in sample]
    pairs = _lz4.pair_frame_sizes(rows.data, rows.offsets, rows.data, rows.offsets)
    want_pairs = [[len(lz4.frame.compress(x + t, compression_level=0)) for t in sample] for x in sample]
    return _lz4.frame_sizes(rows.data, rows.offsets).tolist() == want and pairs.tolist() == want_pairs


def ncd(cx: np.ndarray | int, ct: np.ndarray | int, cxt: np.ndarray | int) -> np.ndarray:
    """Normalized compression distance from the sizes C(x), C(t) and C(x ‖ t)."""
    cx, ct, cxt = np.asarray(cx), np.asarray(ct), np.asarray(cxt)
    return (cxt - np.minimum(cx, ct)) / np.maximum(cx, ct)


@dataclass
class TargetSet:
    """A ZIP-FIT target set: its texts, their sizes under one codec, and the fast-mode sketch."""

    codec: Codec
    texts: Rows
    sizes: np.ndarray
    _fast: _FastModel | None = field(default=None, repr=False)
    _fast_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @classmethod
    def build(cls, texts: Sequence[bytes], codec: Codec) -> TargetSet:
        rows = Rows.of(texts)
        return cls(codec, rows, codec.sizes(rows))

    def __len__(self) -> int:
        return len(self.texts)

    def exact_scores(self, rows: Rows) -> np.ndarray:
        """ZIP-FIT score of every row: mean over targets of 1 − NCD (zip-fit 1.0.9's score)."""
        cx = self.codec.sizes(rows)
        cxt = self.codec.pair_sizes(rows, self.texts)
        return (1.0 - ncd(cx[:, None], self.sizes[None, :], cxt)).mean(axis=1)

    def fast_scores(self, rows: Rows) -> np.ndarray:
        """The fast estimate of :meth:`exact_scores`; its cost does not depend on the number of targets."""
        m = self.fast_model()
        lz4_sizes, coverage = _coverage(rows.data, rows.offsets, m.sketch, self.codec.simulated)
        cx = self.codec.sizes(rows, known=lz4_sizes)  # the library's size for rows the parse does not cover
        return _mean_similarity(coverage, cx, m.scale, m.overhead, m.byte_cost, m.sizes, m.head, m.tail)

    def sketch(self) -> np.ndarray:
        """Hash table of every sampled 4-byte sequence in the targets → number of targets holding it."""
        return self.fast_model().sketch

    def fast_model(self) -> _FastModel:
        """What :meth:`fast_scores` needs of the targets, built once (DuckDB threads share a cached set)."""
        with self._fast_lock:
            if self._fast is None:
                self._fast = _FastModel.of(self)
        return self._fast


@dataclass(frozen=True)
class _FastModel:
    """The targets as fast mode sees them: the sketch, and the constants of the estimate.

    Computed once per target set, so that a call scores its rows in compiled code alone (with the GIL
    released), whatever the size of the piece of a batch it was given.
    """

    sketch: np.ndarray
    scale: float  # SAMPLE_RATE / targets: the sketch holds 1 in SAMPLE_RATE words; the mean over targets
    overhead: float  # container bytes a concatenation saves (Codec.overhead)
    byte_cost: float  # compressed bytes per target byte
    sizes: np.ndarray  # C(t), sorted ascending (float64)
    head: np.ndarray  # head[i]: the sum of the i smallest sizes
    tail: np.ndarray  # tail[i]: the sum of 1 / size from index i on

    @classmethod
    def of(cls, targets: TargetSet) -> _FastModel:
        total = float(targets.texts.lengths().sum())
        sizes = np.sort(targets.sizes).astype(np.float64)
        return cls(
            sketch=_build_sketch(targets.texts.data, targets.texts.offsets),
            scale=SAMPLE_RATE / len(targets),
            overhead=float(targets.codec.overhead()),
            byte_cost=float(targets.sizes.sum()) / total if total else 1.0,
            sizes=sizes,
            head=np.concatenate([[0.0], np.cumsum(sizes)]),
            tail=np.concatenate([np.cumsum((1.0 / sizes)[::-1])[::-1], [0.0]]),
        )


@jit
def _mean_similarity(coverage, cx, scale, overhead, byte_cost, ct, head, tail):  # pragma: no cover - compiled
    """mean_j min(saving, C(x), C(t_j)) / max(C(x), C(t_j)) per row, in O(log M) for sorted sizes ``ct``.

    The estimated saving is ``overhead + byte_cost · coverage · scale``; a pair cannot save more than
    the smaller text costs, so it is capped per pair. ``head`` and ``tail``: see :class:`_FastModel`.
    """
    out = np.empty(len(cx), np.float64)
    for i in range(len(cx)):
        x = np.float64(cx[i])
        saving = overhead + byte_cost * (coverage[i] * scale)
        cap = min(saving, x)
        below_cap = np.searchsorted(ct, cap, side="right")
        below_x = np.searchsorted(ct, x, side="right")
        total = (head[below_cap] + saving * (below_x - below_cap)) / x + cap * tail[below_x]
        out[i] = total / len(ct)
    return out


_NO_WORD = np.uint32(0xFFFFFFFF)  # four 0xFF bytes never occur in UTF-8, so no text has this word
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SAMPLE_SHIFT = np.uint64(62)  # fast mode keeps the words whose hash has its top 2 bits clear: 1 in 4
SAMPLE_RATE = 4


@jit(inline="always")
def _slot(keys, word):  # pragma: no cover - compiled
    """Linear-probing slot of ``word`` in ``keys``: where it is, or the empty slot where it would go."""
    mask = np.uint64(len(keys) - 1)
    s = _home(np.uint64(word), mask)
    while keys[s] != word and keys[s] != _NO_WORD:
        s = (s + np.uint64(1)) & mask
    return s


@jit
def _build_sketch(data, offsets):  # pragma: no cover - compiled
    """Every sampled 4-byte sequence of the targets (:func:`_sampled`) with the number of targets
    holding it, as a hash table.

    Entries are ``df << 32 | word`` in a linear-probing table at most a quarter full; one 64-bit load
    answers a lookup (the table is read at every sampled position of every pool text).
    """
    keys = np.full(1 << 10, _NO_WORD, np.uint32)
    df = np.zeros(1 << 10, np.int64)
    last = np.full(1 << 10, -1, np.int64)  # the last target that counted a slot
    used = 0
    for r in range(len(offsets) - 1):
        for i in range(offsets[r], offsets[r + 1] - 3):
            if 2 * used >= len(keys):
                keys, df, last = _grow(keys, df, last)
            word = np.uint32(_lz4.word_at(data, i))
            if not _sampled(np.uint64(word)):
                continue
            s = _slot(keys, word)
            if keys[s] == _NO_WORD:
                keys[s] = word
                used += 1
            if last[s] != r:
                last[s] = r
                df[s] += 1
    size = 1 << 10
    while size < 4 * used:
        size <<= 1
    table = np.full(size, np.uint64(_NO_WORD), np.uint64)
    mask = np.uint64(size - 1)
    for s in range(len(keys)):
        if keys[s] != _NO_WORD:
            h = _home(np.uint64(keys[s]), mask)
            while table[h] != np.uint64(_NO_WORD):
                h = (h + np.uint64(1)) & mask
            table[h] = (np.uint64(df[s]) << np.uint64(32)) | np.uint64(keys[s])
    return table


@jit
def _grow(keys, df, last):  # pragma: no cover - compiled
    new_keys = np.full(2 * len(keys), _NO_WORD, np.uint32)
    new_df = np.zeros(2 * len(keys), np.int64)
    new_last = np.full(2 * len(keys), -1, np.int64)
    for s in range(len(keys)):
        if keys[s] != _NO_WORD:
            t = _slot(new_keys, keys[s])
            new_keys[t], new_df[t], new_last[t] = keys[s], df[s], last[s]
    return new_keys, new_df, new_last


@jit(inline="always")
def _home(word, mask):  # pragma: no cover - compiled
    return ((word * _GOLDEN) >> np.uint64(40)) & mask


@jit(inline="always")
def _sampled(word):  # pragma: no cover - compiled
    """Whether fast mode counts this 4-byte word: 1 in SAMPLE_RATE of all words, chosen by content."""
    return ((word * _GOLDEN) >> _SAMPLE_SHIFT) == np.uint64(0)


@jit
def _coverage(data, offsets, table, lz4_sizes):  # pragma: no cover - compiled
    """For each row, the sum over its distinct sampled 4-byte sequences of how many targets hold them.

    With ``lz4_sizes`` it also returns every row's LZ4 frame size (level 0-2; -1 over 64 KiB) from
    the same parse, and looks up only the 4-byte sequences that do not lie inside a match the parse
    found: those repeat a sequence earlier in the row, already counted (about half the positions of
    real text). Otherwise the sizes are all -1 and every position is looked up.
    """
    rows = len(offsets) - 1
    out = np.zeros(rows, np.float64)
    sizes = np.full(rows, -1, np.int64)
    seen = np.full(len(table), -1, np.int32)  # private: the last row that counted a slot
    longest = 0
    for r in range(rows):
        longest = max(longest, offsets[r + 1] - offsets[r])
    room = min(longest, _lz4.MAX_BLOCK) + 4  # sized by the longest row: most texts are far below 64 KiB
    lz4_table = np.zeros(1 << _lz4.HASH_LOG, np.uint16)
    spans = np.zeros(2 * (room // _lz4.MIN_MATCH + 1), np.int64)
    picked = np.zeros(room, np.uint64)
    for r in range(rows):
        a, b = offsets[r], offsets[r + 1]
        n = b - a
        if n > _lz4.MAX_BLOCK:  # beyond LZ4's simulation: look every position up, a window at a time
            total = 0
            for c in range(a, b - 3, _lz4.MAX_BLOCK):
                end = min(c + _lz4.MAX_BLOCK + 3, b)
                total += _count_words(data[c:end], 0, end - c - 3, table, seen, r, picked)
            out[r] = total
            continue
        row = data[a:b]
        found = 0
        if lz4_sizes:
            block, found = _lz4.block_size_spans(row, n, lz4_table, spans)
            sizes[r] = _lz4.frame_size(n, block)
        total = 0
        start = 0  # the first position not yet looked up or skipped
        for s in range(found):
            total += _count_words(row, start, spans[2 * s], table, seen, r, picked)
            start = max(start, spans[2 * s + 1] - 3)  # the last 3 sequences reach past the match
        out[r] = total + _count_words(row, start, n - 3, table, seen, r, picked)
    return sizes, out


@jit(inline="always")
def _count_words(row, lo, hi, table, seen, r, picked):  # pragma: no cover - compiled
    """Sum of target counts of the sampled 4-byte words at positions ``lo:hi`` of ``row`` (bytes) not
    yet counted for row r."""
    mask = np.uint64(len(table) - 1)
    low = np.uint64(0xFFFFFFFF)
    empty = np.uint64(_NO_WORD)
    n = 0
    for i in range(lo, hi):  # gather the sampled words first: a branch per word would mispredict
        word = _lz4.word_at(row, i)
        picked[n] = word
        n += _sampled(word)
    total = 0
    for j in range(n):
        word = picked[j]
        h = _home(word, mask)
        e = table[h]
        while (e & low) != word and (e & low) != empty:
            h = (h + np.uint64(1)) & mask
            e = table[h]
        # Branch-free (whether a word is a target's, or new to the row, is a coin flip the CPU would
        # mispredict): a miss stops at an empty slot, whose count is 0 and whose mark nothing reads.
        counted = seen[h] == r
        seen[h] = r
        total += np.int64(e >> np.uint64(32)) * (1 - counted)
    return total


#: The compiled loops of a target set's sizes and sketch (preloaded by :func:`sqlsel.functions.preload`).
TARGET_KERNELS = (_lz4.frame_sizes, _lz4.block_size, _build_sketch, _grow)
#: The compiled loops :meth:`TargetSet.exact_scores` runs (preloaded by :func:`sqlsel.functions.preload`).
EXACT_KERNELS = (*TARGET_KERNELS, _lz4.pair_frame_sizes)
#: The compiled loops :meth:`TargetSet.fast_scores` runs (preloaded by :func:`sqlsel.functions.preload`).
FAST_KERNELS = (*TARGET_KERNELS, _lz4.block_size_spans, _coverage, _mean_similarity)

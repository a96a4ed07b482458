"""Gopher, C4 and FineWeb quality heuristics, as datatrove 0.10.1 applies them to English text.

Four filters, each a function from an Arrow string array to one row per text: the measured signals,
``keep`` and ``reason``, the first rule that failed, named as datatrove's ``return False, "<reason>"``
names it (NULL when kept). Rules are checked in datatrove's order and every threshold is a parameter
defaulting to datatrove's; as in datatrove, a Gopher threshold of 0 (-1 for C4's counts) switches
its rule off, while FineWeb's are compared as given. Words are datatrove's English words, spaCy's
blank-English tokens (:mod:`sqlsel.kernels.words`); the Gopher n-gram statistics are counted by a
compiled loop over hashed words. A NULL text gives a NULL row; the empty text gets datatrove's
verdict (below, per filter).

>>> out = gopher_quality(pa.array(["the cat and the dog " * 20, "too short"]))
>>> out.field("keep").to_pylist(), out.field("reason").to_pylist()
([True, False], [None, 'gopher_short_doc'])
>>> gopher_repetition(pa.array(["same line\\nsame line\\nsame line"])).field("reason").to_pylist()
['dup_line_frac']
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from itertools import chain
from operator import methodcaller

import numpy as np
import pyarrow as pa

from sqlsel.errors import ParameterError
from sqlsel.kernels._jit import jit
from sqlsel.kernels.words import english_words, rules

__all__ = [
    "STOP_WORDS",
    "TOP_NGRAMS",
    "DUP_NGRAMS",
    "gopher_quality",
    "gopher_repetition",
    "c4_quality",
    "fineweb_quality",
    "QUALITY_KERNELS",
]

#: datatrove's Gopher stop words (a text needs ``min_stop_words`` of them).
STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
#: datatrove's (n, max fraction) for the most frequent n-gram's characters, and for duplicated n-grams'.
TOP_NGRAMS = ((2, 0.2), (3, 0.18), (4, 0.16))
DUP_NGRAMS = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))

_PUNCTUATION = frozenset(rules()["datatrove_punctuation"])
_TERMINAL = tuple(rules()["datatrove_terminal_punctuation"])


def _check(name: str, value, low: float, high: float = math.inf):
    """``value`` if it is a number in [low, high], else a ParameterError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not (low <= value <= high):
        bound = f"[{low}, {high}]" if high != math.inf else f">= {low}"
        raise ParameterError(f"{name} must be a number {bound}; got {value!r}")
    return value


def _texts(texts: pa.Array) -> list[str | None]:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    return texts.to_pylist()


def _struct(columns: dict[str, list], types: dict[str, pa.DataType], valid: list[bool]) -> pa.StructArray:
    mask = pa.array([not v for v in valid], pa.bool_())
    arrays = [pa.array(values, types.get(name, pa.float64()), from_pandas=True) for name, values in columns.items()]
    return pa.StructArray.from_arrays(arrays, names=list(columns), mask=mask)


# -- Gopher quality ---------------------------------------------------------------------------------


def gopher_quality(
    texts: pa.Array,
    min_doc_words: int = 50,
    max_doc_words: int = 100_000,
    min_avg_word_length: float = 3,
    max_avg_word_length: float = 10,
    max_symbol_word_ratio: float = 0.1,
    max_bullet_lines_ratio: float = 0.9,
    max_ellipsis_lines_ratio: float = 0.3,
    max_non_alpha_words_ratio: float = 0.8,
    min_stop_words: int = 2,
    stop_words: Sequence[str] = STOP_WORDS,
) -> pa.StructArray:
    """datatrove's ``GopherQualityFilter`` (Rae et al. 2021, Gopher's quality rules).

    Signals: ``words`` (all words), ``non_symbol_words`` (words with a character outside datatrove's
    punctuation set, the ones the length rules count), ``avg_word_length`` (of those), ``hash_ratio``
    and ``ellipsis_ratio`` (``#`` and ``...``/``…`` per word), ``bullet_lines`` and
    ``ellipsis_lines`` (fractions of lines starting with a bullet, ending with an ellipsis),
    ``alpha_words`` (fraction of words with a letter; despite its name ``max_non_alpha_words_ratio``
    is that fraction's minimum), ``stop_words`` (distinct stop words present). An empty or blank text
    has no words: ``gopher_short_doc``. Where datatrove divides by zero (``min_doc_words`` 0 and no
    words) the ratio is 0 here.
    """
    for name, value in [("min_doc_words", min_doc_words), ("max_doc_words", max_doc_words)]:
        _check(name, value, 0)
    _check("min_avg_word_length", min_avg_word_length, 0)
    _check("max_avg_word_length", max_avg_word_length, 0)
    _check("max_symbol_word_ratio", max_symbol_word_ratio, 0)
    for name, value in [
        ("max_bullet_lines_ratio", max_bullet_lines_ratio),
        ("max_ellipsis_lines_ratio", max_ellipsis_lines_ratio),
        ("max_non_alpha_words_ratio", max_non_alpha_words_ratio),
    ]:
        _check(name, value, 0, 1)
    _check("min_stop_words", min_stop_words, 0)
    if isinstance(stop_words, str) or any(not isinstance(w, str) for w in stop_words):
        raise ParameterError(f"stop_words must be a list of strings; got {stop_words!r}")
    info = _chunk_info(stop_words)
    stops = len(info.stops)
    values = _texts(texts)
    valid = np.array([t is not None for t in values], bool)
    counts = np.zeros((len(values), 9), np.int64)  # words, nonsym, alpha, length, #, ellipses, lines, bullets, ends
    n_stops = np.zeros(len(values), np.int64)
    get = info.__getitem__
    for d, text in enumerate(values):
        if not text:
            continue
        packed = sum(map(get, text.split()))
        lines = text.splitlines()
        counts[d] = (
            packed & _FIELD,
            packed >> _BITS & _FIELD,
            packed >> 2 * _BITS & _FIELD,
            packed >> 3 * _BITS & _FIELD,
            text.count("#"),
            text.count("...") + text.count("…"),
            len(lines),
            sum(map(_STARTS_BULLET, map(str.lstrip, lines))),
            sum(map(_ENDS_ELLIPSIS, map(str.rstrip, lines))),
        )
        packed >>= 4 * _BITS
        n_stops[d] = sum(1 for k in range(stops) if packed >> k * _BITS & _FIELD)
    n, nonsym, alpha, total, hashes, ellipses, lines, bullets, ends = counts.T
    with np.errstate(divide="ignore", invalid="ignore"):  # exact: IEEE division of integers under 2^53, as in Python
        avg = np.where(nonsym > 0, total / nonsym, np.nan)
        hash_ratio = np.where(n > 0, hashes / n, 0.0)
        ellipsis_ratio = np.where(n > 0, ellipses / n, 0.0)
        bullet_ratio = np.where(lines > 0, bullets / lines, 0.0)
        end_ratio = np.where(lines > 0, ends / lines, 0.0)
        alpha_ratio = np.where(n > 0, alpha / n, 0.0)
    rules_ = [
        (min_doc_words, "gopher_short_doc", nonsym < min_doc_words),
        (max_doc_words, "gopher_long_doc", nonsym > max_doc_words),
        (min_avg_word_length, "gopher_below_avg_threshold", avg < min_avg_word_length),
        (max_avg_word_length, "gopher_above_avg_threshold", avg > max_avg_word_length),
        (max_symbol_word_ratio, "gopher_too_many_hashes", hash_ratio > max_symbol_word_ratio),
        (max_symbol_word_ratio, "gopher_too_many_ellipsis", ellipsis_ratio > max_symbol_word_ratio),
        (max_bullet_lines_ratio, "gopher_too_many_bullets", bullet_ratio > max_bullet_lines_ratio),
        (max_ellipsis_lines_ratio, "gopher_too_many_end_ellipsis", end_ratio > max_ellipsis_lines_ratio),
        (max_non_alpha_words_ratio, "gopher_below_alpha_threshold", alpha_ratio < max_non_alpha_words_ratio),
        (min_stop_words, "gopher_enough_stop_words", n_stops < min_stop_words),
    ]
    keep, reason = _verdicts([(name, failed) for threshold, name, failed in rules_ if threshold], valid)
    columns = {
        "keep": keep,
        "reason": reason,
        "words": pa.array(n, pa.int64()),
        "non_symbol_words": pa.array(nonsym, pa.int64()),
        "avg_word_length": pa.array(avg, from_pandas=True),  # NULL without non-symbol words
        "hash_ratio": pa.array(hash_ratio),
        "ellipsis_ratio": pa.array(ellipsis_ratio),
        "bullet_lines": pa.array(bullet_ratio),
        "ellipsis_lines": pa.array(end_ratio),
        "alpha_words": pa.array(alpha_ratio),
        "stop_words": pa.array(n_stops, pa.int64()),
    }
    return pa.StructArray.from_arrays(list(columns.values()), names=list(columns), mask=pa.array(~valid))


def _verdicts(
    rules_: list[tuple[str, np.ndarray]], valid: np.ndarray, first: Sequence[int] = ()
) -> tuple[pa.Array, pa.Array]:
    """keep and reason (the first failing rule's name, NULL if none) from rules in order, as Arrow arrays.

    The rules at the indices in ``first`` take precedence over all others.
    """
    order = [*first, *(k for k in range(len(rules_)) if k not in first)]  # highest precedence first
    failed = np.zeros(valid.shape[0], np.int64)  # 0: none failed, k: rules_[k - 1]
    for k in reversed(order):
        failed[rules_[k][1]] = k + 1
    names = pa.array([None, *(name for name, _ in rules_)], pa.string())
    return pa.array(failed == 0, mask=~valid), names.take(pa.array(failed))


#: Per chunk of text (whitespace-free), one integer packing, in _BITS-bit fields, its words, the
#: non-symbol ones, the ones with a letter, the non-symbol ones' characters, then per stop word
#: (in the order given) how many of its words it is: sums over a text's chunks add every field.
_BITS = 40
_FIELD = (1 << _BITS) - 1
_STARTS_BULLET = methodcaller("startswith", ("•", "-"))
_ENDS_ELLIPSIS = methodcaller("endswith", ("...", "…"))


class _ChunkInfo(dict):
    """chunk -> its packed counts (see _BITS) for one list of stop words, computed on first lookup."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        super().__init__()
        self.stops = stops
        self._words = _WordInfo(stops)
        self._chunk = english_words().chunk

    def __missing__(self, chunk: str) -> int:
        value = sum(map(self._words.__getitem__, self._chunk(chunk)))
        if len(self) >= CHUNK_INFO_LIMIT:
            self.clear()
            self._words.clear()
        self[chunk] = value
        return value


class _WordInfo(dict):
    """word -> its packed counts (see _BITS), computed on first lookup."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        super().__init__()
        self._index = {w: k for k, w in enumerate(stops)}

    def __missing__(self, w: str) -> int:
        value = 1
        if not _PUNCTUATION.issuperset(w):
            value += 1 << _BITS | len(w) << 3 * _BITS
        if w.isalpha() or any(map(str.isalpha, w)):
            value += 1 << 2 * _BITS
        k = self._index.get(w)
        if k is not None:
            value += 1 << (4 + k) * _BITS
        self[w] = value
        return value


#: Chunks whose counts are kept before a table is emptied (bounded memory on any corpus).
CHUNK_INFO_LIMIT = 500_000
_INFOS: dict[tuple[str, ...], _ChunkInfo] = {}


def _chunk_info(stop_words: Sequence[str]) -> _ChunkInfo:
    """The shared chunk table for these stop words (the last few lists used are kept)."""
    stops = tuple(dict.fromkeys(stop_words))
    info = _INFOS.get(stops)
    if info is None:
        if len(_INFOS) >= 4:
            _INFOS.clear()
        info = _INFOS[stops] = _ChunkInfo(stops)
    return info


# -- Gopher repetition ------------------------------------------------------------------------------

_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")
# Words are compared through two polynomial hashes of their characters (mod two primes under 2^31),
# which concatenate: hash(a + b) = hash(a) * B^len(b) + hash(b). An n-gram's key is both hashes of
# its words joined with spaces (datatrove's top n-grams) or without (its duplicated n-grams).
_M1, _M2 = 2_147_483_647, 2_147_483_629
_B1, _B2 = 911_382_323, 972_663_749
_POW_TABLE = 1 << 12
_MIX = -7046029254386353131  # 0x9E3779B97F4A7C15 as a signed 64-bit number (its products wrap)


def _powers(base: int, mod: int) -> np.ndarray:
    out = np.empty(_POW_TABLE, np.int64)
    x = 1
    for i in range(_POW_TABLE):
        out[i] = x
        x = x * base % mod
    return out


_POW1, _POW2 = _powers(_B1, _M1), _powers(_B2, _M2)


class _Vocabulary:
    """Integer ids for words, and per id: length and the two hashes, bare and followed by a space.

    Shared by every thread: ids are given out under a lock, and the hashes of the words given ids
    since the last ``flush`` are computed there in one compiled pass.
    """

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.cols = np.zeros((5, 1024), np.int64)  # length, h1, h2, spaced h1, spaced h2
        self.chunks = _ChunkIds(self)
        self._pending: list[str] = []
        self._lock = threading.Lock()

    def add(self, w: str) -> int:
        with self._lock:
            i = self.ids.get(w)
            if i is None:
                i = self.ids[w] = len(self.ids)
                self._pending.append(w)
            return i

    def flush(self) -> np.ndarray:
        """The columns, with every word given an id so far hashed."""
        with self._lock:
            if self._pending:
                first = len(self.ids) - len(self._pending)
                size = self.cols.shape[1]
                while size < len(self.ids):
                    size *= 2
                if size != self.cols.shape[1]:
                    cols = np.zeros((5, size), np.int64)
                    cols[:, :first] = self.cols[:, :first]
                    self.cols = cols
                codes = np.frombuffer("".join(self._pending).encode("utf-32-le", "surrogatepass"), np.uint32)
                lengths = np.fromiter(map(len, self._pending), np.int64, len(self._pending))
                _hash_words(codes.astype(np.int64), lengths, self.cols, first)
                self._pending = []
            return self.cols


class _ChunkIds(dict):
    """chunk of text -> the ids of its words, given on first lookup."""

    def __init__(self, vocabulary: _Vocabulary) -> None:
        super().__init__()
        self._vocabulary = vocabulary
        self._chunk = english_words().chunk

    def __missing__(self, chunk: str) -> tuple[int, ...]:
        get, add = self._vocabulary.ids.get, self._vocabulary.add
        value = tuple(i if (i := get(w)) is not None else add(w) for w in self._chunk(chunk))
        if len(self) >= CHUNK_INFO_LIMIT:
            self.clear()
        self[chunk] = value
        return value


_VOCABULARY: list[_Vocabulary] = []


def _vocabulary() -> _Vocabulary:
    """The process's word ids (shared by DuckDB's threads), renewed past 2M words."""
    if not _VOCABULARY or len(_VOCABULARY[0].ids) > 2_000_000:
        with _VOCABULARY_LOCK:
            if not _VOCABULARY or len(_VOCABULARY[0].ids) > 2_000_000:
                _VOCABULARY[:] = [_Vocabulary()]
    return _VOCABULARY[0]


_VOCABULARY_LOCK = threading.Lock()


@jit
def _hash_words(codes, lengths, cols, first):  # pragma: no cover - compiled
    """Per word (code points, lengths): its length and both hashes, bare and spaced, into cols from ``first``."""
    m1, m2, b1, b2 = 2147483647, 2147483629, 911382323, 972663749
    j = 0
    for k in range(lengths.shape[0]):
        h1 = 0
        h2 = 0
        for _ in range(lengths[k]):
            o = codes[j] + 1
            h1 = (h1 * b1 + o) % m1
            h2 = (h2 * b2 + o) % m2
            j += 1
        i = first + k
        cols[0, i] = lengths[k]
        cols[1, i] = h1
        cols[2, i] = h2
        cols[3, i] = (h1 * b1 + 33) % m1
        cols[4, i] = (h2 * b2 + 33) % m2


@jit
def _pow(table, base, mod, e):  # pragma: no cover - compiled
    if e < table.shape[0]:
        return table[e]
    result = table[table.shape[0] - 1]
    e -= table.shape[0] - 1
    b = base
    while e > 0:
        if e & 1:
            result = result * b % mod
        b = b * b % mod
        e >>= 1
    return result


@jit
def _ngram_chars(ids, offsets, cols, pow1, pow2, top_ns, dup_ns):  # pragma: no cover - compiled
    """Per text: the top n-gram's characters times its count (top_ns), duplicated n-grams' characters (dup_ns)."""
    ndoc = offsets.shape[0] - 1
    top = np.zeros((ndoc, top_ns.shape[0]), np.int64)
    dup = np.zeros((ndoc, dup_ns.shape[0]), np.int64)
    m1, m2, b1, b2 = 2147483647, 2147483629, 911382323, 972663749
    for d in range(ndoc):
        a = offsets[d]
        w = offsets[d + 1] - a
        if w == 0:
            continue
        # prefix hashes and character counts, bare (p, c) and each word followed by a space (q, s)
        p1 = np.zeros(w + 1, np.int64)
        p2 = np.zeros(w + 1, np.int64)
        q1 = np.zeros(w + 1, np.int64)
        q2 = np.zeros(w + 1, np.int64)
        c = np.zeros(w + 1, np.int64)
        for k in range(w):
            t = ids[a + k]
            n = cols[0, t]
            p1[k + 1] = (p1[k] * _pow(pow1, b1, m1, n) + cols[1, t]) % m1
            p2[k + 1] = (p2[k] * _pow(pow2, b2, m2, n) + cols[2, t]) % m2
            q1[k + 1] = (q1[k] * _pow(pow1, b1, m1, n + 1) + cols[3, t]) % m1
            q2[k + 1] = (q2[k] * _pow(pow2, b2, m2, n + 1) + cols[4, t]) % m2
            c[k + 1] = c[k] + n
        size = 1
        while size < 2 * w + 2:
            size <<= 1
        keys = np.empty(size, np.int64)
        counts = np.empty(size, np.int64)
        kk = np.empty(w, np.int64)
        for j in range(top_ns.shape[0]):
            n = top_ns[j]
            if w < n:
                continue
            keys[:] = -1
            for i in range(w - n + 1):
                e = c[i + n] - c[i] + n
                h1 = (q1[i + n] - q1[i] * _pow(pow1, b1, m1, e)) % m1
                h2 = (q2[i + n] - q2[i] * _pow(pow2, b2, m2, e)) % m2
                key = (h1 << 31) | h2
                kk[i] = key
                slot = (key * _MIX) & (size - 1)
                while keys[slot] != -1 and keys[slot] != key:
                    slot = (slot + 1) & (size - 1)
                if keys[slot] == -1:
                    keys[slot] = key
                    counts[slot] = 0
                counts[slot] += 1
            best = 0
            best_i = 0
            for i in range(w - n + 1):  # Counter.most_common(1): the first seen of the most frequent
                key = kk[i]
                slot = (key * _MIX) & (size - 1)
                while keys[slot] != key:
                    slot = (slot + 1) & (size - 1)
                if counts[slot] > best:
                    best = counts[slot]
                    best_i = i
            top[d, j] = best * (c[best_i + n] - c[best_i] + n - 1)
        for j in range(dup_ns.shape[0]):
            n = dup_ns[j]
            keys[:] = -1
            repeated = 0
            i = 0
            while i < w - n + 1:
                e = c[i + n] - c[i]
                h1 = (p1[i + n] - p1[i] * _pow(pow1, b1, m1, e)) % m1
                h2 = (p2[i + n] - p2[i] * _pow(pow2, b2, m2, e)) % m2
                key = (h1 << 31) | h2
                slot = (key * _MIX) & (size - 1)
                while keys[slot] != -1 and keys[slot] != key:
                    slot = (slot + 1) & (size - 1)
                if keys[slot] == key:
                    repeated += e
                    i += n
                else:
                    keys[slot] = key
                    i += 1
            dup[d, j] = repeated
    return top, dup


def _duplicates(parts: list[str]) -> tuple[int, int]:
    """datatrove's ``find_duplicates``: repeats of earlier elements, and their characters."""
    distinct = set(parts)
    return len(parts) - len(distinct), sum(map(len, parts)) - sum(map(len, distinct))


def gopher_repetition(
    texts: pa.Array,
    dup_line_frac: float = 0.3,
    dup_para_frac: float = 0.3,
    dup_line_char_frac: float = 0.2,
    dup_para_char_frac: float = 0.2,
    top_ngrams: Sequence[tuple[int, float]] = TOP_NGRAMS,
    dup_ngrams: Sequence[tuple[int, float]] = DUP_NGRAMS,
) -> pa.StructArray:
    """datatrove's ``GopherRepetitionFilter``: repeated paragraphs, lines and n-grams.

    Signals (fractions): ``dup_para``, ``dup_para_chars``, ``dup_line``, ``dup_line_chars``, then
    ``top_<n>_gram`` (characters of the most frequent word n-gram, space-joined, times its count,
    over the text's characters) and ``dup_<n>_gram`` (characters of n-grams repeating an earlier
    one, not counting overlaps). Paragraphs split at 2+ newlines of the stripped text, lines at 1+.
    The empty text is ``empty``; a blank one has no repeats and is kept (as in datatrove). Unlike
    datatrove, a fraction of 0 switches an n-gram rule off too (datatrove would drop every text
    with an n-gram). n-grams are compared by 62 bits of hash, so two distinct n-grams of a text
    compare equal with a probability around 2^-62 per pair.
    """
    for name, value in [
        ("dup_line_frac", dup_line_frac),
        ("dup_para_frac", dup_para_frac),
        ("dup_line_char_frac", dup_line_char_frac),
        ("dup_para_char_frac", dup_para_char_frac),
    ]:
        _check(name, value, 0, 1)
    for n, frac in [*top_ngrams, *dup_ngrams]:
        _check("n-gram size", n, 1, 1000)
        _check(f"the {n}-gram fraction", frac, 0)
    vocabulary = _vocabulary()
    chunk_ids = vocabulary.chunks.__getitem__
    values = _texts(texts)
    ids: list[int] = []
    offsets = np.zeros(len(values) + 1, np.int64)
    pre = np.zeros((len(values), 4), np.float64)  # the paragraph and line fractions
    for d, text in enumerate(values):
        if text:
            paragraphs = _PARAGRAPHS.split(text.strip())
            para_dups, para_chars = _duplicates(paragraphs)
            lines = _LINES.split(text)
            line_dups, line_chars = _duplicates(lines)
            size = len(text)
            pre[d] = (para_dups / len(paragraphs), para_chars / size, line_dups / len(lines), line_chars / size)
            ids.extend(chain.from_iterable(map(chunk_ids, text.split())))
        offsets[d + 1] = len(ids)
    top_ns = np.array([n for n, _ in top_ngrams], np.int64)
    dup_ns = np.array([n for n, _ in dup_ngrams], np.int64)
    cols = vocabulary.flush()
    top, dup = _ngram_chars(np.array(ids, np.int64), offsets, cols, _POW1, _POW2, top_ns, dup_ns)
    sizes = np.fromiter((len(t) if t else 1 for t in values), np.int64, len(values))[:, None]
    signals = np.concatenate([pre, top / sizes, dup / sizes], axis=1)
    names = ["dup_para", "dup_para_chars", "dup_line", "dup_line_chars"]
    names += [f"top_{n}_gram" for n in top_ns] + [f"dup_{n}_gram" for n in dup_ns]
    checks = [dup_para_frac, dup_para_char_frac, dup_line_frac, dup_line_char_frac]
    checks += [frac for _, frac in top_ngrams] + [frac for _, frac in dup_ngrams]
    reasons = ["dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"]
    reasons += [f"top_{n}_gram" for n, _ in top_ngrams] + [f"duplicated_{n}_n_grams" for n, _ in dup_ngrams]
    valid = np.array([t is not None for t in values], bool)
    empty = np.array([t == "" for t in values], bool)
    rules_ = [(name, signals[:, k] > frac) for k, (name, frac) in enumerate(zip(reasons, checks, strict=True)) if frac]
    keep, reason = _verdicts([*rules_, ("empty", empty)], valid, first=[len(rules_)])
    scored = valid & ~empty
    columns = {"keep": keep, "reason": reason}
    columns |= {name: pa.array(signals[:, k], mask=~scored) for k, name in enumerate(names)}
    return pa.StructArray.from_arrays(list(columns.values()), names=list(columns), mask=pa.array(~valid))


# -- C4 ---------------------------------------------------------------------------------------------

_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
_END_PUNCTUATION = (".", "?", "!", '"', "'")
_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")


def c4_quality(
    texts: pa.Array,
    remove_citations: bool = True,
    filter_no_terminal_punct: bool = True,
    min_num_sentences: int = 5,
    min_words_per_line: int = 3,
    max_word_length: int = 1000,
    filter_lorem_ipsum: bool = True,
    filter_javascript: bool = True,
    filter_curly_bracket: bool = True,
    filter_policy: bool = True,
) -> pa.StructArray:
    """datatrove's ``C4QualityFilter`` (Raffel et al. 2020), lines split at line breaks.

    Lines are dropped (a word over ``max_word_length``, no terminal punctuation or ending in ``...``,
    fewer than ``min_words_per_line`` words, "javascript", a policy phrase) and Wikipedia-style
    citations removed; a text is dropped for ``lorem_ipsum`` or ``curly_bracket`` in a line still
    kept at that point, or ``too_few_sentences`` (spaCy's sentencizer over the kept lines). Signals:
    ``text`` (the kept lines, stripped and joined with newlines; NULL when dropped), ``lines``,
    ``lines_kept`` and ``sentences`` (up to the line that dropped the text). -1 switches the three
    count rules off. The empty text has no sentences: ``too_few_sentences``.
    """
    for name, value in [
        ("min_num_sentences", min_num_sentences),
        ("min_words_per_line", min_words_per_line),
        ("max_word_length", max_word_length),
    ]:
        _check(name, value, -1)
    sentences_of = english_words().sentence_count
    cols: dict[str, list] = {k: [] for k in ("keep", "reason", "text", "lines", "lines_kept", "sentences")}
    values = _texts(texts)
    for text in values:
        if text is None:
            for v in cols.values():
                v.append(None)
            continue
        lines = text.splitlines()
        sentences = 0
        kept: list[str] = []
        reason = None
        for line in lines:
            line = line.strip()
            words = line.split()
            if max_word_length != -1 and words and max(map(len, words)) > max_word_length:
                continue
            if remove_citations:
                line = _CITATION.sub("", line)
            if filter_no_terminal_punct and (not line.endswith(_END_PUNCTUATION) or line.endswith("...")):
                continue
            if len(words) < min_words_per_line:
                continue
            low = line.lower()
            if filter_lorem_ipsum and "lorem ipsum" in low:
                reason = "lorem_ipsum"
                break
            if filter_javascript and "javascript" in low:
                continue
            if filter_curly_bracket and "{" in line:
                reason = "curly_bracket"
                break
            if filter_policy and any(p in low for p in _POLICY):
                continue
            if min_num_sentences != -1:
                sentences += sentences_of(line)
            kept.append(line)
        if reason is None and sentences < min_num_sentences:
            reason = "too_few_sentences"
        cols["keep"].append(reason is None)
        cols["reason"].append(reason)
        cols["text"].append("\n".join(kept).strip() if reason is None else None)
        cols["lines"].append(len(lines))
        cols["lines_kept"].append(len(kept))
        cols["sentences"].append(sentences)
    types = {"keep": pa.bool_(), "reason": pa.string(), "text": pa.string()}
    types |= {"lines": pa.int64(), "lines_kept": pa.int64(), "sentences": pa.int64()}
    return _struct(cols, types, [v is not None for v in values])


# -- FineWeb ----------------------------------------------------------------------------------------


def fineweb_quality(
    texts: pa.Array,
    line_punct_thr: float = 0.12,
    line_punct_exclude_zero: bool = False,
    short_line_thr: float = 0.67,
    short_line_length: int = 30,
    char_duplicates_ratio: float = 0.01,
    new_line_ratio: float = 0.3,
    stop_chars: Sequence[str] | None = None,
) -> pa.StructArray:
    """datatrove's ``FineWebQualityFilter`` (Penedo et al. 2024).

    Over the non-blank lines: ``line_punct`` (fraction ending in a terminal punctuation mark,
    datatrove's ``TERMINAL_PUNCTUATION`` unless ``stop_chars``), ``short_lines`` (fraction at most
    ``short_line_length`` characters), ``char_dup`` (characters of lines repeating an earlier one,
    over the text's characters less newlines), ``newlines_per_word``. A text without a non-blank
    line (empty or blank) is ``empty``.
    """
    _check("line_punct_thr", line_punct_thr, 0, 1)
    _check("short_line_thr", short_line_thr, 0, 1)
    _check("short_line_length", short_line_length, 0)
    _check("char_duplicates_ratio", char_duplicates_ratio, 0, 1)
    _check("new_line_ratio", new_line_ratio, 0)
    ends_punct = methodcaller("endswith", _TERMINAL if stop_chars is None else tuple(stop_chars))
    is_short = short_line_length.__ge__  # len(line) <= short_line_length
    words_of = _chunk_info(STOP_WORDS).__getitem__  # the word counts gopher_quality keeps (shared warm-up)
    names = ("keep", "reason", "line_punct", "short_lines", "char_dup", "newlines_per_word")
    cols: dict[str, list] = {k: [] for k in names}
    values = _texts(texts)
    for text in values:
        lines = [] if text is None else list(filter(str.strip, text.split("\n")))  # the non-blank lines
        if not lines:
            for k, v in zip(
                names[:2], (None if text is None else False, None if text is None else "empty"), strict=True
            ):
                cols[k].append(v)
            for k in names[2:]:
                cols[k].append(None)
            continue
        punct = sum(map(ends_punct, lines)) / len(lines)
        short = sum(map(is_short, map(len, lines))) / len(lines)
        dup = _duplicates(lines)[1] / (len(text) - text.count("\n"))
        n_words = sum(map(words_of, text.split())) & _FIELD
        per_word = text.count("\n") / n_words if n_words else math.inf
        if punct < line_punct_thr and not (punct == 0 and line_punct_exclude_zero):
            reason = "line_punct_ratio"
        elif short > short_line_thr:
            reason = "short_line_ratio"
        elif dup > char_duplicates_ratio:
            reason = "char_dup_ratio"
        elif per_word > new_line_ratio:
            reason = "list_ratio"
        else:
            reason = None
        for k, v in zip(names, (reason is None, reason, punct, short, dup, per_word), strict=True):
            cols[k].append(v)
    return _struct(cols, {"keep": pa.bool_(), "reason": pa.string()}, [v is not None for v in values])


#: The compiled loops of the Gopher, C4 and FineWeb rules (preloaded by :func:`sqlsel.functions.preload`).
QUALITY_KERNELS = (_hash_words, _ngram_chars)

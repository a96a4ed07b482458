"""Hashed n-gram features, exactly as DSIR (data-selection 1.0.3) computes them.

A document's features are the buckets of its n-grams: the text is lowercased, split into wordpunct
tokens (``\\w+|[^\\w\\s]+``), and every unigram and every space-joined n-gram up to ``ngrams`` is
hashed with ``int(sha256(gram).hexdigest(), 16) % buckets``.

The reference does this one Python call per n-gram. Here a batch of documents is tokenized with
numpy (ASCII rows) or Python's own ``re`` (other rows, so Unicode semantics are Python's), every
n-gram gets a 64-bit fingerprint computed from its bytes without building the string, and buckets
come from a process-wide fingerprint → bucket table. Only n-grams never seen before are
materialised and hashed with sha256 (DuckDB's native, vectorised implementation). The bucket of a
gram is the same whatever batch it arrives in, so features never depend on batch boundaries.

Example:
    >>> import pyarrow as pa
    >>> f = ngram_features(pa.array(["Alice went to the store"]), buckets=10000, ngrams=2)
    >>> len(f.buckets)
    9
    >>> int(sha256_mod(pa.array(["alice"]), 10000)[0])
    6720
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["NgramFeatures", "ngram_features", "sha256_mod", "token_counts", "WORDPUNCT"]

#: The reference tokenizer's pattern (nltk ``WordPunctTokenizer``).
WORDPUNCT = re.compile(r"\w+|[^\w\s]+", re.UNICODE | re.MULTILINE | re.DOTALL)

# Byte classes for the ASCII fast path, derived from the regex itself so they cannot drift:
# 0 = whitespace (separates tokens), 1 = word character, 2 = other (punctuation runs).
_ASCII_CLASS = np.array(
    [1 if re.fullmatch(r"\w", chr(c)) else 0 if re.fullmatch(r"\s", chr(c)) else 2 for c in range(256)],
    dtype=np.int8,
)

_P = np.uint64((0x100000001B3 * 0x9E3779B1 | 1) % 2**64)  # odd base of the polynomial fingerprint (mod 2**64)
_P_INV = np.uint64(pow(int(_P), -1, 2**64))
_LEN_MIX = np.uint64(0x9E3779B97F4A7C15)
_SPACE = np.uint64(ord(" "))


@dataclass(frozen=True)
class NgramFeatures:
    """Bucket ids of every n-gram of a batch of documents, grouped by document.

    ``buckets[offsets[i]:offsets[i+1]]`` are document i's features (unigrams first, then
    bigrams, …, as the reference counts them); ``tokens[i]`` is its wordpunct token count and
    ``valid[i]`` is False for NULL texts.
    """

    buckets: np.ndarray  # int32
    offsets: np.ndarray  # int64, len n+1
    tokens: np.ndarray  # int64, len n
    valid: np.ndarray  # bool, len n

    @property
    def doc_ids(self) -> np.ndarray:
        """The document index of every feature."""
        return np.repeat(np.arange(len(self.tokens)), np.diff(self.offsets))


@dataclass
class _Tokens:
    """Tokens of a group of documents as byte ranges of one buffer."""

    data: np.ndarray  # uint8 buffer
    starts: np.ndarray  # int64 token starts into data
    ends: np.ndarray  # int64 token ends
    doc: np.ndarray  # int64 document (batch row) of every token

    @staticmethod
    def empty() -> _Tokens:
        none = np.zeros(0, np.int64)
        return _Tokens(np.zeros(0, np.uint8), none, none, none)


def _runs(cls: np.ndarray, doc_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of one non-zero class inside each document: (starts, ends, document)."""
    n = len(cls)
    boundary = np.empty(n, dtype=bool)
    boundary[0] = True
    np.not_equal(cls[1:], cls[:-1], out=boundary[1:])
    inner = doc_offsets[1:-1]
    boundary[inner[inner < n]] = True
    run_starts = np.flatnonzero(boundary)
    run_ends = np.append(run_starts[1:], n)
    is_token = cls[run_starts] != 0
    starts, ends = run_starts[is_token], run_ends[is_token]
    per_doc = np.diff(np.searchsorted(starts, doc_offsets))
    doc = np.repeat(np.arange(len(doc_offsets) - 1), per_doc)
    return starts.astype(np.int64), ends.astype(np.int64), doc


def _ascii_tokens(texts: pa.Array, rows: np.ndarray) -> _Tokens:
    """Tokenize ASCII documents with byte classes: a token is a maximal run of one class."""
    low = pc.ascii_lower(texts.take(pa.array(rows)) if len(rows) != len(texts) else texts)
    low = low.cast(pa.large_string())
    n = len(low)
    offsets = np.frombuffer(low.buffers()[1], dtype=np.int64)[low.offset : low.offset + n + 1]
    buf = low.buffers()[2]
    data = np.frombuffer(buf, dtype=np.uint8) if buf is not None else np.zeros(0, np.uint8)
    base, end = int(offsets[0]), int(offsets[-1])
    data, offsets = data[base:end], offsets - base
    if len(data) == 0:
        return _Tokens.empty()
    starts, ends, doc = _runs(_ASCII_CLASS[data], offsets)
    return _Tokens(data, starts, ends, rows[doc].astype(np.int64))


_UNICODE_CLASS: dict[int, int] = {}


def _classify(cps: np.ndarray) -> np.ndarray:
    """Class of every code point under Python's ``re`` (``\\w``, ``\\s`` or other)."""
    cls = np.empty(len(cps), np.int8)
    low = cps < 128
    cls[low] = _ASCII_CLASS[cps[low]]
    high = cps[~low]
    if len(high):
        uniq = np.unique(high)
        for cp in uniq.tolist():
            if cp not in _UNICODE_CLASS:
                ch = chr(cp)
                _UNICODE_CLASS[cp] = 1 if re.fullmatch(r"\w", ch) else 0 if re.fullmatch(r"\s", ch) else 2
        table = np.array([_UNICODE_CLASS[cp] for cp in uniq.tolist()], np.int8)
        cls[~low] = table[np.searchsorted(uniq, high)]
    return cls


def _unicode_tokens(texts: list[str], rows: np.ndarray) -> _Tokens:
    """Tokenize with Python's ``str.lower`` and ``re`` classes, vectorised over code points."""
    lowered = [t.lower() for t in texts]
    joined = "".join(lowered)
    cps = np.frombuffer(joined.encode("utf-32-le"), np.uint32)
    data = np.frombuffer(joined.encode("utf-8"), np.uint8)
    if len(cps) == 0:
        return _Tokens.empty()
    cp_offsets = np.zeros(len(lowered) + 1, np.int64)
    np.cumsum([len(t) for t in lowered], out=cp_offsets[1:])
    width = 1 + (cps >= 0x80).astype(np.int64) + (cps >= 0x800) + (cps >= 0x10000)
    byte_at = np.zeros(len(cps) + 1, np.int64)
    np.cumsum(width, out=byte_at[1:])
    starts, ends, doc = _runs(_classify(cps), cp_offsets)
    return _Tokens(data, byte_at[starts], byte_at[ends], rows[doc].astype(np.int64))


def _tokenize(texts: pa.Array) -> tuple[_Tokens, np.ndarray]:
    """Tokens of every non-null row (each row's tokens contiguous and in order), and validity."""
    valid = ~np.asarray(texts.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    ascii_mask = np.asarray(pc.fill_null(pc.string_is_ascii(texts), False).to_numpy(zero_copy_only=False))
    ascii_rows = np.flatnonzero(ascii_mask & valid)
    other_rows = np.flatnonzero(~ascii_mask & valid)
    parts = [_ascii_tokens(texts, ascii_rows)] if len(ascii_rows) else []
    if len(other_rows):
        parts.append(_unicode_tokens(texts.take(pa.array(other_rows)).to_pylist(), other_rows))
    if not parts:
        return _Tokens.empty(), valid
    if len(parts) == 1:
        return parts[0], valid
    a, b = parts
    shift = len(a.data)
    toks = _Tokens(
        np.concatenate([a.data, b.data]),
        np.concatenate([a.starts, b.starts + shift]),
        np.concatenate([a.ends, b.ends + shift]),
        np.concatenate([a.doc, b.doc]),
    )
    return toks, valid


class _Powers:
    """Cached powers of the fingerprint base and of its inverse, grown on demand."""

    def __init__(self) -> None:
        self.pw = np.ones(1, np.uint64)
        self.inv = np.ones(1, np.uint64)
        self.lock = threading.Lock()

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        pw, inv = self.pw, self.inv
        if len(pw) > n:
            return pw, inv
        with self.lock:
            size = max(n + 1, 2 * len(self.pw))
            with np.errstate(over="ignore"):
                pw = np.cumprod(np.full(size, _P, np.uint64))
                inv = np.cumprod(np.full(size, _P_INV, np.uint64))
            self.pw = np.concatenate([[np.uint64(1)], pw[:-1]])
            self.inv = np.concatenate([[np.uint64(1)], inv[:-1]])
            return self.pw, self.inv


_POWERS = _Powers()


def _token_fingerprints(t: _Tokens) -> tuple[np.ndarray, np.ndarray]:
    """Polynomial fingerprint ``sum(b[k] * P**k)`` (mod 2**64) of every token, and its length."""
    pw, inv = _POWERS.get(len(t.data) + 1)
    with np.errstate(over="ignore"):
        prefix = np.zeros(len(t.data) + 1, np.uint64)
        np.cumsum(t.data.astype(np.uint64) * pw[: len(t.data)], out=prefix[1:])
        fp = (prefix[t.ends] - prefix[t.starts]) * inv[t.starts]
    return fp, (t.ends - t.starts).astype(np.int64)


def _key(fp: np.ndarray, length: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        key = fp + length.astype(np.uint64) * _LEN_MIX
    key[key == 0] = 1  # 0 marks an empty slot in the table
    return key


class _BucketTable:
    """Open-addressing hash table fingerprint → bucket, shared by every batch of a process.

    Each slot is a row ``(key, bucket)`` so a lookup touches one cache line; key 0 marks an
    empty slot. Lookups take no lock; inserts write the bucket before the key, under a lock.
    """

    MAX_ENTRIES = 1 << 26  # ~2 GB at most; past it, unseen grams are hashed but not remembered

    def __init__(self) -> None:
        self.slots = np.zeros((1 << 16, 2), np.uint64)
        self.count = 0
        self.lock = threading.Lock()

    @staticmethod
    def _slot(keys: np.ndarray, mask: int) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((keys * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)).astype(np.int64) & mask

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Bucket of every key, -1 where unknown."""
        rows_of = self.slots.view(np.complex128).ravel()  # 16-byte rows: one fast gather per probe
        mask = len(rows_of) - 1
        slot = self._slot(keys, mask)
        rows = rows_of.take(slot).view(np.uint64).reshape(-1, 2)
        hit = rows[:, 0] == keys
        out = np.where(hit, rows[:, 1].astype(np.int64), -1)
        pending = np.flatnonzero(~hit & (rows[:, 0] != 0))
        while len(pending):
            slot_p = (slot[pending] + 1) & mask
            slot[pending] = slot_p
            rows = rows_of.take(slot_p).view(np.uint64).reshape(-1, 2)
            hit = rows[:, 0] == keys[pending]
            out[pending[hit]] = rows[hit, 1].astype(np.int64)
            pending = pending[~hit & (rows[:, 0] != 0)]
        return out

    def insert(self, keys: np.ndarray, buckets: np.ndarray) -> None:
        """Remember unique ``keys`` (not yet in the table)."""
        with self.lock:
            if self.count + len(keys) > self.MAX_ENTRIES:
                return
            if 2 * (self.count + len(keys)) > len(self.slots):
                self._grow(self.count + len(keys))
            self._place(self.slots, keys, buckets)
            self.count += len(keys)

    def _grow(self, at_least: int) -> None:
        size = len(self.slots)
        while size < 2 * at_least:
            size *= 2
        slots = np.zeros((size, 2), np.uint64)
        used = self.slots[:, 0] != 0
        self._place(slots, self.slots[used, 0], self.slots[used, 1])
        self.slots = slots

    def _place(self, slots: np.ndarray, keys: np.ndarray, buckets: np.ndarray) -> None:
        mask = len(slots) - 1
        slot = self._slot(keys, mask)
        pending = np.arange(len(keys))
        while len(pending):
            free = slots[slot, 0] == 0
            # one winner per free slot; everyone else probes on
            cand = np.flatnonzero(free)
            _, first = np.unique(slot[cand], return_index=True)
            win = cand[first]
            slots[slot[win], 1] = buckets[pending[win]]
            slots[slot[win], 0] = keys[pending[win]]
            lose = np.ones(len(pending), bool)
            lose[win] = False
            pending, slot = pending[lose], (slot[lose] + np.where(free[lose], 0, 1)) & mask


_TABLES: dict[tuple[int, int], _BucketTable] = {}
_TABLES_LOCK = threading.Lock()
_HASHER_LOCAL = threading.local()

_HEX_VALUE = np.zeros(256, np.uint64)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX_VALUE[_c] = _i


def sha256_mod(grams: pa.Array, buckets: int) -> np.ndarray:
    """``int(sha256(g.encode()).hexdigest(), 16) % buckets`` for every string, vectorised.

    Uses DuckDB's native sha256 (a private in-memory database per thread; no state is shared with
    any user connection) and reduces the 256-bit digest modulo ``buckets`` with Horner's rule over
    32-bit words in numpy.
    """
    import duckdb  # a vectorised sha256 that releases the GIL

    if not 1 <= buckets <= 1 << 31:
        raise ValueError(f"buckets must be in 1..2**31; got {buckets}")
    if len(grams) == 0:
        return np.zeros(0, np.int32)
    con = getattr(_HASHER_LOCAL, "con", None)
    if con is None:
        con = _HASHER_LOCAL.con = duckdb.connect(config={"threads": 1})
    grams_table = pa.table({"g": grams})  # noqa: F841 (read by the query below)
    hexes = con.sql("SELECT sha256(g) AS h FROM grams_table").to_arrow_table().column("h").combine_chunks()
    hexes = hexes.cast(pa.large_string())
    first = int(np.frombuffer(hexes.buffers()[1], np.int64)[hexes.offset])
    digits = np.frombuffer(hexes.buffers()[2], np.uint8)[first : first + 64 * len(hexes)]
    nibbles = _HEX_VALUE[digits].reshape(len(hexes), 8, 8)
    words = np.zeros((len(hexes), 8), np.uint64)
    for j in range(8):
        words = (words << np.uint64(4)) | nibbles[:, :, j]
    m = np.uint64(buckets)
    acc = np.zeros(len(hexes), np.uint64)
    for j in range(8):
        acc = ((acc << np.uint64(32)) | words[:, j]) % m
    return acc.astype(np.int32)


def _gather_strings(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    lengths = ends - starts
    offsets = np.zeros(len(starts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    idx = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
    body = data[idx]
    return pa.LargeStringArray.from_buffers(len(starts), pa.py_buffer(offsets), pa.py_buffer(body))


def ngram_features(texts: pa.Array | pa.ChunkedArray, buckets: int = 10000, ngrams: int = 2) -> NgramFeatures:
    """Hashed n-gram bucket ids of every document (unigrams up to ``ngrams``-grams)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        texts = texts.cast(pa.large_string())
    n = len(texts)
    toks, valid = _tokenize(texts)
    tok_fp, tok_len = _token_fingerprints(toks)
    ntok = np.bincount(toks.doc, minlength=n).astype(np.int64)
    # first token of every document (a document's tokens are contiguous)
    tok_start = np.zeros(n, np.int64)
    if len(toks.doc):
        change = np.flatnonzero(toks.doc[1:] != toks.doc[:-1]) + 1
        firsts = np.concatenate([[0], change])
        tok_start[toks.doc[firsts]] = firsts
    per_order = [np.maximum(ntok - k + 1, 0) for k in range(1, ngrams + 1)]
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(sum(per_order), out=offsets[1:])
    pw = _POWERS.get(len(toks.data) + ngrams + 1)[0]

    out = np.empty(int(offsets[-1]), np.int32)
    fp, ln = tok_fp, tok_len
    order_base = offsets[:-1].copy()
    for k in range(1, ngrams + 1):
        if k > 1:
            m = len(fp) - 1
            with np.errstate(over="ignore"):
                fp = fp[:m] + pw[ln[:m]] * _SPACE + pw[ln[:m] + 1] * tok_fp[k - 1 : k - 1 + m]
            ln = ln[:m] + 1 + tok_len[k - 1 : k - 1 + m]
        first = np.arange(len(fp))
        if k > 1:
            first = first[toks.doc[: len(fp)] == toks.doc[k - 1 : k - 1 + len(fp)]]
        doc = toks.doc[first]
        key = _key(fp[first], ln[first])
        table = _table(buckets, k)
        bucket = table.lookup(key)
        miss = np.flatnonzero(bucket < 0)
        if len(miss):
            ukeys, pos, inverse = np.unique(key[miss], return_index=True, return_inverse=True)
            ub = sha256_mod(_materialise(toks, first[miss[pos]], k), buckets)
            table.insert(ukeys, ub)
            bucket[miss] = ub[inverse]
        out[order_base[doc] + (first - tok_start[doc])] = bucket
        order_base += per_order[k - 1]
    return NgramFeatures(out, offsets, ntok, valid)


def _materialise(toks: _Tokens, first: np.ndarray, k: int) -> pa.Array:
    """The text of the k-grams starting at tokens ``first``, space-joined as the reference does."""
    cols = [_gather_strings(toks.data, toks.starts[first + j], toks.ends[first + j]) for j in range(k)]
    return cols[0] if k == 1 else pc.binary_join_element_wise(*cols, pa.scalar(" ", pa.large_string()))


def _table(buckets: int, order: int) -> _BucketTable:
    """The table of ``order``-grams for ``buckets``: unigrams get their own small, hot table."""
    key = (buckets, min(order, 2))
    table = _TABLES.get(key)
    if table is None:
        with _TABLES_LOCK:
            table = _TABLES.setdefault(key, _BucketTable())
    return table


def token_counts(texts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Number of wordpunct tokens of every document (0 for NULL)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    toks, _ = _tokenize(texts)
    return np.bincount(toks.doc, minlength=len(texts)).astype(np.int64)

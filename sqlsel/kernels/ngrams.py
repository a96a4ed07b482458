"""Hashed n-gram features, exactly as DSIR (data-selection 1.0.3) computes them.

A document's features are the buckets of its n-grams: the text is lowercased, split into wordpunct
tokens (``\\w+|[^\\w\\s]+``), and every unigram and every space-joined n-gram up to ``ngrams`` is
hashed with ``int(sha256(gram).hexdigest(), 16) % buckets``.

The reference does this one Python call per n-gram. Here a batch of documents is tokenized in one
compiled pass (ASCII rows) or with Python's own ``str.lower`` and ``re`` character classes (other
rows, so Unicode semantics are Python's); every n-gram gets a 64-bit fingerprint computed from its
tokens' bytes without building the string, and its bucket comes from a fingerprint → bucket memo
(:class:`GramMemo`) that the caller owns: a connection keeps one for its ``buckets`` value and frees it
with itself (``sel_ngram_buckets``); without one, a call hashes every distinct gram it meets. Only
n-grams the memo has not seen are materialised and hashed with sha256 (a compiled implementation, in
the same kernel thread). The bucket of a gram is the same in whatever batch it arrives, so
features never depend on batch boundaries. (Two distinct grams sharing a 64-bit fingerprint and
length would share a bucket: about one chance in 10**6 for a 10-million-gram vocabulary.)

Example:
    >>> import pyarrow as pa
    >>> f = ngram_features(pa.array(["Alice went to the store"]), buckets=10000, ngrams=2)
    >>> len(f.buckets)
    9
    >>> int(sha256_mod(pa.array(["alice"]), 10000)[0])
    6720
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sqlsel.kernels import _compiled, _openssl
from sqlsel.kernels.rows import utf8_rows
from sqlsel.kernels.tokens import ASCII_LOWER, WORDPUNCT, tokenize

__all__ = [
    "GramMemo",
    "NgramFeatures",
    "ngram_features",
    "sha256_mod",
    "token_counts",
    "FEATURE_KERNELS",
    "TOKEN_KERNELS",
]

_P = np.uint64((0x100000001B3 * 0x9E3779B1 | 1) % 2**64)  # odd base of the polynomial fingerprint (mod 2**64)
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

    @staticmethod
    def concat(parts: list[NgramFeatures]) -> NgramFeatures:
        """The features of consecutive slices of a batch, as one batch's."""
        if len(parts) == 1:
            return parts[0]
        starts = np.cumsum([0] + [len(p.buckets) for p in parts[:-1]])
        offsets = np.concatenate(
            [parts[0].offsets[:1]] + [p.offsets[1:] + s for p, s in zip(parts, starts, strict=True)]
        )
        return NgramFeatures(
            np.concatenate([p.buckets for p in parts]),
            offsets,
            np.concatenate([p.tokens for p in parts]),
            np.concatenate([p.valid for p in parts]),
        )


class GramMemo:
    """Open-addressing table gram fingerprint → bucket for one ``buckets`` value, shared by the batches
    (and kernel threads) of whoever owns it.

    Rows are ``(key, bucket + 1)``; key 0 marks an empty slot and a 0 bucket reads as "absent",
    so lookups need no lock while an insert (under the lock) is writing. Grows at half full, up to
    ``MAX_ENTRIES`` grams (2 GiB of slots); past it, unseen grams are hashed and not remembered.
    While one thread prepares the grown table, the others insert into the current one up to three
    quarters full.

    It doubles, so it is never more than four times its grams. Growing 4× at a time (fewer growths,
    each writing fresh memory under the lock) made ``dsir_select`` on the 181k-document corpus 0.4 s
    faster but on its first 100k documents 0.46 s slower, as whole processes: that memo ended at
    256 MB instead of 128 MB, and every lookup reads the larger table (benchmarks/README.md, DSIR).
    """

    MAX_ENTRIES = 1 << 26

    def __init__(self, bits: int = 18) -> None:
        # (slots, shift) swapped as one reference, so a reader never pairs a table with a wrong shift
        self.state = (np.zeros((1 << bits, 2), np.uint64), np.uint64(64 - bits))
        self.count = 0
        self.lock = threading.Lock()
        self._grown = threading.Condition(self.lock)
        self._growing = False

    def snapshot(self) -> tuple[np.ndarray, np.uint64]:
        """The slots and shift to read (no lock: see the class docstring)."""
        return self.state

    def insert(self, keys: np.ndarray, buckets: np.ndarray) -> None:
        """Remember the buckets of ``keys`` (grams not in the memo yet).

        A table that must grow is allocated and its pages faulted in outside the lock, while other
        threads go on inserting into the current one up to three quarters full; only moving the grams
        into it holds the lock. Faulting in 256 MB took 0.3-1.0 s of the 181k corpus's featurizing,
        all of it under the lock (the rehash itself ~0.07 s).
        """
        n = len(keys)
        while True:
            claimed = False
            grown = None
            try:
                with self.lock:
                    if self.count + n > self.MAX_ENTRIES:
                        return
                    room = len(self.state[0])
                    if 2 * (self.count + n) <= room or (self._growing and 4 * (self.count + n) <= 3 * room):
                        slots, shift = self.state
                        _compiled.place(slots, shift, keys, buckets.astype(np.int64))
                        self.count += n
                        return
                    if self._growing:
                        self._grown.wait()
                        continue
                    self._growing = claimed = True
                    bits = room.bit_length() - 1
                    while (1 << bits) < 2 * (self.count + n):
                        bits += 1
                grown = np.zeros((1 << bits, 2), np.uint64)
                grown.reshape(-1)[::512] = 0  # a write per 4 KB page: faulted in here, not under the lock
            finally:
                if claimed:
                    with self.lock:
                        if grown is not None and 2 * self.count <= len(grown):  # else the next turn grows again
                            _compiled.rehash(self.state[0], grown, np.uint64(64 - bits))
                            self.state = grown, np.uint64(64 - bits)
                        self._growing = False
                        self._grown.notify_all()


def sha256_mod(grams: pa.Array, buckets: int) -> np.ndarray:
    """``int(sha256(g.encode()).hexdigest(), 16) % buckets`` for every string, vectorised.

    OpenSSL's SHA-256 called from compiled code (:mod:`sqlsel.kernels._openssl`) where this process
    can link it, else a compiled SHA-256 (:func:`sqlsel.kernels._compiled.sha256_mod`); both are
    checked against hashlib in the tests, reduce the digest's words modulo ``buckets`` by Horner's
    rule and release the GIL.
    """
    if not 1 <= buckets <= 1 << 31:
        raise ValueError(f"buckets must be in 1..2**31; got {buckets}")
    if len(grams) == 0:
        return np.zeros(0, np.int32)
    rows = utf8_rows(grams)
    return _sha256_buckets(rows.data, rows.offsets, buckets)


def _sha256_buckets(data: np.ndarray, offsets: np.ndarray, buckets: int) -> np.ndarray:
    if _openssl.AVAILABLE:
        return _openssl.sha256_mod(data, offsets, buckets).astype(np.int32)
    return _compiled.sha256_mod(data, offsets, buckets, _compiled.SHA256_K, _compiled.SHA256_H).astype(np.int32)


def ngram_features(
    texts: pa.Array | pa.ChunkedArray, buckets: int = 10000, ngrams: int = 2, memo: GramMemo | None = None
) -> NgramFeatures:
    """Hashed n-gram bucket ids of every document (unigrams up to ``ngrams``-grams).

    ``memo`` (for this ``buckets`` value) remembers the buckets of grams seen before, across calls.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        texts = texts.cast(pa.large_string())
    n = len(texts)
    toks, valid = tokenize(texts, WORDPUNCT)
    ntok = np.bincount(toks.doc, minlength=n).astype(np.int64)
    tok_start = np.zeros(n, np.int64)  # index of each document's first token (ASCII rows come first)
    if len(toks.doc):
        firsts = np.concatenate([[0], np.flatnonzero(toks.doc[1:] != toks.doc[:-1]) + 1])
        tok_start[toks.doc[firsts]] = firsts
    per_order = np.stack([np.maximum(ntok - k + 1, 0) for k in range(1, ngrams + 1)], axis=1)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(per_order.sum(axis=1), out=offsets[1:])
    out_base = offsets[:-1, None] + np.cumsum(per_order, axis=1) - per_order  # where d's k-grams start

    table = memo if memo is not None else GramMemo()
    slots, shift = table.snapshot()
    out, miss_pos, miss_idx, new_keys, new_offsets, new_bytes = _compiled.grams_to_buckets(
        toks.data,
        ASCII_LOWER,
        toks.starts,
        toks.ends,
        toks.doc,
        tok_start,
        out_base,
        ngrams,
        _P,
        _SPACE,
        slots,
        shift,
        int(offsets[-1]),
    )
    if len(new_keys):
        new_buckets = _sha256_buckets(new_bytes, new_offsets, buckets)
        table.insert(new_keys, new_buckets)
        out[miss_pos] = new_buckets[miss_idx]
    return NgramFeatures(out, offsets, ntok, valid)


def token_counts(texts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Number of wordpunct tokens of every document (0 for NULL)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    toks, _ = tokenize(texts, WORDPUNCT)
    return np.bincount(toks.doc, minlength=len(texts)).astype(np.int64)


#: The compiled loops :func:`ngram_features` runs (preloaded by :func:`sqlsel.functions.preload`).
FEATURE_KERNELS = (
    _compiled.ascii_tokens,
    _compiled.grams_to_buckets,
    _compiled.rehash,
    _compiled.place,
    _openssl.sha256_mod,
    _compiled.sha256_mod,
)
#: The compiled loops :func:`token_counts` runs (preloaded by :func:`sqlsel.functions.preload`).
TOKEN_KERNELS = (_compiled.ascii_tokens,)

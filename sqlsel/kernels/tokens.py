"""Tokens of a batch of texts as byte ranges, with Python's ``str.lower`` and ``re`` semantics.

A tokenizer is a :class:`CharClasses`: every character gets a class under a regex, 0 separates
tokens, and a token is a maximal run of one non-zero class. :data:`WORDPUNCT` is DSIR's
``\\w+|[^\\w\\s]+`` (words and punctuation runs), :data:`WORDS` is ``\\w+`` (the words MinHash shingles).

ASCII rows are tokenized in place by one compiled pass, without copying their bytes (their
lowercasing is left to whoever reads the bytes, through :data:`ASCII_LOWER`); other rows go
through ``str.lower`` and a per-code-point class table, so Unicode semantics are Python's.

Example:
    >>> import pyarrow as pa
    >>> toks, valid = tokenize(pa.array(["Hi, there", None]), WORDS)
    >>> [bytes(toks.data[a:b]).decode() for a, b in zip(toks.starts, toks.ends)], valid.tolist()
    (['Hi', 'there'], [True, False])
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlsel.kernels import _compiled
from sqlsel.kernels.rows import utf8_rows

__all__ = ["ASCII_LOWER", "CharClasses", "Tokens", "WORDPUNCT", "WORDS", "tokenize", "token_lists"]

#: ASCII lowercasing as a byte table (the identity on other bytes).
ASCII_LOWER = np.array([ord(chr(c).lower()) if c < 128 else c for c in range(256)], dtype=np.uint8)


class CharClasses:
    """The class of every character under ``classify`` (0 separates tokens), cached per code point."""

    def __init__(self, classify: Callable[[str], int]) -> None:
        self.classify = classify
        # byte classes for the ASCII fast path, derived from the regex itself so they cannot drift
        self.ascii = np.array([classify(chr(c)) for c in range(256)], dtype=np.int8)
        self._unicode: dict[int, int] = {}

    def of(self, cps: np.ndarray) -> np.ndarray:
        """Class of every code point of ``cps`` (uint32)."""
        cls = np.empty(len(cps), np.int8)
        low = cps < 128
        cls[low] = self.ascii[cps[low]]
        high = cps[~low]
        if len(high):
            uniq = np.unique(high)
            for cp in uniq.tolist():
                if cp not in self._unicode:
                    self._unicode[cp] = self.classify(chr(cp))
            table = np.array([self._unicode[cp] for cp in uniq.tolist()], np.int8)
            cls[~low] = table[np.searchsorted(uniq, high)]
        return cls


def _wordpunct(ch: str) -> int:
    return 1 if re.fullmatch(r"\w", ch) else 0 if re.fullmatch(r"\s", ch) else 2


def _word(ch: str) -> int:
    return 1 if re.fullmatch(r"\w", ch) else 0


#: ``\w+|[^\w\s]+``: words (class 1) and runs of other non-space characters (class 2).
WORDPUNCT = CharClasses(_wordpunct)
#: ``\w+``: words only; everything else separates them.
WORDS = CharClasses(_word)


@dataclass
class Tokens:
    """Tokens of a group of documents as byte ranges of one buffer."""

    data: np.ndarray  # uint8 buffer
    starts: np.ndarray  # int64 token starts into data
    ends: np.ndarray  # int64 token ends
    doc: np.ndarray  # int64 document (batch row) of every token

    @staticmethod
    def empty() -> Tokens:
        none = np.zeros(0, np.int64)
        return Tokens(np.zeros(0, np.uint8), none, none, none)


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


def _ascii_tokens(texts: pa.Array, rows: np.ndarray, classes: CharClasses) -> Tokens:
    """Tokenize ASCII rows in place (no copy; lowercasing happens when bytes are read)."""
    utf8 = utf8_rows(texts)
    data, offsets = utf8.data, utf8.offsets
    starts, ends, doc = _compiled.ascii_tokens(data, offsets, rows.astype(np.int64), classes.ascii)
    base = int(offsets[0])  # keep only this batch's bytes (the buffer may hold a whole table)
    return Tokens(data[base : int(offsets[-1])], starts - base, ends - base, doc)


def _unicode_tokens(texts: list[str], rows: np.ndarray, classes: CharClasses) -> Tokens:
    """Tokenize with Python's ``str.lower`` and ``re`` classes, vectorised over code points."""
    lowered = [t.lower() for t in texts]
    joined = "".join(lowered)
    cps = np.frombuffer(joined.encode("utf-32-le"), np.uint32)
    data = np.frombuffer(joined.encode("utf-8"), np.uint8)
    if len(cps) == 0:
        return Tokens.empty()
    cp_offsets = np.zeros(len(lowered) + 1, np.int64)
    np.cumsum([len(t) for t in lowered], out=cp_offsets[1:])
    width = 1 + (cps >= 0x80).astype(np.int64) + (cps >= 0x800) + (cps >= 0x10000)
    byte_at = np.zeros(len(cps) + 1, np.int64)
    np.cumsum(width, out=byte_at[1:])
    starts, ends, doc = _runs(classes.of(cps), cp_offsets)
    return Tokens(data, byte_at[starts], byte_at[ends], rows[doc].astype(np.int64))


def tokenize(texts: pa.Array, classes: CharClasses) -> tuple[Tokens, np.ndarray]:
    """Tokens of every non-null row (each row's tokens contiguous and in order: ASCII rows first), and validity.

    Bytes of ASCII rows are as written (read them through :data:`ASCII_LOWER`); other rows' are lowercased.
    """
    valid = ~np.asarray(texts.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    ascii_mask = np.asarray(pc.fill_null(pc.string_is_ascii(texts), False).to_numpy(zero_copy_only=False))
    ascii_rows = np.flatnonzero(ascii_mask & valid)
    other_rows = np.flatnonzero(~ascii_mask & valid)
    parts = [_ascii_tokens(texts, ascii_rows, classes)] if len(ascii_rows) else []
    if len(other_rows):
        parts.append(_unicode_tokens(texts.take(pa.array(other_rows)).to_pylist(), other_rows, classes))
    if not parts:
        return Tokens.empty(), valid
    if len(parts) == 1:
        return parts[0], valid
    a, b = parts
    shift = len(a.data)
    toks = Tokens(
        np.concatenate([a.data, b.data]),
        np.concatenate([a.starts, b.starts + shift]),
        np.concatenate([a.ends, b.ends + shift]),
        np.concatenate([a.doc, b.doc]),
    )
    return toks, valid


def token_lists(texts: pa.Array, classes: CharClasses) -> list[list[str]]:
    """Every row's tokens as lowercased strings (a NULL row has none): for reports and tests, not hot paths."""
    toks, _ = tokenize(texts, classes)
    data = ASCII_LOWER[toks.data].tobytes()  # ASCII rows are stored as written; other rows are lowercased already
    out: list[list[str]] = [[] for _ in range(len(texts))]
    for start, end, doc in zip(toks.starts.tolist(), toks.ends.tolist(), toks.doc.tolist(), strict=True):
        out[doc].append(data[start:end].decode())
    return out

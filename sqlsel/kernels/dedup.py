"""Exact duplicates: a 64-bit hash of a text, as written or normalized.

Normalizing makes texts that differ only in case, punctuation or spacing equal: lowercase (Unicode),
drop every Unicode punctuation character (categories P*), turn each run of whitespace or separators
into one space, and trim. Symbols (``$``, ``+``, emoji) and digits are kept. The hash is xxHash's
XXH3-64 of the (normalized) UTF-8 bytes, seed 0, read as a signed 64-bit integer so that every engine
has a type for it (Spark has no unsigned one).

>>> text_hashes(pa.array(["Hello,  World!", "hello world", None]), normalize=True).to_pylist()[:2] == \\
...     text_hashes(pa.array(["hello world", "hello world"]), normalize=False).to_pylist()
True
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

__all__ = ["normalized", "text_hashes"]


def normalized(texts: pa.Array) -> pa.Array:
    """The texts lowercased, without punctuation, whitespace collapsed to single spaces and trimmed."""
    lowered = pc.utf8_lower(texts)
    stripped = pc.replace_substring_regex(lowered, r"\pP+", "")
    spaced = pc.replace_substring_regex(stripped, r"[\s\p{Z}]+", " ")
    return pc.utf8_trim_whitespace(spaced)


def text_hashes(texts: pa.Array, normalize: bool) -> pa.Array:
    """XXH3-64 of each text's UTF-8 bytes (normalized first when asked), as int64; NULL for NULL."""
    source = normalized(texts) if normalize else texts
    out = np.empty(len(source), np.uint64)
    digest = xxhash.xxh3_64_intdigest
    for i, value in enumerate(source.to_pylist()):
        out[i] = digest(value.encode("utf-8")) if value is not None else 0
    return pa.array(out.view(np.int64), mask=source.is_null().to_numpy(zero_copy_only=False))

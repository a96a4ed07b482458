"""Byte strings as one buffer plus offsets, read straight from Arrow string arrays.

Kernels that loop over text bytes in compiled code (ZIP-FIT's compressors, the embedder, DSIR's
tokenizer) take a :class:`Rows`; :func:`utf8_rows` gives one for an Arrow string column without
copying its bytes.

Example:
    >>> import pyarrow as pa
    >>> rows = utf8_rows(pa.array(["ab", "cde"]).slice(1))
    >>> len(rows), rows[0]
    (1, b'cde')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

__all__ = ["Rows", "utf8_rows"]


@dataclass(frozen=True)
class Rows:
    """Byte strings as one buffer and offsets: row i is ``data[offsets[i]:offsets[i + 1]]``."""

    data: np.ndarray
    offsets: np.ndarray

    @classmethod
    def of(cls, items: Sequence[bytes]) -> Rows:
        offsets = np.zeros(len(items) + 1, np.int64)
        np.cumsum([len(b) for b in items], out=offsets[1:])
        return cls(np.frombuffer(b"".join(items), np.uint8), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> bytes:
        return self.data[self.offsets[i] : self.offsets[i + 1]].tobytes()

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def slice(self, start: int, stop: int) -> Rows:
        """Rows ``start`` to ``stop`` (no copy: offsets stay positions in the same buffer)."""
        return Rows(self.data, self.offsets[start : stop + 1])


def utf8_rows(texts: pa.Array) -> Rows:
    """The UTF-8 bytes of a string array without copying them (nulls are empty rows)."""
    if pa.types.is_large_string(texts.type):
        offset_type = np.int64
    elif pa.types.is_string(texts.type):
        offset_type = np.int32
    elif pa.types.is_string_view(texts.type):  # DuckDB can be set to hand Arrow string views
        return utf8_rows(texts.cast(pa.large_string()))
    else:
        raise TypeError(f"expected a string array, got {texts.type}")
    _, offsets_buf, data_buf = texts.buffers()
    offsets = np.frombuffer(offsets_buf, offset_type, len(texts) + 1, texts.offset * np.dtype(offset_type).itemsize)
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None and data_buf.size else np.zeros(0, np.uint8)
    return Rows(data, offsets.astype(np.int64))

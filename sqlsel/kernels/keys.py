"""Row keys: which column types can identify rows, and the 64-bit hash every seeded choice starts from.

A key is an integer of any width (signed or unsigned) or a string (``VARCHAR``, or a ``UUID`` by its
canonical text). Floating-point keys are refused: they cannot name rows exactly (``1e16 + 1 ==
1e16``), and two engines may print or round them differently.

The key hash, the same in every engine sqlsel runs on:

* an integer hashes by its value modulo 2⁶⁴ (``-1`` → ``0xFFFF_FFFF_FFFF_FFFF``), so integer keys
  give the same noise as before string keys were accepted;
* a string hashes by its UTF-8 bytes: the first 8 bytes of their MD5 digest read as a big-endian
  unsigned integer (the first 16 hex digits of ``md5(key)`` in DuckDB and Spark SQL).

``sel_key_hash(key)`` (``udfs/keys.sql``) is the same function in DuckDB SQL, and
:func:`sqlsel.kernels.sampling.uniform` turns a hash and a seed into a uniform number.

Example:
    >>> import pyarrow as pa
    >>> key_hashes(pa.array([17, -1])).tolist()
    [17, 18446744073709551615]
    >>> hex(int(key_hashes(pa.array(["abc"]))[0]))  # md5('abc') = 900150983cd24fb0…
    '0x900150983cd24fb0'
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

__all__ = ["INTEGER_TYPES", "STRING_TYPES", "key_kind", "key_type_problem", "key_hashes", "sortable_keys"]

#: DuckDB type names of keys that hash by value, and of keys that hash by their text.
INTEGER_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
)
STRING_TYPES = ("VARCHAR", "UUID")
_MASK = (1 << 64) - 1


def key_kind(duckdb_type: str) -> str | None:
    """``'integer'``, ``'string'`` or None (not a key type) for a DuckDB type name."""
    name = duckdb_type.upper()
    if name in INTEGER_TYPES:
        return "integer"
    if name in STRING_TYPES:
        return "string"
    return None


def key_type_problem(duckdb_type: str) -> str | None:
    """Why a column of this DuckDB type cannot key rows (None when it can), for error messages."""
    if key_kind(duckdb_type) is not None:
        return None
    if duckdb_type.split("(")[0].upper() in ("FLOAT", "DOUBLE", "DECIMAL", "REAL"):
        return (
            f"{duckdb_type}: floating-point keys cannot name rows exactly (1e16 + 1 = 1e16) and print differently "
            "in other engines. Cast them to BIGINT if they hold whole numbers, or key the rows by another column"
        )
    return (
        f"{duckdb_type}; a key must be an integer ({', '.join(INTEGER_TYPES)}) or a string "
        f"({', '.join(STRING_TYPES)}). Cast it, or key the rows by another column"
    )


def key_hashes(keys: pa.Array | pa.ChunkedArray | np.ndarray) -> np.ndarray:
    """The uint64 key hash of every key (no NULLs: keys are checked before any work)."""
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    if isinstance(keys, pa.Array):
        if pa.types.is_integer(keys.type):
            keys = keys.to_numpy(zero_copy_only=False)
        elif pa.types.is_decimal(keys.type):  # DuckDB's HUGEINT reaches Arrow as decimal128(38, 0)
            return np.array([int(v) & _MASK for v in keys.to_pylist()], np.uint64)
        elif pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type):
            return _string_hashes(keys.to_pylist())
        else:
            raise TypeError(f"keys must be integers or strings; got {keys.type}")
    array = np.asarray(keys)
    if array.dtype.kind in "iu":
        return array.astype(np.int64 if array.dtype.kind == "i" else np.uint64, copy=False).view(np.uint64)
    if array.dtype.kind in "UO":
        if array.dtype.kind == "O" and len(array) and isinstance(array[0], int):
            return np.array([int(v) & _MASK for v in array], np.uint64)
        return _string_hashes(array.tolist())
    raise TypeError(f"keys must be integers or strings; got {array.dtype}")


def _string_hashes(values: list[str]) -> np.ndarray:
    out = np.empty(len(values), np.uint64)
    for i, value in enumerate(values):
        out[i] = int.from_bytes(hashlib.md5(value.encode("utf-8")).digest()[:8], "big")
    return out


def sortable_keys(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The keys as a numpy array that sorts like DuckDB's ``ORDER BY key``: numbers by value, text by bytes."""
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    if pa.types.is_integer(keys.type):
        return keys.to_numpy(zero_copy_only=False)
    if pa.types.is_decimal(keys.type):
        return np.array([int(v) for v in keys.to_pylist()], dtype=object)
    if pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type):
        # Python orders str by code point, which is the order of their UTF-8 bytes (DuckDB's order)
        return np.array(keys.to_pylist(), dtype=object)
    raise TypeError(f"keys must be integers or strings; got {keys.type}")

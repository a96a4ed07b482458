"""Embedding columns as numpy matrices: ``FLOAT[d]`` / ``FLOAT[]`` / ``DOUBLE[]`` Arrow arrays → (n, d) float32.

Every set-level kernel (k-means, nearest neighbours) takes a dense float32 matrix; this module is
the one place that turns an Arrow list column into one and says which row is wrong when it cannot.

Example:
    >>> import pyarrow as pa
    >>> vector_matrix(pa.array([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [[1.0, 2.0], [3.0, 4.0]]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlsel.kernels._jit import jit

__all__ = ["VectorError", "vector_matrix", "list_array", "permute_rows", "unit_rows"]


class VectorError(ValueError):
    """A vector column that is not a dense matrix: its message names the first bad row."""

    def __init__(self, message: str, row: int) -> None:
        super().__init__(message)
        self.row = row


def vector_matrix(arr: pa.Array, dim: int | None = None, finite: bool = True) -> np.ndarray:
    """The rows of a list-of-numbers array as an (n, d) float32 matrix (no NULL rows allowed).

    ``dim`` is the expected length (None: the first row's). ``finite`` refuses NaN and infinity.
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type) or pa.types.is_fixed_size_list(arr.type)):
        raise VectorError(f"expected a list of numbers per row (FLOAT[] or FLOAT[d]); got {arr.type}", 0)
    if arr.null_count:
        raise VectorError("the vector is NULL", _first(arr.is_null()))
    n = len(arr)
    if pa.types.is_fixed_size_list(arr.type):
        d = arr.type.list_size
        values = arr.flatten()  # respects the array's offset
    else:
        lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
        d = int(lengths[0]) if n else (dim or 0)
        if n and (lengths != d).any():
            row = int(np.flatnonzero(lengths != d)[0])
            raise VectorError(f"the vector has {lengths[row]} values where earlier rows have {d}", row)
        values = arr.flatten()
    if dim is not None and n and d != dim:
        raise VectorError(f"the vector has {d} values; expected {dim}", 0)
    if values.null_count:
        row = int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0]) // max(d, 1)
        raise VectorError("the vector holds a NULL value", row)
    x = np.ascontiguousarray(values.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(n, d)
    if finite and n:
        bad = ~np.isfinite(x).all(axis=1)
        if bad.any():
            raise VectorError("the vector holds NaN or infinite values", int(np.flatnonzero(bad)[0]))
    return x


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm in float64 (a zero row stays zero): for similarities that are squared
    or exponentiated, where float32 rounding would show (``diversity.normalize`` is the float32 form)."""
    e = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    return np.divide(e, norms, out=np.zeros_like(e), where=norms > 0)


def list_array(x: np.ndarray, mask: np.ndarray | pa.Array | None = None) -> pa.ListArray:
    """The rows of an (n, d) matrix as an Arrow list array (``FLOAT[]`` for float32); ``mask`` marks NULL rows."""
    n, d = x.shape
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * d)
    values = pa.array(np.ascontiguousarray(x).reshape(-1))
    if mask is None:
        return pa.ListArray.from_arrays(offsets, values)
    return pa.ListArray.from_arrays(offsets, values, mask=mask if isinstance(mask, pa.Array) else pa.array(mask))


def _first(mask: pa.Array) -> int:
    return int(np.flatnonzero(mask.to_numpy(zero_copy_only=False))[0])


@jit
def permute_rows(x: np.ndarray, order: np.ndarray) -> None:  # pragma: no cover - compiled
    """Reorder ``x``'s rows in place, ``x[i] = x_before[order[i]]``, without a second copy of ``x``.

    Follows each cycle of the permutation once (one row of scratch space).
    """
    n, d = x.shape
    done = np.zeros(n, np.bool_)
    row = np.empty(d, x.dtype)
    for start in range(n):
        if done[start]:
            continue
        done[start] = True
        if order[start] == start:
            continue
        for j in range(d):
            row[j] = x[start, j]
        i = start
        while True:
            src = order[i]
            done[i] = True
            if src == start:
                for j in range(d):
                    x[i, j] = row[j]
                break
            for j in range(d):
                x[i, j] = x[src, j]
            i = src

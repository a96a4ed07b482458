"""Seeded, deterministic sampling functions."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sqlsel.functions import KEY, FunctionContext, sql_function
from sqlsel.kernels.sampling import gumbel


@sql_function(
    "sel_gumbel",
    params={"key": KEY, "seed": "BIGINT"},
    returns="DOUBLE",
    doc="""Gumbel(0,1) noise that is a pure function of (key, seed).

    ORDER BY log_weight + sel_gumbel(id, seed) DESC LIMIT k samples k rows without replacement
    with probability proportional to exp(log_weight), identically at any thread count or row order.
    key is a row key of any integer or string type (hashed by sel_key_hash: integers by value,
    strings by their UTF-8 bytes); a floating-point key is an error.""",
    example="SELECT id FROM pool ORDER BY sel_gumbel(id, 42) LIMIT 10",
)
def sel_gumbel(ctx: FunctionContext, key_hash: pa.Array, seed: pa.Array) -> pa.Array:
    seeds = np.asarray(seed.to_numpy(zero_copy_only=False), dtype=np.int64)
    hashes = np.asarray(key_hash.to_numpy(zero_copy_only=False), dtype=np.uint64)
    if len(seeds) and (seeds == seeds[0]).all():
        return pa.array(gumbel(hashes, int(seeds[0])))
    return pa.array(np.array([gumbel(hashes[i : i + 1], int(s))[0] for i, s in enumerate(seeds)]))

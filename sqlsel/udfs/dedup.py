"""Exact dedup: a text's hash, as written or normalized (see :mod:`sqlsel.kernels.dedup`).

The ``exact_dedup`` recipe keeps one row per hash; near-duplicates (MinHash) come later.
"""

from __future__ import annotations

import pyarrow as pa

from sqlsel.functions import FunctionContext, constant_argument, sql_function
from sqlsel.kernels.dedup import text_hashes


@sql_function(
    "sel_text_hash",
    params={"text": "VARCHAR", "normalize": "BOOLEAN"},
    returns="BIGINT",
    doc="""64-bit hash of a text (xxHash XXH3-64 of its UTF-8 bytes), as written or normalized.

    normalize: lowercase, drop Unicode punctuation, collapse whitespace to single spaces and trim,
    so texts that differ only in those hash alike. Equal texts always hash alike; two different
    texts collide with probability about 2^-64 per pair. NULL for a NULL text.""",
    example="SELECT sel_text_hash(text, true) AS h, count(*) AS copies FROM pool GROUP BY h HAVING copies > 1",
)
def sel_text_hash(ctx: FunctionContext, text: pa.Array, normalize: pa.Array) -> pa.Array:
    return text_hashes(text, bool(constant_argument(normalize, "normalize")))

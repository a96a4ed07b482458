"""Near-duplicate dedup by MinHash-LSH (see :mod:`sqlsel.kernels.minhash`).

A signature per text, its LSH buckets, candidate pairs by ``GROUP BY`` bucket in SQL, optional exact
Jaccard of a pair's shingle sets, and the duplicate clusters as connected components::

    CREATE TABLE sigs AS SELECT id, sel_minhash(text) AS sig FROM pool;
    CREATE TABLE buckets AS SELECT id, unnest(sel_lsh_buckets(sig, 0.8)) AS bucket FROM sigs;
    CREATE TABLE pairs AS SELECT id AS a, min(id) OVER (PARTITION BY bucket) AS b FROM buckets;
    SELECT sel_connected_components('sel_scratch.clusters', 'SELECT a, b FROM pairs WHERE a <> b');

The ``minhash_dedup`` recipe puts these together.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlsel.errors import ParameterError, did_you_mean
from sqlsel.functions import FunctionContext, concatenated, constant_argument, sql_function
from sqlsel.kernels.minhash import (
    BAND_KERNELS,
    COMPONENT_KERNELS,
    SIGNATURE_KERNELS,
    UNITS,
    band_hashes,
    check_minhash_params,
    components,
    estimated_jaccard,
    exact_jaccard,
    lsh_params,
    shingles,
    signatures,
)
from sqlsel.kernels.vectors import list_array
from sqlsel.relations import describe_source, relation_query, write_rows

_SHINGLES = """Shingles are ngram consecutive lowercased \\w+ words (unit 'word'; a text with fewer words
    is one shingle of all of them) or ngram consecutive characters of the lowercased text with
    whitespace runs as one space (unit 'char')."""


def _shingle_params(ngram: pa.Array, unit: pa.Array) -> tuple[int, str]:
    n, u = int(constant_argument(ngram, "ngram")), str(constant_argument(unit, "unit"))
    if u not in UNITS:
        raise ParameterError(f"unit must be one of {', '.join(UNITS)}; got {u!r}.{did_you_mean(u, UNITS)}")
    return n, u


@sql_function(
    "sel_minhash",
    params={"text": "VARCHAR", "num_perm": "INTEGER", "ngram": "INTEGER", "seed": "BIGINT", "unit": "VARCHAR"},
    returns="INTEGER[]",
    doc="""MinHash signature of a text's shingle set: num_perm 32-bit values (as INTEGER, the same bits).

    """
    + _SHINGLES
    + """ The fraction of equal positions of two signatures estimates their Jaccard similarity
    (sel_minhash_jaccard); same seed, same signature on every engine and thread count. NULL for a
    NULL text or one with no shingle (empty, blank, only punctuation): such rows are never candidates.
    num_perm in 1..1024, ngram in 1..64.""",
    example="SELECT id, sel_minhash(text) AS sig FROM pool",
    defaults={"num_perm": "128", "ngram": "5", "seed": "1", "unit": "'word'"},
    null_handling="special",  # a text without shingles has no signature either
    kernels=SIGNATURE_KERNELS,
)
def sel_minhash(
    ctx: FunctionContext, text: pa.Array, num_perm: pa.Array, ngram: pa.Array, seed: pa.Array, unit: pa.Array
) -> pa.Array:
    perms = int(constant_argument(num_perm, "num_perm"))
    n, u = _shingle_params(ngram, unit)
    s = int(constant_argument(seed, "seed"))
    check_minhash_params(perms, n, u)

    def work(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        sig = signatures(text.slice(a, b - a), perms, n, s, u)
        return sig.values, sig.valid

    values, valid = concatenated(ctx.map_rows(work, len(text), 128))
    return list_array(values.view(np.int32), mask=~valid)  # INTEGER holds the uint32 values' bits


def _matrix(signature: pa.Array, what: str) -> np.ndarray:
    """A list column of equal-length signatures as a uint32 matrix (rows, num_perm)."""
    lengths = pc.list_value_length(signature).to_numpy(zero_copy_only=False)  # never empty: see call_impl
    width = int(lengths[0])
    if (lengths != width).any():
        other = int(lengths[np.flatnonzero(lengths != width)[0]])
        raise ParameterError(
            f"{what}: signatures of different lengths ({width} and {other} values) in one query; "
            "compute them all with the same num_perm"
        )
    values = pc.list_flatten(signature).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return values.view(np.uint32).reshape(len(lengths), width)


@sql_function(
    "sel_lsh_buckets",
    params={"signature": "INTEGER[]", "threshold": "DOUBLE", "bands": "INTEGER", "rows": "INTEGER"},
    returns="BIGINT[]",
    doc="""The LSH buckets of a MinHash signature: one 64-bit bucket per band.

    Two signatures share a bucket when one of their bands (rows consecutive values) is equal, with
    probability 1 − (1 − J^rows)^bands for Jaccard similarity J. bands and rows 0 (the default):
    chosen from threshold and the signature's length as datasketch's MinHashLSH does (0.8 with 128
    values: 9 bands of 13 rows); give both to set them, with bands × rows at most the length. A
    bucket hashes its band's index too, so buckets of different bands never meet: candidate pairs
    are rows sharing a bucket, found by unnest and GROUP BY bucket.""",
    example="SELECT id, unnest(sel_lsh_buckets(sel_minhash(text), 0.8)) AS bucket FROM pool",
    defaults={"threshold": "0.8", "bands": "0", "rows": "0"},
    kernels=BAND_KERNELS,
)
def sel_lsh_buckets(
    ctx: FunctionContext, signature: pa.Array, threshold: pa.Array, bands: pa.Array, rows: pa.Array
) -> pa.Array:
    values = _matrix(signature, "sel_lsh_buckets")
    b, r = lsh_shape(
        float(constant_argument(threshold, "threshold")),
        values.shape[1],
        int(constant_argument(bands, "bands")),
        int(constant_argument(rows, "rows")),
    )
    return list_array(band_hashes(values, b, r))


def lsh_shape(threshold: float, num_perm: int, bands: int, rows: int) -> tuple[int, int]:
    """(bands, rows) as given, or chosen from the threshold when both are 0; a ParameterError when out of range."""
    if not 0.0 < threshold <= 1.0:
        raise ParameterError(f"threshold must be in (0, 1]; got {threshold}")
    if bands == 0 and rows == 0:
        return lsh_params(threshold, num_perm)
    if bands < 1 or rows < 1 or bands * rows > num_perm:
        raise ParameterError(
            f"bands and rows must both be 0 (chosen from the threshold) or at least 1 with bands × rows at most "
            f"the signature's {num_perm} values; got bands {bands}, rows {rows}"
        )
    return bands, rows


@sql_function(
    "sel_minhash_jaccard",
    params={"a": "INTEGER[]", "b": "INTEGER[]"},
    returns="DOUBLE",
    doc="""Jaccard similarity estimated from two MinHash signatures: the fraction of equal positions.

    Its standard error is about sqrt(J(1 − J) / num_perm). Signatures of different lengths are an error.""",
    example="SELECT sel_minhash_jaccard(sel_minhash('a b c d e f'), sel_minhash('a b c d e g'))",
)
def sel_minhash_jaccard(ctx: FunctionContext, a: pa.Array, b: pa.Array) -> pa.Array:
    left, right = _matrix(a, "sel_minhash_jaccard"), _matrix(b, "sel_minhash_jaccard")
    if left.shape[1] != right.shape[1]:
        raise ParameterError(
            f"sel_minhash_jaccard: signatures of different lengths ({left.shape[1]} and {right.shape[1]} values)"
        )
    return pa.array(estimated_jaccard(left, right))


@sql_function(
    "sel_jaccard",
    params={"a": "VARCHAR", "b": "VARCHAR", "ngram": "INTEGER", "unit": "VARCHAR"},
    returns="DOUBLE",
    doc="""Exact Jaccard similarity of two texts' shingle sets, the sets sel_minhash estimates from.

    """
    + _SHINGLES
    + """ NULL when either text has no shingle.""",
    example="SELECT sel_jaccard('the cat sat on the mat', 'the cat sat on a mat', 1)",
    defaults={"ngram": "5", "unit": "'word'"},
    null_handling="special",  # texts without shingles have no Jaccard
)
def sel_jaccard(ctx: FunctionContext, a: pa.Array, b: pa.Array, ngram: pa.Array, unit: pa.Array) -> pa.Array:
    n, u = _shingle_params(ngram, unit)
    check_minhash_params(1, n, u)

    def work(start: int, stop: int) -> np.ndarray:
        return exact_jaccard(shingles(a.slice(start, stop - start), n, u), shingles(b.slice(start, stop - start), n, u))

    out = concatenated(ctx.map_rows(work, len(a), 64))
    return pa.array(out, mask=np.isnan(out))


@sql_function(
    "sel_connected_components",
    params={"into_table": "VARCHAR", "source": "VARCHAR"},
    returns="BIGINT",
    doc="""Connected components of a graph given as pairs: every node with its component's smallest node.

    Reads columns a and b (node keys of one integer or string type) from source, a table, view or
    query; writes into_table (id, component, size), one row per node that appears in a pair, keys in
    their own type, and returns its row count. component is the smallest id of the component (in the
    key type's order), so it is the same whatever the pairs' order. A pair with a NULL node is
    ignored. Runs in memory on one machine: about 40 bytes a node and 16 an edge (on Spark, on the
    driver: at most SQLSEL_SPARK_DRIVER_ROWS pairs, 2M by default).""",
    example="SELECT sel_connected_components('sel_scratch.clusters', 'SELECT a, b FROM pairs')",
    side_effects=True,  # it writes a table
    null_handling="special",
    kernels=COMPONENT_KERNELS,
)
def sel_connected_components(ctx: FunctionContext, into: pa.Array, source: pa.Array) -> pa.Array:
    into_table = str(constant_argument(into, "into_table"))
    name = str(constant_argument(source, "source"))
    key_type = describe_source(ctx, name, "sel_connected_components", ("a", "b"))  # a and b: node keys
    pairs = ctx.arrow(relation_query(name, "a, b") + " WHERE a IS NOT NULL AND b IS NOT NULL")
    left, right = (pairs.column(c).combine_chunks() for c in ("a", "b"))
    if left.type != right.type:
        right = right.cast(left.type)
    nodes = pc.unique(pa.concat_arrays([left, right]))
    nodes = nodes.take(pc.sort_indices(nodes))
    component = components(
        pc.index_in(left, nodes).to_numpy(zero_copy_only=False),
        pc.index_in(right, nodes).to_numpy(zero_copy_only=False),
        len(nodes),
    )
    size = np.bincount(component, minlength=len(nodes))[component]
    table = pa.table({"id": nodes, "component": nodes.take(pa.array(component)), "size": pa.array(size, pa.int64())})
    count = write_rows(ctx, into_table, table, key_type, ("id", "component"))
    return pa.array([count] * len(source), pa.int64())

"""ZIP-FIT: compressed sizes, NCD, stored target sets and compression-alignment scores.

A target set is stored once from SQL with :func:`sel_zipfit_target` (its texts and their compressed
sizes go to ``sel_zipfit_texts``); ``sel_zipfit`` and ``sel_zipfit_fast`` score pool texts against it.
The kernels are in :mod:`sqlsel.kernels.compression`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from sqlsel.catalog import store_model
from sqlsel.errors import InputError, SqlselError
from sqlsel.functions import FunctionContext, concatenated, constant_argument, sql_function
from sqlsel.kernels.compression import (
    DEFAULT_ALGORITHM,
    DEFAULT_LEVEL,
    EXACT_KERNELS,
    FAST_KERNELS,
    TARGET_KERNELS,
    Codec,
    TargetSet,
    ncd,
)
from sqlsel.kernels.rows import Rows, utf8_rows

KIND = "zipfit"


def codec_of(algorithm: Any, level: Any) -> Codec:
    return Codec(str(algorithm), level if isinstance(level, int) else int(level))


_DEFAULT = Codec(DEFAULT_ALGORITHM, DEFAULT_LEVEL)


def load_target_set(ctx: FunctionContext, name: str) -> TargetSet:
    """The target set called ``name`` from the catalog, cached by its model id."""
    model_id, params = ctx.model(
        name, KIND, "Store one with SELECT sel_zipfit_target(name, list(text), 'lz4', 0) FROM targets."
    )

    def build() -> TargetSet:
        sql = "SELECT text, size FROM sel_zipfit_texts WHERE model_id = ? ORDER BY ordinal"
        tbl = ctx.arrow(sql, [model_id])
        texts = utf8_rows(tbl.column("text").combine_chunks())
        return TargetSet(codec_of(params["algorithm"], params["level"]), texts, tbl.column("size").to_numpy())

    return ctx.cached((KIND, model_id), build)


@sql_function(
    "sel_compressed_size",
    params={"text": "VARCHAR", "algorithm": "VARCHAR", "level": "INTEGER"},
    returns="BIGINT",
    doc="""Compressed bytes of a text's UTF-8: gzip (1-9), lz4 (0-16) or zstd (1-22), as zip-fit measures them.

    Exactly len(gzip.compress(b, level)), len(lz4.frame.compress(b, compression_level=level)) or
    len(zstandard.ZstdCompressor(level).compress(b)). gzip level 0 is refused: it does not compress.""",
    example="SELECT sel_compressed_size('hello hello hello hello', 'lz4', 0)",
)
def sel_compressed_size(ctx: FunctionContext, text: pa.Array, algorithm: pa.Array, level: pa.Array) -> pa.Array:
    codec = codec_of(constant_argument(algorithm, "algorithm"), constant_argument(level, "level"))
    return pa.array(codec.sizes(utf8_rows(text)), pa.int64())


@sql_function(
    "sel_compression_ratio",
    params={"text": "VARCHAR"},
    returns="DOUBLE",
    doc="""UTF-8 bytes over LZ4 (level 0) frame bytes: a cheap quality signal.

    On the real benchmark corpus, 2 KB chunks of documentation and code score 1.2-4 (median 1.4-2);
    boilerplate and repeated text score far higher, random or encoded bytes about 1. Short texts
    score below 1 because the 23-byte frame dominates (fortunes: 0.6-1.1). Empty text gives 0.""",
    example="SELECT sel_compression_ratio(repeat('spam ', 200)) > 10",
)
def sel_compression_ratio(ctx: FunctionContext, text: pa.Array) -> pa.Array:
    rows = utf8_rows(text)
    return pa.array(rows.lengths() / _DEFAULT.sizes(rows), pa.float64())


@sql_function(
    "sel_ncd",
    params={"a": "VARCHAR", "b": "VARCHAR"},
    returns="DOUBLE",
    doc="""Normalized compression distance of two texts with LZ4 level 0 (0: alike, about 1: unrelated).

    (C(a‖b) − min(C(a), C(b))) / max(C(a), C(b)), a‖b plain concatenation; sel_ncd_with picks the codec.""",
    example="SELECT sel_ncd('the cat sat on the mat', 'the cat sat on the hat')",
)
def sel_ncd(ctx: FunctionContext, a: pa.Array, b: pa.Array) -> pa.Array:
    return _ncd(a, b, _DEFAULT)


@sql_function(
    "sel_ncd_with",
    params={"a": "VARCHAR", "b": "VARCHAR", "algorithm": "VARCHAR", "level": "INTEGER"},
    returns="DOUBLE",
    doc="Normalized compression distance of two texts with the given algorithm and level (see sel_ncd).",
    example="SELECT sel_ncd_with('the cat sat on the mat', 'the cat sat on the hat', 'gzip', 6)",
)
def sel_ncd_with(ctx: FunctionContext, a: pa.Array, b: pa.Array, algorithm: pa.Array, level: pa.Array) -> pa.Array:
    return _ncd(a, b, codec_of(constant_argument(algorithm, "algorithm"), constant_argument(level, "level")))


def _ncd(a: pa.Array, b: pa.Array, codec: Codec) -> pa.Array:
    ra, rb = utf8_rows(a), utf8_rows(b)
    joined = Rows.of([ra[i] + rb[i] for i in range(len(ra))])
    return pa.array(ncd(codec.sizes(ra), codec.sizes(rb), codec.sizes(joined)), pa.float64())


@sql_function(
    "sel_zipfit_target",
    params={"name": "VARCHAR", "texts": "VARCHAR[]", "algorithm": "VARCHAR", "level": "INTEGER"},
    returns="BIGINT",
    doc="""Store a ZIP-FIT target set in the catalog under a name; returns the number of texts stored.

    Computes every text's compressed size once. NULL texts are skipped; an empty set is an error.
    Storing under an existing name replaces that set, in a transaction of the function's own: a
    caller's ROLLBACK does not undo it.""",
    side_effects=True,  # it writes to the catalog: DuckDB must call it once per row, never fold it
    null_handling="special",
    example="SELECT sel_zipfit_target('proofs', list(text ORDER BY id), 'lz4', 0) FROM read_json('target.jsonl')",
    kernels=TARGET_KERNELS,
)
def sel_zipfit_target(
    ctx: FunctionContext, name: pa.Array, texts: pa.Array, algorithm: pa.Array, level: pa.Array
) -> pa.Array:
    out = []
    for i in range(len(name)):
        set_name, items, algo, lvl = name[i].as_py(), texts[i].as_py(), algorithm[i].as_py(), level[i].as_py()
        if set_name is None or algo is None or lvl is None:
            raise SqlselError("sel_zipfit_target: name, algorithm and level must not be NULL")
        out.append(_store_target(ctx, set_name, items, codec_of(algo, lvl)))
    return pa.array(out, pa.int64())


def _store_target(ctx: FunctionContext, name: str, items: list[str | None] | None, codec: Codec) -> int:
    kept = [t for t in (items or []) if t is not None]
    if not kept:
        raise InputError(
            f"Target set {name!r} is empty: pass at least one non-NULL text "
            "(is the target file empty, or its text column all NULL?)"
        )
    target = TargetSet.build([t.encode("utf-8") for t in kept], codec)
    params = json.dumps(
        {
            "algorithm": codec.algorithm,
            "level": codec.level,
            "texts": len(kept),
            "bytes": int(target.texts.lengths().sum()),
        }
    )
    rows = pa.table(
        {
            "ordinal": pa.array(range(len(kept)), pa.int32()),
            "text": pa.array(kept, pa.string()),
            "size": pa.array(target.sizes, pa.int64()),
        }
    )
    with ctx.writing(f"target set {name!r}") as cur:
        model_id = store_model(cur, ctx.write_name(name), KIND, params, "sel_zipfit_texts", rows)
    target.sketch()  # a few ms; scoring in this process then starts with the set loaded and its sketch built
    ctx.cached((KIND, model_id), lambda: target)
    return len(kept)


@sql_function(
    "sel_zipfit",
    params={"text": "VARCHAR", "target": "VARCHAR"},
    returns="DOUBLE",
    doc="""ZIP-FIT alignment of a text with a stored target set: mean over its texts of 1 − NCD (exact).

    Equals zip-fit 1.0.9's score under the set's algorithm and level. Cost grows with the number of
    targets (one compression per pair); sel_zipfit_fast does not.""",
    example="SELECT id, sel_zipfit(text, 'proofs') AS zipfit FROM pool ORDER BY zipfit DESC, id LIMIT 10",
    model_param="target",
    kernels=EXACT_KERNELS,
)
def sel_zipfit(ctx: FunctionContext, text: pa.Array, target: pa.Array) -> pa.Array:
    return _scores(ctx, text, target, exact=True)


@sql_function(
    "sel_zipfit_fast",
    params={"text": "VARCHAR", "target": "VARCHAR"},
    returns="DOUBLE",
    doc="""Fast approximation of sel_zipfit whose cost does not grow with the number of targets.

    Exact denominators, estimated savings: see sqlsel.kernels.compression. Ranks like the exact score
    (Spearman in benchmarks/zipfit.py), at the cost of one compression of the text.""",
    example="SELECT id, sel_zipfit_fast(text, 'proofs') AS zipfit FROM pool ORDER BY zipfit DESC, id LIMIT 10",
    model_param="target",
    kernels=FAST_KERNELS,
)
def sel_zipfit_fast(ctx: FunctionContext, text: pa.Array, target: pa.Array) -> pa.Array:
    return _scores(ctx, text, target, exact=False)


def _scores(ctx: FunctionContext, text: pa.Array, target: pa.Array, exact: bool) -> pa.Array:
    """ZIP-FIT scores of a batch; exact ones once per distinct text (corpora repeat texts)."""
    targets = load_target_set(ctx, str(constant_argument(target, "target")))
    if not exact:  # cheap per row: deduplicating would cost more than it saves
        return pa.array(_in_parallel(ctx, targets.fast_scores, utf8_rows(text)), pa.float64())
    encoded = text.dictionary_encode()
    if len(encoded.dictionary) == len(text):
        return pa.array(_in_parallel(ctx, targets.exact_scores, utf8_rows(text)), pa.float64())
    unique = _in_parallel(ctx, targets.exact_scores, utf8_rows(encoded.dictionary))
    return pa.array(unique[encoded.indices.to_numpy(zero_copy_only=False)], pa.float64())


def _in_parallel(ctx: FunctionContext, score: Callable[[Rows], np.ndarray], rows: Rows) -> np.ndarray:
    """``score`` over slices of ``rows`` on the connection's threads (the kernels release the GIL)."""
    return concatenated(ctx.map_rows(lambda start, stop: score(rows.slice(start, stop)), len(rows)))

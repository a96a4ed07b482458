"""DSIR: hashed n-gram features, importance weights from a fitted model, KL reduction.

Fitting is SQL (see ``udfs/dsir.sql`` and ``sql/dsir_select.sql``): the target and raw histograms
are ``GROUP BY`` aggregates over :func:`sel_ngram_buckets` and the log ratio is a macro;
``sel_dsir_store`` writes them to the catalog tables ``sel_models`` and ``sel_dsir_buckets``. The
other functions here apply a stored model per batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pyarrow as pa

from sqlsel.catalog import store_model
from sqlsel.errors import InputError, SqlselError
from sqlsel.functions import FunctionContext, constant_argument, sql_function
from sqlsel.kernels.dsir import WEIGHT_KERNELS, kl_reduction, weights_from_features
from sqlsel.kernels.ngrams import (
    FEATURE_KERNELS,
    TOKEN_KERNELS,
    GramMemo,
    NgramFeatures,
    ngram_features,
    token_counts,
)

T = TypeVar("T")

MAX_BUCKETS = 1 << 24
MAX_NGRAMS = 8


@dataclass(frozen=True)
class DsirModel:
    """A fitted DSIR model as the functions use it."""

    name: str
    model_id: int
    buckets: int
    ngrams: int
    normalize: bool
    ratio: np.ndarray
    target: np.ndarray
    raw: np.ndarray


def load_dsir_model(ctx: FunctionContext, name: str) -> DsirModel:
    """The model called ``name`` from the catalog, cached by its id (a refit gets a new id)."""
    model_id, params = ctx.model(
        name, "dsir", "Fit one with the dsir_select recipe (see `sqlsel run dsir_select --help`)."
    )

    def build() -> DsirModel:
        b = int(params["buckets"])
        tbl = ctx.arrow(
            "SELECT bucket, target_count, raw_count, log_ratio FROM sel_dsir_buckets WHERE model_id = ?", [model_id]
        )
        idx = tbl.column("bucket").to_numpy()
        ratio, target, raw = np.zeros(b), np.zeros(b, np.int64), np.zeros(b, np.int64)
        ratio[idx] = tbl.column("log_ratio").to_numpy()
        target[idx] = tbl.column("target_count").to_numpy()
        raw[idx] = tbl.column("raw_count").to_numpy()
        normalize = bool(params.get("normalize", False))
        return DsirModel(name, model_id, b, int(params["ngrams"]), normalize, ratio, target, raw)

    return ctx.cached(("dsir", model_id), build)


def check_shape(buckets: object, ngrams: object) -> tuple[int, int]:
    if not isinstance(buckets, int) or not 1 <= buckets <= MAX_BUCKETS:
        raise SqlselError(f"buckets must be an integer in 1..{MAX_BUCKETS}; got {buckets!r}")
    if not isinstance(ngrams, int) or not 1 <= ngrams <= MAX_NGRAMS:
        raise SqlselError(f"ngrams must be an integer in 1..{MAX_NGRAMS}; got {ngrams!r}")
    return buckets, ngrams


def _list_array(buckets: np.ndarray, offsets: np.ndarray) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(buckets, pa.int32()))


@sql_function(
    "sel_ngram_buckets",
    params={"text": "VARCHAR", "buckets": "INTEGER", "ngrams": "INTEGER"},
    returns="INTEGER[]",
    doc="""Hashed n-gram features of a text: the bucket of every unigram … ngrams-gram.

    Exactly data-selection 1.0.3's features: lowercase, wordpunct tokens, sha256(gram) % buckets.
    Aggregate them to fit a histogram: SELECT unnest(sel_ngram_buckets(text, 10000, 2)) AS b …""",
    example="SELECT sel_ngram_buckets('Alice went to the store', 10000, 2)",
    kernels=FEATURE_KERNELS,
)
def sel_ngram_buckets(ctx: FunctionContext, text: pa.Array, buckets: pa.Array, ngrams: pa.Array) -> pa.Array:
    b, n = check_shape(constant_argument(buckets, "buckets"), constant_argument(ngrams, "ngrams"))
    f = features(ctx, text, b, n)
    return _list_array(f.buckets, f.offsets)


def features(ctx: FunctionContext, text: pa.Array, buckets: int, ngrams: int) -> NgramFeatures:
    """:func:`ngram_features` of a batch, its slices on the connection's threads (the kernel is mostly nogil).

    The connection keeps a gram memo per ``buckets`` value it has used (each up to 2 GiB), freed with it.
    """
    return NgramFeatures.concat(_by_piece(ctx, text, buckets, ngrams, lambda f: f))


def _by_piece(
    ctx: FunctionContext, text: pa.Array, buckets: int, ngrams: int, then: Callable[[NgramFeatures], T]
) -> list[T]:
    """``then`` of the features of each slice of a batch, on the kernel thread that computed them, in order."""
    memo = ctx.latest(f"gram-memo:{buckets}", buckets, GramMemo)
    return ctx.map_rows(lambda a, b: then(ngram_features(text.slice(a, b - a), buckets, ngrams, memo)), len(text), 256)


@sql_function(
    "sel_token_count",
    params={"text": "VARCHAR"},
    returns="BIGINT",
    doc="Number of wordpunct tokens (\\w+|[^\\w\\s]+) of the lowercased text, as DSIR counts them.",
    example="SELECT sel_token_count('Hello, world!')",
    kernels=TOKEN_KERNELS,
)
def sel_token_count(ctx: FunctionContext, text: pa.Array) -> pa.Array:
    return pa.array(token_counts(text))


@sql_function(
    "sel_dsir_weight",
    params={"text": "VARCHAR", "model": "VARCHAR"},
    returns="DOUBLE",
    doc="""Log importance weight of a text under a fitted DSIR model (NULL text gives NULL).

    The sum of the model's per-bucket log ratio over the text's n-grams; length-normalised when
    the model was fitted with normalize=true.""",
    example="SELECT id, sel_dsir_weight(text, 'my_model') AS log_weight FROM pool",
    model_param="model",
    kernels=FEATURE_KERNELS + WEIGHT_KERNELS,
)
def sel_dsir_weight(ctx: FunctionContext, text: pa.Array, model: pa.Array) -> pa.Array:
    m = load_dsir_model(ctx, str(constant_argument(model, "model")))
    weights = _by_piece(  # weighed where featurized: nothing is left for DuckDB's thread but the concatenation
        ctx, text, m.buckets, m.ngrams, lambda f: weights_from_features(m.ratio, f.buckets, f.offsets, m.normalize)
    )
    return pa.array(np.concatenate(weights))


@sql_function(
    "sel_dsir_weight_features",
    params={"features": "INTEGER[]", "model": "VARCHAR"},
    returns="DOUBLE",
    doc="""Log importance weight from precomputed sel_ngram_buckets features (no re-tokenizing).

    Use it when the same rows were featurized already, e.g. to fit the raw histogram.""",
    example="SELECT sel_dsir_weight_features(sel_ngram_buckets(text, 10000, 2), 'my_model') FROM pool",
    model_param="model",
    kernels=WEIGHT_KERNELS,
)
def sel_dsir_weight_features(ctx: FunctionContext, features: pa.Array, model: pa.Array) -> pa.Array:
    m = load_dsir_model(ctx, str(constant_argument(model, "model")))
    values = features.flatten()
    if values.null_count:
        raise SqlselError("sel_dsir_weight_features: features contain NULL buckets")
    buckets = values.to_numpy(zero_copy_only=False)  # INTEGER[]: int32, no copy
    offsets = features.offsets.to_numpy()
    try:
        weights = weights_from_features(m.ratio, buckets, offsets - offsets[0], m.normalize)
    except ValueError as exc:
        raise SqlselError(
            f"sel_dsir_weight_features: {exc} for model {m.name!r}, which has {m.buckets} buckets: compute "
            f"the features with sel_ngram_buckets(text, {m.buckets}, {m.ngrams})"
        ) from None
    return pa.array(weights)


@sql_function(
    "sel_dsir_store",
    params={
        "name": "VARCHAR",
        "buckets": "INTEGER",
        "ngrams": "INTEGER",
        "smoothing": "DOUBLE",
        "normalize": "BOOLEAN",
        "target_counts": "BIGINT[]",
        "raw_counts": "BIGINT[]",
        "log_ratios": "DOUBLE[]",
    },
    returns="BIGINT",
    doc="""Store a fitted DSIR model under name: its histograms and log ratios, one list entry per bucket.

    The lists are indexed by bucket (0 … buckets − 1), e.g. list(x ORDER BY bucket) over every
    bucket (sql/dsir_select.sql shows the whole fit). Replaces a model of the same name in one
    transaction, and is refused on a read-only catalog; a caller's ROLLBACK does not undo it.
    Returns the number of buckets stored.""",
    example=(
        "SELECT sel_dsir_store('m', 4, 1, 1.0, false, [1, 0, 2, 0], [3, 3, 2, 2], "
        "[sel_dsir_log_ratio(1, 3, 3, 10, 4, 1.0), 0, 0, 0])"
    ),
    side_effects=True,  # it writes to the catalog: DuckDB must call it once per row, never fold it
    null_handling="special",
)
def sel_dsir_store(
    ctx: FunctionContext,
    name: pa.Array,
    buckets: pa.Array,
    ngrams: pa.Array,
    smoothing: pa.Array,
    normalize: pa.Array,
    target_counts: pa.Array,
    raw_counts: pa.Array,
    log_ratios: pa.Array,
) -> pa.Array:
    out = []
    for i in range(len(name)):
        model = name[i].as_py()
        if not model:
            raise SqlselError("sel_dsir_store: name must not be NULL or empty")
        b, n = check_shape(buckets[i].as_py(), ngrams[i].as_py())
        ctx.check_writable(f"DSIR model {model!r}")
        lists = [target_counts[i].as_py(), raw_counts[i].as_py(), log_ratios[i].as_py()]
        if any(values is None or len(values) != b or None in values for values in lists):
            raise InputError(f"sel_dsir_store: the three lists must hold {b} values (one per bucket), none NULL")
        ratio = np.asarray(lists[2], np.float64)
        if not np.isfinite(ratio).all():
            raise InputError(
                f"sel_dsir_store: log ratio of bucket {int(np.flatnonzero(~np.isfinite(ratio))[0])} is "
                f"{ratio[~np.isfinite(ratio)][0]}; smoothing must be finite and >= 0"
            )
        params = json.dumps(
            {"buckets": b, "ngrams": n, "smoothing": smoothing[i].as_py(), "normalize": bool(normalize[i].as_py())}
        )
        rows = pa.table(
            {
                "bucket": pa.array(np.arange(b, dtype=np.int32)),
                "target_count": pa.array(lists[0], pa.int64()),
                "raw_count": pa.array(lists[1], pa.int64()),
                "log_ratio": pa.array(ratio),
            }
        )
        with ctx.writing(f"DSIR model {model!r}") as cur:
            store_model(cur, ctx.write_name(model), "dsir", params, "sel_dsir_buckets", rows)
        out.append(b)
    return pa.array(out, pa.int64())


@sql_function(
    "sel_dsir_kl_reduction",
    params={"model": "VARCHAR", "buckets": "INTEGER[]", "counts": "BIGINT[]"},
    returns="DOUBLE",
    doc="""KL(target‖raw) − KL(target‖selected) for a selection's n-gram histogram.

    Pass the selection's histogram as two lists (an aggregate surrogate): higher is better,
    0 means no closer to the target than the raw pool.""",
    example=(
        "SELECT sel_dsir_kl_reduction('my_model', list(b), list(n)) FROM "
        "(SELECT b, count(*) n FROM (SELECT unnest(sel_ngram_buckets(text, 10000, 2)) b FROM picked) GROUP BY b)"
    ),
    model_param="model",
    on_driver=True,
)
def sel_dsir_kl_reduction(ctx: FunctionContext, model: pa.Array, buckets: pa.Array, counts: pa.Array) -> pa.Array:
    out = []
    for name, bl, cl in zip(model.to_pylist(), buckets.to_pylist(), counts.to_pylist(), strict=True):
        m = load_dsir_model(ctx, name)
        selected = np.zeros(m.buckets, np.int64)
        if bl:
            np.add.at(selected, np.asarray(bl, np.int64), np.asarray(cl, np.int64))
        out.append(kl_reduction(m.target, m.raw, selected) if selected.sum() else None)
    return pa.array(out, pa.float64())

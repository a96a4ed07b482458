"""MIG from SQL: rows picked by the information they add to a label graph (kernels/mig.py).

``sel_mig`` reads the pool's ids, label lists and quality scores, and the labels' embeddings from a
second relation (the recipe embeds the labels with the same embedder as the rows, or averages the
embeddings of the rows that carry each label); it writes the picks in order with their gains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlsel.errors import InputError, ParameterError, RowKeyError
from sqlsel.functions import FunctionContext, constant_argument, sql_function
from sqlsel.kernels.keys import sortable_keys
from sqlsel.kernels.mig import EDGE_BYTES, PHIS, label_graph, label_sums, mig_select
from sqlsel.kernels.vectors import VectorError, vector_matrix
from sqlsel.relations import check_unique, column_names, describe_source, memory_budget, relation_query, write_rows


def _labels(ctx: FunctionContext, source: str) -> tuple[pa.Array, pa.Array]:
    """The label names (sorted, each once) and their embedding column (NULL: the mean of its rows')."""
    try:
        table = ctx.arrow(relation_query(source, "CAST(label AS VARCHAR) AS label, embedding") + " ORDER BY label")
    except Exception as exc:  # duckdb.Error: a missing relation or column
        raise InputError(
            f"sel_mig cannot read labels from {source!r}: {str(exc).splitlines()[0]}. "
            "It reads columns label (VARCHAR) and embedding (FLOAT[]) from a table, view or query."
        ) from None
    names = table.column("label").combine_chunks()
    if names.null_count:
        raise InputError(f"sel_mig: {source!r} has a NULL label; give every label a name.")
    if len(names) == 0:
        raise InputError(f"sel_mig: {source!r} has no labels; the pool's rows need labels (a VARCHAR[] column).")
    same = pc.equal(names[1:], names[:-1]).to_numpy(zero_copy_only=False) if len(names) > 1 else np.zeros(0, bool)
    if same.any():
        raise InputError(f"sel_mig: label {names[int(np.flatnonzero(same)[0])].as_py()!r} appears twice in {source!r}.")
    return names, table.column("embedding").combine_chunks()


def _label_embeddings(names: pa.Array, given: pa.Array, rows: Pool, label_source: str) -> np.ndarray:
    """The labels' embeddings: as given, or (NULL) the mean of the embeddings of the rows that carry them."""
    missing = given.is_null().to_numpy(zero_copy_only=False)
    present = None
    if not missing.all():
        try:
            present = vector_matrix(given.filter(pa.array(~missing)))
        except VectorError as exc:
            row = int(np.flatnonzero(~missing)[exc.row])
            raise InputError(f"sel_mig: label {names[row].as_py()!r} of {label_source!r}: {exc}.") from None
    if not missing.any():
        return present
    assert rows.embedding is not None  # read whenever a label lacks an embedding
    sums, counts = label_sums(rows.indptr, rows.numbers, rows.embedding, rows.has_embedding, len(names))
    lacking = missing & (counts == 0)
    if lacking.any():
        label = names[int(np.flatnonzero(lacking)[0])].as_py()
        raise InputError(f"sel_mig: label {label!r} has no embedding, and no row carrying it has one.")
    if present is not None:
        if sums.shape[1] != present.shape[1]:
            raise InputError(
                f"sel_mig: the labels' embeddings have {present.shape[1]} dimensions, the pool's {sums.shape[1]}: "
                "embed both alike."
            )
        sums[~missing] = present
    return sums


@dataclass
class Pool:
    """The pool in key order: ids, each row's distinct label numbers (CSR), quality and embeddings if read."""

    ids: pa.Array
    key_type: str  # the DuckDB type of the source's id column
    indptr: np.ndarray
    numbers: np.ndarray
    quality: np.ndarray
    embedding: np.ndarray | None  # float32 rows × dim (zeros where has_embedding is false)
    has_embedding: np.ndarray


def _rows(ctx: FunctionContext, source: str, names: pa.Array, with_embedding: bool) -> Pool:
    """The pool's rows in key order (see :class:`Pool`), quality and labels checked."""
    columns = ("id", "labels", "quality", "embedding") if with_embedding else ("id", "labels", "quality")
    key_type = describe_source(ctx, source, "sel_mig", columns)
    select = "id, labels, CAST(quality AS DOUBLE) AS quality" + (", embedding" if with_embedding else "")
    table = ctx.arrow(relation_query(source, select) + " ORDER BY id")
    ids = table.column("id").combine_chunks()
    if ids.null_count:
        raise RowKeyError(f"sel_mig: {source!r} has rows with a NULL id; every row needs one.")
    check_unique(sortable_keys(ids), "sel_mig", source)
    quality = table.column("quality").combine_chunks()
    values = quality.to_numpy(zero_copy_only=False)  # a NULL reads as NaN
    bad = ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"sel_mig: row id {ids[row].as_py()!r} of {source!r} has quality {quality[row].as_py()!r}; qualities must "
            "be finite and 0 or more. Filter such rows out (WHERE quality >= 0) or give them a score (coalesce)."
        )
    labels = table.column("labels").combine_chunks()
    if not (pa.types.is_list(labels.type) or pa.types.is_large_list(labels.type)):
        raise InputError(f"sel_mig: the labels column of {source!r} is {labels.type}; it must be a list (VARCHAR[]).")
    lengths = pc.fill_null(pc.list_value_length(labels), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(labels)
    rows = np.repeat(np.arange(len(ids)), lengths)
    keep = flat.is_valid().to_numpy(zero_copy_only=False)  # a NULL inside a list is no label
    number = pc.index_in(pc.cast(flat, pa.string()), value_set=names)
    unknown = keep & number.is_null().to_numpy(zero_copy_only=False)
    if unknown.any():
        label = flat[int(np.flatnonzero(unknown)[0])].as_py()
        raise InputError(f"sel_mig: label {label!r} of {source!r} is not among the labels given with embeddings.")
    rows, number = rows[keep], number.to_numpy(zero_copy_only=False)[keep].astype(np.int64)
    order = np.lexsort((number, rows))
    rows, number = rows[order], number[order]
    distinct = np.ones(len(rows), bool)
    distinct[1:] = (rows[1:] != rows[:-1]) | (number[1:] != number[:-1])
    rows, number = rows[distinct], number[distinct]
    indptr = np.zeros(len(ids) + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=len(ids)), out=indptr[1:])
    embedding, has = None, np.zeros(len(ids), bool)
    if with_embedding:
        column = table.column("embedding").combine_chunks()
        has = column.is_valid().to_numpy(zero_copy_only=False)
        try:
            present = vector_matrix(column.filter(pa.array(has))) if has.any() else np.zeros((0, 1), np.float32)
        except VectorError as exc:
            row = int(np.flatnonzero(has)[exc.row])
            raise InputError(f"sel_mig: row id {ids[row].as_py()!r} of {source!r}: {exc}.") from None
        embedding = np.zeros((len(ids), present.shape[1]), np.float32)
        embedding[has] = present
    return Pool(ids, key_type, indptr, number, values, embedding, has)


@sql_function(
    "sel_mig",
    params={
        "into_table": "VARCHAR",
        "source": "VARCHAR",
        "label_source": "VARCHAR",
        "k": "BIGINT",
        "threshold": "DOUBLE",
        "phi": "VARCHAR",
        "phi_a": "DOUBLE",
        "phi_b": "DOUBLE",
        "phi_alpha": "DOUBLE",
        "prop_weight": "DOUBLE",
        "normalize": "BOOLEAN",
    },
    returns="BIGINT",
    doc="""MIG (Chen et al. 2025): k rows picked greedily by the information they add to a label graph.

    source is a table, view or query of id, labels (VARCHAR[]) and quality (a number ≥ 0);
    label_source gives every label an embedding (columns label, embedding); a NULL embedding is
    the mean of the embeddings of the rows that carry the label (source then needs an embedding
    column). Labels whose cosine reaches threshold are joined (each to itself with weight 1; others
    × prop_weight), columns normalised; a row's information (quality, or quality / its distinct
    labels when normalize) is spread over the graph, and each step takes the row of largest gain
    under φ = (x + phi_a)^phi_b (pow; the paper's 1e-6 and 0.8) or 1 − exp(−phi_alpha·x) (exp).
    Rows with no labels are never picked; ties go to the lowest key. Writes table into_table (id in
    the source's key type, rank from 1, gain: the pick's information gain) and returns its row count.""",
    example=(
        "SELECT sel_mig('sel_scratch.picks', 'SELECT id, [source] AS labels, 1.0 AS quality FROM "
        "''examples/pool.parquet''', 'SELECT DISTINCT source AS label, sel_hash_embed(source, 64) AS embedding "
        "FROM ''examples/pool.parquet''', 10)"
    ),
    side_effects=True,
    null_handling="special",
    defaults={
        "threshold": "0.9",
        "phi": "'pow'",
        "phi_a": "1e-6",
        "phi_b": "0.8",
        "phi_alpha": "1.0",
        "prop_weight": "1.0",
        "normalize": "false",
    },
)
def sel_mig(
    ctx: FunctionContext,
    into: pa.Array,
    source: pa.Array,
    label_source: pa.Array,
    k: pa.Array,
    threshold: pa.Array,
    phi: pa.Array,
    phi_a: pa.Array,
    phi_b: pa.Array,
    phi_alpha: pa.Array,
    prop_weight: pa.Array,
    normalize: pa.Array,
) -> pa.Array:
    arguments = {"into_table": into, "source": source, "label_source": label_source, "k": k, "threshold": threshold}
    arguments |= {"phi": phi, "phi_a": phi_a, "phi_b": phi_b, "phi_alpha": phi_alpha, "prop_weight": prop_weight}
    given = {name: constant_argument(arr, name) for name, arr in (arguments | {"normalize": normalize}).items()}
    missing = [name for name, value in given.items() if value is None]
    if missing:
        raise ParameterError(f"sel_mig: {', '.join(missing)} must not be NULL")
    if given["phi"] not in PHIS:
        raise ParameterError(f"sel_mig: phi must be one of {', '.join(PHIS)}; got {given['phi']!r}")
    if given["k"] < 1:
        raise ParameterError(f"sel_mig: k must be at least 1; got {given['k']}")
    names, label_vectors = _labels(ctx, str(given["label_source"]))
    averaged = bool(label_vectors.null_count)
    if averaged and "embedding" not in column_names(ctx, str(given["source"])):
        label = names[int(np.flatnonzero(label_vectors.is_null().to_numpy(zero_copy_only=False))[0])].as_py()
        raise InputError(
            f"sel_mig: label {label!r} has no embedding in {given['label_source']!r}, and the pool has no embedding "
            "column to average instead: embed the labels, or give the pool an embedding column."
        )
    pool = _rows(ctx, str(given["source"]), names, with_embedding=averaged)
    embeddings = _label_embeddings(names, label_vectors, pool, str(given["label_source"]))
    budget = memory_budget(ctx)
    try:
        graph = label_graph(
            embeddings, float(given["threshold"]), float(given["prop_weight"]), max_edges=budget // EDGE_BYTES
        )
    except ValueError as exc:
        raise ParameterError(f"sel_mig: {exc} (or memory_limit: a quarter of it holds the graph)") from None
    counts = np.diff(pool.indptr)
    labelled = np.flatnonzero(counts > 0)
    if len(labelled) == 0:
        raise InputError(f"sel_mig: no row of {given['source']!r} has a label; MIG needs labelled rows.")
    indptr = np.concatenate([[0], np.cumsum(counts[labelled])])  # unlabelled rows hold no entries
    weights = pool.quality[labelled] / (counts[labelled] if given["normalize"] else 1)
    try:
        picks = mig_select(
            indptr,
            pool.numbers,
            weights,
            graph,
            min(int(given["k"]), len(labelled)),
            str(given["phi"]),
            float(given["phi_a"]),
            float(given["phi_b"]),
            float(given["phi_alpha"]),
        )
    except ValueError as exc:
        raise ParameterError(f"sel_mig: {exc}") from None
    out = pa.table(
        {
            "id": pool.ids.take(pa.array(labelled[picks.order])),
            "rank": pa.array(np.arange(1, len(picks.order) + 1, dtype=np.int64)),
            "gain": pa.array(picks.gains),
        }
    )
    count = write_rows(ctx, str(given["into_table"]), out, pool.key_type, ("id",))
    return pa.array([count] * len(source), pa.int64())

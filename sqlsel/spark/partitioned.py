"""Set-level functions that Spark runs a partition at a time, nothing gathered on the driver.

A set-level function whose every decision stays within a group of rows (SemDeDup: a k-means cluster)
runs on Spark as ``groupBy(cluster).applyInArrow(...)``: each executor gets one cluster's rows as an
Arrow table and runs the same per-part kernel that DuckDB's run uses past its memory budget
(:func:`sqlsel.udfs.diversity.dedup_part`), so the rows removed are the same as on DuckDB. The
model travels in the function (a :class:`~sqlsel.spark.functions.ModelSnapshot`).

:data:`PARTITIONED` maps a function to its Spark form; the Spark runner uses it for a statement that
is exactly one call of such a function, and runs any other set-level statement on the driver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from sqlsel.errors import ParameterError, SqlselError
from sqlsel.kernels.kmeans import RowStream
from sqlsel.spark.functions import ModelSnapshot, snapshot_context

__all__ = ["PARTITIONED", "semdedup_frame"]


def semdedup_frame(spark: Any, source: Any, args: Mapping[str, Any], snapshot: ModelSnapshot) -> Any:
    """``sel_semdedup``'s output rows for the DataFrame ``source`` (id, embedding, optionally cluster)."""
    from pyspark.sql.functions import expr

    from sqlsel.duck import sql_string
    from sqlsel.kernels.diversity import KEEP

    if args.get("index") is not None:
        raise _driver_only("an index")
    keep = str(args.get("keep") or "hard")
    if keep not in KEEP:
        raise ParameterError(f"keep must be one of {', '.join(KEEP)}; got {keep!r}")
    model, eps, seed = str(args["model"]), float(args["eps"]), int(args.get("seed") or 0)
    columns = [c.lower() for c in source.columns]
    missing = [c for c in ("id", "embedding") if c not in columns]
    if missing:
        raise SqlselError(f"sel_semdedup: the source has no {missing[0]} column; it needs id and embedding")
    if "cluster" not in columns:
        source = source.withColumn("cluster", expr(f"sel_cluster(embedding, {sql_string(model)})"))
    source = source.select("id", "embedding", "cluster")
    id_type = source.schema["id"].dataType.simpleString()
    schema = f"id {id_type}, cluster int, centroid_distance double, max_sim double, dup_of {id_type}, removed boolean"
    return source.groupBy("cluster").applyInArrow(_dedup_cluster(snapshot, model, eps, keep, seed), schema)


def _dedup_cluster(
    snapshot: ModelSnapshot, model: str, eps: float, keep: str, seed: int
) -> Callable[[pa.Table], pa.Table]:
    def dedup(table: pa.Table) -> pa.Table:
        from sqlsel.kernels.keys import key_hashes, sortable_keys
        from sqlsel.kernels.vectors import VectorError, vector_matrix
        from sqlsel.relations import VectorBatch, check_unique
        from sqlsel.stored import load_hierarchy
        from sqlsel.udfs.diversity import DedupRule, check_model_dim, dedup_part, sorted_part

        ids = table.column("id").combine_chunks()
        if ids.null_count:
            raise SqlselError("sel_semdedup: the source has rows with a NULL id; every row needs one.")
        try:
            x = vector_matrix(table.column("embedding").combine_chunks(), None)
        except VectorError as exc:
            raise SqlselError(f"sel_semdedup: row id {ids[exc.row].as_py()!r}: {exc}") from None
        tree = load_hierarchy(snapshot_context(snapshot), model)
        check_model_dim(x.shape[1], tree, model)
        clusters = table.column("cluster").to_numpy().astype(np.float64)
        batch = VectorBatch(np.array(sortable_keys(ids), copy=True), key_hashes(ids), x, {"cluster": clusters})
        part = sorted_part([batch], "")
        check_unique(part.keys, "sel_semdedup", "its source")
        result = dedup_part(part, tree, DedupRule(eps, keep, seed, 1))
        id_type = ids.type
        return pa.table(
            {
                "id": result.column("id").cast(id_type),
                "cluster": result.column("cluster"),
                "centroid_distance": result.column("centroid_distance"),
                "max_sim": result.column("max_sim"),
                "dup_of": result.column("dup_of").cast(id_type),
                "removed": result.column("removed"),
            }
        )

    return dedup


class SparkRows(RowStream):
    """A :class:`~sqlsel.kernels.kmeans.RowStream` whose passes run on Spark's executors.

    A sampled k-means fit makes three kinds of pass over its rows (:func:`sqlsel.kernels.kmeans._sampled_fit`):
    the seeded sample (the rows whose key hashes draw the smallest uniforms: Spark's top-N, so only
    the sample reaches the driver), Lloyd steps (each partition sums its rows per cluster as int64,
    and integer sums add up the same in any partitioning), and the final assignment (sizes and the
    potential per partition). So the centroids equal DuckDB's bit for bit; the potential, summed per
    partition, may differ in the last bits.
    """

    def __init__(self, frame: Any, rows: int, dim: int) -> None:
        super().__init__(_no_blocks, rows, dim)
        object.__setattr__(self, "frame", frame.select("id", "embedding"))

    def sample(self, m: int, seed: int) -> tuple[np.ndarray, float]:
        from pyspark.sql import functions as F

        scored = self.frame.mapInArrow(_uniforms(seed), "h bigint, u double, peak float, embedding array<float>")
        picked = scored.orderBy("u").limit(m).select("h", "embedding").toArrow()
        totals = scored.agg(F.max("peak").alias("peak"), F.count(F.lit(1)).alias("n")).collect()[0]
        if int(totals["n"]) != self.rows:
            raise SqlselError(f"the rows changed while they were read ({self.rows} rows, then {totals['n']})")
        from sqlsel.kernels.vectors import vector_matrix

        hashes = picked.column("h").to_numpy().view(np.uint64)
        order = np.argsort(hashes, kind="stable")  # by hash, as DuckDB's sample: the same matrix in any order
        x = vector_matrix(picked.column("embedding").combine_chunks())[order]
        return np.ascontiguousarray(x, np.float32), float(totals["peak"] or 0.0)

    def lloyd_step(self, centroids: np.ndarray, scale: float) -> np.ndarray:
        from sqlsel.kernels.kmeans import means_of

        k, d = centroids.shape
        sums, counts = np.zeros((k, d), np.int64), np.zeros(k, np.int64)
        schema = "cluster int, n bigint, sums array<bigint>, potential double"
        for row in self.frame.mapInArrow(_partials(centroids, scale), schema).toArrow().to_pylist():
            sums[row["cluster"]] += np.asarray(row["sums"], np.int64)
            counts[row["cluster"]] += row["n"]
        return means_of(centroids, sums, counts, scale)

    def assignment(self, centroids: np.ndarray) -> tuple[None, None, np.ndarray, float]:
        counts = np.zeros(len(centroids), np.int64)
        potential = 0.0
        schema = "cluster int, n bigint, sums array<bigint>, potential double"
        for row in self.frame.mapInArrow(_partials(centroids, None), schema).toArrow().to_pylist():
            counts[row["cluster"]] += row["n"]
            potential += row["potential"]
        return None, None, counts, potential


def _no_blocks() -> Any:
    raise SqlselError("rows on Spark are read by their passes, not block by block")


def _uniforms(seed: int) -> Callable[[Any], Any]:
    """Per row: its key hash (as a signed bigint), seeded uniform, largest |value|, and its embedding."""

    def score(batches: Any) -> Any:
        from sqlsel.kernels.keys import key_hashes
        from sqlsel.kernels.sampling import uniform
        from sqlsel.kernels.vectors import vector_matrix

        for batch in batches:
            hashes = key_hashes(batch.column(0))
            x = vector_matrix(batch.column(1))
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(hashes.view(np.int64)),
                    pa.array(uniform(hashes, seed)),
                    pa.array(np.abs(x).max(axis=1, initial=0.0).astype(np.float32)),
                    batch.column(1).cast(pa.list_(pa.float32())),
                ],
                ["h", "u", "peak", "embedding"],
            )

    return score


def _partials(centroids: np.ndarray, scale: float | None) -> Callable[[Any], Any]:
    """Per partition and cluster: rows, their int64 sums at ``scale`` (None: no sums), their squared distances' sum."""

    def partials(batches: Any) -> Any:
        from sqlsel.kernels.kmeans import add_scaled_rows, flat_index, nearest_centroids, search_threads
        from sqlsel.kernels.vectors import vector_matrix

        k, d = centroids.shape
        index = flat_index(centroids)
        search_threads(1)
        sums, counts, potential = np.zeros((k, d), np.int64), np.zeros(k, np.int64), np.zeros(k)
        for batch in batches:
            x = vector_matrix(batch.column(1))
            labels, dist = nearest_centroids(index, x, centroids)
            if scale is None:
                counts += np.bincount(labels, minlength=k)
                potential += np.bincount(labels, weights=dist.astype(np.float64), minlength=k)
            else:
                add_scaled_rows(sums, counts, x, labels, scale)
        used = np.flatnonzero(counts)
        yield pa.RecordBatch.from_arrays(
            [
                pa.array(used.astype(np.int32)),
                pa.array(counts[used]),
                pa.array(
                    [sums[c].tolist() for c in used] if scale is not None else [[]] * len(used), pa.list_(pa.int64())
                ),
                pa.array(potential[used]),
            ],
            ["cluster", "n", "sums", "potential"],
        )

    return partials


def kmeans_fit(
    spark: Any, source: Any, args: Mapping[str, Any], snapshot: ModelSnapshot, ctx: Any
) -> tuple[None, int] | None:
    """``sel_kmeans_fit`` of a Spark DataFrame: a sampled fit's passes on the executors, the model stored by the driver.

    None when the fit is not a sampled one (``sample: 0``, ``steps[0] > 1``, or too few rows to sample):
    the runner then reads the rows on the driver as DuckDB would.
    """
    from pyspark.sql import functions as F

    from sqlsel.udfs.kmeans import DEFAULT_OPTIONS, fit_and_store, parse_clusters, parse_options, streams_on_sample

    clusters = parse_clusters(str(args["clusters"]))
    options = {**DEFAULT_OPTIONS, **parse_options(args.get("options"))}
    shape = source.agg(F.count(F.lit(1)).alias("n"), F.max(F.size("embedding")).alias("d")).collect()[0]
    rows, dim = int(shape["n"]), int(shape["d"] or 0)
    if not streams_on_sample(options, clusters[0], rows):
        return None
    ids = source.agg(F.count("id").alias("k"), F.countDistinct("id").alias("u")).collect()[0]
    if int(ids["k"]) != rows or int(ids["u"]) != rows:
        raise SqlselError("sel_kmeans_fit: the source's ids must be unique and not NULL")
    ctx.check_writable(f"k-means model {args['name']!r}")
    stream = SparkRows(source, rows, dim)
    fitted = fit_and_store(
        ctx, str(args["name"]), stream, "its source", clusters, int(args.get("seed") or 0), options, rows, dim
    )
    return None, fitted


def _driver_only(what: str) -> SqlselError:
    return SqlselError(f"sel_semdedup with {what} runs on DuckDB only")


#: Set-level functions with a partitioned Spark form: name -> (spark, source frame, arguments, models, catalog
#: context) -> (the frame of the table it writes or None, its row count), or None to run it on the driver instead.
PARTITIONED: dict[str, Callable[[Any, Any, Mapping[str, Any], ModelSnapshot, Any], tuple[Any, int] | None]] = {
    "sel_semdedup": lambda spark, source, args, snapshot, ctx: (semdedup_frame(spark, source, args, snapshot), 0),
    "sel_kmeans_fit": kmeans_fit,
}

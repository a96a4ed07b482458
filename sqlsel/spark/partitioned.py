"""Set-level functions that Spark runs a partition at a time, nothing gathered on the driver.

A set-level function whose every decision stays within a group of rows (SemDeDup: a k-means cluster)
runs on Spark as ``groupBy(cluster).applyInArrow(...)``: each executor gets one cluster's rows as an
Arrow table and runs the same per-part kernel that DuckDB's run uses past its memory budget
(:func:`sqlsel.udfs.diversity._dedup_part`), so the rows removed are the same as on DuckDB. The
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
        from sqlsel.udfs.diversity import _check_dim, _dedup_part, _DedupRule, _sorted_part
        from sqlsel.udfs.kmeans import load_hierarchy

        ids = table.column("id").combine_chunks()
        if ids.null_count:
            raise SqlselError("sel_semdedup: the source has rows with a NULL id; every row needs one.")
        try:
            x = vector_matrix(table.column("embedding").combine_chunks(), None)
        except VectorError as exc:
            raise SqlselError(f"sel_semdedup: row id {ids[exc.row].as_py()!r}: {exc}") from None
        tree = load_hierarchy(snapshot_context(snapshot), model)
        _check_dim(x.shape[1], tree, model)
        clusters = table.column("cluster").to_numpy().astype(np.float64)
        batch = VectorBatch(np.array(sortable_keys(ids), copy=True), key_hashes(ids), x, {"cluster": clusters})
        part = _sorted_part([batch], "")
        check_unique(part.keys, "sel_semdedup", "its source")
        result = _dedup_part(part, tree, _DedupRule(eps, keep, seed, 1))
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


def _driver_only(what: str) -> SqlselError:
    return SqlselError(f"sel_semdedup with {what} runs on DuckDB only")


#: Set-level functions with a partitioned Spark form: name -> (spark, source frame, arguments, models) -> frame.
PARTITIONED: dict[str, Callable[[Any, Any, Mapping[str, Any], ModelSnapshot], Any]] = {"sel_semdedup": semdedup_frame}

"""What the catalog stores, opened for the functions that read it: k-means hierarchies, vector tables and indexes.

Several families read the same stored objects (SemDeDup and the quota functions a k-means model,
SemDeDup and ``sel_knn`` a vector index), so opening them lives here, below the families, and no
family imports another. Each opener looks the name up through the run's staging
(:meth:`FunctionContext.read_name`) and refuses an unknown or stale name with the names it knows.

Example:
    >>> import sqlsel
    >>> con = sqlsel.connect()
    >>> con.sql("CREATE TABLE sel_scratch.v AS SELECT range AS id, [range, 1.0]::FLOAT[] AS embedding "
    ...         "FROM range(6)").fetchall()
    [(6,)]
    >>> con.sql("SELECT sel_kmeans_fit('two', 'sel_scratch.v', '2', 0)").fetchall()
    [(6,)]
    >>> con.sql("SELECT sel_cluster([0.0, 1.0], 'two') = sel_cluster([1.0, 1.0], 'two')").fetchall()
    [(True,)]
    >>> con.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sqlsel.catalog import STAGED
from sqlsel.errors import InputError, ParameterError, UnknownIndexError, UnknownVectorTableError
from sqlsel.functions import FunctionContext
from sqlsel.kernels.kmeans import fit_threads, flat_index, nearest_centroids, search_threads
from sqlsel.kernels.vectors import vector_matrix
from sqlsel.lance import VectorIndex, open_table

__all__ = ["KMEANS", "KMEANS_FIT_HINT", "Hierarchy", "load_hierarchy", "open_vector_table", "open_index"]

KMEANS = "kmeans"  # sel_models.kind of a k-means model
KMEANS_FIT_HINT = "Fit one with SELECT sel_kmeans_fit('name', 'table_with_id_and_embedding', '100,10', 42)."
BATCH_ROWS = 2048  # rows DuckDB hands a Python function per call


@dataclass(frozen=True)
class Hierarchy:
    """A stored model: centroids per level (finest first) and each cluster's parent one level up."""

    centroids: list[np.ndarray]
    parents: list[np.ndarray]  # parents[l][c]: cluster at level l+2 of cluster c at level l+1
    index: Any  # exact faiss index over the level-1 centroids (kernels.kmeans.flat_index)

    @property
    def dim(self) -> int:
        return int(self.centroids[0].shape[1])

    def paths(self, x: np.ndarray, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Cluster per level (rows × levels, level 1 first) and squared distance to the level-1 centroid.

        ``threads``: OpenMP threads of the search (a function's share of the connection's); by default
        one for a DuckDB batch, every core for a whole relation (sel_semdedup). The result is the same.
        """
        search_threads(threads or (1 if len(x) <= BATCH_ROWS else fit_threads()))  # per calling thread
        nearest, dist = nearest_centroids(self.index, x, self.centroids[0])
        path = np.empty((len(x), len(self.centroids)), np.int32)
        path[:, 0] = nearest
        for level, parent in enumerate(self.parents):
            path[:, level + 1] = parent[path[:, level]]
        return path, dist


def load_hierarchy(ctx: FunctionContext, name: str) -> Hierarchy:
    model_id, params = ctx.model(name, KMEANS, KMEANS_FIT_HINT)

    def build() -> Hierarchy:
        tbl = ctx.arrow(
            "SELECT level, parent, centroid FROM sel_kmeans_centroids WHERE model_id = ? ORDER BY level, cluster",
            [model_id],
        )
        level = tbl.column("level").to_numpy()
        matrix = vector_matrix(tbl.column("centroid"))
        parent = tbl.column("parent").to_numpy(zero_copy_only=False)
        levels = len(params["clusters"])
        centroids = [matrix[level == lv] for lv in range(1, levels + 1)]
        parents = [parent[level == lv].astype(np.int32) for lv in range(1, levels)]
        return Hierarchy(centroids, parents, flat_index(centroids[0]))

    return ctx.cached((KMEANS, model_id), build)


def open_vector_table(ctx: FunctionContext, name: str) -> tuple[object, dict[str, object]]:
    """The LanceDB table registered as ``name`` and its catalog row."""
    rows = ctx.query(
        "SELECT path, lance_table, rows, dim, version FROM sel_vector_tables WHERE name = ?", [ctx.read_name(name)]
    )
    if not rows:
        known = [r[0] for r in ctx.query("SELECT name FROM sel_vector_tables WHERE NOT contains(name, ?)", [STAGED])]
        raise UnknownVectorTableError(name, known, "Store one with SELECT sel_vectors_store('name', 'table_or_query').")
    path, lance_table, count, dim, version = rows[0]
    try:
        table = open_table(Path(path), lance_table)
    except Exception as exc:  # noqa: BLE001 - lancedb raises several kinds for a missing table
        raise InputError(
            f"Vector table {name!r} is registered at {path} but cannot be opened ({exc}); store it again."
        ) from None
    return table, {"rows": count, "dim": dim, "version": version, "path": path, "lance_table": lance_table}


def open_index(ctx: FunctionContext, name: str, metric: str | None = None) -> VectorIndex:
    """The index ``name``, refused when unknown, stale, or built with another metric than ``metric``."""

    def build() -> VectorIndex:
        rows = ctx.query(
            "SELECT i.vector_table, i.lance_table, i.metric, i.index_type, i.data_version, t.lance_table, t.dim "
            "FROM sel_vector_indexes i LEFT JOIN sel_vector_tables t ON t.name = i.vector_table WHERE i.name = ?",
            [ctx.read_name(name)],
        )
        if not rows:
            known = [
                r[0] for r in ctx.query("SELECT name FROM sel_vector_indexes WHERE NOT contains(name, ?)", [STAGED])
            ]
            raise UnknownIndexError(name, known, "Build one with SELECT sel_index_build('name', 'vector_table').")
        vector_table, built_on, distance, kind, version, current, dim = rows[0]
        vector_table = vector_table.split(STAGED)[0]  # the name the user knows
        fix = f"Rebuild it: SELECT sel_index_build('{name}', '{vector_table}', '{distance}', '{kind}')."
        if current != built_on:
            raise InputError(f"Vector index {name!r} is stale: vector table {vector_table!r} was stored again. {fix}")
        table, _ = open_vector_table(ctx, vector_table)
        if table.version != version:  # type: ignore[attr-defined]
            raise InputError(f"Vector index {name!r} is stale: its Lance table changed since the build. {fix}")
        return VectorIndex(table, distance, kind, int(dim))

    index = build()  # cheap catalog reads; a rebuilt or re-stored table must never be served from a cache
    if metric is not None and metric != index.metric:
        raise ParameterError(
            f"Vector index {name!r} was built with metric {index.metric!r}, not {metric!r}: its distances would "
            f"not mean what you asked for. Build one with SELECT sel_index_build('name', 'vector_table', '{metric}')."
        )
    return index

-- k-means models. A model is a sel_models row (kind 'kmeans'; params: clusters per level, dim, seed,
-- iterations, steps, sample_sizes, strategy, rows); its centroids live here, one row per cluster.

CREATE TABLE sel_kmeans_centroids (
    model_id BIGINT NOT NULL,
    level    INTEGER NOT NULL,  -- 1: clusters of rows; level l > 1: clusters of the level l-1 centroids
    cluster  INTEGER NOT NULL,  -- 0-based within its level
    parent   INTEGER,           -- its cluster at level + 1 (NULL at the top level)
    size     BIGINT NOT NULL,   -- rows of the fitted data under this cluster
    centroid FLOAT[] NOT NULL
);

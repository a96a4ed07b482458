-- description: D4 (Tirumala et al. 2023): SemDeDup, then re-cluster the kept rows and keep the least prototypical share of each cluster.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id, a text column and optionally an embedding column
-- param eps: DOUBLE = 0.05; SemDeDup: a row is removed when its cosine similarity to an earlier row of its cluster exceeds 1 - eps
-- param ratio: DOUBLE = 0.5; share of the deduplicated rows kept by prototype pruning, per cluster (the farthest from their centroid)
-- param clusters: INTEGER = 100; k-means clusters, for the dedup and for the re-clustering
-- param seed: BIGINT = 0; seed of both k-means fits
-- param embedder: VARCHAR = 'auto'; auto (the pool's embedding column when it has one, else hash), column, hash, or a sel_embed model
-- param dim: INTEGER = 256; dimension of the hash embeddings
-- param model: VARCHAR = 'd4'; catalog name of the re-clustering k-means model (the dedup model is <model>_dedup)
-- fits: model

SELECT CASE WHEN NOT ($eps >= 0 AND $eps <= 2) THEN error('eps must be between 0 and 2; got ' || $eps::VARCHAR) END;
SELECT CASE WHEN NOT ($ratio > 0 AND $ratio <= 1) THEN error('ratio must be in (0, 1]; got ' || $ratio::VARCHAR) END;

CREATE OR REPLACE TEMP TABLE _pool_columns AS
SELECT count(*) FILTER (column_name = 'embedding') > 0 AS has_embedding FROM (DESCRIBE pool);

SELECT CASE WHEN $embedder = 'column' AND NOT has_embedding
            THEN error('embedder column needs an embedding column in pool; use embedder hash to embed text') END
FROM _pool_columns;

CREATE OR REPLACE TABLE sel_scratch.d4_vectors AS
WITH rows AS (FROM pool UNION ALL BY NAME (SELECT NULL::FLOAT[] AS embedding WHERE false))
SELECT id,
       sel_recipe_embedding(embedding, text, $embedder, $dim, (SELECT has_embedding FROM _pool_columns)) AS embedding
FROM rows;

-- Computed embeddings can be missing (a text without tokens): such rows are never selected.
DELETE FROM sel_scratch.d4_vectors
WHERE embedding IS NULL AND NOT sel_embedder_uses_column($embedder, (SELECT has_embedding FROM _pool_columns));

-- 1. SemDeDup within the clusters of a first fit.
SELECT sel_kmeans_fit($model || '_dedup', 'sel_scratch.d4_vectors', $clusters::VARCHAR, $seed);

CREATE OR REPLACE TEMP TABLE _d4_dedup AS
SELECT unnest(sel_semdedup('sel_scratch.d4_vectors', $model || '_dedup', $eps, 'hard', $seed), recursive := true);

DELETE FROM sel_scratch.d4_vectors WHERE id IN (SELECT id FROM _d4_dedup WHERE removed);

-- 2. Re-cluster what is left; keep the share of each cluster farthest from its centroid.
SELECT sel_kmeans_fit($model, 'sel_scratch.d4_vectors', $clusters::VARCHAR, $seed);

CREATE OR REPLACE TEMP TABLE _d4_kept AS
SELECT id, cluster, centroid_distance
FROM (SELECT id, sel_cluster(embedding, $model) AS cluster, sel_centroid_distance(embedding, $model) AS centroid_distance
      FROM sel_scratch.d4_vectors)
QUALIFY row_number() OVER (PARTITION BY cluster ORDER BY centroid_distance DESC, id)
        <= round($ratio * count(*) OVER (PARTITION BY cluster));

DROP TABLE sel_scratch.d4_vectors;

SELECT pool.*, k.cluster, k.centroid_distance
FROM pool JOIN _d4_kept k USING (id)
ORDER BY id;

-- description: D4 (Tirumala et al. 2023): SemDeDup, then re-cluster the kept rows and keep the least prototypical share of each cluster.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id and a text column, an embedding column, or both
-- param eps: DOUBLE = 0.05 in [0, 2]; SemDeDup: a row is removed when its cosine similarity to an earlier row of its cluster exceeds 1 - eps
-- param ratio: DOUBLE = 0.5 in (0, 1]; share of the deduplicated rows kept by prototype pruning, per cluster (the farthest from their centroid)
-- param clusters: INTEGER = 100 >= 1; k-means clusters, for the dedup and for the re-clustering
-- param seed: BIGINT = 0; seed of both k-means fits
-- param embedder: VARCHAR = 'auto'; auto (the pool's embedding column when it has one, else hash), column, hash, or a sel_embed model
-- param dim: INTEGER = 256 >= 1; dimension of the hash embeddings
-- param model: VARCHAR = 'd4'; catalog name of the re-clustering k-means model (the dedup model is <model>_dedup)
-- key: pool
-- optional pool: text VARCHAR, embedding FLOAT[]
-- fits: model

SELECT sel_embedder_error($embedder, $pool_has_embedding);

-- Rows whose text gives no embedding (no tokens) are never selected.
CREATE OR REPLACE TABLE sel_scratch.d4_vectors AS
SELECT id, embedding
FROM (SELECT id, sel_recipe_embedding(embedding, text, $embedder, $dim, $pool_has_embedding) AS embedding FROM pool)
WHERE embedding IS NOT NULL OR sel_embedder_uses_column($embedder, $pool_has_embedding);

-- 1. SemDeDup within the clusters of a first fit.
SELECT sel_kmeans_fit($model || '_dedup', 'sel_scratch.d4_vectors', $clusters::VARCHAR, $seed);

SELECT sel_semdedup('sel_scratch.d4_dedup', 'sel_scratch.d4_vectors', $model || '_dedup', $eps, 'hard', $seed);

CREATE OR REPLACE TABLE sel_scratch.d4_kept_vectors AS
SELECT v.id, v.embedding FROM sel_scratch.d4_vectors v JOIN sel_scratch.d4_dedup d USING (id) WHERE NOT d.removed;

-- 2. Re-cluster what is left; keep the share of each cluster farthest from its centroid.
SELECT sel_kmeans_fit($model, 'sel_scratch.d4_kept_vectors', $clusters::VARCHAR, $seed);

CREATE OR REPLACE TEMP TABLE _d4_kept AS
SELECT id, cluster, centroid_distance
FROM (SELECT id, sel_cluster(embedding, $model) AS cluster, sel_centroid_distance(embedding, $model) AS centroid_distance
      FROM sel_scratch.d4_kept_vectors)
QUALIFY row_number() OVER (PARTITION BY cluster ORDER BY centroid_distance DESC, id)
        <= round($ratio * count(*) OVER (PARTITION BY cluster));

SELECT pool.*, k.cluster, k.centroid_distance
FROM pool JOIN _d4_kept k USING (id)
ORDER BY id;

-- description: SemDeDup (Abbas et al. 2023): drop semantic near-duplicates found within k-means clusters of the pool's embeddings.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id and a text column, an embedding column, or both
-- param eps: DOUBLE = 0.05 in [0, 2]; a row is removed when its cosine similarity to an earlier row of its cluster exceeds 1 - eps
-- param clusters: INTEGER = 100 >= 1; k-means clusters; rows are compared within their cluster only
-- param keep: VARCHAR = 'hard' in {hard, easy, random}; which row of a duplicate group stays: hard (farthest from the centroid), easy (closest) or random
-- param seed: BIGINT = 0; seed of the k-means fit and of the random order
-- param removed: BOOLEAN = false; output the removed rows (each with the row it duplicates) instead of the kept ones
-- param embedder: VARCHAR = 'auto'; auto (the pool's embedding column when it has one, else hash), column, hash, or a sel_embed model
-- param dim: INTEGER = 256 >= 1; dimension of the hash embeddings
-- param model: VARCHAR = 'semdedup'; catalog name of the k-means model
-- key: pool
-- optional pool: text VARCHAR, embedding FLOAT[]
-- fits: model

SELECT sel_embedder_error($embedder, $pool_has_embedding);

-- Rows whose text gives no embedding (no tokens) are kept, never compared.
CREATE OR REPLACE TABLE sel_scratch.semdedup_vectors AS
SELECT id, embedding
FROM (SELECT id, sel_recipe_embedding(embedding, text, $embedder, $dim, $pool_has_embedding) AS embedding FROM pool)
WHERE embedding IS NOT NULL OR sel_embedder_uses_column($embedder, $pool_has_embedding);

SELECT sel_kmeans_fit($model, 'sel_scratch.semdedup_vectors', $clusters::VARCHAR, $seed);

SELECT sel_semdedup('sel_scratch.semdedup', 'sel_scratch.semdedup_vectors', $model, $eps, $keep, $seed);

SELECT pool.*, d.cluster, d.max_sim, d.dup_of
FROM pool LEFT JOIN sel_scratch.semdedup d USING (id)
WHERE coalesce(d.removed, false) = $removed
ORDER BY id;

-- description: SemDeDup (Abbas et al. 2023): drop semantic near-duplicates found within k-means clusters of the pool's embeddings.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id, a text column and optionally an embedding column
-- param eps: DOUBLE = 0.05; a row is removed when its cosine similarity to an earlier row of its cluster exceeds 1 - eps
-- param clusters: INTEGER = 100; k-means clusters; rows are compared within their cluster only
-- param keep: VARCHAR = 'hard'; which row of a duplicate group stays: hard (farthest from the centroid), easy (closest) or random
-- param seed: BIGINT = 0; seed of the k-means fit and of the random order
-- param removed: BOOLEAN = false; output the removed rows (each with the row it duplicates) instead of the kept ones
-- param embedder: VARCHAR = 'auto'; auto (the pool's embedding column when it has one, else hash), column, hash, or a sel_embed model
-- param dim: INTEGER = 256; dimension of the hash embeddings
-- param model: VARCHAR = 'semdedup'; catalog name of the k-means model
-- fits: model

SELECT CASE WHEN NOT ($eps >= 0 AND $eps <= 2) THEN error('eps must be between 0 and 2; got ' || $eps::VARCHAR) END;
SELECT CASE WHEN $keep NOT IN ('hard', 'easy', 'random')
            THEN error('keep must be hard, easy or random; got ' || coalesce('''' || $keep || '''', 'NULL')) END;

CREATE OR REPLACE TEMP TABLE _pool_columns AS
SELECT count(*) FILTER (column_name = 'embedding') > 0 AS has_embedding FROM (DESCRIBE pool);

SELECT CASE WHEN $embedder = 'column' AND NOT has_embedding
            THEN error('embedder column needs an embedding column in pool; use embedder hash to embed text') END
FROM _pool_columns;

CREATE OR REPLACE TABLE sel_scratch.semdedup_vectors AS
WITH rows AS (FROM pool UNION ALL BY NAME (SELECT NULL::FLOAT[] AS embedding WHERE false))
SELECT id,
       sel_recipe_embedding(embedding, text, $embedder, $dim, (SELECT has_embedding FROM _pool_columns)) AS embedding
FROM rows;

-- Computed embeddings can be missing (a text without tokens): such rows are kept, never compared.
DELETE FROM sel_scratch.semdedup_vectors
WHERE embedding IS NULL AND NOT sel_embedder_uses_column($embedder, (SELECT has_embedding FROM _pool_columns));

SELECT sel_kmeans_fit($model, 'sel_scratch.semdedup_vectors', $clusters::VARCHAR, $seed);

CREATE OR REPLACE TEMP TABLE _semdedup AS
SELECT unnest(sel_semdedup('sel_scratch.semdedup_vectors', $model, $eps, $keep, $seed), recursive := true);

DROP TABLE sel_scratch.semdedup_vectors;

SELECT pool.*, d.cluster, d.max_sim, d.dup_of
FROM pool LEFT JOIN _semdedup d USING (id)
WHERE coalesce(d.removed, false) = $removed
ORDER BY id;

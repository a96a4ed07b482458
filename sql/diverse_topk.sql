-- description: Diverse top-k: k pool rows that cover the embedding space (k-center greedy), trade relevance for novelty (MMR) or stay below a similarity threshold.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id, a text column, optionally embedding and score columns
-- param k: BIGINT; rows to select
-- param method: VARCHAR = 'kcenter'; kcenter (farthest-first from a seeded start), mmr (relevance = the pool's score column) or threshold (walk by score, keep rows below tau)
-- param lambda: DOUBLE = 0.5; MMR's weight of relevance against redundancy (1: top-k by score, 0: pure diversity)
-- param tau: DOUBLE = 0.9; threshold: a row is kept only if its cosine similarity to every kept row is below tau
-- param seed: BIGINT = 0; seed of k-center's start row
-- param embedder: VARCHAR = 'auto'; auto (the pool's embedding column when it has one, else hash), column, hash, or a sel_embed model
-- param dim: INTEGER = 256; dimension of the hash embeddings

SELECT CASE WHEN $k <= 0 THEN error('k must be a positive number of rows; got ' || $k::VARCHAR) END;
SELECT CASE WHEN $method NOT IN ('kcenter', 'mmr', 'threshold')
            THEN error('method must be kcenter, mmr or threshold; got ' || coalesce('''' || $method || '''', 'NULL')) END;

CREATE OR REPLACE TEMP TABLE _pool_columns AS
SELECT count(*) FILTER (column_name = 'embedding') > 0 AS has_embedding,
       count(*) FILTER (column_name = 'score') > 0 AS has_score
FROM (DESCRIBE pool);

SELECT CASE WHEN $embedder = 'column' AND NOT has_embedding
            THEN error('embedder column needs an embedding column in pool; use embedder hash to embed text') END,
       CASE WHEN $method = 'mmr' AND NOT has_score
            THEN error('method mmr needs a numeric score column in pool (its relevance)') END
FROM _pool_columns;

CREATE OR REPLACE TABLE sel_scratch.diverse_vectors AS
WITH rows AS (FROM pool UNION ALL BY NAME (SELECT NULL::FLOAT[] AS embedding, NULL::DOUBLE AS score WHERE false))
SELECT id, coalesce(score, 0)::DOUBLE AS score,
       sel_recipe_embedding(embedding, text, $embedder, $dim, (SELECT has_embedding FROM _pool_columns)) AS embedding
FROM rows;

-- Computed embeddings can be missing (a text without tokens): such rows are never selected.
DELETE FROM sel_scratch.diverse_vectors
WHERE embedding IS NULL AND NOT sel_embedder_uses_column($embedder, (SELECT has_embedding FROM _pool_columns));

CREATE OR REPLACE TEMP TABLE _picks AS
SELECT unnest(CASE $method
                  WHEN 'kcenter' THEN sel_kcenter('sel_scratch.diverse_vectors', least($k, (SELECT count(*) FROM sel_scratch.diverse_vectors)), $seed)
                  WHEN 'mmr' THEN sel_mmr('SELECT id, embedding, score AS relevance FROM sel_scratch.diverse_vectors',
                                          least($k, (SELECT count(*) FROM sel_scratch.diverse_vectors)), $lambda)
                  ELSE sel_threshold_greedy('sel_scratch.diverse_vectors', least($k, (SELECT count(*) FROM sel_scratch.diverse_vectors)), $tau)
              END, recursive := true);

DROP TABLE sel_scratch.diverse_vectors;

SELECT pool.*, p.rank, p.nearest_sim
FROM pool JOIN _picks p USING (id)
ORDER BY p.rank;

-- description: Diverse top-k: k pool rows that cover the embedding space (k-center greedy, or facility location), trade relevance for novelty (MMR) or stay below a similarity threshold.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id, a text column, optionally embedding and score columns
-- param k: BIGINT >= 1; rows to select
-- param method: VARCHAR = 'kcenter' in {kcenter, facility, mmr, threshold}; kcenter (farthest-first from a seeded start), facility (facility location: the rows that best represent all rows), mmr (relevance = the pool's score column, rescaled to [0, 1]) or threshold (walk by score, keep rows below tau)
-- param lambda: DOUBLE = 0.5 in [0, 1]; MMR's weight of relevance against redundancy (1: top-k by score, 0: pure diversity)
-- param tau: DOUBLE = 0.9 in [-1, 1]; threshold: a row is kept only if its cosine similarity to every kept row is below tau
-- param seed: BIGINT = 0; seed of k-center's start row
-- param neighbours: INTEGER = 0 >= 0; facility: 0 compares every pair of rows (up to ~16,000 rows in 2 GB), m covers each row's m most similar rows only (larger pools)
-- param embedder: VARCHAR = 'auto'; auto (the pool's embedding column when it has one, else hash), column, hash, or a sel_embed model
-- param dim: INTEGER = 256 >= 1; dimension of the hash embeddings
-- key: pool
-- optional pool: text VARCHAR, embedding FLOAT[], score DOUBLE
-- metric score_min: SELECT min(s.score) FROM sel_scratch.diverse_scores s JOIN sel_scratch.diverse_vectors USING (id)
-- metric score_max: SELECT max(s.score) FROM sel_scratch.diverse_scores s JOIN sel_scratch.diverse_vectors USING (id)

SELECT CASE WHEN $method IN ('mmr', 'threshold') AND NOT $pool_has_score
            THEN error('method ' || $method || ' needs a numeric score column in pool (its relevance)') END,
       sel_embedder_error($embedder, $pool_has_embedding);

-- Rows whose text gives no embedding (no tokens) are never selected; for mmr and threshold neither are rows
-- whose score is NULL, NaN or infinite. MMR compares relevance with cosine similarities, so the score is
-- rescaled to [0, 1] over the eligible rows (min 0, max 1; all equal: 1); the run reports the raw range.
CREATE OR REPLACE TABLE sel_scratch.diverse_scores AS
SELECT id, CASE WHEN $method IN ('kcenter', 'facility') THEN NULL ELSE CAST(score AS DOUBLE) END AS score
FROM pool
WHERE $method IN ('kcenter', 'facility') OR (score IS NOT NULL AND sel_is_finite(CAST(score AS DOUBLE)));

CREATE OR REPLACE TABLE sel_scratch.diverse_vectors AS
WITH vectors AS (
    SELECT id, embedding
    FROM (SELECT id, sel_recipe_embedding(embedding, text, $embedder, $dim, $pool_has_embedding) AS embedding FROM pool)
    WHERE embedding IS NOT NULL OR sel_embedder_uses_column($embedder, $pool_has_embedding)
), eligible AS (
    SELECT v.id, v.embedding, s.score FROM vectors v JOIN sel_scratch.diverse_scores s USING (id)
)
SELECT id, embedding, coalesce((score - min(score) OVER ()) / nullif(max(score) OVER () - min(score) OVER (), 0), 1.0) AS score
FROM eligible;

CREATE OR REPLACE TABLE sel_scratch.diverse_picks AS
SELECT id, NULL::BIGINT AS rank, NULL::DOUBLE AS nearest_sim FROM pool WHERE false;

SELECT CASE $method
           WHEN 'kcenter' THEN sel_kcenter('sel_scratch.diverse_picks', 'sel_scratch.diverse_vectors', least($k, n), $seed)
           WHEN 'facility' THEN sel_facility_location('sel_scratch.diverse_picks', 'sel_scratch.diverse_vectors',
                                                      least($k, n), $neighbours)
           WHEN 'mmr' THEN sel_mmr('sel_scratch.diverse_picks', 'SELECT id, embedding, score AS relevance FROM sel_scratch.diverse_vectors',
                                   least($k, n), $lambda)
           ELSE sel_threshold_greedy('sel_scratch.diverse_picks', 'sel_scratch.diverse_vectors', least($k, n), $tau)
       END
FROM (SELECT count(*) AS n FROM sel_scratch.diverse_vectors)
WHERE n > 0;

SELECT pool.*, p.rank, p.nearest_sim
FROM pool JOIN sel_scratch.diverse_picks p USING (id)
ORDER BY p.rank;

-- description: TAROT (Feng et al. 2024): the pool rows nearest the target in whitened embedding space, each target row taking its nearest rows in turn; k = 0 chooses how many by optimal transport.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id and a text column, an embedding column, or both
-- param target: table; target examples (Parquet or JSONL path or glob) with a text column, an embedding column, or both
-- param k: BIGINT >= 0; rows to select; 0 chooses the size: the selection grows while its OT distance to held-out parts of the target falls (the curve is in the run's metrics)
-- param folds: INTEGER = 5 >= 2; k = 0: parts the target is split into, each held out in turn
-- param ridge: DOUBLE = 1e-05 > 0; whitening's regulariser, relative to the mean variance (lets a target or pool with fewer rows than dimensions be whitened)
-- param seed: BIGINT = 0; k = 0: seed of the split into folds
-- param embedder: VARCHAR = 'auto'; auto (both inputs' embedding columns when both have one, else hash), column, hash, or a sel_embed model
-- param dim: INTEGER = 256 >= 1; dimension of the hash embeddings
-- key: pool
-- optional pool: text VARCHAR, embedding FLOAT[]
-- optional target: text VARCHAR, embedding FLOAT[]
-- metric rows_chosen: SELECT count(*) FROM sel_scratch.tarot_picked
-- metric ot_distance_selected: SELECT sel_ot_distance('SELECT id, embedding FROM sel_scratch.tarot_picked', 'sel_scratch.tarot_target')
-- metric ot_curve: SELECT CASE WHEN count(*) > 0 THEN list_sort(list({'fold': fold, 'layers': layers, 'rows': rows, 'distance': distance})) END FROM sel_scratch.tarot_curve

SELECT CASE WHEN $embedder = 'column' AND NOT ($pool_has_embedding AND $target_has_embedding)
            THEN error('embedder column needs an embedding column in both pool and target; use embedder hash to embed their text') END;

-- Both sides embedded alike ('auto' reads the embedding columns only when both inputs have one); rows whose
-- text gives no embedding (no tokens) take no part.
CREATE OR REPLACE TABLE sel_scratch.tarot_pool AS
SELECT id, embedding
FROM (SELECT id, sel_recipe_embedding(embedding, text, $embedder, $dim, $pool_has_embedding AND $target_has_embedding)
             AS embedding FROM pool)
WHERE embedding IS NOT NULL OR sel_embedder_uses_column($embedder, $pool_has_embedding AND $target_has_embedding);

CREATE OR REPLACE TABLE sel_scratch.tarot_target AS
SELECT row_number() OVER (ORDER BY embedding) AS id, embedding  -- target rows need an id only to be read
FROM (SELECT sel_recipe_embedding(embedding, text, $embedder, $dim, $pool_has_embedding AND $target_has_embedding)
             AS embedding FROM target)
WHERE embedding IS NOT NULL OR sel_embedder_uses_column($embedder, $pool_has_embedding AND $target_has_embedding);

SELECT sel_tarot('sel_scratch.tarot', 'sel_scratch.tarot_pool', 'sel_scratch.tarot_target', $k, $folds, $ridge, $seed,
                 'sel_scratch.tarot_curve');

-- The picks with their embeddings: the run reports their exact OT distance to the target.
CREATE OR REPLACE TABLE sel_scratch.tarot_picked AS
SELECT t.id, t.rank, t.layer, t.similarity, p.embedding
FROM sel_scratch.tarot t
JOIN sel_scratch.tarot_pool p USING (id);

SELECT pool.*, s.layer AS tarot_layer, s.similarity AS tarot_similarity, s.rank
FROM pool
JOIN sel_scratch.tarot_picked s USING (id)
ORDER BY s.rank;

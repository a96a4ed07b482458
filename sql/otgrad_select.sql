-- description: GOT-D (Kang et al. 2024): the k pool rows whose mass moves the pool's embedding distribution toward the target's most, by optimal-transport gradients.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id and a text column, an embedding column, or both
-- param target: table; target examples (Parquet or JSONL path or glob) with a text column, an embedding column, or both
-- param k: BIGINT >= 1; rows to select (more than the pool's embedded rows selects them all)
-- param eps: DOUBLE = 0.1 in (0, 4]; entropic regularisation, on the scale of the cost (2 − 2·cosine, in [0, 4]); smaller is closer to exact OT and slower
-- param fit_rows: BIGINT = 20000 >= 2; pool rows the OT problem is solved on (a seeded sample when the pool has more); every row is then scored by the stored solution
-- param seed: BIGINT = 0; seed of that sample
-- param embedder: VARCHAR = 'auto'; auto (both inputs' embedding columns when both have one, else hash), column, hash, or a sel_embed model
-- param dim: INTEGER = 256 >= 1; dimension of the hash embeddings
-- param model: VARCHAR = 'otgrad_select'; catalog name the fitted OT model is stored under
-- key: pool
-- fits: model
-- optional pool: text VARCHAR, embedding FLOAT[]
-- optional target: text VARCHAR, embedding FLOAT[]
-- metric rows_fitted: SELECT count(*) FROM sel_scratch.otgrad_fit
-- metric ot_distance_selected: SELECT sel_ot_distance('SELECT id, embedding FROM sel_scratch.otgrad_picked', 'sel_scratch.otgrad_target')

SELECT CASE WHEN $embedder = 'column' AND NOT ($pool_has_embedding AND $target_has_embedding)
            THEN error('embedder column needs an embedding column in both pool and target; use embedder hash to embed their text') END;

-- Both sides embedded alike ('auto' reads the embedding columns only when both inputs have one); rows whose
-- text gives no embedding (no tokens) take no part.
CREATE OR REPLACE TABLE sel_scratch.otgrad_pool AS
SELECT id, embedding
FROM (SELECT id, sel_recipe_embedding(embedding, text, $embedder, $dim, $pool_has_embedding AND $target_has_embedding)
             AS embedding FROM pool)
WHERE embedding IS NOT NULL OR sel_embedder_uses_column($embedder, $pool_has_embedding AND $target_has_embedding);

CREATE OR REPLACE TABLE sel_scratch.otgrad_target AS
SELECT row_number() OVER (ORDER BY embedding) AS id, embedding  -- target rows need an id only to be read
FROM (SELECT sel_recipe_embedding(embedding, text, $embedder, $dim, $pool_has_embedding AND $target_has_embedding)
             AS embedding FROM target)
WHERE embedding IS NOT NULL OR sel_embedder_uses_column($embedder, $pool_has_embedding AND $target_has_embedding);

-- The OT problem is solved on at most fit_rows pool rows (drawn by key hash and seed: the same rows at any
-- thread count), which bounds its memory (about 10 × fit_rows × target doubles); the stored solution then
-- scores every row, the fitted ones with their own gradients.
CREATE OR REPLACE TABLE sel_scratch.otgrad_fit AS
SELECT id, embedding FROM sel_scratch.otgrad_pool ORDER BY sel_gumbel(id, $seed) DESC, id LIMIT $fit_rows;

SELECT sel_ot_fit($model, 'sel_scratch.otgrad_fit', 'sel_scratch.otgrad_target', $eps);

-- The k most negative gradients (with their embeddings: the run reports their exact OT distance to the target).
CREATE OR REPLACE TABLE sel_scratch.otgrad_picked AS
SELECT id, gradient, row_number() OVER (ORDER BY gradient, id) AS rank, embedding
FROM (SELECT id, sel_ot_gradient(embedding, $model) AS gradient, embedding FROM sel_scratch.otgrad_pool)
QUALIFY rank <= $k;

SELECT pool.*, s.gradient AS ot_gradient, s.rank
FROM pool
JOIN sel_scratch.otgrad_picked s USING (id)
ORDER BY s.rank;

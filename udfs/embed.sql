-- Embedding macros: pure SQL over the sel_ functions, loaded on every connect. The recipes' embedding step is
-- SELECT id, sel_recipe_embedding(embedding, text, $embedder, $dim, $pool_has_embedding) … (see sql/semdedup.sql):
-- scalar macros, which the Spark runner expands in place.

-- Whether a recipe's embedder reads the pool's own embedding column: 'column', or 'auto' when the pool has one.
CREATE OR REPLACE MACRO sel_embedder_uses_column(embedder, has_column) AS
    embedder = 'column' OR (embedder = 'auto' AND has_column);

-- A recipe's first check: NULL, or an error when the embedder reads a column the pool does not have.
CREATE OR REPLACE MACRO sel_embedder_error(embedder, has_column) AS
    CASE WHEN embedder = 'column' AND NOT has_column
         THEN error('embedder column needs an embedding column in pool; use embedder hash to embed its text') END;

-- The embedding a recipe uses for a row: the pool's column, hash embeddings of the text ('auto' without a
-- column, or 'hash', at dimension dim), or a sel_embed model named by embedder.
CREATE OR REPLACE MACRO sel_recipe_embedding(embedding, text, embedder, dim, has_column) AS
    CASE WHEN sel_embedder_uses_column(embedder, has_column) THEN embedding::FLOAT[]
         WHEN embedder IN ('auto', 'hash') THEN sel_hash_embed(text, dim)
         ELSE sel_embed(text, embedder) END;

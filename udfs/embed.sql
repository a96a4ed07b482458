-- Embedding macros: pure SQL over the sel_ functions, loaded on every connect.

-- Whether a recipe's embedder reads the pool's own embedding column: 'column', or 'auto' when the pool has one.
CREATE OR REPLACE MACRO sel_embedder_uses_column(embedder, has_column) AS
    embedder = 'column' OR (embedder = 'auto' AND has_column);

-- The embedding a recipe uses for a row: the pool's column, hash embeddings of the text ('auto' without a
-- column, or 'hash', at dimension dim), or a sel_embed model named by embedder.
CREATE OR REPLACE MACRO sel_recipe_embedding(embedding, text, embedder, dim, has_column) AS
    CASE WHEN sel_embedder_uses_column(embedder, has_column) THEN embedding::FLOAT[]
         WHEN embedder IN ('auto', 'hash') THEN sel_hash_embed(text, dim)
         ELSE sel_embed(text, embedder) END;

-- The rows a recipe clusters or compares: id and the embedding of each row of the table or view named by source,
-- by embedder (see sel_recipe_embedding); a source with an embedding column needs no text column. Rows whose computed embedding is missing (a text without tokens) are
-- left out; a missing embedding in the source's own column is kept, so the fit that reads it names the row.
CREATE OR REPLACE MACRO sel_recipe_vectors(source, embedder, dim) AS TABLE
WITH resolved AS (  -- the table or view the name resolves to: a TEMP one first, then the current database's
    SELECT bool_or(column_name = 'embedding') AS has_embedding
    FROM duckdb_columns() WHERE table_name = source
    GROUP BY database_name, schema_name
    ORDER BY database_name <> 'temp', database_name <> current_database(), schema_name <> current_schema()
    LIMIT 1
), has AS (
    SELECT coalesce((SELECT has_embedding FROM resolved), false) AS has_embedding
), vectors AS (
    SELECT id,
           CASE WHEN embedder = 'column' AND NOT (SELECT has_embedding FROM has)
                THEN error('embedder column needs an embedding column in ' || source || '; use embedder hash to embed its text')
                ELSE sel_recipe_embedding(embedding, text, embedder, dim, (SELECT has_embedding FROM has)) END AS embedding
    FROM (FROM query_table(source) UNION ALL BY NAME (SELECT NULL::FLOAT[] AS embedding, NULL::VARCHAR AS text WHERE false))
)
SELECT id, embedding FROM vectors
WHERE embedding IS NOT NULL OR sel_embedder_uses_column(embedder, (SELECT has_embedding FROM has));

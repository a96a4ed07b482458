-- description: MIG (Chen et al. 2025): k rows that add the most information to a graph of their labels, trading quality against coverage of the labels.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id, a labels column (VARCHAR[], e.g. tags) and a quality column
-- param k: BIGINT >= 1; rows to select (more than the labelled rows selects them all)
-- param quality: column; the pool's quality score column (finite, 0 or more; a NULL is refused: filter or coalesce first)
-- param labels: column; the pool's labels column (VARCHAR[]); rows whose list is NULL or empty are never selected
-- param label_embedding: VARCHAR = 'text' in {text, rows}; text: each label's text embedded by embedder (the paper, with a sentence model; hash embeddings join only labels that share words); rows: the mean embedding of the rows carrying it (model-free)
-- param threshold: DOUBLE = 0.9 in (0, 1]; labels whose embeddings' cosine reaches it are joined in the graph
-- param phi: VARCHAR = 'pow' in {pow, exp}; the concave information measure: (x + phi_a)^phi_b or 1 - exp(-phi_alpha x)
-- param phi_a: DOUBLE = 1e-06 > 0; pow: the offset a
-- param phi_b: DOUBLE = 0.8 in (0, 1); pow: the exponent b
-- param phi_alpha: DOUBLE = 1.0 > 0; exp: the rate alpha
-- param prop_weight: DOUBLE = 1.0 >= 0; weight of a label's neighbours against itself when information spreads
-- param normalize: BOOLEAN = false; divide a row's quality among its distinct labels
-- param embedder: VARCHAR = 'auto'; auto (the pool's embedding column when it has one, else hash), column, hash, or a sel_embed model
-- param dim: INTEGER = 256 >= 1; dimension of the hash embeddings
-- key: pool
-- optional pool: text VARCHAR, embedding FLOAT[]
-- metric labels: SELECT count(*) FROM sel_scratch.mig_labels
-- metric labels_covered: SELECT count(DISTINCT label) FROM (SELECT unnest(r.labels) AS label FROM sel_scratch.mig_rows r JOIN sel_scratch.mig m USING (id))
-- metric rows_without_labels: SELECT count(*) FROM sel_scratch.mig_rows WHERE id NOT IN (SELECT id FROM (SELECT id, unnest(labels) AS label FROM sel_scratch.mig_rows) WHERE label IS NOT NULL)
-- metric mean_quality_selected: SELECT avg(r.quality) FROM sel_scratch.mig_rows r JOIN sel_scratch.mig m USING (id)

SELECT CASE WHEN $label_embedding = 'text' AND $embedder = 'column'
            THEN error('label_embedding text embeds each label''s text with embedder: name hash or a sel_embed model, or use label_embedding rows') END,
       CASE WHEN $label_embedding = 'rows' THEN sel_embedder_error($embedder, $pool_has_embedding) END;

-- Labels as a list of text, quality as a double; with label_embedding rows, each row's embedding too (rows whose
-- text gives none take no part).
CREATE OR REPLACE TABLE sel_scratch.mig_rows AS
SELECT id, labels, quality, embedding
FROM (SELECT id, CAST($labels AS VARCHAR[]) AS labels, CAST($quality AS DOUBLE) AS quality,
             CASE WHEN $label_embedding = 'rows'
                  THEN sel_recipe_embedding(embedding, text, $embedder, $dim, $pool_has_embedding) END AS embedding
      FROM pool)
WHERE $label_embedding = 'text' OR embedding IS NOT NULL;

-- Every label once; a NULL embedding (label_embedding rows) is the mean of its rows' embeddings, taken by sel_mig.
CREATE OR REPLACE TABLE sel_scratch.mig_labels AS
SELECT label, CASE WHEN $label_embedding = 'text' THEN sel_recipe_embedding(NULL, label, $embedder, $dim, false) END AS embedding
FROM (SELECT DISTINCT unnest(labels) AS label FROM sel_scratch.mig_rows)
WHERE label IS NOT NULL;

SELECT sel_mig('sel_scratch.mig', 'sel_scratch.mig_rows', 'sel_scratch.mig_labels', $k, $threshold, $phi, $phi_a, $phi_b,
               $phi_alpha, $prop_weight, $normalize);

SELECT pool.*, m.gain AS mig_gain, m.rank
FROM pool
JOIN sel_scratch.mig m USING (id)
ORDER BY m.rank;

-- description: Cluster-balanced sampling (Vo et al. 2024): n pool rows spread evenly over a hierarchical k-means of their embeddings.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id, a text column and optionally embedding and quality columns
-- param n: BIGINT; rows to select (more than the pool selects every row)
-- param clusters: VARCHAR = '100'; k-means clusters per level, finest first, e.g. '1000,100' (the levels nest)
-- param seed: BIGINT = 0; seed of the k-means fit and of every random choice
-- param strategy: VARCHAR = 'random'; rows a cluster gives: random, closest (to its centroid) or quality (kMQ: without replacement, probability ∝ softmax of the pool's quality column)
-- param embedder: VARCHAR = 'auto'; auto (the pool's embedding column when it has one, else hash), column, hash (sel_hash_embed of text), or a model for sel_embed such as all-MiniLM-L6-v2 (extra 'models')
-- param dim: INTEGER = 256; dimension of the hash embeddings
-- param model: VARCHAR = 'balanced_sample'; catalog name the k-means model is stored under
-- fits: model

SELECT CASE WHEN $n <= 0 THEN error('n must be a positive number of rows; got ' || $n::VARCHAR) END;
SELECT CASE WHEN $strategy NOT IN ('random', 'closest', 'quality')
            THEN error('strategy must be random, closest or quality; got ' || coalesce('''' || $strategy || '''', 'NULL')) END;
SELECT CASE WHEN $embedder IS NULL OR $embedder = ''
            THEN error('embedder must be auto, column, hash or a sel_embed model name such as all-MiniLM-L6-v2') END;

-- The embedding per row, computed once: the pool's own column, or embeddings of its text (hash or
-- model; rows whose text gives none, e.g. no tokens, are never selected). UNION BY NAME supplies the
-- optional columns as NULL when the pool lacks them.
CREATE OR REPLACE TEMP TABLE _balanced_columns AS
SELECT count(*) FILTER (column_name = 'embedding') > 0 AS has_embedding,
       count(*) FILTER (column_name = 'quality') > 0 AS has_quality
FROM (DESCRIBE pool);

SELECT CASE WHEN $embedder = 'column' AND NOT has_embedding
            THEN error('embedder column needs an embedding column in pool; use embedder hash to embed text') END,
       CASE WHEN $strategy = 'quality' AND NOT has_quality
            THEN error('strategy quality needs a numeric quality column in pool (kMQ samples proportional to softmax(quality))') END
FROM _balanced_columns;

CREATE OR REPLACE TABLE sel_scratch.balanced_vectors AS
WITH rows AS (
    FROM pool UNION ALL BY NAME (SELECT NULL::FLOAT[] AS embedding, NULL::DOUBLE AS quality WHERE false)
)
SELECT id, quality,
       sel_recipe_embedding(embedding, text, $embedder, $dim, (SELECT has_embedding FROM _balanced_columns)) AS embedding
FROM rows;

-- Computed embeddings can be missing (a text without tokens); a missing pool embedding is an error in the fit.
DELETE FROM sel_scratch.balanced_vectors
WHERE embedding IS NULL
  AND NOT sel_embedder_uses_column($embedder, (SELECT has_embedding FROM _balanced_columns));

SELECT sel_kmeans_fit($model, 'sel_scratch.balanced_vectors', $clusters, $seed);

CREATE OR REPLACE TEMP TABLE _balanced_assigned AS
SELECT id, quality, sel_clusters(embedding, $model) AS clusters, sel_centroid_distance(embedding, $model) AS centroid_distance
FROM sel_scratch.balanced_vectors;

DROP TABLE sel_scratch.balanced_vectors;

-- Quotas per level-1 cluster: water-filled over the top level, then down the hierarchy.
CREATE OR REPLACE TEMP TABLE _balanced_quotas AS
SELECT unnest(leaves) AS leaf, unnest(quotas) AS quota
FROM (
    SELECT list(leaf ORDER BY leaf) AS leaves,
           sel_balanced_quotas($model, list(leaf ORDER BY leaf), list(size ORDER BY leaf), $n, $seed) AS quotas
    FROM (SELECT clusters[1] AS leaf, count(*) AS size FROM _balanced_assigned GROUP BY leaf)
);

SELECT pool.*, a.clusters, a.centroid_distance
FROM pool
JOIN _balanced_assigned a USING (id)
JOIN _balanced_quotas q ON q.leaf = a.clusters[1]
QUALIFY row_number() OVER (
    PARTITION BY a.clusters[1]
    ORDER BY CASE $strategy WHEN 'closest' THEN a.centroid_distance
                            WHEN 'quality' THEN -(a.quality + sel_gumbel(id, $seed))
                            ELSE sel_gumbel(id, $seed) END NULLS LAST, id
) <= q.quota
ORDER BY id;

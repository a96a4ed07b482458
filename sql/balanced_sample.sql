-- description: Cluster-balanced sampling (Vo et al. 2024): n pool rows spread evenly over a hierarchical k-means of their embeddings.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id, a text column and optionally embedding and quality columns
-- param n: BIGINT >= 1; rows to select (more than the pool selects every row)
-- param clusters: VARCHAR = '100'; k-means clusters per level, finest first, e.g. '1000,100' (the levels nest)
-- param seed: BIGINT = 0; seed of the k-means fit and of every random choice
-- param strategy: VARCHAR = 'random' in {random, closest, quality}; rows a cluster gives: random, closest (to its centroid) or quality (kMQ: without replacement, probability ∝ softmax of the pool's quality column; rows whose quality is NULL, NaN or infinite come last)
-- param embedder: VARCHAR = 'auto'; auto (the pool's embedding column when it has one, else hash), column, hash (sel_hash_embed of text), or a model for sel_embed such as all-MiniLM-L6-v2 (extra 'models')
-- param dim: INTEGER = 256 >= 1; dimension of the hash embeddings
-- param model: VARCHAR = 'balanced_sample'; catalog name the k-means model is stored under
-- key: pool
-- optional pool: text VARCHAR, embedding FLOAT[], quality DOUBLE
-- fits: model

SELECT CASE WHEN $strategy = 'quality' AND NOT $pool_has_quality
            THEN error('strategy quality needs a numeric quality column in pool (kMQ samples proportional to softmax(quality))') END,
       sel_embedder_error($embedder, $pool_has_embedding);

-- The embedding per row, computed once (rows whose text gives none, e.g. no tokens, are never selected).
CREATE OR REPLACE TABLE sel_scratch.balanced_vectors AS
SELECT id, embedding
FROM (SELECT id, sel_recipe_embedding(embedding, text, $embedder, $dim, $pool_has_embedding) AS embedding FROM pool)
WHERE embedding IS NOT NULL OR sel_embedder_uses_column($embedder, $pool_has_embedding);

SELECT sel_kmeans_fit($model, 'sel_scratch.balanced_vectors', $clusters, $seed);

-- A quality that is not a finite number is no quality: such rows come last within their cluster.
CREATE OR REPLACE TEMP TABLE _balanced_assigned AS
SELECT v.id, CASE WHEN sel_is_finite(q.quality) THEN q.quality END AS quality,
       sel_clusters(v.embedding, $model) AS clusters, sel_centroid_distance(v.embedding, $model) AS centroid_distance
FROM sel_scratch.balanced_vectors v
JOIN (SELECT id, CAST(quality AS DOUBLE) AS quality FROM pool) q USING (id);

CREATE OR REPLACE TEMP TABLE _balanced_sizes AS
SELECT clusters[1] AS leaf, count(*) AS size FROM _balanced_assigned GROUP BY clusters[1];

-- Quotas per level-1 cluster: water-filled over the top level, then down the hierarchy (on Spark: on the driver).
CREATE OR REPLACE TEMP TABLE _balanced_quotas AS
SELECT unnest(leaves) AS leaf, unnest(quotas) AS quota
FROM (
    SELECT list(leaf ORDER BY leaf) AS leaves,
           sel_balanced_quotas($model, list(leaf ORDER BY leaf), list(size ORDER BY leaf), $n, $seed) AS quotas
    FROM _balanced_sizes
);

SELECT * EXCLUDE (quota, pick)
FROM (
    SELECT pool.*, a.clusters, a.centroid_distance, q.quota,
           row_number() OVER (
               PARTITION BY a.clusters[1]
               ORDER BY CASE $strategy WHEN 'closest' THEN a.centroid_distance
                                       WHEN 'quality' THEN -(a.quality + sel_gumbel(id, $seed))
                                       ELSE sel_gumbel(id, $seed) END NULLS LAST, id
           ) AS pick
    FROM pool
    JOIN _balanced_assigned a USING (id)
    JOIN _balanced_quotas q ON q.leaf = a.clusters[1]
)
WHERE pick <= quota
ORDER BY id;

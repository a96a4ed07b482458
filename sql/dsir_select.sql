-- description: DSIR importance resampling (Xie et al. 2023): k pool rows that resemble the target, by hashed n-gram importance weights.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id and a text column
-- param target: table; target examples (Parquet or JSONL path or glob) with a text column
-- param k: BIGINT >= 1; rows to select (more than the eligible rows selects them all)
-- param seed: BIGINT = 0; seed of the Gumbel noise that turns top-k into sampling without replacement
-- param buckets: INTEGER = 10000 in [1, 16777216]; hash buckets of the n-gram features
-- param ngrams: INTEGER = 2 in [1, 8]; n-gram order (2: unigrams and bigrams)
-- param smoothing: DOUBLE = 1.0 >= 0; Laplace pseudo-count per target bucket (0 reproduces data-selection 1.0.3)
-- param min_tokens: BIGINT = 0 >= 0; rows with fewer wordpunct tokens are never selected (the reference's min_example_length)
-- param normalize: BOOLEAN = false; divide each log weight by the row's number of n-grams
-- param top_k: BOOLEAN = false; deterministic top-k by weight instead of Gumbel resampling
-- param model: VARCHAR = 'dsir_select'; catalog name the fitted model is stored under
-- key: pool
-- fits: model
-- metric kl_reduction: SELECT sel_dsir_kl_reduction($model, list(b), list(n)) FROM (SELECT b, count(*) AS n FROM (SELECT unnest(sel_ngram_buckets(text, $buckets, $ngrams)) AS b FROM sel_result) GROUP BY b)

-- Featurize the pool once: its histogram fits the raw distribution, its rows get weights.
CREATE OR REPLACE TEMP TABLE _dsir_pool AS
SELECT id, sel_ngram_buckets(text, $buckets, $ngrams) AS features FROM pool;

CREATE OR REPLACE TEMP TABLE _dsir_target AS
SELECT b AS bucket, count(*) AS n
FROM (SELECT unnest(sel_ngram_buckets(text, $buckets, $ngrams)) AS b FROM target)
GROUP BY b;

SELECT CASE WHEN count(*) = 0 THEN error('the target has no tokens: pass target files with non-empty text') END
FROM _dsir_target
UNION ALL
SELECT CASE WHEN coalesce(sum(array_length(features)), 0) = 0 THEN error('the pool has no tokens: no text to weigh') END
FROM _dsir_pool;

-- Fit: target and raw histograms and their log ratio, one row per bucket.
CREATE OR REPLACE TEMP TABLE _dsir_histograms AS
WITH raw AS (
    SELECT b AS bucket, count(*) AS n FROM (SELECT unnest(features) AS b FROM _dsir_pool) GROUP BY b
), grid AS (
    SELECT CAST(b AS INTEGER) AS bucket FROM (SELECT unnest(generate_series(0, $buckets - 1)) AS b)
), joined AS (
    SELECT grid.bucket, coalesce(t.n, 0) AS tc, coalesce(r.n, 0) AS rc
    FROM grid LEFT JOIN _dsir_target t USING (bucket) LEFT JOIN raw r USING (bucket)
)
SELECT bucket, tc, rc, sel_dsir_log_ratio(tc, sum(tc) OVER (), rc, sum(rc) OVER (), $buckets, $smoothing) AS lr
FROM joined;

-- Store the model (a statement of its own: on Spark it runs on the driver, over the small histogram table).
SELECT sel_dsir_store($model, $buckets, $ngrams, $smoothing, $normalize,
                      list(tc ORDER BY bucket), list(rc ORDER BY bucket), list(lr ORDER BY bucket))
FROM _dsir_histograms;

-- Weight every eligible row, then keep k: Gumbel-top-k (sampling without replacement) or top-k.
WITH scored AS (
    SELECT id, sel_dsir_weight_features(features, $model) AS log_weight
    FROM _dsir_pool
    WHERE features IS NOT NULL AND sel_dsir_length(features, $ngrams) >= $min_tokens
), picked AS (
    SELECT id, log_weight,
           row_number() OVER (ORDER BY CASE WHEN $top_k THEN log_weight
                                            ELSE log_weight + sel_gumbel(id, $seed) END DESC, id) AS rank
    FROM scored
    QUALIFY rank <= $k
)
SELECT pool.*, picked.log_weight
FROM picked JOIN pool USING (id)
ORDER BY picked.rank;

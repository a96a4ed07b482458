-- description: DSIR importance resampling (Xie et al. 2023): k pool rows that resemble the target, by hashed n-gram importance weights.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id and a text column
-- param target: table; target examples (Parquet or JSONL path or glob) with a text column
-- param k: BIGINT; rows to select (more than the eligible rows selects them all)
-- param seed: BIGINT = 0; seed of the Gumbel noise that turns top-k into sampling without replacement
-- param buckets: INTEGER = 10000; hash buckets of the n-gram features
-- param ngrams: INTEGER = 2; n-gram order (2: unigrams and bigrams)
-- param smoothing: DOUBLE = 1.0; Laplace pseudo-count per target bucket (0 reproduces data-selection 1.0.3)
-- param min_tokens: BIGINT = 0; rows with fewer wordpunct tokens are never selected (the reference's min_example_length)
-- param normalize: BOOLEAN = false; divide each log weight by the row's number of n-grams
-- param top_k: BOOLEAN = false; deterministic top-k by weight instead of Gumbel resampling
-- param model: VARCHAR = 'dsir_select'; catalog name the fitted model is stored under
-- fits: model
-- metric kl_reduction: SELECT sel_dsir_kl_reduction($model, list(b), list(n)) FROM (SELECT b, count(*) AS n FROM (SELECT unnest(sel_ngram_buckets(text, $buckets, $ngrams)) AS b FROM _sel_result) GROUP BY b)

SELECT CASE WHEN $k <= 0 THEN error('k must be a positive number of rows; got ' || $k::VARCHAR) END;

-- Featurize the pool once: its histogram fits the raw distribution, its rows get weights.
CREATE OR REPLACE TEMP TABLE _dsir_pool AS
SELECT id, sel_ngram_buckets(text, $buckets, $ngrams) AS features FROM pool;

CREATE OR REPLACE TEMP TABLE _dsir_target AS
SELECT b AS bucket, count(*) AS n
FROM (SELECT unnest(sel_ngram_buckets(text, $buckets, $ngrams)) AS b FROM target)
GROUP BY b;

SELECT CASE WHEN count(*) = 0 THEN error('the target has no tokens: pass target files with non-empty text') END
FROM _dsir_target;

-- Store the model: target and raw histograms and their log ratio, one row per bucket.
BEGIN TRANSACTION;

INSERT INTO sel_models (name, model_id, kind, params)
VALUES ($model, nextval('sel_model_ids'), 'dsir',
        json_object('buckets', $buckets, 'ngrams', $ngrams, 'smoothing', $smoothing, 'normalize', $normalize))
ON CONFLICT (name) DO UPDATE SET model_id = excluded.model_id, kind = excluded.kind,
                                 params = excluded.params, created = excluded.created;

DELETE FROM sel_dsir_buckets WHERE model_id NOT IN (SELECT model_id FROM sel_models);

INSERT INTO sel_dsir_buckets
WITH raw AS (
    SELECT b AS bucket, count(*) AS n FROM (SELECT unnest(features) AS b FROM _dsir_pool) GROUP BY b
), grid AS (
    SELECT range::INTEGER AS bucket FROM range($buckets)
), joined AS (
    SELECT grid.bucket, coalesce(t.n, 0) AS tc, coalesce(r.n, 0) AS rc
    FROM grid LEFT JOIN _dsir_target t USING (bucket) LEFT JOIN raw r USING (bucket)
)
SELECT (SELECT model_id FROM sel_models WHERE name = $model), bucket, tc, rc,
       sel_dsir_log_ratio(tc, sum(tc) OVER (), rc, sum(rc) OVER (), $buckets, $smoothing)
FROM joined;

COMMIT;

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

-- description: Coverage-centric coreset selection (CCS, Zheng et al. 2023): n rows stratified over a score so every difficulty level stays covered.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id and a numeric score column
-- param score: column; name of the pool's score column (e.g. a difficulty, margin or quality score); rows whose score is NULL, NaN or infinite are never selected
-- param n: BIGINT >= 1; rows to select (more than the rows left after the hard cut selects them all)
-- param strata: INTEGER = 50 >= 1; equal-width score strata
-- param hard_cut: DOUBLE = 0.0 in [0, 1); share of all rows with the lowest scores dropped first (CCS's β, e.g. 0.3 for mislabeled-looking examples)
-- param seed: BIGINT = 0; seed of the uniform sample within each stratum
-- key: pool

-- Drop the hard cut (the lowest scores among all rows), then bin the rest into equal-width strata.
-- A NaN or infinite score is no score: such rows are never selected, like NULL ones.
CREATE OR REPLACE TEMP TABLE _ccs_kept AS
SELECT id, score
FROM (SELECT id, CAST($score AS DOUBLE) AS score FROM pool)
WHERE score IS NOT NULL AND sel_is_finite(score)
QUALIFY row_number() OVER (ORDER BY score, id) > floor($hard_cut * (SELECT count(*) FROM pool));

CREATE OR REPLACE TEMP TABLE _ccs_strata AS
SELECT id, score, sel_stratum(score, min(score) OVER (), max(score) OVER (), $strata) AS stratum
FROM _ccs_kept;

CREATE OR REPLACE TEMP TABLE _ccs_sizes AS
SELECT stratum, count(*) AS size FROM _ccs_strata GROUP BY stratum;

-- The budget over strata, smallest first; the floor-division shortfall is handed out again (on Spark: on the driver).
CREATE OR REPLACE TEMP TABLE _ccs_quotas AS
SELECT unnest(strata) AS stratum, unnest(quotas) AS quota
FROM (
    SELECT list(stratum ORDER BY stratum) AS strata, sel_stratified_quotas(list(size ORDER BY stratum), $n) AS quotas
    FROM _ccs_sizes
);

SELECT * EXCLUDE (quota, pick)
FROM (
    SELECT pool.*, s.stratum, q.quota,
           row_number() OVER (PARTITION BY s.stratum ORDER BY sel_gumbel(id, $seed), id) AS pick
    FROM pool
    JOIN _ccs_strata s USING (id)
    JOIN _ccs_quotas q USING (stratum)
)
WHERE pick <= quota
ORDER BY id;

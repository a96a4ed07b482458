-- description: CoLoR-Filter (Brandfonbrener et al. 2024): k rows with the largest conditional loss reduction (the prior model's loss minus the target-conditioned model's), from a seeded candidate sample of tau × k rows.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id and the two models' per-row losses
-- param prior_loss: column; the prior model's loss of each row (e.g. its mean token negative log-likelihood)
-- param conditional_loss: column; the same loss under the prior model fine-tuned on target data (the "conditional" model)
-- param k: BIGINT >= 1; rows to select (more than the candidates selects them all)
-- param tau: DOUBLE = 0.0 >= 0; candidate sampling: 0 makes every scored row a candidate, tau >= 1 draws ceil(tau × k) candidates uniformly (seeded) first (the paper's τ, e.g. 16 or 64)
-- param seed: BIGINT = 0; seed of the candidate sample
-- key: pool
-- metric candidates: SELECT count(*) FROM _color_candidates

SELECT CASE WHEN $tau > 0 AND $tau < 1
            THEN error('tau must be 0 (every row a candidate) or at least 1 (ceil(tau × k) candidates); got ' || $tau) END;

-- A row is scored when both losses are finite numbers; NULL, NaN and infinite losses are never selected.
CREATE OR REPLACE TEMP TABLE _color_scored AS
SELECT id, prior - conditional AS color_score
FROM (SELECT id, CAST($prior_loss AS DOUBLE) AS prior, CAST($conditional_loss AS DOUBLE) AS conditional FROM pool)
WHERE prior IS NOT NULL AND conditional IS NOT NULL AND sel_is_finite(prior) AND sel_is_finite(conditional);

-- The candidates: every scored row, or the ceil(tau × k) with the smallest seeded noise of their keys.
CREATE OR REPLACE TEMP TABLE _color_candidates AS
SELECT id, color_score
FROM (SELECT id, color_score, row_number() OVER (ORDER BY sel_gumbel(id, $seed), id) AS draw FROM _color_scored)
WHERE $tau = 0 OR draw <= ceil($tau * $k);

SELECT pool.*, c.color_score, c.rank
FROM pool
JOIN (SELECT id, color_score, row_number() OVER (ORDER BY color_score DESC, id) AS rank FROM _color_candidates) c
USING (id)
WHERE c.rank <= $k
ORDER BY c.rank;

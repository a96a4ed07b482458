-- description: Exact dedup: one row per text (as written, or normalized: case, punctuation and spacing ignored), the others removed.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id and a text column
-- param normalize: BOOLEAN = false; compare normalized texts (lowercase, no punctuation, single spaces) instead of exact bytes
-- param keep: VARCHAR = 'first' in {first, score}; the row each group keeps: the lowest id (first), or the highest score (score; ties: lowest id)
-- param removed: BOOLEAN = false; output the removed rows (each with the row it duplicates) instead of the kept ones
-- key: pool
-- optional pool: score DOUBLE
-- metric duplicate_groups: SELECT count(*) FROM _exact_groups WHERE copies > 1 AND keeper = id
-- metric rows_removed: SELECT count(*) FROM _exact_groups WHERE keeper <> id

SELECT CASE WHEN $keep = 'score' AND NOT $pool_has_score
            THEN error('keep score needs a numeric score column in pool') END;

-- Rows without text are kept, never compared.
CREATE OR REPLACE TEMP TABLE _exact_groups AS
SELECT id,
       first_value(id) OVER (
           PARTITION BY h ORDER BY CASE WHEN $keep = 'score' THEN -score END NULLS LAST, id
       ) AS keeper,
       count(*) OVER (PARTITION BY h) AS copies
FROM (SELECT id, sel_text_hash(text, $normalize) AS h, CAST(score AS DOUBLE) AS score FROM pool WHERE text IS NOT NULL);

SELECT pool.*, coalesce(g.copies, 1) AS copies, CASE WHEN g.keeper <> pool.id THEN g.keeper END AS dup_of
FROM pool LEFT JOIN _exact_groups g USING (id)
WHERE (coalesce(g.keeper, pool.id) <> pool.id) = $removed
ORDER BY id;

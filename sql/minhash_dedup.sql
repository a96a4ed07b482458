-- description: Near-duplicate dedup by MinHash-LSH: texts with similar shingle sets (estimated Jaccard >= threshold) form clusters; each cluster keeps one row.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id and a text column
-- param threshold: DOUBLE = 0.8 in (0, 1]; Jaccard similarity of two texts' shingle sets from which they are near-duplicates
-- param num_perm: INTEGER = 128 in [1, 1024]; MinHash permutations: the signature's length
-- param ngram: INTEGER = 5 in [1, 64]; shingle length in words (in characters with unit char)
-- param unit: VARCHAR = 'word' in {word, char}; shingles of lowercased \w+ words, or of characters
-- param bands: INTEGER = 0 >= 0; LSH bands; 0 (with rows 0): chosen from threshold and num_perm as datasketch's MinHashLSH does
-- param rows: INTEGER = 0 >= 0; signature values per band (see bands)
-- param margin: DOUBLE = 2 >= 0; candidate pairs whose estimated Jaccard is below threshold minus margin standard errors of the estimate, sqrt(t(1 - t) / num_perm), are not joined (LSH false positives); a large margin joins every candidate
-- param verify: BOOLEAN = false; remove a row only when the exact Jaccard of its shingles with its cluster's kept row reaches threshold
-- param keep: VARCHAR = 'first' in {first, score}; the row each cluster keeps: the lowest id (first), or the highest score (score; ties: lowest id)
-- param seed: BIGINT = 1; seed of the MinHash permutations
-- param removed: BOOLEAN = false; output the removed rows (each with the row it duplicates) instead of the kept ones
-- key: pool
-- optional pool: score DOUBLE
-- metric candidate_pairs: SELECT count(*) FROM sel_scratch.minhash_pairs
-- metric pairs_joined: SELECT count(*) FROM sel_scratch.minhash_pairs WHERE joined
-- metric duplicate_clusters: SELECT count(DISTINCT cluster) FROM _minhash_verdicts WHERE removed
-- metric rows_removed: SELECT count(*) FROM _minhash_verdicts WHERE removed

SELECT CASE WHEN $keep = 'score' AND NOT $pool_has_score
            THEN error('keep score needs a numeric score column in pool') END;

-- Rows without text, or without a shingle (blank, punctuation only), get no signature: kept, never compared.
CREATE OR REPLACE TEMP TABLE _minhash_signatures AS
SELECT id, sel_minhash(text, $num_perm, $ngram, $seed, $unit) AS sig
FROM pool WHERE text IS NOT NULL;

CREATE OR REPLACE TEMP TABLE _minhash_buckets AS
SELECT id, unnest(sel_lsh_buckets(sig, $threshold, $bands, $rows)) AS bucket
FROM _minhash_signatures WHERE sig IS NOT NULL;

-- Candidate pairs: each row of an LSH bucket with the bucket's lowest id. This star joins the same
-- clusters as every pair of the bucket would, with n - 1 pairs for n rows. A pair whose estimated
-- Jaccard is more than margin standard errors below threshold is an LSH false positive: not joined.
CREATE OR REPLACE TABLE sel_scratch.minhash_pairs AS
SELECT p.a, p.b, sel_minhash_jaccard(sa.sig, sb.sig) AS estimate,
       estimate >= $threshold - $margin * sqrt($threshold * (1 - $threshold) / $num_perm) AS joined
FROM (SELECT DISTINCT m.id AS a, s.first AS b
      FROM _minhash_buckets m
      JOIN (SELECT bucket, min(id) AS first FROM _minhash_buckets GROUP BY bucket HAVING count(*) > 1) s
        ON s.bucket = m.bucket
      WHERE m.id <> s.first) p
JOIN _minhash_signatures sa ON sa.id = p.a
JOIN _minhash_signatures sb ON sb.id = p.b;

SELECT sel_connected_components('sel_scratch.minhash_clusters', 'SELECT a, b FROM sel_scratch.minhash_pairs WHERE joined');

CREATE OR REPLACE TEMP TABLE _minhash_keepers AS
SELECT c.id, c.component AS cluster, c.size AS cluster_size,
       first_value(c.id) OVER (
           PARTITION BY c.component ORDER BY CASE WHEN $keep = 'score' THEN -CAST(p.score AS DOUBLE) END NULLS LAST, c.id
       ) AS keeper
FROM sel_scratch.minhash_clusters c JOIN pool p ON p.id = c.id;

-- The similarity of each other row of a cluster with the row kept: estimated from the signatures,
-- or exact on the shingle sets with verify (a row below threshold then stays).
CREATE OR REPLACE TEMP TABLE _minhash_verdicts AS
SELECT id, cluster, keeper, jaccard, NOT $verify OR jaccard >= $threshold AS removed
FROM (SELECT k.id, k.cluster, k.keeper,
             CASE WHEN $verify THEN sel_jaccard(a.text, b.text, $ngram, $unit)
                  ELSE sel_minhash_jaccard(sa.sig, sb.sig) END AS jaccard
      FROM _minhash_keepers k
      LEFT JOIN (SELECT id, text FROM pool WHERE $verify) a ON a.id = k.id  -- texts are read only to verify
      LEFT JOIN (SELECT id, text FROM pool WHERE $verify) b ON b.id = k.keeper
      JOIN _minhash_signatures sa ON sa.id = k.id
      JOIN _minhash_signatures sb ON sb.id = k.keeper
      WHERE k.id <> k.keeper);

SELECT pool.*, k.cluster, coalesce(k.cluster_size, 1) AS cluster_size,
       CASE WHEN v.removed THEN v.keeper END AS dup_of, v.jaccard
FROM pool
LEFT JOIN _minhash_keepers k ON k.id = pool.id
LEFT JOIN _minhash_verdicts v ON v.id = pool.id
WHERE coalesce(v.removed, false) = $removed
ORDER BY pool.id;

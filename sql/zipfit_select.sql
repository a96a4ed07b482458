-- description: ZIP-FIT (Obbad et al. 2024): the k pool rows that compress best together with the target set (mean 1 - NCD).
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id and a text column
-- param target: table; target examples (Parquet or JSONL path or glob) with a text column
-- param k: BIGINT >= 1; rows to select (more than the pool selects every row)
-- param algorithm: VARCHAR = 'lz4' in {lz4, gzip, zstd}; compressor: lz4 (levels 0-16), gzip (1-9) or zstd (1-22)
-- param level: INTEGER = 0; compression level (lz4 0 selected best on the real-corpus benchmark; gzip 0 is refused)
-- param mode: VARCHAR = 'exact' in {exact, fast}; exact (zip-fit's score, one compression per pool row and target) or fast (cost independent of the target count)
-- param model: VARCHAR = 'zipfit_select'; catalog name the target set is stored under
-- key: pool
-- fits: model

-- Store the target set (texts and their compressed sizes) once; ordered so reruns store the same set.
SELECT sel_zipfit_target($model, list(text ORDER BY text), $algorithm, $level) FROM target;

-- One scan: score every row, keep the best k (DuckDB's top-N keeps k rows, never the whole pool).
SELECT *,
       CASE WHEN $mode = 'fast' THEN sel_zipfit_fast(text, $model) ELSE sel_zipfit(text, $model) END AS zipfit
FROM pool
WHERE text IS NOT NULL
ORDER BY zipfit DESC, id
LIMIT $k;

-- description: Quality filters: datatrove's Gopher quality, Gopher repetition, C4 and FineWeb rules; rows failing any chosen filter removed.
-- param pool: table; pool rows (Parquet or JSONL path or glob) with a unique id and a text column
-- param filters: VARCHAR = 'gopher_quality,gopher_repetition,c4,fineweb'; comma-separated filters to apply (any of gopher_quality, gopher_repetition, c4, fineweb), each to the original text
-- param removed: BOOLEAN = false; output the removed rows, each with reason 'filter:rule' of the first failing filter (in the order above), instead of the kept ones
-- key: pool
-- metric dropped_gopher_quality: SELECT count(*) FROM _quality WHERE NOT gopher_quality.keep
-- metric dropped_gopher_repetition: SELECT count(*) FROM _quality WHERE NOT gopher_repetition.keep
-- metric dropped_c4: SELECT count(*) FROM _quality WHERE NOT c4.keep
-- metric dropped_fineweb: SELECT count(*) FROM _quality WHERE NOT fineweb.keep
-- metric rows_kept: SELECT count(*) FROM _quality WHERE reason IS NULL
-- metric rows_removed: SELECT count(*) FROM _quality WHERE reason IS NOT NULL

SELECT CASE WHEN trim(regexp_replace(',' || $filters || ',', '(,\s*(gopher_quality|gopher_repetition|c4|fineweb)\s*)+,', '')) <> ''
            THEN error('filters takes a comma-separated list of gopher_quality, gopher_repetition, c4, fineweb; got ' || $filters) END;

-- Every chosen filter sees the original text (datatrove's pipeline would hand C4's cleaned text on);
-- a filter not chosen is NULL and passes. Rows without text are kept, never scored.
CREATE OR REPLACE TEMP TABLE _quality AS
SELECT id, gopher_quality, gopher_repetition, c4, fineweb,
       CASE WHEN NOT gopher_quality.keep THEN 'gopher_quality:' || gopher_quality.reason
            WHEN NOT gopher_repetition.keep THEN 'gopher_repetition:' || gopher_repetition.reason
            WHEN NOT c4.keep THEN 'c4:' || c4.reason
            WHEN NOT fineweb.keep THEN 'fineweb:' || fineweb.reason END AS reason
FROM (
    SELECT id,
           CASE WHEN contains(',' || replace($filters, ' ', '') || ',', ',gopher_quality,')
                THEN sel_gopher_quality(text) END AS gopher_quality,
           CASE WHEN contains(',' || replace($filters, ' ', '') || ',', ',gopher_repetition,')
                THEN sel_gopher_repetition(text) END AS gopher_repetition,
           CASE WHEN contains(',' || replace($filters, ' ', '') || ',', ',c4,')
                THEN sel_c4_quality(text) END AS c4,
           CASE WHEN contains(',' || replace($filters, ' ', '') || ',', ',fineweb,')
                THEN sel_fineweb_quality(text) END AS fineweb
    FROM pool WHERE text IS NOT NULL
);

SELECT pool.*, q.c4.text AS c4_text, q.reason
FROM pool LEFT JOIN _quality q USING (id)
WHERE (q.reason IS NOT NULL) = $removed
ORDER BY id;

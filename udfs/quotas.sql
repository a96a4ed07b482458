-- Quota macros: pure SQL, loaded on every connect.

-- CCS's equal-width stratum (0-based) of a score over [lo, hi], strata bins; hi lands in the last bin.
-- (The reference bins over [lo, hi * 1.0001), which drops the maximum when hi < 0; this does not.)
CREATE OR REPLACE MACRO sel_stratum(score, lo, hi, strata) AS
    CASE WHEN hi <= lo THEN 0
         ELSE least(floor((score - lo) / (hi - lo) * strata), strata - 1)::INTEGER END;

-- Whether a number is finite (not NULL, NaN or ±inf): x - x is 0 only then, on DuckDB and on Spark.
CREATE OR REPLACE MACRO sel_is_finite(x) AS coalesce(x - x = 0, false);

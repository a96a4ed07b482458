-- DSIR macros: pure SQL over the sel_ functions, loaded on every connect.

-- Per-bucket log importance ratio, as data-selection computes it:
-- log(p_target + 1e-8) - log(p_raw + 1e-8), with Laplace pseudo-count `smoothing` on the target.
CREATE OR REPLACE MACRO sel_dsir_log_ratio(target_count, target_total, raw_count, raw_total, buckets, smoothing) AS
    ln((target_count + smoothing) / (target_total + smoothing * buckets) + 1e-8) - ln(raw_count / raw_total + 1e-8);

-- The reference's length metadata: tokens recovered from the number of n-gram features.
CREATE OR REPLACE MACRO sel_dsir_length(features, ngrams) AS
    (array_length(features) + ngrams * (ngrams - 1) // 2) // ngrams;

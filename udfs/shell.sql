-- Fitted models in any DuckDB shell: pure-SQL twins of some sel_ functions (prefix sqlsel_, never sel_).
-- They use only DuckDB built-ins and the catalog's tables, so they run in the duckdb CLI on a catalog
-- file without Python. Created on every connect in the catalog's own schema: a catalog file carries them.
-- Exact where SQL can be: tests/test_shell_macros.py compares each with its sel_ function on real rows.

-- splitmix64 through UHUGEINT products (each step's input bound once by a lambda), as kernels/sampling.py.
CREATE OR REPLACE MACRO sqlsel_mul64(a, b) AS ((a::UHUGEINT * b::UHUGEINT) % 18446744073709551616)::UBIGINT;

CREATE OR REPLACE MACRO sqlsel_mix64(z) AS list_transform(list_transform(list_transform([z::UBIGINT],
    lambda a: sqlsel_mul64(xor(a, a >> 30), 13787848793156543929)),
    lambda b: sqlsel_mul64(xor(b, b >> 27), 10723151780598845931)),
    lambda c: xor(c, c >> 31))[1];

-- sel_gumbel's noise: a (0, 1) uniform from a row key (any integer or string) and a seed, and -ln(-ln(u)).
CREATE OR REPLACE MACRO sqlsel_uniform(key, seed) AS ((sqlsel_mix64(((sqlsel_mix64(sel_key_hash(key))::UHUGEINT
    + sqlsel_mul64((seed::HUGEINT % 18446744073709551616 + 18446744073709551616) % 18446744073709551616,
                   11400714819323198485)::UHUGEINT + 11400714819323198485) % 18446744073709551616)::UBIGINT)
    >> 11)::DOUBLE + 0.5) / 9007199254740992.0;

CREATE OR REPLACE MACRO sqlsel_gumbel(key, seed) AS -ln(-ln(sqlsel_uniform(key, seed)));

-- DSIR's features: wordpunct tokens (\w+|[^\w\s]+) of the lowercased text, then space-joined n-grams up to
-- ngrams, each hashed to int(sha256(gram), 16) % buckets (the 256-bit digest reduced 64 bits at a time).
-- Python's \w is Unicode letters, digits and _; RE2's \w is ASCII, so the classes are spelled out. Python's
-- \s also holds \v, \x1c-\x1f, \x85 and Unicode separators. lower() differs from str.lower() on a few
-- letters (a final capital sigma, U+0130): README "In a DuckDB shell" lists them.
CREATE OR REPLACE MACRO sqlsel_wordpunct(text) AS
    regexp_extract_all(lower(text), '[\p{L}\p{N}_]+|[^\p{L}\p{N}_\s\x0b\x1c-\x1f\x85\p{Z}]+');

-- The digest's four 64-bit words by Horner's rule; the modulus is cast to UHUGEINT, which DuckDB would
-- otherwise take as DOUBLE modulo when it is not a constant.
CREATE OR REPLACE MACRO sqlsel_sha256_mod(gram, buckets) AS list_transform([sha256(gram)], lambda h:
    (((((('0x' || substr(h, 1, 16))::UBIGINT::UHUGEINT % buckets::UHUGEINT) * 18446744073709551616::UHUGEINT
          + ('0x' || substr(h, 17, 16))::UBIGINT) % buckets::UHUGEINT * 18446744073709551616::UHUGEINT
         + ('0x' || substr(h, 33, 16))::UBIGINT) % buckets::UHUGEINT * 18446744073709551616::UHUGEINT
        + ('0x' || substr(h, 49, 16))::UBIGINT) % buckets::UHUGEINT))[1]::INTEGER;

-- The tokens are bound once (a one-element list_transform) and every n-gram of them hashed.
CREATE OR REPLACE MACRO sqlsel_ngram_buckets(text, buckets, ngrams) AS list_transform([sqlsel_wordpunct(text)],
    lambda toks: flatten(list_transform(range(1, ngrams + 1), lambda n:
        list_transform(range(1, len(toks) - n + 2), lambda i:
            sqlsel_sha256_mod(array_to_string(toks[i:i + n - 1], ' '), buckets)))))[1];

-- sel_dsir_weight: the sum of the stored model's log ratio over the text's features (divided by their
-- number when the model was fitted with normalize), summed in feature order as the kernel sums them.
CREATE OR REPLACE MACRO sqlsel_dsir_model(model) AS (
    SELECT {'ratios': (SELECT list(b.log_ratio ORDER BY b.bucket) FROM sel_dsir_buckets b WHERE b.model_id = m.model_id),
            'buckets': (m.params->>'buckets')::INTEGER, 'ngrams': (m.params->>'ngrams')::INTEGER,
            'normalize': coalesce((m.params->>'normalize')::BOOLEAN, false)}
    FROM sel_models m WHERE m.name = model AND m.kind = 'dsir');

CREATE OR REPLACE MACRO sqlsel_dsir_weight(text, model) AS list_transform([sqlsel_dsir_model(model)], lambda m:
    list_transform([sqlsel_ngram_buckets(text, m.buckets, m.ngrams)], lambda feats:
        CASE WHEN text IS NULL THEN NULL
             WHEN m.normalize THEN coalesce(list_sum(list_transform(feats, lambda f: m.ratios[f + 1]))
                                            / nullif(len(feats), 0), 0)
             ELSE coalesce(list_sum(list_transform(feats, lambda f: m.ratios[f + 1])), 0) END)[1])[1];

-- sel_cluster (level 1) and sel_centroid_distance: the nearest centroid by exact squared distance, the
-- lowest cluster on a tie (as settle_near_ties decides), and the distance from the float32 differences.
CREATE OR REPLACE MACRO sqlsel_cluster(embedding, model) AS (
    SELECT c.cluster FROM sel_kmeans_centroids c JOIN sel_models m USING (model_id)
    WHERE m.name = model AND c.level = 1
    ORDER BY list_sum(list_transform(list_zip(embedding::FLOAT[], c.centroid),
                                     lambda p: ((p[1]::DOUBLE - p[2]::DOUBLE) ** 2))), c.cluster
    LIMIT 1);

CREATE OR REPLACE MACRO sqlsel_centroid_distance(embedding, model) AS (
    SELECT sqrt(list_sum(list_transform(list_zip(embedding::FLOAT[], c.centroid),
                                        lambda p: ((p[1] - p[2])::DOUBLE ** 2))))
    FROM sel_kmeans_centroids c JOIN sel_models m USING (model_id)
    WHERE m.name = model AND c.level = 1 AND c.cluster = sqlsel_cluster(embedding, model));

-- sel_stratified_quotas (CCS): a budget over strata of the given sizes, smallest stratum first (ties by
-- index), each taking min(size, remaining // strata left); then the floor-division shortfall is handed
-- out again in the same order. Both passes fold the sorted strata with list_reduce; DuckDB 1.5 wants the
-- accumulator of a list's own element type, so every element is a state struct carrying its size (and,
-- in the second pass, its first take). (sel_stratum, a score's stratum, is pure SQL: udfs/quotas.sql.)
CREATE OR REPLACE MACRO sqlsel_quota_state(rem, left_, q, size, take) AS
    {'rem': rem::BIGINT, 'left': left_::BIGINT, 'q': q::BIGINT[], 'size': size::BIGINT, 'take': take::BIGINT};

CREATE OR REPLACE MACRO sqlsel_stratified_quotas(sizes, budget) AS list_transform(
    [list_sort(list_transform(sizes, lambda s, i: [s::BIGINT, i::BIGINT]))], lambda ranked:
    list_transform([list_reduce(list_transform(ranked, lambda p: sqlsel_quota_state(0, 0, [], p[1], 0)),
        lambda acc, e: sqlsel_quota_state(acc.rem - least(e.size, acc.rem // acc.left), acc.left - 1,
                                          list_append(acc.q, least(e.size, acc.rem // acc.left)), 0, 0),
        sqlsel_quota_state(least(budget, list_sum(sizes)), len(sizes), [], 0, 0))],
    lambda first: list_transform([list_reduce(
        list_transform(list_zip(ranked, first.q), lambda z: sqlsel_quota_state(0, 0, [], z[1][1], z[2])),
        lambda acc, e: sqlsel_quota_state(acc.rem - least(e.size - e.take, acc.rem), 0,
                                          list_append(acc.q, e.take + least(e.size - e.take, acc.rem)), 0, 0),
        sqlsel_quota_state(first.rem, 0, [], 0, 0))],
    lambda second: list_transform(range(1, len(sizes) + 1), lambda k:
        second.q[list_position(list_transform(ranked, lambda p: p[2]), k)]))[1])[1])[1];

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
-- ngrams, each hashed to int(sha256(gram), 16) % buckets (the 256-bit digest reduced 32 bits at a time).
-- Python's \w is Unicode letters, digits and _; RE2's \w is ASCII, so the classes are spelled out. Python's
-- \s also holds \v, \x1c-\x1f, \x85 and Unicode separators. lower() differs from str.lower() on a few
-- letters (a final capital sigma, U+0130): README "In a DuckDB shell" lists them.
CREATE OR REPLACE MACRO sqlsel_wordpunct(text) AS
    regexp_extract_all(lower(text), '[\p{L}\p{N}_]+|[^\p{L}\p{N}_\s\x0b\x1c-\x1f\x85\p{Z}]+');

-- int(sha256(gram), 16) % buckets by Horner's rule over the digest's eight 32-bit words: the remainder stays
-- below 2^24 (buckets' upper bound), so every step fits a UBIGINT. The digest is bound once by a one-element
-- list_transform. (UHUGEINT steps over 64-bit words give the same remainder, 7.5x slower; whole features: 8.9x.)
CREATE OR REPLACE MACRO sqlsel_hex_word(h, k) AS ('0x' || substr(h, k, 8))::UBIGINT;

CREATE OR REPLACE MACRO sqlsel_mod_step(r, h, k, b) AS (r * 4294967296 + sqlsel_hex_word(h, k)) % b;

CREATE OR REPLACE MACRO sqlsel_sha256_mod(gram, buckets) AS list_transform([sha256(gram)], lambda h:
    sqlsel_mod_step(sqlsel_mod_step(sqlsel_mod_step(sqlsel_mod_step(sqlsel_mod_step(sqlsel_mod_step(
        sqlsel_mod_step(sqlsel_hex_word(h, 1) % buckets::UBIGINT, h, 9, buckets::UBIGINT), h, 17, buckets::UBIGINT),
        h, 25, buckets::UBIGINT), h, 33, buckets::UBIGINT), h, 41, buckets::UBIGINT), h, 49, buckets::UBIGINT),
        h, 57, buckets::UBIGINT))[1]::INTEGER;

-- The n-gram starting at token i: its tokens joined by spaces (concat_ws skips the NULLs past n; ngrams is
-- at most 8). Indexing is 8x faster than array_to_string over a slice; CASE, not if(), which a 1.5 shell
-- cannot read back from the file.
CREATE OR REPLACE MACRO sqlsel_gram(toks, i, n) AS concat_ws(' ', toks[i], CASE WHEN n > 1 THEN toks[i + 1] END,
    CASE WHEN n > 2 THEN toks[i + 2] END, CASE WHEN n > 3 THEN toks[i + 3] END, CASE WHEN n > 4 THEN toks[i + 4] END,
    CASE WHEN n > 5 THEN toks[i + 5] END, CASE WHEN n > 6 THEN toks[i + 6] END, CASE WHEN n > 7 THEN toks[i + 7] END);

-- The tokens are bound once (a one-element list_transform) and every n-gram of them hashed.
CREATE OR REPLACE MACRO sqlsel_ngram_buckets(text, buckets, ngrams) AS CASE
    WHEN ngrams NOT BETWEEN 1 AND 8 OR buckets NOT BETWEEN 1 AND 16777216
    THEN error('ngrams must be in 1..8 and buckets in 1..16777216, as sel_ngram_buckets takes them; got '
               || ngrams || ' and ' || buckets)
    ELSE list_transform([sqlsel_wordpunct(text)],
    lambda toks: flatten(list_transform(range(1, ngrams + 1), lambda n:
        list_transform(range(1, len(toks) - n + 2), lambda i: sqlsel_sha256_mod(sqlsel_gram(toks, i, n), buckets)))))[1]
    END;

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

-- sel_cluster and sel_centroid_distance: the nearest level-1 centroid by exact squared distance, the lowest
-- cluster on a tie (as settle_near_ties decides), then its ancestors up to the level asked for, through
-- each level's parent list (as Hierarchy.paths walks them); the distance from the float32 differences.
CREATE OR REPLACE MACRO sqlsel_nearest_centroid(embedding, model) AS (
    SELECT c.cluster FROM sel_kmeans_centroids c JOIN sel_models m USING (model_id)
    WHERE m.name = model AND c.level = 1
    ORDER BY list_sum(list_transform(list_zip(embedding::FLOAT[], c.centroid),
                                     lambda p: ((p[1]::DOUBLE - p[2]::DOUBLE) ** 2))), c.cluster
    LIMIT 1);

-- [level 1's parents, level 2's, …]: parents[l][c + 1] is the level-(l + 1) cluster of level-l cluster c.
CREATE OR REPLACE MACRO sqlsel_kmeans_parents(model) AS (
    SELECT list(parents ORDER BY parent_level) FROM (
        SELECT c.level AS parent_level, list(c.parent ORDER BY c.cluster) AS parents
        FROM sel_kmeans_centroids c JOIN sel_models m USING (model_id)
        WHERE m.name = model AND m.kind = 'kmeans' GROUP BY c.level));

-- A level's centroids in cluster order (the parameter is not named level: the table has a column of that name).
CREATE OR REPLACE MACRO sqlsel_level_centroids(model, at_level) AS (
    SELECT list(c.centroid ORDER BY c.cluster) FROM sel_kmeans_centroids c JOIN sel_models m USING (model_id)
    WHERE m.name = model AND m.kind = 'kmeans' AND c.level = at_level);

CREATE OR REPLACE MACRO sqlsel_cluster_at(embedding, model, at_level) AS list_transform(
    [{'parents': sqlsel_kmeans_parents(model), 'dim': len(sqlsel_level_centroids(model, 1)[1]),
      'nearest': sqlsel_nearest_centroid(embedding, model)}], lambda m: CASE
        WHEN m.parents IS NULL THEN error('no k-means model named ' || model || ' in this catalog; fit one with sel_kmeans_fit')
        WHEN at_level IS NULL OR at_level < 1 OR at_level > len(m.parents)
        THEN error('level must be between 1 and ' || len(m.parents) || ' for model ' || model || '; got ' || coalesce(at_level::VARCHAR, 'NULL'))
        WHEN embedding IS NULL THEN NULL
        WHEN len(embedding) <> m.dim
        THEN error('embedding has ' || len(embedding) || ' dimensions; model ' || model || ' has ' || m.dim)
        ELSE list_reduce(list_concat([m.nearest], range(1, at_level)::INTEGER[]),
                         lambda cluster, lv: m.parents[lv][cluster + 1]) END)[1];

-- The public forms take level := as the sel_ functions do; the subqueries' tables have a column named level.
CREATE OR REPLACE MACRO sqlsel_cluster(embedding, model, level := 1) AS sqlsel_cluster_at(embedding, model, level);

CREATE OR REPLACE MACRO sqlsel_centroid_distance_at(embedding, model, at_level) AS
    list_transform([sqlsel_level_centroids(model, at_level)[sqlsel_cluster_at(embedding, model, at_level) + 1]], lambda centroid:
        sqrt(list_sum(list_transform(list_zip(embedding::FLOAT[], centroid), lambda p: ((p[1] - p[2])::DOUBLE ** 2)))))[1];

CREATE OR REPLACE MACRO sqlsel_centroid_distance(embedding, model, level := 1) AS
    sqlsel_centroid_distance_at(embedding, model, level);

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

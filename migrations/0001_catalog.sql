-- The sqlsel catalog: fitted models with their payload tables, and one row per recipe run.

CREATE SEQUENCE sel_model_ids START 1;

CREATE TABLE sel_models (
    name              VARCHAR PRIMARY KEY,     -- what SQL functions take, e.g. sel_dsir_weight(text, name)
    model_id          BIGINT NOT NULL,         -- new on every refit; payload rows reference it
    kind              VARCHAR NOT NULL,        -- 'dsir', …
    params            JSON NOT NULL,           -- fit parameters (buckets, ngrams, smoothing, …)
    created           TIMESTAMP NOT NULL DEFAULT current_timestamp,
    input_fingerprint VARCHAR                  -- digest of what the model was fitted on
);

-- DSIR payload: the target and raw n-gram histograms and their log ratio, one row per bucket.
CREATE TABLE sel_dsir_buckets (
    model_id     BIGINT NOT NULL,
    bucket       INTEGER NOT NULL,
    target_count BIGINT NOT NULL,
    raw_count    BIGINT NOT NULL,
    log_ratio    DOUBLE NOT NULL
);

CREATE SEQUENCE sel_run_ids START 1;

CREATE TABLE sel_runs (
    run_id           BIGINT PRIMARY KEY DEFAULT nextval('sel_run_ids'),
    recipe           VARCHAR NOT NULL,         -- recipe name or file path
    query_hash       VARCHAR NOT NULL,         -- sha256 of the recipe text
    params           JSON NOT NULL,            -- every parameter value the run used
    seed             BIGINT,
    sqlsel_version   VARCHAR NOT NULL,
    duckdb_version   VARCHAR NOT NULL,
    inputs           JSON NOT NULL,            -- [{path, size, mtime}] of every input file
    output_path      VARCHAR,
    rows_out         BIGINT,
    selection_digest VARCHAR,                  -- sha256 of the sorted selected ids
    metrics          JSON,                     -- e.g. {"kl_reduction": …}
    started          TIMESTAMP NOT NULL,
    ended            TIMESTAMP,
    status           VARCHAR NOT NULL,         -- 'ok' | 'failed'
    error            VARCHAR
);

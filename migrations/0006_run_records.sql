-- Run records that hold what a rerun and a report need, and models that name the run that fitted them.
-- A run's row is written when it starts (status 'running') and completed when it ends: 'ok', 'failed',
-- 'interrupted', or 'killed' (its process died; the next open of the catalog says so and removes
-- what it had staged).

ALTER TABLE sel_runs ADD COLUMN recipe_text VARCHAR;  -- the recipe as it ran (NULL before 0006: such runs cannot be rerun)
ALTER TABLE sel_runs ADD COLUMN statements JSON;      -- [{sql, seconds, rows}] per statement, in order
ALTER TABLE sel_runs ADD COLUMN engine VARCHAR;       -- 'duckdb'
ALTER TABLE sel_runs ADD COLUMN key_column VARCHAR;   -- the input column that keyed the rows
ALTER TABLE sel_runs ADD COLUMN threads INTEGER;      -- DuckDB threads the run used
ALTER TABLE sel_runs ADD COLUMN pid INTEGER;          -- process and host that ran it
ALTER TABLE sel_runs ADD COLUMN host VARCHAR;

ALTER TABLE sel_models ADD COLUMN run_id BIGINT;      -- the run that fitted the model (NULL: fitted outside a run)

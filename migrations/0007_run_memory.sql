-- The memory a run was given: DuckDB's memory_limit as it read during the run (e.g. '1.3 GiB' for --memory 1.5GB).
-- Selections do not depend on it (set-level functions give the same result cluster by cluster), but a rerun that
-- means to reproduce a run's time and memory needs it.

ALTER TABLE sel_runs ADD COLUMN memory_limit VARCHAR;

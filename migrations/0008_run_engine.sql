-- Where a run ran beyond the engine's name: for Spark its master, version and partitions
-- ({"master": "local[2]", "spark_version": "4.3.0", "default_parallelism": 2, "shuffle_partitions": 4}).

ALTER TABLE sel_runs ADD COLUMN engine_info JSON;

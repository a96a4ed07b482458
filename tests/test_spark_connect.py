"""Spark Connect: no SparkContext, no broadcast; models travel inside the functions, and the selection is DuckDB's.

Runs in a process of its own: pyspark's remote("local[2]") starts a Spark Connect server inside the
calling process, which cannot share it with the test session's classic Spark session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import json, sys
from pyspark.sql import SparkSession
import sqlsel
# a few shuffle partitions, as sqlsel's own local sessions use: Spark's 200 made this test take 30 s longer
builder = SparkSession.builder.remote("local[2]").config("spark.sql.shuffle.partitions", "4")
spark = builder.getOrCreate()
assert type(spark).__module__.startswith("pyspark.sql.connect")
pool, target, db, out = sys.argv[1:5]
found = {}
for recipe, params in [
    ("dsir_select", {"pool": pool, "target": target, "k": 25, "seed": 4}),
    ("semdedup", {"pool": pool, "clusters": 10, "eps": 0.2}),
]:
    on_connect = sqlsel.run_recipe(recipe, params, db=db, engine="spark", spark=spark, out=out)
    on_duckdb = sqlsel.run_recipe(recipe, params, db=db)
    found[recipe] = [on_connect.selection_digest, on_duckdb.selection_digest, on_connect.rows_out]
print("RESULT " + json.dumps(found))
"""


def test_recipes_over_spark_connect_select_what_duckdb_selects(spark, examples, tmp_path):
    from tests.conftest import need

    need("grpc")  # pyspark[connect]
    args = [
        str(examples / "pool.parquet"),
        str(examples / "target.jsonl"),
        str(tmp_path / "c.duckdb"),
        str(tmp_path / "out.parquet"),
    ]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))[7:])
    for recipe, (connect, duckdb, rows) in found.items():
        assert connect == duckdb and rows > 0, recipe

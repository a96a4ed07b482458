"""The same recipe on Spark local[2] and on DuckDB selects the same keys, in the same order, with the same scores."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

import sqlsel

CASES = [
    ("dsir_select", {}),
    ("dsir_select", {"seed": 7, "normalize": True, "min_tokens": 20, "buckets": 4096, "ngrams": 3}),
    ("dsir_select", {"top_k": True, "smoothing": 0.0}),
    ("zipfit_select", {}),
    ("zipfit_select", {"mode": "fast", "algorithm": "zstd", "level": 3}),
]
SCORES = {"dsir_select": "log_weight", "zipfit_select": "zipfit"}


def both(spark, recipe, params, tmp_path, **kwargs):
    db = tmp_path / "catalog.duckdb"
    on_spark = sqlsel.run_recipe(recipe, params, db=db, engine="spark", spark=spark, **kwargs)
    on_duckdb = sqlsel.run_recipe(recipe, params, db=db, **kwargs)
    return on_spark, on_duckdb


def assert_same_selection(a, b, score):
    assert a.column("id").to_pylist() == b.column("id").to_pylist()
    x, y = np.array(a.column(score).to_pylist()), np.array(b.column(score).to_pylist())
    np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("recipe", "extra"), CASES)
def test_spark_selects_what_duckdb_selects(spark, examples, tmp_path, recipe, extra):
    params = {"pool": str(examples / "pool.parquet"), "target": str(examples / "target.jsonl"), "k": 25, **extra}
    on_spark, on_duckdb = both(spark, recipe, params, tmp_path)
    assert on_spark.rows_out == on_duckdb.rows_out == 25
    assert on_spark.selection_digest == on_duckdb.selection_digest
    assert on_spark.table.schema.names == on_duckdb.table.schema.names
    assert_same_selection(on_spark.table, on_duckdb.table, SCORES[recipe])


def test_string_keys_under_another_name(spark, examples, tmp_path):
    table = pq.read_table(examples / "pool.parquet")
    keys = [f"doc-{i:05d}" for i in table.column("id").to_pylist()]
    pool = tmp_path / "pool.parquet"
    pq.write_table(table.drop(["id"]).append_column("doc", [keys]), pool)
    params = {"pool": str(pool), "target": str(examples / "target.jsonl"), "k": 10, "seed": 3}
    on_spark, on_duckdb = both(spark, "dsir_select", params, tmp_path, key="doc")
    assert on_spark.table.column("doc").to_pylist() == on_duckdb.table.column("doc").to_pylist()
    assert on_spark.selection_digest == on_duckdb.selection_digest


def test_output_file_keeps_the_recipes_order(spark, examples, tmp_path):
    params = {"pool": str(examples / "pool.parquet"), "target": str(examples / "target.jsonl"), "k": 40}
    out_spark, out_duckdb = tmp_path / "spark.parquet", tmp_path / "duckdb.parquet"
    sqlsel.run_recipe("zipfit_select", params, db=tmp_path / "c.duckdb", engine="spark", spark=spark, out=out_spark)
    sqlsel.run_recipe("zipfit_select", params, db=tmp_path / "c.duckdb", out=out_duckdb)
    assert_same_selection(pq.read_table(out_spark), pq.read_table(out_duckdb), "zipfit")
    assert sorted(p.name for p in tmp_path.iterdir() if "spark" in p.name) == ["spark.parquet"]

"""sqlsel.spark.register: the row functions in a user's Spark SQL, the same values as on DuckDB, models carried along."""

from __future__ import annotations

import pytest

import sqlsel
import sqlsel.spark
from sqlsel.spark.functions import driver_functions, row_functions


@pytest.fixture(scope="module")
def catalog(tmp_path_factory, examples_dir):
    db = tmp_path_factory.mktemp("spark-functions") / "catalog.duckdb"
    params = {"pool": str(examples_dir / "pool.parquet"), "target": str(examples_dir / "target.jsonl"), "k": 5}
    sqlsel.run_recipe("dsir_select", params, db=db)
    sqlsel.run_recipe("zipfit_select", params, db=db)
    con = sqlsel.connect(db)
    pool = examples_dir / "pool.parquet"
    con.execute(f"CREATE TABLE sel_scratch.v AS SELECT id, sel_hash_embed(text, 32) AS embedding FROM '{pool}'")
    con.execute("SELECT sel_kmeans_fit('km', 'sel_scratch.v', '4', 0)").fetchall()
    con.close()
    return db


@pytest.fixture(scope="module")
def examples_dir():
    from tests.conftest import EXAMPLES

    return EXAMPLES


def test_every_row_function_is_registered(spark):
    names = sqlsel.spark.register(spark)
    assert set(names) == set(row_functions()) and not set(names) & set(driver_functions())
    assert "sel_dsir_store" in driver_functions() and "sel_semdedup" in driver_functions()


def test_values_equal_duckdbs_with_nulls_keys_and_models(spark, catalog, examples_dir):
    sqlsel.spark.register(spark, db=catalog)
    spark.read.parquet(str(examples_dir / "pool.parquet")).createOrReplaceTempView("sf_pool")
    query = (
        "SELECT id, sel_ngram_buckets(text, 1000, 2) AS b, sel_gumbel(id, 3) AS g, sel_gumbel(CAST(id AS STRING), 3) AS gs, "
        "sel_dsir_weight(text, 'dsir_select') AS w, sel_zipfit_fast(text, 'zipfit_select') AS z, "
        "sel_token_count(CASE WHEN id % 7 = 0 THEN NULL ELSE text END) AS n, sel_language(text).lang AS lang "
        "FROM sf_pool ORDER BY id"
    )
    on_spark = [tuple(r) for r in spark.sql(query).collect()]
    con = sqlsel.connect(catalog, read_only=True)
    con.execute(f"CREATE VIEW sf_pool AS SELECT * FROM '{examples_dir / 'pool.parquet'}'")
    on_duckdb = con.execute(query.replace("CAST(id AS STRING)", "id::VARCHAR")).fetchall()
    con.close()
    assert len(on_spark) == len(on_duckdb) == 2000
    for a, b in zip(on_spark, on_duckdb, strict=True):
        assert a[:2] == b[:2] and a[6:] == b[6:]
        assert a[2:6] == pytest.approx(b[2:6], rel=1e-12)
    assert any(r[6] is None for r in on_spark)


def test_optional_arguments_take_their_defaults(spark, catalog, examples_dir):
    sqlsel.spark.register(spark, db=catalog)
    spark.read.parquet(str(examples_dir / "pool.parquet")).createOrReplaceTempView("sf_pool")
    query = "SELECT sel_cluster(sel_hash_embed(text, 32), 'km') AS c, sel_cluster(sel_hash_embed(text, 32), 'km', 1) AS c1 FROM sf_pool ORDER BY id"
    on_spark = [tuple(r) for r in spark.sql(query).collect()]
    con = sqlsel.connect(catalog, read_only=True)
    con.execute(f"CREATE VIEW sf_pool AS SELECT * FROM '{examples_dir / 'pool.parquet'}'")
    assert on_spark == con.execute(query).fetchall()
    con.close()
    assert len({c for c, _ in on_spark}) == 4
    with pytest.raises(Exception, match="takes 3 arguments"):
        spark.sql("SELECT sel_ngram_buckets('a b')").collect()


def test_an_unknown_model_says_how_to_fit_one(spark):
    sqlsel.spark.register(spark)
    with pytest.raises(Exception, match="dsir_select recipe"):
        spark.sql("SELECT sel_dsir_weight('some text', 'nope')").collect()

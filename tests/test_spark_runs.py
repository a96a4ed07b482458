"""A Spark run is recorded, checked before any work, and fails in one line leaving nothing behind."""

from __future__ import annotations

import pytest

import sqlsel
from sqlsel.catalog import get_run
from sqlsel.errors import SqlselError


def params(examples, **extra):
    return {"pool": str(examples / "pool.parquet"), "target": str(examples / "target.jsonl"), "k": 5, **extra}


def test_the_run_record_names_the_engine_and_master(spark, examples, tmp_path):
    db = tmp_path / "c.duckdb"
    result = sqlsel.run_recipe("dsir_select", params(examples), db=db, engine="spark", spark=spark)
    con = sqlsel.connect(db, read_only=True)
    record = get_run(con, result.run_id)
    models = con.execute("SELECT name, run_id FROM sel_models").fetchall()
    con.close()
    assert record["status"] == "ok" and record["engine"] == "spark"
    info = record["engine_info"]
    assert info["master"] == "local[2]" and info["spark_version"] == spark.version
    assert info["input_partitions"]["pool"] >= 1 and info["shuffle_partitions"] == 4
    assert len(record["statements"]) == 6 and models == [("dsir_select", result.run_id)]


def test_a_model_fitted_on_spark_scores_on_duckdb(spark, examples, tmp_path):
    db = tmp_path / "c.duckdb"
    sqlsel.run_recipe("zipfit_select", params(examples), db=db, engine="spark", spark=spark)
    con = sqlsel.connect(db, read_only=True)
    score = con.execute("SELECT sel_zipfit('def f(x): return x', 'zipfit_select')").fetchall()[0][0]
    con.close()
    assert 0 < score < 1


def test_a_recipe_that_does_not_carry_is_refused_before_any_work(examples, tmp_path):
    recipe = tmp_path / "mine.sql"
    recipe.write_text("-- param pool: table; rows\nSELECT 1;\nSELECT id, hash(text) AS h FROM pool;\n")
    with pytest.raises(SqlselError, match=r"does not run on Spark as written:\n  statement 2 \(line 3\): hash\(\)"):
        sqlsel.run_recipe(recipe, {"pool": str(examples / "pool.parquet")}, db=tmp_path / "c.duckdb", engine="spark")


def test_a_failing_statement_is_one_line_and_leaves_nothing(spark, examples, tmp_path):
    recipe = tmp_path / "broken.sql"
    recipe.write_text(
        "-- param pool: table; rows\n-- param model: VARCHAR = 'm'\n-- key: pool\n-- fits: model\n"
        "SELECT sel_zipfit_target($model, list(text ORDER BY text), 'lz4', 0) FROM pool;\n"
        "SELECT CASE WHEN count(*) > 0 THEN error('boom: the pool has rows') END FROM pool;\n"
        "SELECT id, sel_zipfit(text, $model) AS z FROM pool;\n"
    )
    db, out = tmp_path / "c.duckdb", tmp_path / "out.parquet"
    with pytest.raises(SqlselError) as caught:
        sqlsel.run_recipe(recipe, {"pool": str(examples / "pool.parquet")}, db=db, engine="spark", spark=spark, out=out)
    assert (
        str(caught.value).startswith("boom: the pool has rows")
        and "\n" not in str(caught.value)
        and "at org.apache" not in str(caught.value)
    )
    con = sqlsel.connect(db, read_only=True)
    assert con.execute("SELECT status FROM sel_runs").fetchall() == [("failed",)]
    assert con.execute("SELECT count(*) FROM sel_models").fetchall() == [(0,)]  # the staged target set is gone
    con.close()
    assert list(tmp_path.glob("*.parquet*")) == []
    assert not {t.name for t in spark.catalog.listTables()} & {"pool", "sel_result"}  # the run's views are gone


def test_a_driver_statement_refuses_a_relation_above_the_limit(spark, examples, tmp_path, monkeypatch):
    import sqlsel.spark.runner as spark_runner

    monkeypatch.setattr(spark_runner, "DRIVER_ROWS", 100)
    with pytest.raises(SqlselError, match=r"reads _dsir_histograms: 10,000 rows, more than the 100"):
        sqlsel.run_recipe("dsir_select", params(examples), db=tmp_path / "c.duckdb", engine="spark", spark=spark)


def test_engine_options_are_checked(examples, tmp_path):
    with pytest.raises(SqlselError, match="Unknown engine 'sprak'. Did you mean 'spark'"):
        sqlsel.run_recipe("dsir_select", params(examples), db=tmp_path / "c.duckdb", engine="sprak")
    with pytest.raises(SqlselError, match="--master and a Spark session go with --engine spark"):
        sqlsel.run_recipe("dsir_select", params(examples), db=tmp_path / "c.duckdb", master="local[2]")

"""The runner on the dsir_select recipe: outputs, run records, and bad input."""

from __future__ import annotations

import json

import duckdb
import pytest

import sqlsel
from sqlsel.errors import InputError, OutputError, ParameterError, RecipeSyntaxError, SqlselError, UnknownModelError


def run(con, pool, target, **params):
    return sqlsel.run_recipe("dsir_select", {"pool": str(pool), "target": str(target), **params}, con=con)


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".csv"])
def test_output_format_follows_extension(con, small_task, tmp_path, suffix):
    out = tmp_path / f"picked{suffix}"
    result = sqlsel.run_recipe(
        "dsir_select", {"pool": str(small_task[0]), "target": str(small_task[1]), "k": 5}, con=con, out=out
    )
    assert result.rows_out == 5 and out.exists()
    assert con.execute(f"SELECT count(*) FROM '{out}'").fetchone()[0] == 5
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_output_keeps_input_columns_and_log_weight(con, small_task):
    table = run(con, *small_task, k=3).table
    assert table.column_names == ["id", "text", "log_weight"]


def test_selects_the_target_domain(con, small_task):
    ids = run(con, *small_task, k=10).table.column("id").to_pylist()
    assert all(i < 30 for i in ids)  # prose rows, not code


def test_k_larger_than_pool_selects_everything(con, small_task):
    assert run(con, *small_task, k=1000).rows_out == 60


@pytest.mark.parametrize("k", [0, -3])
def test_k_not_positive_is_an_error(con, small_task, k):
    with pytest.raises(SqlselError, match="Parameter k must be >= 1"):
        run(con, *small_task, k=k)


def test_run_is_recorded(con, small_task):
    result = run(con, *small_task, k=4, seed=7)
    row = con.execute(
        "SELECT recipe, status, rows_out, seed, params, inputs, selection_digest FROM sel_runs"
    ).fetchone()
    assert row[:4] == ("dsir_select", "ok", 4, 7)
    assert json.loads(row[4])["k"] == 4
    assert {i["path"] for i in json.loads(row[5])} == {str(p) for p in small_task}
    assert row[6] == result.selection_digest
    assert "kl_reduction" in result.metrics


def test_null_and_empty_text(con, write_jsonl, small_task):
    pool = write_jsonl("nulls.jsonl", [{"id": 1, "text": None}, {"id": 2, "text": ""}, {"id": 3, "text": "a cat"}])
    table = run(con, pool, small_task[1], k=10).table
    weights = dict(zip(table.column("id").to_pylist(), table.column("log_weight").to_pylist()))
    assert 1 not in weights  # NULL text: NULL weight, never selected
    assert weights[2] == 0.0  # empty text: no n-grams, weight 0


def test_min_tokens_filters_short_rows(con, write_jsonl, small_task):
    pool = write_jsonl("short.jsonl", [{"id": 1, "text": "a cat"}, {"id": 2, "text": "the cat sat on the mat"}])
    assert run(con, pool, small_task[1], k=10, min_tokens=3).table.column("id").to_pylist() == [2]


def test_missing_pool_file_names_the_path(con, small_task, tmp_path):
    with pytest.raises(InputError, match="nope.parquet"):
        run(con, tmp_path / "nope.parquet", small_task[1], k=1)


def test_invalid_utf8_jsonl_is_a_clear_error_and_writes_nothing(con, small_task, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"id": 1, "text": "ok"}\n{"id": 2, "text": "bad \xff\xfe"}\n')
    out = tmp_path / "out.parquet"
    with pytest.raises(InputError, match="UTF-8"):
        sqlsel.run_recipe("dsir_select", {"pool": str(bad), "target": str(small_task[1]), "k": 1}, con=con, out=out)
    assert not out.exists()
    assert con.sql("SELECT status FROM sel_runs").fetchall() == [("failed",)]


def test_missing_parameter_lists_the_parameters(small_task):
    with pytest.raises(ParameterError, match="Missing parameter 'k' .* Its parameters: pool, target, k, seed"):
        sqlsel.run_recipe("dsir_select", {"pool": str(small_task[0]), "target": str(small_task[1])})


def test_unknown_parameter_suggests(small_task):
    with pytest.raises(ParameterError, match="Did you mean 'seed'"):
        sqlsel.run_recipe("dsir_select", {"pool": "x", "target": "y", "k": 1, "sed": 1})


def test_unknown_output_extension(small_task, tmp_path):
    with pytest.raises(OutputError, match=".parquet, .jsonl, .csv"):
        sqlsel.run_recipe("dsir_select", {"pool": "x", "target": "y", "k": 1}, out=tmp_path / "o.txt")


def test_unknown_model_lists_known_models(con, small_task, tmp_path):
    run(con, *small_task, k=1, model="cats")
    recipe = tmp_path / "score.sql"
    recipe.write_text("-- param pool: table; pool\nSELECT id, sel_dsir_weight(text, 'dogs') FROM pool;\n")
    with pytest.raises(UnknownModelError, match="Unknown model 'dogs'.*'cats'"):
        sqlsel.run_recipe(recipe, {"pool": str(small_task[0])}, con=con)


def test_unknown_model_in_plain_sql(con):
    with pytest.raises(duckdb.Error, match="Unknown model 'nope'"):
        con.sql("SELECT sel_dsir_weight('a', 'nope')").fetchall()


def test_malformed_sql_shows_line_and_column(con, tmp_path, small_task):
    recipe = tmp_path / "bad.sql"
    recipe.write_text("-- param pool: table; pool\nSELECT id\nFORM pool WHERE text = 'x';\n")
    with pytest.raises(RecipeSyntaxError) as err:
        sqlsel.run_recipe(recipe, {"pool": str(small_task[0])}, con=con)
    assert (err.value.line, err.value.column) == (3, 6)
    assert "line 3, column 6" in str(err.value)


def test_failed_run_leaves_catalog_models_unchanged(con, small_task, write_jsonl):
    run(con, *small_task, k=1, model="m")
    before = con.sql("SELECT model_id FROM sel_models WHERE name = 'm'").fetchall()
    empty_target = write_jsonl("empty.jsonl", [{"text": ""}])
    with pytest.raises(SqlselError, match="target has no tokens"):
        run(con, small_task[0], empty_target, k=1, model="m")
    assert con.sql("SELECT model_id FROM sel_models WHERE name = 'm'").fetchall() == before


def test_inputs_can_be_arrow_tables_and_relations(con):
    import pyarrow as pa

    pool = pa.table({"id": [1, 2, 3], "text": ["a cat sat", "def f(x): return x", "the cat purred"]})
    target = con.sql("SELECT 'cats sit on mats' AS text")
    result = sqlsel.run_recipe("dsir_select", {"pool": pool, "target": target, "k": 2, "top_k": True}, con=con)
    assert sorted(result.table.column("id").to_pylist()) == [1, 3]


def test_an_unknown_function_is_named_before_any_work(con, small_task, tmp_path):
    from sqlsel.errors import UnknownFunctionError

    recipe = tmp_path / "typo.sql"
    recipe.write_text("-- param pool: table; rows\nSELECT id, sel_token_cuont(text) AS n FROM pool;\n")
    with pytest.raises(UnknownFunctionError, match="'sel_token_cuont'. Did you mean 'sel_token_count'"):
        sqlsel.run_recipe(recipe, {"pool": str(small_task[0])}, con=con)
    assert con.sql("SELECT count(*) FROM sel_runs WHERE status = 'ok'").fetchall() == [(0,)]


def test_sqlsels_macros_pass_the_function_check(con, small_task, tmp_path):
    recipe = tmp_path / "macros.sql"
    recipe.write_text(
        "-- param pool: table; rows\nSELECT id, sel_key_hash(id) AS h, sel_is_finite(1.0) AS f FROM pool;\n"
    )
    assert sqlsel.run_recipe(recipe, {"pool": str(small_task[0])}, con=con).rows_out > 0


def _own_macro_recipe(tmp_path, called: str):
    """A recipe that defines sel_longer_than and calls ``called``."""
    recipe = tmp_path / "own_macro.sql"
    recipe.write_text(
        "-- param pool: table; rows\n"
        "CREATE OR REPLACE TEMP MACRO sel_longer_than(t, n) AS length(t) > n;\n"
        f"SELECT id FROM pool WHERE {called}(text, 0);\n"
    )
    return recipe


def test_a_recipe_may_call_a_sel_macro_it_defines_itself(con, small_task, tmp_path):
    recipe = _own_macro_recipe(tmp_path, "sel_longer_than")
    assert sqlsel.run_recipe(recipe, {"pool": str(small_task[0])}, con=con).rows_out > 0


def test_a_misspelt_call_of_the_recipes_own_macro_is_named_with_it(con, small_task, tmp_path):
    from sqlsel.errors import UnknownFunctionError

    recipe = _own_macro_recipe(tmp_path, "sel_longer_thn")
    with pytest.raises(UnknownFunctionError, match="'sel_longer_thn'. Did you mean 'sel_longer_than'"):
        sqlsel.run_recipe(recipe, {"pool": str(small_task[0])}, con=con)

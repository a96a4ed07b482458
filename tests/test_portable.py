"""The portability check names what does not carry to Spark; Spark statements get macros expanded and typed literals."""

from __future__ import annotations

import pytest

from sqlsel.portable import is_driver_statement, portability_problems, spark_statement
from sqlsel.recipe import load_recipe, parse_recipe


def problems_of(tmp_path, body: str) -> list[str]:
    path = tmp_path / "mine.sql"
    path.write_text("-- param pool: table; rows\n" + body)
    return [p.construct for p in portability_problems(parse_recipe(path.read_text(), "mine", path))]


@pytest.mark.parametrize("recipe", ["dsir_select", "zipfit_select"])
def test_bundled_scoring_recipes_carry_to_spark(recipe):
    assert portability_problems(load_recipe(recipe)) == []


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("SELECT [x * 2 for x in l] FROM pool", "a list comprehension"),
        ("SELECT l[1:3] FROM pool", "a list slice x[a:b]"),
        ("SELECT list(x ORDER BY y) FROM pool", "list(x ORDER BY y)"),
        ("SELECT hash(id) FROM pool", "hash()"),
        ("SELECT * FROM (DESCRIBE pool)", "DESCRIBE"),
        ("SELECT * FROM pool UNION ALL BY NAME SELECT * FROM pool", "UNION … BY NAME"),
        ("SELECT len(features) FROM pool", "len()"),
        ("SELECT range AS b FROM range(10)", "a range() or generate_series() table"),
        ("SELECT strlen(text) FROM pool", "strlen()"),
    ],
)
def test_each_construct_that_does_not_carry_is_named(tmp_path, sql, construct):
    found = problems_of(tmp_path, sql + ";\nSELECT * FROM pool;\n")
    assert len(found) == 1 and found[0].startswith(construct)


def test_a_problem_says_where_and_what_to_write(tmp_path):
    path = tmp_path / "mine.sql"
    path.write_text("-- param pool: table; rows\nSELECT 1;\nSELECT hash(id) AS h\nFROM pool;\n")
    (problem,) = portability_problems(parse_recipe(path.read_text(), "mine", path))
    assert (problem.statement, problem.line) == (2, 3)
    assert "sel_key_hash" in str(problem)


def test_driver_statements_run_on_duckdb_as_written():
    sql = "SELECT sel_zipfit_target($model, list(text ORDER BY text), 'lz4', 0) FROM target"
    assert is_driver_statement(sql)
    assert not is_driver_statement("SELECT sel_zipfit(text, 'm') FROM pool")


def test_spark_sql_has_typed_literals_expanded_macros_and_local_scratch_names():
    sql = "SELECT sel_dsir_log_ratio(t, 10, r, 20, $b, $s) AS lr, $on AS flag FROM sel_scratch.hist WHERE $name = 'x'"
    out = spark_statement(sql, {"b": 4, "s": 0.5, "on": True, "name": "it's"}).sql(dialect="spark")
    assert "CAST('0.5' AS DOUBLE)" in out  # Spark would read 0.5 as a DECIMAL
    assert "SEL_DSIR_LOG_RATIO" not in out.upper() and "LN(" in out
    assert "FROM hist" in out and "TRUE AS flag" in out and "'it\\'s'" in out
    assert "RAISE_ERROR('no')" in spark_statement("SELECT error('no')", {}).sql(dialect="spark")


def test_a_duckdb_run_says_when_its_recipe_would_not_carry_to_spark(examples, tmp_path):
    import sqlsel

    recipe = tmp_path / "mine.sql"
    recipe.write_text("-- param pool: table; rows\nSELECT id, hash(text) AS h FROM pool;\n")
    result = sqlsel.run_recipe(recipe, {"pool": str(examples / "pool.parquet")}, db=tmp_path / "c.duckdb")
    assert result.rows_out == 2000
    assert result.notes == [
        f"recipe mine would not run on Spark as written (1 construct; `sqlsel check {recipe}` names them)"
    ]
    assert (
        sqlsel.run_recipe(
            "dsir_select",
            {"pool": str(examples / "pool.parquet"), "target": str(examples / "target.jsonl"), "k": 3},
            db=tmp_path / "c.duckdb",
        ).notes
        == []
    )


def test_sqlsel_check_lists_what_does_not_carry_and_exits_1(tmp_path):
    from click.testing import CliRunner

    from sqlsel.cli import cli

    fine = CliRunner().invoke(cli, ["check", "dsir_select"])
    assert fine.exit_code == 0 and "dsir_select: runs on spark as written" in fine.output
    recipe = tmp_path / "mine.sql"
    recipe.write_text("-- param pool: table; rows\nSELECT id, hash(text) AS h, l[1:2] AS s FROM pool;\n")
    bad = CliRunner().invoke(cli, ["check", str(recipe)])
    assert bad.exit_code == 1
    assert sorted(bad.output.splitlines()) == [
        "mine: statement 1 (line 2): a list slice x[a:b] does not carry to Spark; use list_slice(x, a, b)",
        "mine: statement 1 (line 2): hash() (a different function on Spark) does not carry to Spark; use sel_key_hash(key) or md5",
    ]


def test_an_unordered_row_number_is_named(tmp_path):
    assert problems_of(tmp_path, "SELECT id, row_number() OVER () AS n FROM pool") == [
        "row_number() or rank() without ORDER BY (Spark requires an ordered window)"
    ]
    assert problems_of(tmp_path, "SELECT id, rank() OVER () AS n FROM pool") == [
        "row_number() or rank() without ORDER BY (Spark requires an ordered window)"
    ]
    assert problems_of(tmp_path, "SELECT id, row_number() OVER (ORDER BY id) AS n FROM pool") == []

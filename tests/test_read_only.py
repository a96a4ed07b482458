"""Catalogs the user cannot write: read, score and list them; nothing is ever written to the file."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner

import sqlsel
from sqlsel.cli import cli
from sqlsel.errors import CatalogNotFoundError, ReadOnlyCatalogError, SqlselError


@pytest.fixture
def fitted(tmp_path, small_task, unwritable):
    """A catalog with one DSIR model and one run, then made unwritable (for root too)."""
    db = tmp_path / "catalog.duckdb"
    pool, target = small_task
    sqlsel.run_recipe("dsir_select", {"pool": str(pool), "target": str(target), "k": 5}, db=db)
    unwritable(db)
    unwritable(tmp_path)  # no WAL or temporary file can appear beside it either
    return db


def test_a_read_only_connection_scores_with_stored_models(fitted, small_task):
    before = fitted.read_bytes()
    con = sqlsel.connect(fitted, read_only=True)
    weights = con.execute(f"SELECT sel_dsir_weight(text, 'dsir_select') FROM '{small_task[0]}'").fetchall()
    con.execute("CREATE TABLE sel_scratch.v AS SELECT range AS id, [range, 1.0]::FLOAT[] AS embedding FROM range(9)")
    with pytest.raises(duckdb.Error, match="catalog is open read-only, so k-means model 'm' cannot be stored"):
        con.execute("SELECT sel_kmeans_fit('m', 'sel_scratch.v', '2')").fetchall()
    assert con.execute("SELECT status FROM sel_runs").fetchall() == [("ok",)]
    con.close()
    assert len(weights) == 60 and fitted.read_bytes() == before


def test_writable_open_of_an_unwritable_catalog_says_to_open_it_read_only(fitted):
    with pytest.raises(SqlselError, match="read_only=True"):
        sqlsel.connect(fitted)


def test_runs_and_models_list_an_unwritable_catalog(fitted):
    runner = CliRunner()
    runs = runner.invoke(cli, ["runs", "--db", str(fitted)])
    models = runner.invoke(cli, ["models", "--db", str(fitted)])
    assert runs.exit_code == 0 and "dsir_select" in runs.output and "ok" in runs.output
    assert models.exit_code == 0 and "dsir" in models.output


def test_a_piped_read_only_shell_queries_the_catalog(fitted):
    script = ".tables\nSELECT count(*) AS n FROM sel_dsir_buckets;\nSELECT sel_token_count('a b') AS t;\n"
    result = CliRunner().invoke(cli, ["shell", "--read-only", "--db", str(fitted)], input=script)
    assert result.exit_code == 0, result.output
    assert "10000" in result.output and "sel_models" in result.output


def test_a_run_on_a_read_only_catalog_is_not_recorded_and_cannot_fit(fitted, small_task, tmp_path):
    con = sqlsel.connect(fitted, read_only=True)
    recipe = tmp_path.parent / "score.sql"
    recipe.write_text(
        "-- param pool: table; pool\n-- key: pool\nSELECT id, sel_dsir_weight(text, 'dsir_select') AS w FROM pool;\n"
    )
    result = sqlsel.run_recipe(recipe, {"pool": str(small_task[0])}, con=con)
    assert result.run_id is None and result.rows_out == 60
    with pytest.raises(
        ReadOnlyCatalogError, match="so what recipe dsir_select fits \\('dsir_select'\\) cannot be stored"
    ):
        sqlsel.run_recipe("dsir_select", {"pool": str(small_task[0]), "target": str(small_task[1]), "k": 3}, con=con)
    con.close()


def test_an_older_catalog_reads_with_the_current_schema(tmp_path):
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    for path in sorted(sqlsel.resources.sql_files("migrations"))[:5]:  # as catalogs were before run records
        for statement in con.extract_statements(path.read_text()):
            con.execute(statement)
    con.execute("CREATE TABLE sel_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP)")
    con.close()
    ro = sqlsel.connect(db, read_only=True)
    assert ro.execute("SELECT count(*), count(recipe_text) FROM sel_runs").fetchall() == [(0, 0)]
    ro.close()


def test_read_only_needs_an_existing_catalog(tmp_path):
    with pytest.raises(CatalogNotFoundError, match="does not exist"):
        sqlsel.connect(tmp_path / "nope.duckdb", read_only=True)
    assert not (tmp_path / "nope.duckdb").exists()


def test_sqlsel_run_read_only_scores_and_says_the_run_is_not_recorded(fitted, small_task):
    recipe = fitted.parent.parent / "score_cli.sql"
    recipe.write_text(
        "-- param pool: table; pool\n-- key: pool\nSELECT id, sel_dsir_weight(text, 'dsir_select') AS w FROM pool;\n"
    )
    args = ["run", str(recipe), "--read-only", "--db", str(fitted), "-p", f"pool={small_task[0]}"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "run (not recorded: the catalog is read-only): 60 rows" in result.output


def test_reading_records_loads_no_function(fitted):
    from sqlsel.connection import read_catalog

    before = fitted.read_bytes()
    con = read_catalog(fitted)
    assert con.sql("SELECT recipe, status FROM sel_runs").fetchall() == [("dsir_select", "ok")]
    with pytest.raises(duckdb.CatalogException, match="sel_token_count"):
        con.sql("SELECT sel_token_count('a b')")
    con.close()
    assert fitted.read_bytes() == before


READ_RUNS = (
    "import atexit, sys; from sqlsel.cli import main; "
    "atexit.register(lambda: print('LOADED', 'numba' in sys.modules, 'sqlsel.udfs.dsir' in sys.modules)); main()"
)


def test_sqlsel_runs_and_models_import_no_kernel(fitted):
    import subprocess
    import sys

    for command in (["runs"], ["models"], ["runs", "show", "1"]):
        done = subprocess.run(
            [sys.executable, "-c", READ_RUNS, *command, "--db", str(fitted)], capture_output=True, text=True
        )
        assert done.returncode == 0 and "dsir_select" in done.stdout, done.stderr
        assert "LOADED False False" in done.stdout, command

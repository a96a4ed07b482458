"""Reruns repeat a recorded selection; a changed input is detected; runs diff says what differs."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

import sqlsel
from sqlsel.catalog import begin_run
from sqlsel.cli import cli
from sqlsel.errors import InputError, SqlselError
from sqlsel.reruns import diff_runs, rerun
from sqlsel.runner import _run_record
from tests.conftest import RECIPE_CASES, ROOT, TARGETED


def test_every_bundled_recipe_is_listed():
    assert sorted(RECIPE_CASES) == sorted(p.stem for p in (ROOT / "sql").glob("*.sql"))


@pytest.mark.parametrize("recipe", sorted(RECIPE_CASES))
def test_a_rerun_selects_the_same_rows(recipe, recipe_pool, examples, tmp_path):
    params = {"pool": str(recipe_pool), **RECIPE_CASES[recipe]}
    if recipe in TARGETED:
        params["target"] = str(examples / "target.jsonl")
    con = sqlsel.connect(tmp_path / "c.duckdb")
    first = sqlsel.run_recipe(recipe, params, con=con, out=tmp_path / "first.parquet")
    again = rerun(con, first.run_id, out=tmp_path / "again.parquet")
    assert again.same and not again.changed_inputs and again.result.rows_out == first.rows_out
    diff = diff_runs(con, first.run_id, again.result.run_id)
    assert diff["keys"]["overlap"] == first.rows_out and not diff["inputs"]
    con.close()


def test_fits_go_under_names_of_their_own(recipe_pool, examples, tmp_path):
    con = sqlsel.connect(tmp_path / "c.duckdb")
    params = {"pool": str(recipe_pool), "target": str(examples / "target.jsonl"), "k": 10}
    first = sqlsel.run_recipe("dsir_select", params, con=con)
    rerun(con, first.run_id)
    names = sorted(r[0] for r in con.execute("SELECT name FROM sel_models").fetchall())
    assert names == ["dsir_select", f"dsir_select_rerun{first.run_id}"]
    con.close()


def test_a_changed_input_is_named_and_strict_refuses(recipe_pool, tmp_path):
    copy = tmp_path / "pool.parquet"
    copy.write_bytes(recipe_pool.read_bytes())
    con = sqlsel.connect(tmp_path / "c.duckdb")
    first = sqlsel.run_recipe("exact_dedup", {"pool": str(copy)}, con=con)
    os.utime(copy, (1, 1))
    assert "modified since the run" in rerun(con, first.run_id).changed_inputs[0]
    with pytest.raises(InputError, match="changed since it ran"):
        rerun(con, first.run_id, strict=True)
    con.close()


def test_cli_rerun_and_diff(recipe_pool, tmp_path):
    db = str(tmp_path / "c.duckdb")
    runner = CliRunner()
    runner.invoke(
        cli, ["run", "exact_dedup", "-p", f"pool={recipe_pool}", "--db", db, "--out", str(tmp_path / "a.parquet")]
    )
    done = runner.invoke(cli, ["rerun", "1", "--db", db, "--out", str(tmp_path / "b.parquet")])
    assert done.exit_code == 0 and "same selection as run 1" in done.output
    runner.invoke(cli, ["run", "exact_dedup", "-p", f"pool={recipe_pool}", "-p", "normalize=true", "--db", db])
    diff = runner.invoke(cli, ["runs", "diff", "1", "3", "--db", db])
    assert "param normalize: False -> True" in diff.output and "overlap unknown" in diff.output


def test_unknown_and_unrecorded_runs_are_refused(tmp_path):
    con = sqlsel.connect(tmp_path / "c.duckdb")
    with pytest.raises(SqlselError, match="No run 7"):
        rerun(con, 7)
    begin_run(con, _run_record("old.sql", "", {}, None))  # as runs before migration 0006 were left
    with pytest.raises(SqlselError, match="without its recipe's text"):
        rerun(con, 1)
    con.close()

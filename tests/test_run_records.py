"""Every run is recorded, and only a run that succeeds changes the catalog's models."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import sqlsel
from sqlsel.cli import cli
from sqlsel.errors import ParameterError, RecipeSyntaxError, SqlselError
from sqlsel.resources import resource_dir


def dsir(con, small_task, **params):
    pool, target = small_task
    return sqlsel.run_recipe("dsir_select", {"pool": str(pool), "target": str(target), "k": 5, **params}, con=con)


def model_state(con, name="dsir_select"):
    return con.execute(
        "SELECT m.model_id, m.params, m.input_fingerprint, m.run_id, list(b.target_count ORDER BY b.bucket) "
        "FROM sel_models m JOIN sel_dsir_buckets b USING (model_id) WHERE m.name = ? "
        "GROUP BY ALL",
        [name],
    ).fetchall()


def failing_copy(tmp_path: Path, recipe: str, marker: str = "") -> Path:
    """The bundled recipe with statements before its final SELECT: a marker file, then an error."""
    text = (resource_dir("sql") / f"{recipe}.sql").read_text()
    head, last = text.rsplit("\n\n", 1)
    extra = f"COPY (SELECT 1 AS x) TO '{marker}';\n\n" if marker else ""
    path = tmp_path / f"{recipe}_failing.sql"
    path.write_text(f"{head}\n\n{extra}SELECT error('boom after the fit');\n\n{last}")
    return path


def test_a_run_that_fails_after_its_fit_leaves_the_model_as_it_was(con, small_task, tmp_path):
    first = dsir(con, small_task)
    before = model_state(con)
    assert before[0][3] == first.run_id and before[0][2] is not None  # provenance written with the model
    pool, target = small_task
    with pytest.raises(SqlselError, match="boom after the fit"):
        sqlsel.run_recipe(
            failing_copy(tmp_path, "dsir_select"),
            {"pool": str(pool), "target": str(target), "k": 5, "smoothing": 0.0},
            con=con,
        )
    assert model_state(con) == before
    assert con.execute("SELECT count(*) FROM sel_models WHERE name LIKE '%~staged%'").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM sel_dsir_buckets").fetchall() == [(10000,)]  # no orphan payload
    assert con.execute("SELECT status FROM sel_runs ORDER BY run_id").fetchall() == [("ok",), ("failed",)]


def test_a_failed_kmeans_recipe_leaves_its_model(con, small_task, tmp_path):
    pool = str(small_task[0])
    sqlsel.run_recipe("semdedup", {"pool": pool, "clusters": 3}, con=con)
    before = con.execute("SELECT model_id, created FROM sel_models WHERE name = 'semdedup'").fetchall()
    with pytest.raises(SqlselError, match="boom after the fit"):
        sqlsel.run_recipe(failing_copy(tmp_path, "semdedup"), {"pool": pool, "clusters": 4}, con=con)
    assert con.execute("SELECT model_id, created FROM sel_models WHERE name = 'semdedup'").fetchall() == before
    assert con.execute("SELECT DISTINCT model_id FROM sel_kmeans_centroids").fetchall() == [(before[0][0],)]


def test_parameter_and_syntax_errors_are_recorded_with_the_whole_error(con, small_task, tmp_path):
    with pytest.raises(ParameterError):
        dsir(con, small_task, smoothing="nan")
    bad = tmp_path / "bad.sql"
    bad.write_text("-- param pool: table; pool\nSELEC id FROM pool;\n")
    with pytest.raises(RecipeSyntaxError):
        sqlsel.run_recipe(bad, {"pool": str(small_task[0])}, con=con)
    rows = con.execute("SELECT status, error, params, recipe_text FROM sel_runs ORDER BY run_id").fetchall()
    assert rows[0][0] == "failed" and rows[0][1] == "Parameter smoothing must be a finite number; got 'nan'."
    assert json.loads(rows[0][2])["smoothing"] == "nan"
    assert rows[1][0] == "failed" and 'syntax error at or near "SELEC"' in rows[1][1] and "^" in rows[1][1]
    assert rows[1][3] == bad.read_text()


def test_a_run_records_its_statements_text_and_engine(con, small_task):
    result = dsir(con, small_task)
    record = sqlsel.catalog.get_run(con, result.run_id)
    assert record["engine"] == "duckdb" and record["key_column"] == "id" and record["threads"] >= 1
    assert [s["sql"] for s in record["statements"]][0].startswith("CREATE OR REPLACE TEMP TABLE _dsir_pool")
    assert record["statements"][0]["rows"] == 60 and all(s["seconds"] >= 0 for s in record["statements"])
    peaks = [s["peak_rss_mb"] for s in record["statements"]]
    assert peaks[0] > 50 and peaks == sorted(peaks)  # the process peak so far, after each statement
    assert record["recipe_text"].startswith("-- description: DSIR") and record["pid"] == os.getpid()


BIG_PARENT = """
import resource, subprocess, sys
import numpy as np
held = np.ones(600 << 20, np.uint8)  # 600 MB resident in the parent when it starts the child
child = "from sqlsel.runner import peak_rss_mb; import resource; "
child += "print(peak_rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
print(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux's")
def test_the_peak_is_the_process_own_not_its_parents_at_start():
    done = subprocess.run([sys.executable, "-c", BIG_PARENT], capture_output=True, text=True, check=True)
    own, _rusage = (float(v) for v in done.stdout.split())
    assert own < 500  # imports only; ru_maxrss (``_rusage``) reads ~625 MB here: the parent's at fork


def test_runs_show_and_json_and_models(tmp_path, small_task):
    db = str(tmp_path / "c.duckdb")
    pool, target = small_task
    runner = CliRunner()
    ok = runner.invoke(
        cli, ["run", "dsir_select", "--db", db, "-p", f"pool={pool}", "-p", f"target={target}", "-p", "k=3"]
    )
    assert ok.exit_code == 0, ok.output
    shown = runner.invoke(cli, ["runs", "show", "1", "--db", db])
    assert shown.exit_code == 0 and "selection_digest" in shown.output and "kl_reduction" in shown.output
    assert "_dsir_pool" in shown.output and "-- description: DSIR" in shown.output
    listed = json.loads(runner.invoke(cli, ["runs", "--json", "--db", db]).output)
    assert listed[0]["status"] == "ok" and listed[0]["statements"] and listed[0]["inputs"][0]["size"] > 0
    models = json.loads(runner.invoke(cli, ["models", "--json", "--db", db]).output)
    assert [(m["name"], m["kind"], m["run_id"]) for m in models] == [("dsir_select", "dsir", 1)]
    missing = runner.invoke(cli, ["runs", "show", "9", "--db", db])
    assert missing.exit_code == 1 and "No run 9" in missing.output


def test_read_commands_refuse_a_catalog_that_does_not_exist(tmp_path):
    for command in (["runs"], ["models"], ["runs", "show", "1"]):
        result = CliRunner().invoke(cli, [*command, "--db", str(tmp_path / "typo.duckdb")])
        assert result.exit_code == 1 and "No catalog at" in result.output
    assert not (tmp_path / "typo.duckdb").exists()


def _slow_run(tmp_path: Path, small_task, db: Path) -> tuple[subprocess.Popen, Path]:
    """`sqlsel run` of a recipe that fits, writes a marker file, then works for minutes."""
    marker = tmp_path / "fitted.marker"
    text = (resource_dir("sql") / "dsir_select.sql").read_text()
    head, last = text.rsplit("\n\n", 1)
    slow = "SELECT count(*) FROM range(1000000000) WHERE sel_token_count(range::VARCHAR) > 5;"
    recipe = tmp_path / "slow.sql"
    recipe.write_text(f"{head}\n\nCOPY (SELECT 1 AS x) TO '{marker}';\n\n{slow}\n\n{last}")
    pool, target = small_task
    args = ["run", str(recipe), "--db", str(db), "--out", str(tmp_path / "out.parquet")]
    args += ["-p", f"pool={pool}", "-p", f"target={target}", "-p", "k=5", "-p", "smoothing=0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "sqlsel.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 90
    while not marker.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert marker.exists(), process.communicate()[1] if process.poll() is not None else "no marker"
    time.sleep(0.5)
    return process, tmp_path / "out.parquet"


@pytest.fixture
def fitted(tmp_path, small_task):
    """A catalog file holding a DSIR model from one good run, and that model's state."""
    db = tmp_path / "c.duckdb"
    con = sqlsel.connect(db)
    dsir(con, small_task)
    state = model_state(con)
    con.close()
    return db, state


def test_ctrl_c_prints_one_line_exits_130_and_records_the_run(tmp_path, small_task, fitted):
    db, before = fitted
    process, out = _slow_run(tmp_path, small_task, db)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1] == (
        "Interrupted: run 2 is recorded as interrupted; no output was written and no model changed."
    )
    assert "Traceback" not in stderr
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    con = sqlsel.connect(db)
    assert con.execute("SELECT status FROM sel_runs WHERE run_id = 2").fetchall() == [("interrupted",)]
    assert model_state(con) == before
    con.close()


def test_a_killed_run_is_marked_and_its_staged_model_removed_on_the_next_open(tmp_path, small_task, fitted):
    db, before = fitted
    process, _ = _slow_run(tmp_path, small_task, db)
    process.kill()
    process.wait(timeout=30)
    con = sqlsel.connect(db)
    assert con.execute("SELECT status, error FROM sel_runs WHERE run_id = 2").fetchall()[0][0] == "killed"
    assert model_state(con) == before
    assert con.execute("SELECT count(*) FROM sel_models").fetchall() == [(1,)]
    assert con.execute("SELECT count(DISTINCT model_id) FROM sel_dsir_buckets").fetchall() == [(1,)]
    con.close()


def test_a_recipe_whose_header_does_not_parse_is_recorded(con, tmp_path):
    bad = tmp_path / "bad_header.sql"
    bad.write_text("-- param k: NUMBER; rows\nSELECT 1 AS id;\n")
    with pytest.raises(ParameterError, match="bad parameter declaration"):
        sqlsel.run_recipe(bad, {"k": "3"}, con=con)
    rows = con.execute("SELECT recipe, status, error, recipe_text FROM sel_runs").fetchall()
    assert rows[0][0] == str(bad) and rows[0][1] == "failed" and "bad parameter declaration" in rows[0][2]
    assert rows[0][3] == bad.read_text()


def test_ctrl_c_between_statements_stops_the_run(con, small_task):
    """con.interrupt() only stops a running query: the runner itself checks before the next statement."""
    dsir(con, small_task)
    before = model_state(con)

    def interrupt_after_the_fit(progress):
        if progress.finished and progress.index == 4:
            os.kill(os.getpid(), signal.SIGINT)

    pool, target = small_task
    params = {"pool": str(pool), "target": str(target), "k": 5, "smoothing": 0.0}
    with pytest.raises(KeyboardInterrupt, match="recorded as interrupted"):
        sqlsel.run_recipe("dsir_select", params, con=con, on_progress=interrupt_after_the_fit)
    assert con.execute("SELECT status FROM sel_runs ORDER BY run_id DESC LIMIT 1").fetchall() == [("interrupted",)]
    assert model_state(con) == before


def test_an_index_build_in_a_run_only_indexes_what_the_run_stored(con, tmp_path):
    con.execute("CREATE TABLE sel_scratch.v AS SELECT range AS id, [range, 1.0]::FLOAT[] AS embedding FROM range(9)")
    con.execute("SELECT sel_vectors_store('vt', 'sel_scratch.v')").fetchall()
    recipe = tmp_path / "index.sql"
    recipe.write_text("-- param name: VARCHAR = 'vt'; the vector table\nSELECT sel_index_build('ix', $name) AS n;\n")
    with pytest.raises(SqlselError, match="a recipe run can index only the vector tables it stores itself"):
        sqlsel.run_recipe(recipe, {}, con=con)
    recipe.write_text(
        "-- param name: VARCHAR = 'fresh'; the vector table\n"
        "SELECT sel_vectors_store($name, 'sel_scratch.v');\nSELECT sel_index_build('ix', $name) AS n;\n"
    )
    assert sqlsel.run_recipe(recipe, {}, con=con).status == "ok"
    assert con.execute("SELECT name, vector_table FROM sel_vector_indexes").fetchall() == [("ix", "fresh")]


def test_relation_parameters_are_recorded_by_type_not_by_their_rows(con, small_task):
    pool = con.read_json(str(small_task[0]))
    sqlsel.run_recipe("dsir_select", {"pool": pool, "target": str(small_task[1]), "k": 3}, con=con)
    params = json.loads(con.execute("SELECT params FROM sel_runs").fetchall()[0][0])
    assert params["pool"] == "<duckdb.DuckDBPyRelation>"

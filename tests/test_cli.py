from __future__ import annotations

import duckdb
from click.testing import CliRunner

from sqlsel.cli import cli


def invoke(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_run_writes_output_and_records(tmp_path, examples):
    out, db = tmp_path / "picked.parquet", tmp_path / "cat.duckdb"
    res = invoke(
        "run",
        "dsir_select",
        "-p",
        f"pool={examples / 'pool.parquet'}",
        "-p",
        f"target={examples / 'target.jsonl'}",
        "-p",
        "k=20",
        "--out",
        str(out),
        "--db",
        str(db),
        "--threads",
        "1",
    )
    assert res.exit_code == 0, res.output
    assert out.exists() and "20 rows" in res.output
    assert "dsir_select" in invoke("runs", "--db", str(db)).output
    report = invoke("report", "1", "--db", str(db), "--out", str(tmp_path / "report.html"))  # scores with the model
    assert report.exit_code == 0 and (tmp_path / "report.html").is_file() and (tmp_path / "report.json").is_file()


def test_errors_exit_non_zero_without_traceback(tmp_path):
    res = invoke(
        "run",
        "dsir_select",
        "-p",
        "pool=/no/such.parquet",
        "-p",
        "target=x",
        "-p",
        "k=1",
        "--db",
        str(tmp_path / "c.duckdb"),
    )
    assert res.exit_code == 1
    assert "No such file: '/no/such.parquet'" in res.output and "Traceback" not in res.output


def test_unknown_recipe_suggests(tmp_path):
    res = invoke("run", "dsir_selct", "--db", str(tmp_path / "c.duckdb"))
    assert res.exit_code == 1 and "Did you mean 'dsir_select'" in res.output


def test_a_recipe_file_whose_header_does_not_parse_is_a_recorded_failed_run(tmp_path):
    bad, db = tmp_path / "bad_header.sql", tmp_path / "c.duckdb"
    bad.write_text("-- param k: NUMBER; rows\nSELECT 1 AS id;\n")
    res = invoke("run", str(bad), "-p", "k=3", "--db", str(db))
    assert res.exit_code == 1 and "bad parameter declaration" in res.output
    with duckdb.connect(str(db)) as con:
        assert con.execute("SELECT recipe, status FROM sel_runs").fetchall() == [(str(bad), "failed")]


def test_a_missing_recipe_file_creates_no_catalog(tmp_path):
    res = invoke("run", str(tmp_path / "nothing.sql"), "--db", str(tmp_path / "c.duckdb"))
    assert res.exit_code == 1 and "nothing.sql" in res.output and not (tmp_path / "c.duckdb").exists()


def test_bad_param_syntax():
    res = CliRunner().invoke(cli, ["run", "dsir_select", "-p", "k"])
    assert res.exit_code == 2 and "NAME=VALUE" in res.output


def test_functions_lists_signatures():
    out = invoke("functions").output
    assert "sel_dsir_weight(text VARCHAR, model VARCHAR) -> DOUBLE" in out


def test_migrate_list(tmp_path):
    db = str(tmp_path / "c.duckdb")
    assert "0001_catalog: pending" in invoke("migrate", "--list", "--db", db).output
    assert "applied 0001_catalog" in invoke("migrate", "--db", db).output


def test_shell_runs_a_script_from_stdin(tmp_path):
    res = invoke("shell", "--db", str(tmp_path / "c.duckdb"), input="SELECT sel_token_count('a b c') AS n;\n")
    assert res.exit_code == 0 and "3" in res.output


def test_describe_lists_parameters():
    assert "k (BIGINT, required, >= 1)" in invoke("run", "dsir_select", "--describe").output


def test_functions_name_shows_doc_and_example():
    result = CliRunner().invoke(cli, ["functions", "sel_zipfit"])
    assert result.exit_code == 0
    assert "sel_zipfit(text VARCHAR, target VARCHAR) -> DOUBLE" in result.output and "Example:" in result.output


def test_functions_unknown_name_suggests():
    result = CliRunner().invoke(cli, ["functions", "sel_zipfitt"])
    assert result.exit_code != 0 and "Did you mean 'sel_zipfit'" in result.output


def test_memory_sets_duckdbs_limit_without_changing_the_selection(tmp_path, examples):
    pool = f"pool={examples / 'pool.parquet'}"
    for name, extra in (("limited", ["--memory", "200MB"]), ("default", [])):
        db = str(tmp_path / f"{name}.duckdb")
        res = invoke("run", "semdedup", "-p", pool, "-p", "removed=true", "--db", db, *extra)
        assert res.exit_code == 0, res.output
    records = [
        duckdb.connect(str(tmp_path / f"{name}.duckdb"))
        .sql("SELECT selection_digest, memory_limit FROM sel_runs")
        .fetchall()[0]
        for name in ("limited", "default")
    ]
    assert records[0][0] == records[1][0] and records[0][0]
    assert records[0][1].endswith("MiB") and records[0][1] != records[1][1]  # 200MB reads as 190.7 MiB


def test_memory_that_is_no_size_is_refused(tmp_path, examples):
    res = invoke(
        "run",
        "semdedup",
        "-p",
        f"pool={examples / 'pool.parquet'}",
        "--db",
        str(tmp_path / "c.duckdb"),
        "--memory",
        "lots",
    )
    assert res.exit_code != 0 and "--memory must be a size such as 1.5GB" in res.output

"""Fitted models in a plain DuckDB shell: the pure-SQL sqlsel_ macros equal the sel_ functions, in the real CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sqlsel
from tests.conftest import EXAMPLES

SQLSEL = str(Path(sys.executable).parent / "sqlsel")
#: Characters whose lowercase DuckDB's lower() gives differently from Python's str.lower (README lists them).
LOWER_DIFFERS = ("\u0130", "\u03a3")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A catalog with a DSIR model and a k-means model fitted on stored embeddings, and the pool they scored."""
    folder = tmp_path_factory.mktemp("shell")
    con = sqlsel.connect()
    table = con.sql(
        f"SELECT id, text, sel_hash_embed(text, 32) AS embedding FROM '{EXAMPLES / 'pool.parquet'}' "
        "WHERE id < 400 ORDER BY id"
    ).to_arrow_table()
    con.close()
    pool = folder / "pool.parquet"
    pq.write_table(table, pool)
    db = folder / "catalog.duckdb"
    target = EXAMPLES / "target.jsonl"
    for recipe, params in [
        ("dsir_select", [f"pool={pool}", f"target={target}", "k=20"]),
        ("balanced_sample", [f"pool={pool}", "n=50", "clusters=6,3", "embedder=column"]),
    ]:  # fitted as a user fits them: `sqlsel run` processes
        args = [a for p in params for a in ("-p", p)]
        done = subprocess.run(
            [SQLSEL, "run", recipe, *args, "--db", str(db), "--out", str(folder / f"{recipe}.parquet")],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
    return db, pool


PYTHON = """
SELECT id, sel_dsir_weight(text, 'dsir_select') AS w, sel_gumbel(id, 3) AS g,
       sel_cluster(embedding, 'balanced_sample') AS c, sel_centroid_distance(embedding, 'balanced_sample') AS d,
       sel_cluster(embedding, 'balanced_sample', 2) AS c2, sel_centroid_distance(embedding, 'balanced_sample', 2) AS d2
FROM read_parquet('{pool}') ORDER BY id
"""
SHELL = """
SELECT id, sqlsel_dsir_weight(text, 'dsir_select') AS w, sqlsel_gumbel(id, 3) AS g,
       sqlsel_cluster(embedding, 'balanced_sample') AS c, sqlsel_centroid_distance(embedding, 'balanced_sample') AS d,
       sqlsel_cluster(embedding, 'balanced_sample', 2) AS c2, sqlsel_centroid_distance(embedding, 'balanced_sample', 2) AS d2
FROM read_parquet('{pool}') ORDER BY id
"""


def assert_same(python_rows, shell_rows, texts):
    assert len(python_rows) == len(shell_rows) == len(texts)
    for p, s, text in zip(python_rows, shell_rows, texts, strict=True):
        assert (p["id"], p["g"], p["c"], p["c2"]) == (s["id"], s["g"], s["c"], s["c2"])
        assert (s["d"], s["d2"]) == pytest.approx((p["d"], p["d2"]), rel=1e-12)
        if not any(ch in text for ch in LOWER_DIFFERS):
            assert s["w"] == pytest.approx(p["w"], rel=1e-12, abs=1e-12)


def test_the_sql_macros_equal_the_python_functions(fitted):
    db, pool = fitted
    con = sqlsel.connect(db, read_only=True)
    python_rows = con.sql(PYTHON.format(pool=pool)).to_arrow_table().to_pylist()
    shell_rows = con.sql(SHELL.format(pool=pool)).to_arrow_table().to_pylist()
    con.close()
    assert_same(python_rows, shell_rows, pq.read_table(pool).column("text").to_pylist())


def test_the_hashed_features_equal_at_every_order_and_the_largest_modulus(fitted):
    _, pool = fitted
    con = sqlsel.connect()
    differ = con.sql(
        f"SELECT count(*) FROM read_parquet('{pool}') WHERE sqlsel_ngram_buckets(text, 16777216, 8) "
        "IS DISTINCT FROM sel_ngram_buckets(text, 16777216, 8) OR sqlsel_ngram_buckets(text, 7, 3) "
        "IS DISTINCT FROM sel_ngram_buckets(text, 7, 3)"
    ).fetchall()
    con.close()
    assert differ == [(0,)]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("sqlsel_cluster(embedding, 'balanced_sample', 3)", "level must be between 1 and 2"),
        ("sqlsel_cluster([1.0, 2.0], 'balanced_sample')", "embedding has 2 dimensions; model balanced_sample has 32"),
        ("sqlsel_centroid_distance(embedding, 'nope')", "no k-means model named nope"),
    ],
)
def test_the_cluster_macros_refuse_what_sel_cluster_refuses(fitted, call, message):
    db, pool = fitted
    con = sqlsel.connect(db, read_only=True)
    with pytest.raises(duckdb.Error, match=message):
        con.sql(f"SELECT {call} FROM read_parquet('{pool}')").fetchall()
    assert con.sql("SELECT sqlsel_cluster(NULL, 'balanced_sample', 2)").fetchall() == [(None,)]
    con.close()


def duckdb_cli() -> str:
    found = shutil.which("duckdb", path=str(Path(sys.executable).parent)) or shutil.which("duckdb")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the test extra installs duckdb-cli; CI must have it")
        pytest.skip("no duckdb CLI here (pip install duckdb-cli==1.5.6)")
    return found


def test_the_duckdb_cli_scores_with_the_catalogs_models(fitted):
    db, pool = fitted
    cli = duckdb_cli()
    version = subprocess.run([cli, "--version"], capture_output=True, text=True, check=True).stdout
    done = subprocess.run(
        [cli, "-readonly", "-json", str(db), "-c", SHELL.format(pool=pool)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    con = sqlsel.connect(db, read_only=True)
    python_rows = con.sql(PYTHON.format(pool=pool)).to_arrow_table().to_pylist()
    con.close()
    assert_same(python_rows, json.loads(done.stdout), pq.read_table(pool).column("text").to_pylist())
    print(f"{version.strip()}: {len(python_rows)} rows scored alike")


def test_a_catalog_converted_to_another_storage_version_keeps_everything(fitted, tmp_path):
    from sqlsel.connection import convert_storage

    db, _ = fitted
    copy = tmp_path / "copy.duckdb"
    shutil.copy(db, copy)
    query = "SELECT (SELECT count(*) FROM sel_runs), (SELECT count(*) FROM sel_models), (SELECT count(*) FROM sel_dsir_buckets)"
    reader = sqlsel.connect(copy, read_only=True)
    before = reader.sql(query).fetchall()
    reader.close()
    convert_storage(copy, "latest")
    con = sqlsel.connect(copy)
    assert con.sql(query).fetchall() == before
    assert (
        con.sql("SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = 'copy'").fetchall()[0][0]
        != "v1.4.0+"
    )
    result = sqlsel.run_recipe("exact_dedup", {"pool": str(EXAMPLES / "pool.parquet")}, con=con)
    assert result.run_id == before[0][0] + 1  # the run id sequence carried over
    con.close()


def test_new_catalogs_are_readable_by_duckdb_1_4_and_later(tmp_path):
    con = sqlsel.connect(tmp_path / "new.duckdb")
    version = con.sql("SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = 'new'").fetchall()
    con.close()
    assert version == [("v1.4.0+",)]


CCS_IN_THE_SHELL = """
WITH kept AS (
    SELECT id, score FROM (SELECT id, quality AS score FROM read_parquet('{pool}'))
    WHERE score IS NOT NULL AND sel_is_finite(score)
    QUALIFY row_number() OVER (ORDER BY score, id) > floor({hard_cut} * (SELECT count(*) FROM read_parquet('{pool}')))),
strata AS (SELECT id, sel_stratum(score, min(score) OVER (), max(score) OVER (), {strata}) AS stratum FROM kept),
sizes AS (SELECT stratum, count(*) AS size FROM strata GROUP BY stratum),
quotas AS (
    SELECT unnest(s) AS stratum, unnest(sqlsel_stratified_quotas(z, {n})) AS quota
    FROM (SELECT list(stratum ORDER BY stratum) AS s, list(size ORDER BY stratum) AS z FROM sizes))
SELECT id FROM (
    SELECT id, quota, row_number() OVER (PARTITION BY stratum ORDER BY sqlsel_gumbel(id, {seed}), id) AS pick
    FROM strata JOIN quotas USING (stratum))
WHERE pick <= quota ORDER BY id
"""


def test_a_ccs_selection_in_the_shell_equals_the_recipes(tmp_path):
    con = sqlsel.connect()
    table = con.sql(
        f"SELECT id, text, length(text) / 100.0 AS quality FROM '{EXAMPLES / 'pool.parquet'}' ORDER BY id"
    ).to_arrow_table()
    con.close()
    pool = tmp_path / "pool.parquet"
    pq.write_table(table, pool)
    db = tmp_path / "catalog.duckdb"
    params = {"n": 150, "strata": 7, "hard_cut": 0.1, "seed": 5}
    chosen = sqlsel.run_recipe("ccs_select", {"pool": str(pool), "score": "quality", **params}, db=db)
    sql = CCS_IN_THE_SHELL.format(pool=pool, **params)
    done = subprocess.run([duckdb_cli(), "-readonly", "-json", str(db), "-c", sql], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in json.loads(done.stdout)] == chosen.table.column("id").to_pylist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=1, max_size=12), st.integers(0, 400))
def test_the_quota_macro_is_the_kernels_allocation(sizes, budget):
    import numpy as np

    from sqlsel.kernels.quotas import stratified_quotas

    con = sqlsel.connect()
    got = con.execute("SELECT sqlsel_stratified_quotas($1::BIGINT[], $2)", [sizes, budget]).fetchall()[0][0]
    con.close()
    assert got == stratified_quotas(np.array(sizes), budget).tolist()


def test_the_readmes_shell_session_runs_as_written_and_agrees_with_python(tmp_path):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## In a DuckDB shell")[1].split("\n## ")[0]
    script = re.findall(r"```bash\n(.*?)```", section, re.S)[0]
    script = "\n".join(line for line in script.splitlines() if not line.startswith("pip install"))
    (tmp_path / "examples").symlink_to(EXAMPLES)
    cli = duckdb_cli()
    env = {**os.environ, "PATH": f"{Path(cli).parent}{os.pathsep}{Path(SQLSEL).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-ec", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    con = sqlsel.connect(tmp_path / "catalog.duckdb", read_only=True)
    top = con.sql(
        "SELECT id FROM 'examples/pool.parquet' ORDER BY sel_dsir_weight(text, 'dsir_select') + sel_gumbel(id, 0) "
        "DESC LIMIT 5".replace("'examples/", f"'{tmp_path}/examples/")
    ).fetchall()
    con.close()
    shell_ids = [int(i) for i in re.findall(r"^│\s*(\d+)\s*│", done.stdout, re.M)][-5:]  # the shell's table, last
    assert shell_ids == [i for (i,) in top], done.stdout

"""The wheel carries udfs/, sql/ and migrations/: build it, run a recipe from it elsewhere.

Building and running from the wheel need no network (hatchling is a test dependency, and the wheel is
put on the path of the test's own environment); installing it into a fresh environment downloads its
dependencies, so that test is marked slow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import EXAMPLES, ROOT

RUN = ["run", "dsir_select", "-p", f"pool={EXAMPLES / 'pool.parquet'}", "-p", f"target={EXAMPLES / 'target.jsonl'}"]
RUN += ["-p", "k=10", "--out", "picked.jsonl"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
    )
    return next(out.glob("sqlsel-*.whl"))


def test_wheel_ships_the_sql(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for required in (
        "sqlsel/_sql/sql/dsir_select.sql",
        "sqlsel/_sql/udfs/dsir.sql",
        "sqlsel/_sql/migrations/0001_catalog.sql",
        "sqlsel/py.typed",
    ):
        assert required in names


def test_the_wheel_runs_a_recipe_from_another_directory_offline(wheel, tmp_path):
    """The wheel's sqlsel (not the checkout's) on the path, with this environment's dependencies."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)], check=True
    )
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    site = [p for p in sys.path if p.endswith("site-packages")]
    env = {
        "PYTHONPATH": os.pathsep.join([str(target), *site]),
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
    }
    code = "import sqlsel.cli, sys; print(sqlsel.__file__, file=sys.stderr); sqlsel.cli.main()"
    res = subprocess.run(
        [sys.executable, "-S", "-c", code, *RUN],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    assert str(target) in res.stderr.splitlines()[0]  # the installed wheel ran, not the checkout
    assert len((workdir / "picked.jsonl").read_text().splitlines()) == 10


@pytest.mark.slow
def test_installed_wheel_runs_a_recipe_from_another_directory(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = venv / "bin" / "pip"
    subprocess.run([str(pip), "install", "-q", str(wheel)], check=True, timeout=900)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    res = subprocess.run(
        [str(venv / "bin" / "sqlsel"), *RUN],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert len((workdir / "picked.jsonl").read_text().splitlines()) == 10
    assert (workdir / "sqlsel.duckdb").exists()

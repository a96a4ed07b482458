from __future__ import annotations

import importlib
import json
import os
import subprocess
from pathlib import Path

import pytest

import sqlsel

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    """sqlsel's cache folder (parsed statements) is the test session's own, never the user's."""
    os.environ["SQLSEL_CACHE_DIR"] = str(tmp_path_factory.mktemp("sqlsel-cache"))


def own_cache_env(folder: Path) -> dict[str, str]:
    """This environment with sqlsel's cache folder (numba's compiled kernels included) in ``folder``: a fresh install's."""
    env = {**os.environ, "SQLSEL_CACHE_DIR": str(folder)}
    env.pop("NUMBA_CACHE_DIR", None)
    return env


def need(module: str):
    """Import a test dependency: skipped when missing locally, a failure under CI=true (CI installs every one)."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        return importlib.import_module(module)
    return pytest.importorskip(module)


EXAMPLES = ROOT / "examples"


@pytest.fixture
def con():
    """A fresh in-memory connection with every sqlsel function and the catalog."""
    connection = sqlsel.connect()
    yield connection
    connection.close()


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture
def write_jsonl(tmp_path):
    """Write rows (dicts) to a JSONL file under tmp_path and return its path."""

    def write(name: str, rows: list[dict]) -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path

    return write


@pytest.fixture
def small_task(write_jsonl):
    """A tiny pool (code vs prose) and a prose target, as JSONL files."""
    prose = [f"The cat number {i} sat on the warm mat and purred at the window." for i in range(30)]
    code = [f"def f{i}(x):\n    return x * {i} + sum(range({i}))" for i in range(30)]
    pool = [{"id": i, "text": t} for i, t in enumerate(prose + code)]
    target = [{"text": f"A cat sat on a mat, and another cat purred {i} times."} for i in range(10)]
    return write_jsonl("pool.jsonl", pool), write_jsonl("target.jsonl", target)


@pytest.fixture
def unwritable():
    """Make a file or folder unwritable, even for root (chattr +i); undone when the test ends."""
    made = []

    def make(path: Path) -> Path:
        if os.geteuid() == 0:
            done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
            if done.returncode != 0:
                pytest.skip(f"cannot make {path} unwritable for root here (chattr +i: {done.stderr.decode().strip()})")
        else:
            path.chmod(path.stat().st_mode & ~0o222)
        made.append(path)
        return path

    yield make
    for path in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
        else:
            path.chmod(path.stat().st_mode | 0o200)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    """Under ``-n`` (pytest-xdist, --dist loadgroup), every Spark test runs on one worker: one JVM, warmed once."""
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("spark"))


@pytest.fixture(scope="session")
def spark():
    """One local[2] Spark session shared by every Spark test.

    Skipped with a message naming what is missing (pyspark, Java) on a machine without them; a failure
    under CI=true, where the test extra installs pyspark and Java 17 is present.
    """
    import shutil

    need("pyspark")
    ci = os.environ.get("CI", "").lower() in ("true", "1")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        message = "the Spark tests need Java 17+ (apt-get install openjdk-17-jre-headless)"
        if ci:
            pytest.fail(message)
        pytest.skip(message)
    from sqlsel.spark.session import spark_session

    session = spark_session("local[2]")
    yield session
    session.stop()


#: Recipes that also take a ``target`` input (tests pass the example target).
TARGETED = ("dsir_select", "zipfit_select", "otgrad_select", "tarot_select")

#: Small parameters for every bundled recipe, run on ``recipe_pool`` (reruns, reports).
RECIPE_CASES = {
    "dsir_select": {"k": 30},
    "zipfit_select": {"k": 30, "mode": "fast"},
    "balanced_sample": {"n": 100, "clusters": "8"},
    "ccs_select": {"score": "quality", "n": 100, "strata": 5},
    "color_filter": {"prior_loss": "quality", "conditional_loss": "quality", "k": 40, "tau": 4},
    "semdedup": {"clusters": 8, "eps": 0.2},
    "d4": {"clusters": 6, "eps": 0.2, "ratio": 0.5},
    "diverse_topk": {"k": 20},
    "exact_dedup": {"normalize": True},
    "minhash_dedup": {"threshold": 0.5, "removed": True},
    "quality_filter": {"filters": "gopher_repetition,fineweb"},
    "otgrad_select": {"k": 30, "dim": 32},
    "tarot_select": {"k": 30, "dim": 32},
    "mig_select": {"k": 30, "quality": "quality", "labels": "labels", "label_embedding": "rows", "dim": 64},
}


@pytest.fixture(scope="session")
def recipe_pool(tmp_path_factory):
    """The first 600 example rows with a quality column (text length / 100) and labels (source, file stem)."""
    import duckdb

    path = tmp_path_factory.mktemp("recipes") / "pool.parquet"
    duckdb.sql(
        "COPY (SELECT *, length(text) / 100 AS quality, [source, split_part(parse_filename(path), '.', 1)] AS labels "
        f"FROM '{EXAMPLES / 'pool.parquet'}' ORDER BY id LIMIT 600) TO '{path}'"
    )
    return path

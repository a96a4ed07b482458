"""Every bundled recipe on generated pools: a right selection, or a one-line error that changes nothing.

Pools have integer or string keys (with duplicates and NULLs), NULL, empty and non-ASCII texts, NaN,
infinite and NULL scores, and one or no rows. Each example runs ``sqlsel run`` in process on a fresh
catalog that already holds the recipe's models from a good run, and ends either in exit 1 with one
error line, no output or temporary file, the models as they were and one failed run recorded; or in
exit 0 with an output that keeps the recipe's invariants: unique keys, at most k rows, every row taken
from the pool unchanged, and scores finite or NULL.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sqlsel.cli import cli
from tests.conftest import TARGETED

# recipe -> (parameters, the most rows it may return or None for "at most the pool", score columns)
RECIPES = {
    "dsir_select": ({"k": "3"}, 3, ("log_weight",)),
    "zipfit_select": ({"k": "3"}, 3, ("zipfit",)),
    "balanced_sample": ({"n": "4", "clusters": "2", "dim": "16"}, 4, ("centroid_distance",)),
    "ccs_select": ({"score": "score", "n": "4", "strata": "3"}, 4, ()),
    "color_filter": ({"prior_loss": "score", "conditional_loss": "score", "k": "3", "tau": "2"}, 3, ("color_score",)),
    "semdedup": ({"clusters": "2", "dim": "16", "eps": "0.3"}, None, ("max_sim",)),
    "d4": ({"clusters": "2", "dim": "16"}, None, ("centroid_distance",)),
    "diverse_topk": ({"k": "3", "dim": "16", "method": "mmr"}, 3, ("nearest_sim",)),
}
GOOD_POOL = [
    {"id": i, "text": f"document {i} about {'cats and mats' if i % 2 else 'code and tests'} {i * 7}", "score": float(i)}
    for i in range(12)
]
WORDS = ["cat", "mat", "straße", "日本語", "def", "x", "", "über", "naïve", "🙂"]

texts = st.one_of(st.none(), st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join))
scores = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5).map(float))


@st.composite
def pools(draw):
    n = draw(st.integers(0, 14))
    strings = draw(st.booleans())
    kind = draw(st.sampled_from(["unique", "unique", "repeated", "missing"]))
    if kind == "unique":
        keys = draw(st.lists(st.integers(-(2**40), 2**40), min_size=n, max_size=n, unique=True))
    elif kind == "repeated":
        keys = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    else:
        keys = draw(st.lists(st.one_of(st.none(), st.integers(0, 99)), min_size=n, max_size=n, unique=True))
    column = [None if k is None else (f"doc-{k}" if strings else k) for k in keys]
    return pa.table(
        {
            "id": pa.array(column, pa.string() if strings else pa.int64()),
            "text": pa.array(draw(st.lists(texts, min_size=n, max_size=n)), pa.string()),
            "score": pa.array(draw(st.lists(scores, min_size=n, max_size=n)), pa.float64()),
        }
    )


def run(folder: Path, recipe: str, pool: Path, out: Path):
    params, _, _ = RECIPES[recipe]
    args = ["run", recipe, "--db", str(folder / "c.duckdb"), "--out", str(out), "-p", f"pool={pool}"]
    if recipe in TARGETED:
        args += ["-p", f"target={folder / 'target.parquet'}"]
    for name, value in params.items():
        args += ["-p", f"{name}={value}"]
    return CliRunner().invoke(cli, args)


def models(db: Path):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT name, model_id, input_fingerprint, run_id FROM sel_models ORDER BY name").fetchall()
    finally:
        con.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(recipe=st.sampled_from(sorted(RECIPES)), pool=pools())
def test_every_recipe_is_right_or_refused_cleanly(recipe, pool):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pq.write_table(
            pa.table({"text": ["cats on mats", "a cat on a mat", "mats and cats"]}), folder / "target.parquet"
        )
        pq.write_table(pa.Table.from_pylist(GOOD_POOL), folder / "good.parquet")
        first = run(folder, recipe, folder / "good.parquet", folder / "first.parquet")
        assert first.exit_code == 0, first.output
        before = models(folder / "c.duckdb")
        pq.write_table(pool, folder / "pool.parquet")
        out = folder / "out.parquet"
        result = run(folder, recipe, folder / "pool.parquet", out)
        keys = pool.column("id").to_pylist()
        bad_keys = None in keys or len(set(keys)) < len(keys) or not keys
        event(f"{recipe}: {'refused' if result.exit_code else 'selected'}")
        if result.exit_code != 0:
            event(f"error: {result.output.splitlines()[-1][:60]}")
            assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
            errors = [line for line in result.output.splitlines() if not line.startswith("[")]
            assert len(errors) == 1 and errors[0].startswith("Error: ") and "Traceback" not in result.output, errors
            assert not out.exists() and not list(folder.glob(".*.tmp"))
            assert models(folder / "c.duckdb") == before
            con = duckdb.connect(str(folder / "c.duckdb"), read_only=True)
            assert con.execute("SELECT status FROM sel_runs ORDER BY run_id").fetchall() == [("ok",), ("failed",)]
            con.close()
            return
        assert not bad_keys, f"{recipe} accepted keys {keys}"
        selected = pq.read_table(out)
        ids = selected.column("id").to_pylist()
        _, most, score_columns = RECIPES[recipe]
        assert len(ids) == len(set(ids)) and len(ids) <= (most or pool.num_rows)
        rows = {r["id"]: r for r in pool.to_pylist()}
        for row in selected.select(["id", "text"]).to_pylist():
            assert row["text"] == rows[row["id"]]["text"]
        for name in score_columns:
            values = selected.column(name).to_pylist()
            assert all(v is None or math.isfinite(v) for v in values), (name, values)

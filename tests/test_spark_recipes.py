"""The same recipe on Spark local[2] and on DuckDB selects the same keys, in the same order, with the same scores."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import sqlsel
from tests.conftest import TARGETED

CASES = [
    ("dsir_select", {"k": 25}),
    ("dsir_select", {"k": 25, "seed": 7, "normalize": True, "min_tokens": 20, "buckets": 4096, "ngrams": 3}),
    ("dsir_select", {"k": 25, "top_k": True, "smoothing": 0.0}),
    ("zipfit_select", {"k": 25}),
    ("zipfit_select", {"k": 25, "mode": "fast", "algorithm": "zstd", "level": 3}),
    ("semdedup", {"clusters": 10, "eps": 0.2}),
    ("semdedup", {"clusters": 10, "eps": 0.1, "keep": "random", "seed": 3, "removed": True}),
    ("d4", {"clusters": 8, "eps": 0.2, "ratio": 0.4}),
    ("balanced_sample", {"n": 200, "clusters": "12,3"}),
    ("balanced_sample", {"n": 150, "clusters": "10", "strategy": "quality", "seed": 5}),
    ("ccs_select", {"score": "quality", "n": 100, "strata": 7, "hard_cut": 0.1}),
    ("color_filter", {"prior_loss": "quality", "conditional_loss": "score", "k": 30, "tau": 4, "seed": 2}),
    ("diverse_topk", {"k": 20, "method": "facility", "neighbours": 16}),
    ("otgrad_select", {"k": 25, "dim": 64}),
    ("tarot_select", {"k": 0, "dim": 64}),
    ("mig_select", {"k": 40, "quality": "quality", "labels": "labels", "label_embedding": "rows", "threshold": 0.7}),
    ("diverse_topk", {"k": 20}),
    ("diverse_topk", {"k": 20, "method": "mmr", "lambda": 0.7}),
    ("diverse_topk", {"k": 20, "method": "threshold", "tau": 0.5}),
    ("minhash_dedup", {"threshold": 0.5, "removed": True}),
    ("minhash_dedup", {"threshold": 0.6, "verify": True, "keep": "score", "removed": True}),
    ("quality_filter", {"removed": True}),
]
#: The column each recipe scores rows by, compared to 1e-9 relative.
SCORES = {"dsir_select": "log_weight", "zipfit_select": "zipfit", "semdedup": "max_sim", "d4": "centroid_distance"}
SCORES |= {"balanced_sample": "centroid_distance", "diverse_topk": "nearest_sim", "minhash_dedup": "jaccard"}
SCORES |= {"otgrad_select": "ot_gradient", "color_filter": "color_score", "tarot_select": "tarot_similarity"}
SCORES |= {"mig_select": "mig_gain"}


@pytest.fixture(scope="module")
def scored_pool(tmp_path_factory):
    """The example pool with quality and score columns (text length / 100)."""
    from tests.conftest import EXAMPLES

    table = pq.read_table(EXAMPLES / "pool.parquet")
    score = pc.divide(pc.cast(pc.utf8_length(table.column("text")), pa.float64()), 100.0)
    stems = [p.rsplit("/", 1)[-1].split(".")[0].split("_")[:1] for p in table.column("path").to_pylist()]
    labels = pa.array([[s, *t] for s, t in zip(table.column("source").to_pylist(), stems, strict=True)])
    path = tmp_path_factory.mktemp("scored") / "pool.parquet"
    pq.write_table(
        table.append_column("quality", score).append_column("score", score).append_column("labels", labels), path
    )
    return path


def both(spark, recipe, params, tmp_path, **kwargs):
    db = tmp_path / "catalog.duckdb"
    on_spark = sqlsel.run_recipe(recipe, params, db=db, engine="spark", spark=spark, **kwargs)
    on_duckdb = sqlsel.run_recipe(recipe, params, db=db, **kwargs)
    return on_spark, on_duckdb


def same_selection_count(spark, recipe, pool, extra, examples, tmp_path):
    """Run ``recipe`` on ``pool`` (and the example target, if it takes one) on both engines; the same rows, by digest."""
    params = {"pool": str(pool), **extra}
    if recipe in TARGETED:
        params["target"] = str(examples / "target.jsonl")
    on_spark, on_duckdb = both(spark, recipe, params, tmp_path)
    assert on_spark.rows_out == on_duckdb.rows_out > 0
    assert on_spark.selection_digest == on_duckdb.selection_digest
    return on_spark, on_duckdb


def assert_same_selection(a, b, score):
    assert a.column("id").to_pylist() == b.column("id").to_pylist()
    if score in a.column_names:
        x, y = (np.array(t.column(score).to_pylist(), dtype=float) for t in (a, b))
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize(
    ("recipe", "extra"), CASES, ids=lambda v: v if isinstance(v, str) else "-".join(map(str, v.values()))
)
def test_spark_selects_what_duckdb_selects(spark, examples, scored_pool, tmp_path, recipe, extra):
    on_spark, on_duckdb = same_selection_count(spark, recipe, scored_pool, extra, examples, tmp_path)
    assert on_spark.table.schema.names == on_duckdb.table.schema.names
    assert on_spark.metrics.keys() == on_duckdb.metrics.keys()
    for name, value in on_duckdb.metrics.items():
        if isinstance(value, list):  # a curve: its points, numbers to 1e-9
            assert [sorted(p) for p in on_spark.metrics[name]] == [sorted(p) for p in value]
            value = [v for p in value for v in p.values()]
            assert [v for p in on_spark.metrics[name] for v in p.values()] == pytest.approx(value, rel=1e-9)
            continue
        assert on_spark.metrics[name] == (value if value is None else pytest.approx(value, rel=1e-9))
    assert_same_selection(on_spark.table, on_duckdb.table, SCORES.get(recipe, "quality"))


def test_string_keys_under_another_name(spark, examples, tmp_path):
    table = pq.read_table(examples / "pool.parquet")
    keys = [f"doc-{i:05d}" for i in table.column("id").to_pylist()]
    pool = tmp_path / "pool.parquet"
    pq.write_table(table.drop(["id"]).append_column("doc", [keys]), pool)
    params = {"pool": str(pool), "target": str(examples / "target.jsonl"), "k": 10, "seed": 3}
    on_spark, on_duckdb = both(spark, "dsir_select", params, tmp_path, key="doc")
    assert on_spark.table.column("doc").to_pylist() == on_duckdb.table.column("doc").to_pylist()
    assert on_spark.selection_digest == on_duckdb.selection_digest


def test_output_file_keeps_the_recipes_order(spark, examples, tmp_path):
    params = {"pool": str(examples / "pool.parquet"), "target": str(examples / "target.jsonl"), "k": 40}
    out_spark, out_duckdb = tmp_path / "spark.parquet", tmp_path / "duckdb.parquet"
    sqlsel.run_recipe("zipfit_select", params, db=tmp_path / "c.duckdb", engine="spark", spark=spark, out=out_spark)
    sqlsel.run_recipe("zipfit_select", params, db=tmp_path / "c.duckdb", out=out_duckdb)
    assert_same_selection(pq.read_table(out_spark), pq.read_table(out_duckdb), "zipfit")
    assert sorted(p.name for p in tmp_path.iterdir() if "spark" in p.name) == ["spark.parquet"]


@pytest.fixture(scope="module")
def real_sample(tmp_path_factory):
    """10,000 real documents available on any machine: blocks of the Python standard library's source files."""
    import sysconfig
    from pathlib import Path

    blocks: list[str] = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        blocks += [b.strip() for b in path.read_text(errors="replace").split("\n\n") if 80 <= len(b.strip()) <= 4000]
        if len(blocks) >= 10_000:
            break
    table = pa.table({"id": pa.array(range(10_000), pa.int64()), "text": blocks[:10_000]})
    path = tmp_path_factory.mktemp("real") / "stdlib_blocks.parquet"
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize(
    ("recipe", "extra"),
    [
        ("dsir_select", {"k": 500, "seed": 11}),
        ("zipfit_select", {"k": 300, "mode": "fast"}),
        # the slowest here (~9 s each) run with -m slow: the example pool checks every recipe on every run
        pytest.param("semdedup", {"clusters": 20}, marks=pytest.mark.slow),
        pytest.param("exact_dedup", {"normalize": True, "removed": True}, marks=pytest.mark.slow),
        pytest.param("minhash_dedup", {"threshold": 0.7, "removed": True}, marks=pytest.mark.slow),
    ],
    ids=["dsir_select", "zipfit_select", "semdedup", "exact_dedup", "minhash_dedup"],
)
def test_a_10k_real_sample_selects_the_same_on_both_engines(spark, examples, real_sample, tmp_path, recipe, extra):
    on_spark, on_duckdb = same_selection_count(spark, recipe, real_sample, extra, examples, tmp_path)
    assert on_spark.metrics == on_duckdb.metrics
    assert_same_selection(on_spark.table, on_duckdb.table, SCORES.get(recipe, "dup_of"))


def test_a_sampled_kmeans_fit_on_the_executors_equals_duckdbs(spark, examples, tmp_path):
    """4 clusters of 2,000 rows: a sampled fit, whose passes run on Spark; the centroids are equal bit for bit."""
    import sqlsel.spark.partitioned as partitioned

    db = tmp_path / "c.duckdb"
    params = {"pool": str(examples / "pool.parquet"), "clusters": 4, "eps": 0.2}
    calls = []
    fit = partitioned.PARTITIONED["sel_kmeans_fit"]
    partitioned.PARTITIONED["sel_kmeans_fit"] = lambda *a: calls.append(1) or fit(*a)
    try:
        on_spark = sqlsel.run_recipe("semdedup", {**params, "model": "on_spark"}, db=db, engine="spark", spark=spark)
    finally:
        partitioned.PARTITIONED["sel_kmeans_fit"] = fit
    on_duckdb = sqlsel.run_recipe("semdedup", {**params, "model": "on_duckdb"}, db=db)
    assert calls and on_spark.selection_digest == on_duckdb.selection_digest
    con = sqlsel.connect(db, read_only=True)
    sql = "SELECT level, cluster, size, centroid FROM sel_kmeans_centroids JOIN sel_models USING (model_id) WHERE name = ? ORDER BY ALL"
    assert con.execute(sql, ["on_spark"]).fetchall() == con.execute(sql, ["on_duckdb"]).fetchall()
    con.close()

"""The balanced_sample recipe: exact size, balance down the hierarchy, strategies, embedders, bad input."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sqlsel
from sqlsel.errors import SqlselError
from sqlsel.kernels.quotas import water_fill

POOL = {"n": 300, "clusters": "12,3", "seed": 5}


def run(examples, **params):
    return sqlsel.run_recipe("balanced_sample", {"pool": str(examples / "pool.parquet"), **POOL, **params})


def test_selects_exactly_n_rows_water_filled_over_the_top_clusters(examples):
    con = sqlsel.connect()
    table = sqlsel.run_recipe("balanced_sample", {"pool": str(examples / "pool.parquet"), **POOL}, con=con).table
    assert table.num_rows == 300 and len(set(table.column("id").to_pylist())) == 300
    assert {"id", "text", "source", "clusters", "centroid_distance"} <= set(table.column_names)
    pool_top = con.execute(
        f"SELECT sel_clusters(sel_hash_embed(text, 256), 'balanced_sample')[2] AS c, count(*) "
        f"FROM '{examples / 'pool.parquet'}' GROUP BY c ORDER BY c"
    ).fetchall()
    con.close()
    picked = np.bincount([c[1] for c in table.column("clusters").to_pylist()], minlength=3)
    assert picked.tolist() == water_fill(np.array([n for _, n in pool_top]), 300, seed=5, salt=1).tolist()


def test_balanced_sample_covers_sources_more_evenly_than_the_pool(examples):
    table = run(examples, clusters="20,4").table
    shares = np.array(sorted(pc_counts(table.column("source").to_pylist()).values())) / 300
    pool = pq.read_table(examples / "pool.parquet").column("source").to_pylist()
    pool_shares = np.array(sorted(pc_counts(pool).values())) / len(pool)
    assert entropy(shares) > entropy(pool_shares)


def pc_counts(values):
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def entropy(p):
    return float(-(p * np.log(p)).sum())


def test_n_larger_than_the_pool_selects_every_row(examples):
    assert run(examples, n=10_000).rows_out == 2000


@pytest.mark.parametrize("threads", [1, 2])
def test_same_seed_same_sample_at_1_and_2_threads(examples, threads):
    first = sqlsel.run_recipe("balanced_sample", {"pool": str(examples / "pool.parquet"), **POOL}, threads=1)
    other = sqlsel.run_recipe("balanced_sample", {"pool": str(examples / "pool.parquet"), **POOL}, threads=threads)
    assert first.selection_digest == other.selection_digest


def test_closest_keeps_the_rows_nearest_their_centroids(examples):
    table = run(examples, strategy="closest").table.to_pylist()
    random = run(examples, strategy="random").table.to_pylist()
    assert np.mean([r["centroid_distance"] for r in table]) < np.mean([r["centroid_distance"] for r in random])


def test_pool_embeddings_and_kmq_quality(tmp_path):
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(c, 0.1, (50, 8)) for c in (0.0, 5.0)]).astype(np.float32)
    quality = np.r_[np.zeros(25), np.full(25, 50.0), np.zeros(25), np.full(25, 50.0)]
    embedding = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), 8)
    path = tmp_path / "pool.parquet"
    pq.write_table(
        pa.table({"id": np.arange(100), "text": ["x"] * 100, "embedding": embedding, "quality": quality}), path
    )
    result = sqlsel.run_recipe("balanced_sample", {"pool": str(path), "n": 20, "clusters": "2", "strategy": "quality"})
    ids = result.table.column("id").to_pylist()
    assert len(ids) == 20 and all(quality[i] == 50.0 for i in ids)  # exp(50) outweighs exp(0)
    assert sum(i < 50 for i in ids) == 10  # 10 from each cluster


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n": 0}, "Parameter n must be >= 1; got 0"),
        ({"strategy": "furthest"}, "Parameter strategy must be one of random, closest, quality"),
        ({"embedder": "column"}, "embedder column needs an embedding column"),
        ({"strategy": "quality"}, "strategy quality needs a numeric quality column"),
        ({"clusters": "5000"}, "5000 clusters asked for but .* only 2000 rows"),
        ({"clusters": "ten"}, "clusters must be positive cluster counts"),
    ],
)
def test_bad_parameters_fail_without_output_or_leftovers(examples, tmp_path, params, message):
    out = tmp_path / "out.parquet"
    con = sqlsel.connect()
    with pytest.raises(SqlselError, match=message):
        sqlsel.run_recipe(
            "balanced_sample", {"pool": str(examples / "pool.parquet"), **POOL, **params}, con=con, out=out
        )
    assert not out.exists()
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'sel_scratch'").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM sel_models WHERE kind = 'kmeans'").fetchall() == [(0,)]
    con.close()

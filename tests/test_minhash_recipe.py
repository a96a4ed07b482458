"""The minhash_dedup recipe: clusters of near-duplicates keep one row each; removed rows say why."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sqlsel

BASE = "the quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat all day long"


@pytest.fixture
def pool(tmp_path):
    texts = [
        BASE,  # 1
        BASE.upper() + "!",  # 2: the same words
        BASE + " today",  # 3: one more shingle
        "an unrelated sentence about databases and query plans in columnar engines",  # 4
        None,  # 5
        "   ",  # 6
        BASE.replace("lazy", "sleepy"),  # 7: five shingles differ
    ]
    table = pa.table({"id": [1, 2, 3, 4, 5, 6, 7], "text": texts, "score": [0.1, 0.2, 0.9, 0.5, 0.0, 0.0, 0.3]})
    path = tmp_path / "pool.parquet"
    pq.write_table(table, path)
    return path


def run(pool, tmp_path, **params):
    return sqlsel.run_recipe("minhash_dedup", {"pool": str(pool), **params}, db=tmp_path / "c.duckdb")


def test_a_cluster_keeps_its_lowest_id_and_rows_without_shingles_stay(pool, tmp_path):
    kept = run(pool, tmp_path)
    assert kept.table.column("id").to_pylist() == [1, 4, 5, 6, 7]
    removed = run(pool, tmp_path, removed=True).table
    assert removed.column("id").to_pylist() == [2, 3] and removed.column("dup_of").to_pylist() == [1, 1]
    assert removed.column("jaccard").to_pylist()[0] == 1.0 and removed.column("cluster_size").to_pylist() == [3, 3]
    assert run(pool, tmp_path).metrics["rows_removed"] == 2


def test_a_lower_threshold_joins_the_edited_copy_and_score_picks_the_keeper(pool, tmp_path):
    assert run(pool, tmp_path, threshold=0.5).table.column("id").to_pylist() == [1, 4, 5, 6]
    assert run(pool, tmp_path, threshold=0.5, keep="score").table.column("id").to_pylist() == [3, 4, 5, 6]


def test_verify_keeps_a_row_whose_exact_jaccard_with_the_keeper_is_below_threshold(pool, tmp_path):
    loose = dict(threshold=0.55, margin=100, bands=32, rows=1)  # every pair sharing one value is a candidate
    removed = run(pool, tmp_path, removed=True, **loose).table
    verified = run(pool, tmp_path, removed=True, verify=True, **loose).table
    assert 7 in removed.column("id").to_pylist()
    exact = dict(zip(verified.column("id").to_pylist(), verified.column("jaccard").to_pylist(), strict=True))
    assert 7 not in exact and exact[2] == 1.0 and exact[3] == pytest.approx(16 / 17)


def test_string_keys_and_character_shingles(pool, tmp_path):
    table = pq.read_table(pool)
    keyed = table.drop(["id"]).append_column("doc", pa.array([f"d{i}" for i in range(7, 0, -1)]))
    path = tmp_path / "keyed.parquet"
    pq.write_table(keyed, path)
    result = sqlsel.run_recipe(
        "minhash_dedup",
        {"pool": str(path), "unit": "char", "ngram": 9, "removed": True},
        db=tmp_path / "c.duckdb",
        key="doc",
    )
    # rows 1, 2 and 3 are d7, d6 and d5: the lowest key, d5, stays
    assert result.table.column("doc").to_pylist() == ["d6", "d7"]
    assert set(result.table.column("dup_of").to_pylist()) == {"d5"}


def test_bad_parameters_are_refused_before_any_work(pool, tmp_path):
    with pytest.raises(sqlsel.SqlselError, match="threshold"):
        run(pool, tmp_path, threshold=0)
    with pytest.raises(sqlsel.SqlselError, match="bands 3, rows 0"):
        run(pool, tmp_path, bands=3)
    plain = tmp_path / "plain.parquet"
    pq.write_table(pq.read_table(pool).drop(["score"]), plain)
    with pytest.raises(sqlsel.SqlselError, match="keep score needs a numeric score column"):
        run(plain, tmp_path, keep="score")

"""Exact dedup: sel_text_hash and the exact_dedup recipe."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st

import sqlsel
from sqlsel.errors import SqlselError
from sqlsel.kernels.dedup import normalized, text_hashes


def test_normalizing_ignores_case_punctuation_and_spacing_but_keeps_symbols():
    texts = pa.array(["Hello,  World!", "hello\u00a0world", " HELLO\tworld… ", "hello world $5", None])
    assert normalized(texts).to_pylist() == ["hello world", "hello world", "hello world", "hello world $5", None]


def test_the_hash_is_xxh3_of_the_utf8_bytes_as_a_signed_integer():
    (h,) = text_hashes(pa.array(["Grüße"]), normalize=False).to_pylist()
    assert h % 2**64 == xxhash.xxh3_64_intdigest("Grüße".encode()) and -(2**63) <= h < 2**63


@given(st.lists(st.one_of(st.none(), st.text(max_size=40)), max_size=20))
def test_a_normalized_hash_is_the_hash_of_the_normalized_text(values):
    texts = pa.array(values, pa.string())
    assert text_hashes(texts, True).to_pylist() == text_hashes(normalized(texts), False).to_pylist()
    assert normalized(normalized(texts)).to_pylist() == normalized(texts).to_pylist()


@pytest.fixture
def pool(tmp_path):
    rows = {
        "id": [5, 1, 3, 2, 4, 6, 7],
        "text": ["b", "a", "a", "A!", "b", None, "c"],
        "score": [0.9, 0.1, 0.5, 0.7, 0.2, 1.0, 0.0],
    }
    path = tmp_path / "pool.parquet"
    pq.write_table(pa.table(rows), path)
    return path


def run(pool, tmp_path, **params):
    return sqlsel.run_recipe("exact_dedup", {"pool": str(pool), **params}, db=tmp_path / "c.duckdb")


def test_each_group_keeps_its_lowest_id_and_rows_without_text_stay(pool, tmp_path):
    kept = run(pool, tmp_path)
    assert kept.table.column("id").to_pylist() == [1, 2, 4, 6, 7]
    assert kept.metrics == {"duplicate_groups": 2, "rows_removed": 2}
    removed = run(pool, tmp_path, removed=True).table
    assert list(zip(removed.column("id").to_pylist(), removed.column("dup_of").to_pylist())) == [(3, 1), (5, 4)]


def test_normalized_texts_group_together_and_score_picks_the_keeper(pool, tmp_path):
    assert run(pool, tmp_path, normalize=True).table.column("id").to_pylist() == [1, 4, 6, 7]
    by_score = run(pool, tmp_path, normalize=True, keep="score").table
    assert by_score.column("id").to_pylist() == [2, 5, 6, 7]  # "A!" (0.7) beats "a" (0.1, 0.5); 0.9 beats 0.2
    assert by_score.column("copies").to_pylist() == [3, 2, 1, 1]


def test_keep_score_without_a_score_column_is_refused(tmp_path):
    path = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"id": [1, 2], "text": ["x", "x"]}), path)
    with pytest.raises(SqlselError, match="keep score needs a numeric score column"):
        run(path, tmp_path, keep="score")

"""The model-free embedder: unit vectors, deterministic per text, close for similar texts."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlsel.kernels.embed import hash_embed
from sqlsel.kernels.rows import Rows

CAT, CAT2, CODE = "The cat sat on the mat.", "A cat sat on the mat!", "def f(x):\n    return {x: [x]}"


def embed(texts, dim=64):
    return hash_embed(Rows.of([t.encode() for t in texts]), dim)


def test_unit_vectors_and_similar_texts_closer():
    e = embed([CAT, CAT2, CODE, "Die Katze saß auf der Matte."])
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, rtol=1e-6)
    assert e[0] @ e[1] > 0.5 > max(e[0] @ e[2], e[0] @ e[3])


def test_case_insensitive_for_ascii_and_tokens_split_on_punctuation():
    e = embed(["Hello World", "hello world", "hello(world)"])
    assert e[0] @ e[1] == pytest.approx(1) and 0.3 < e[1] @ e[2] < 0.99


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=200), min_size=1, max_size=6), st.integers(0, 5))
def test_a_texts_vector_does_not_depend_on_its_batch(texts, cut):
    whole = embed(texts)
    parts = np.vstack([embed(texts[:cut]), embed(texts[cut:])]) if 0 < cut < len(texts) else whole
    np.testing.assert_array_equal(whole, parts)


@pytest.mark.parametrize("dim", [0, 7, 4097])
def test_dim_out_of_range(dim):
    with pytest.raises(ValueError, match="dim must be an integer in 8..4096"):
        embed([CAT], dim)


def test_sql_nulls_empty_and_array_cast(con):
    rows = con.sql("SELECT sel_hash_embed(t, 16) FROM (VALUES (NULL), (''), (' \n '), ('hello')) v(t)").fetchall()
    assert [r[0] is None for r in rows] == [True, True, True, False] and len(rows[3][0]) == 16
    assert con.sql("SELECT sel_hash_embed('hello', NULL)").fetchall() == [(None,)]
    sim = con.sql(
        "SELECT array_cosine_similarity(sel_hash_embed(?, 64)::FLOAT[64], sel_hash_embed(?, 64)::FLOAT[64])",
        params=[CAT, CAT2],
    ).fetchall()[0][0]
    assert sim == pytest.approx(float(embed([CAT])[0] @ embed([CAT2])[0]), rel=1e-5)


def test_sql_bad_dim_is_a_clear_error(con):
    with pytest.raises(duckdb.Error, match="dim must be an integer in 8..4096; got 2"):
        con.sql("SELECT sel_hash_embed('x', 2)").fetchall()


def test_same_vectors_at_1_and_2_threads(examples):
    import sqlsel

    query = f"SELECT id, sel_hash_embed(text, 32) FROM '{examples / 'pool.parquet'}' ORDER BY id"
    results = []
    for threads in (1, 2):
        con = sqlsel.connect(threads=threads)
        results.append(con.sql(query).fetchall())
        con.close()
    assert results[0] == results[1]

"""LanceDB vector indexes: built from SQL, exact on small tables, batched kNN, stale and wrong-metric refusals."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest


def sql(con, text):
    return con.execute(text).fetchall()


def store(con, n, d=16, seed=0, name="v"):
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    con.register("_x", pa.table({"id": np.arange(n), "embedding": list(x)}))
    sql(con, "CREATE OR REPLACE TABLE sel_scratch.v AS SELECT id, embedding::FLOAT[] AS embedding FROM _x")
    sql(con, f"SELECT sel_vectors_store('{name}', 'sel_scratch.v')")
    return x


def exact_neighbours(x, k):
    e = x / np.linalg.norm(x, axis=1, keepdims=True)
    return np.argsort(-(e @ e.T), axis=1, kind="stable")[:, :k]


def test_a_large_table_gets_an_ann_index_with_high_recall(con):
    x = store(con, 2000)
    assert sql(con, "SELECT sel_index_build('ix', 'v')") == [(2000,)]
    assert sql(con, "SELECT metric, index_type, rows FROM sel_vector_indexes") == [("cosine", "IVF_HNSW_SQ", 2000)]
    got = sql(
        con,
        "SELECT list(n.id ORDER BY n.distance) FROM (SELECT id, unnest(sel_knn(embedding, 'ix', 10)) AS n "
        "FROM sel_scratch.v) GROUP BY id ORDER BY id",
    )
    truth = exact_neighbours(x, 10)
    recall = np.mean([len(set(g[0]) & set(t.tolist())) / 10 for g, t in zip(got, truth, strict=True)])
    assert recall >= 0.9


def test_a_small_table_is_searched_exactly(con):
    x = store(con, 100)
    sql(con, "SELECT sel_index_build('ix', 'v', 'cosine', 'IVF_PQ')")  # IVF_PQ would silently index nothing
    assert sql(con, "SELECT index_type FROM sel_vector_indexes") == [("FLAT",)]
    got = [r[0] for r in sql(con, "SELECT [n.id FOR n IN sel_knn(embedding, 'ix', 5)] FROM sel_scratch.v ORDER BY id")]
    assert got == exact_neighbours(x, 5).tolist()


def test_a_batch_larger_than_one_lance_query_keeps_every_rows_neighbours(con):
    from sqlsel.lance import QUERY_ROWS

    x = store(con, QUERY_ROWS + 72)  # under 256 rows: exact search, so the answer is known
    sql(con, "SELECT sel_index_build('ix', 'v')")
    got = [r[0] for r in sql(con, "SELECT [n.id FOR n IN sel_knn(embedding, 'ix', 4)] FROM sel_scratch.v ORDER BY id")]
    assert got == exact_neighbours(x, 4).tolist()


def test_parallel_searches_give_the_same_answer(con):
    from sqlsel.functions import FunctionContext
    from sqlsel.lance import QUERY_ROWS, knn
    from sqlsel.stored import open_index

    x = store(con, 2000)
    sql(con, "SELECT sel_index_build('ix', 'v')")
    index = open_index(FunctionContext(con), "ix")
    queries = x[: 3 * QUERY_ROWS + 5]
    one = knn(index, queries, 7, threads=1)
    two = knn(index, queries, 7, threads=2)
    assert len(one[2]) == len(queries) + 1
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_restored_table_makes_its_index_stale(con):
    store(con, 300)
    sql(con, "SELECT sel_index_build('ix', 'v', 'l2', 'IVF_FLAT')")
    store(con, 300, seed=1)
    with pytest.raises(
        Exception, match="'ix' is stale.*Rebuild it: SELECT sel_index_build\\('ix', 'v', 'l2', 'IVF_FLAT'\\)"
    ):
        sql(con, "SELECT sel_knn(embedding, 'ix', 3) FROM sel_scratch.v")


@pytest.mark.parametrize(
    "call, message",
    [
        ("sel_index_build('ix2', 'v', 'cosin')", "metric must be one of cosine, l2, dot"),
        ("sel_index_build('ix2', 'v', 'cosine', 'HNSW_SQ')", "index_type must be one of .*Did you mean 'IVF_HNSW_SQ'"),
        ("sel_index_build('ix2', 'vv')", "Unknown vector table 'vv'.*Did you mean 'v'"),
        ("sel_knn([1.0, 2.0]::FLOAT[], 'ix', 3)", "2 values; expected 16 .*16-dimensional"),
        ("sel_knn([1.0, 2.0]::FLOAT[], 'iks', 3)", "Unknown vector index 'iks'.*Known vector indexes: 'ix'"),
        ("sel_knn(NULL::FLOAT[], 'ix', 0)", None),
    ],
)
def test_bad_input(con, call, message):
    store(con, 50)
    sql(con, "SELECT sel_index_build('ix', 'v')")
    if message is None:
        assert sql(con, f"SELECT {call}") == [(None,)]
        return
    with pytest.raises(Exception, match=message):
        sql(con, f"SELECT {call}")

"""Facility location by lazy greedy: the picks of apricot-select's greedy, dense and over a kNN graph."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix

import sqlsel
from sqlsel.kernels.submodular import cosine_knn_graph, cosine_similarities, facility_location, submodular_select
from tests.conftest import EXAMPLES, need


@pytest.fixture(scope="module")
def documents():
    """Hash embeddings of the example pool's real documents, one row per distinct vector."""
    con = sqlsel.connect()
    rows = con.sql(f"SELECT sel_hash_embed(text, 64) FROM '{EXAMPLES / 'pool.parquet'}' ORDER BY id").fetchall()
    con.close()
    return np.unique(np.array([r[0] for r in rows if r[0] is not None], np.float32), axis=0)


def apricot(k, data, metric, selection="FacilityLocationSelection", **options):
    apricot_module = need("apricot")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chosen = getattr(apricot_module, selection)
        return chosen(k, metric=metric, optimizer="naive", verbose=False, **options).fit(data)


def test_dense_picks_are_apricots_naive_greedy(documents):
    x = documents[:1200]
    reference = apricot(80, x.astype(np.float64), "cosine")
    ours = facility_location(cosine_similarities(x), 80)
    assert ours.order.tolist() == reference.ranking.tolist()
    assert ours.gains == pytest.approx(reference.gains, rel=1e-9)


def test_knn_graph_picks_are_apricots_greedy_over_the_same_graph(documents):
    graph = cosine_knn_graph(documents, 16)
    # a copy: apricot may rewrite the matrix it is given
    matrix = csr_matrix((graph.data.copy(), graph.indices.astype(np.int32), graph.indptr.astype(np.int32)))
    reference = apricot(120, matrix, "precomputed")
    ours = facility_location(graph, 120)
    assert ours.order.tolist() == reference.ranking.tolist()
    assert ours.gains == pytest.approx(reference.gains, rel=1e-12)


def test_the_knn_graph_holds_each_rows_most_similar_rows(documents):
    x = documents[:500]
    graph = cosine_knn_graph(x, 8, block=64)
    dense = cosine_similarities(x)
    for row in (0, 77, 499):
        stored = np.sort(graph.data[graph.indptr[row] : graph.indptr[row + 1]])
        assert stored == pytest.approx(np.sort(dense[row])[-8:], abs=1e-6)


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 30), st.integers(0, 2**31 - 1), st.data())
def test_lazy_greedy_takes_the_naive_greedys_picks(n, seed, data):
    s = np.random.default_rng(seed).random((n, n))
    k = data.draw(st.integers(1, n))
    current, naive = np.zeros(n), []
    for _ in range(k):
        gains = np.maximum(s - current, 0).sum(axis=1)
        gains[naive] = -1.0
        naive.append(int(np.argmax(gains)))
        current = np.maximum(current, s[naive[-1]])
    assert facility_location(s, k).order.tolist() == naive


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(0, 2**31 - 1))
def test_exact_ties_go_to_the_lowest_row(n, seed):
    x = np.random.default_rng(seed).normal(size=(n, 4))
    doubled = np.vstack([x, x])[np.random.default_rng(seed).permutation(2 * n)]  # every row twice
    s = cosine_similarities(doubled)
    current, naive = np.zeros(2 * n), []
    for _ in range(n):
        gains = np.maximum(s - current, 0).sum(axis=1)
        gains[naive] = -1.0
        naive.append(int(np.flatnonzero(gains >= gains.max() * (1 - 1e-12))[0]))
        current = np.maximum(current, s[naive[-1]])
    assert facility_location(s, n).order.tolist() == naive


def test_k_outside_the_rows_is_refused():
    with pytest.raises(ValueError, match="k must be between 1 and the number of rows \\(3\\); got 4"):
        facility_location(np.eye(3), 4)


def test_from_sql_with_every_pair_or_neighbours(con):
    source = f"SELECT id, sel_hash_embed(text, 32) AS embedding FROM ''{EXAMPLES / 'pool.parquet'}'' WHERE id < 300"
    for neighbours in (0, 12):
        sql = f"SELECT sel_facility_location('sel_scratch.fl', '{source}', 7, {neighbours})"
        assert con.sql(sql).fetchall() == [(7,)]
        rows = con.sql("SELECT id, rank, gain, nearest_sim FROM sel_scratch.fl ORDER BY rank").fetchall()
        assert [r[1] for r in rows] == list(range(1, 8)) and rows[0][3] is None
        assert all(a[2] >= b[2] for a, b in zip(rows, rows[1:], strict=False))  # gains only shrink


def test_every_pair_past_the_memory_share_is_refused_naming_neighbours(con):
    con.sql("SET memory_limit = '40MB'")  # a quarter (10 MB) holds no 2,000 × 2,000 doubles (32 MB)
    source = f"SELECT id, sel_hash_embed(text, 32) AS embedding FROM ''{EXAMPLES / 'pool.parquet'}''"
    try:
        with pytest.raises(Exception, match="neighbours := 64 in SQL, -p neighbours=64 to diverse_topk"):
            con.sql(f"SELECT sel_facility_location('sel_scratch.fl', '{source}', 5)").fetchall()
        with pytest.raises(Exception, match="2000 neighbours of 2,000 rows needs"):
            con.sql(f"SELECT sel_facility_location('sel_scratch.fl', '{source}', 5, 2000)").fetchall()
    finally:
        con.sql("RESET memory_limit")


def test_the_recipe_selects_with_facility_location(examples):
    pool = str(examples / "pool.parquet")
    one = sqlsel.run_recipe("diverse_topk", {"pool": pool, "k": 6, "method": "facility"}, threads=1).table
    two = sqlsel.run_recipe("diverse_topk", {"pool": pool, "k": 6, "method": "facility"}, threads=2).table
    assert one.equals(two) and one.column("rank").to_pylist() == list(range(1, 7))
    sparse = sqlsel.run_recipe("diverse_topk", {"pool": pool, "k": 6, "method": "facility", "neighbours": 32})
    assert sparse.rows_out == 6
    assert set(pq.read_schema(examples / "pool.parquet").names) | {"rank", "nearest_sim"} <= set(one.column_names)


@pytest.mark.parametrize(
    ("objective", "selection", "alpha"),
    [
        ("saturated", "SaturatedCoverageSelection", 0.1),
        ("saturated", "SaturatedCoverageSelection", 0.02),
        ("graph_cut", "GraphCutSelection", 1.0),
        ("graph_cut", "GraphCutSelection", 0.3),
    ],
)
def test_saturated_coverage_and_graph_cut_are_apricots_naive_greedy(documents, objective, selection, alpha):
    x = documents[:900]
    reference = apricot(60, x.astype(np.float64), "cosine", selection, alpha=alpha)
    ours = submodular_select(cosine_similarities(x), 60, objective, alpha)
    assert ours.order.tolist() == reference.ranking.tolist()
    assert ours.gains == pytest.approx(reference.gains, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(
    ("objective", "selection"), [("saturated", "SaturatedCoverageSelection"), ("graph_cut", "GraphCutSelection")]
)
def test_the_variants_over_a_knn_graph_are_apricots_over_the_same_graph(documents, objective, selection):
    graph = cosine_knn_graph(documents, 16)
    matrix = csr_matrix((graph.data.copy(), graph.indices.astype(np.int32), graph.indptr.astype(np.int32)))
    reference = apricot(80, matrix, "precomputed", selection)
    ours = submodular_select(graph, 80, objective)
    assert ours.order.tolist() == reference.ranking.tolist()
    assert ours.gains == pytest.approx(reference.gains, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(
    ("function", "objective"), [("sel_saturated_coverage", "saturated"), ("sel_graph_cut", "graph_cut")]
)
def test_the_variants_from_sql_pick_what_the_kernel_picks(con, function, objective):
    source = f"SELECT id, sel_hash_embed(text, 32) AS embedding FROM ''{EXAMPLES / 'pool.parquet'}'' WHERE id < 300"
    assert con.sql(f"SELECT {function}('sel_scratch.v', '{source}', 9, alpha := 0.2)").fetchall() == [(9,)]
    rows = con.sql("SELECT id, gain FROM sel_scratch.v ORDER BY rank").fetchall()
    vectors = con.sql(source.replace("''", "'") + " ORDER BY id").fetchall()
    x = np.array([r[1] for r in vectors], np.float32)
    picks = submodular_select(cosine_similarities(x), 9, objective, 0.2)
    assert [r[0] for r in rows] == [vectors[i][0] for i in picks.order]
    with pytest.raises(Exception, match="alpha must be positive"):
        con.sql(f"SELECT {function}('sel_scratch.v', '{source}', 9, alpha := 0)").fetchall()
    with pytest.raises(Exception, match="k must be"):
        con.sql(f"SELECT {function}('sel_scratch.v', '{source}', 0)").fetchall()

"""SemDeDup, k-center, MMR and threshold-greedy from SQL, and their recipes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import sqlsel
from sqlsel.errors import SqlselError
from sqlsel.functions import FunctionContext
from tests.test_diversity_kernel import brute_semdedup, clustered


def sql(con, text):
    return con.execute(text).fetchall()


def written(con, call, order="id"):
    """Run a set-level call that writes sel_scratch.out; its rows, ordered."""
    sql(con, f"SELECT {call}")
    return sql(con, f"SELECT * FROM sel_scratch.out ORDER BY {order}")


def vectors(con, x, extra=None):
    columns = {"id": np.arange(len(x)) * 10, "embedding": list(x), **(extra or {})}
    con.register("_x", pa.table(columns))
    sql(con, "CREATE OR REPLACE TABLE sel_scratch.v AS SELECT * REPLACE (embedding::FLOAT[] AS embedding) FROM _x")


def test_semdedup_from_sql_equals_the_brute_force_rule(con):
    x, _ = clustered(n=400, dup_share=0.4)
    vectors(con, x)
    sql(con, "SELECT sel_kmeans_fit('c', 'sel_scratch.v', '6', 1)")
    assert sql(con, "SELECT sel_semdedup('sel_scratch.out', 'sel_scratch.v', 'c', 0.01)") == [(400,)]
    rows = sql(con, "SELECT id, cluster, centroid_distance, removed FROM sel_scratch.out ORDER BY id")
    labels, distance = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    assert [r[0] for r in rows] == list(range(0, 4000, 10))
    assert [r[3] for r in rows] == brute_semdedup(x, labels, distance, 0.01, "hard").tolist()


def test_semdedup_uses_the_sources_cluster_column(con):
    x, _ = clustered(n=400, dup_share=0.4)
    vectors(con, x)
    sql(con, "SELECT sel_kmeans_fit('c', 'sel_scratch.v', '6', 1)")
    call = "sel_semdedup('sel_scratch.out', '{}', 'c', 0.01)"
    assigned = written(con, call.format("sel_scratch.v"))
    given = "SELECT id, embedding, sel_cluster(embedding, ''c'') AS cluster FROM sel_scratch.v"
    assert written(con, call.format(given)) == assigned
    wrong = "SELECT id, embedding, 6 AS cluster FROM sel_scratch.v"
    with pytest.raises(Exception, match="row id 0 has cluster 6, but the model's clusters are 0 to 5"):
        sql(con, "SELECT " + call.format(wrong))
    text = "SELECT id, embedding, ''a'' AS cluster FROM sel_scratch.v"
    with pytest.raises(Exception, match="column cluster of .* must be a number; it is string"):
        sql(con, "SELECT " + call.format(text))


@pytest.mark.parametrize("keep", ["hard", "random"])
@pytest.mark.parametrize(
    "source", ["sel_scratch.v", "SELECT id, embedding, sel_cluster(embedding, 'c') AS cluster FROM sel_scratch.v"]
)
def test_semdedup_beyond_its_memory_share_works_cluster_by_cluster_with_the_same_result(con, monkeypatch, keep, source):
    x, _ = clustered(n=600, dup_share=0.4)
    vectors(con, x)
    sql(con, "SELECT sel_kmeans_fit('c', 'sel_scratch.v', '12', 1)")
    call = f"sel_semdedup('sel_scratch.out', '{source.replace(chr(39), chr(39) * 2)}', 'c', 0.02, '{keep}', 3)"
    whole = written(con, call)
    monkeypatch.setattr("sqlsel.udfs.diversity.memory_budget", lambda ctx: 4000)  # parts of a few clusters
    assert written(con, call) == whole and sum(r[5] for r in whole) > 50
    assert sql(con, "SELECT current_setting('preserve_insertion_order')") == [(True,)]  # off only while sorting


def test_kcenter_and_threshold_return_picks_in_order(con):
    x, _ = clustered(n=200)
    vectors(con, x, {"score": np.arange(200.0)})
    picks = written(con, "sel_kcenter('sel_scratch.out', 'sel_scratch.v', 5, 3)", order="rank")
    assert [p[1] for p in picks] == [1, 2, 3, 4, 5] and picks[0][2] is None and len({p[0] for p in picks}) == 5
    assert picks == written(con, "sel_kcenter('sel_scratch.out', 'sel_scratch.v', 5, 3)", order="rank")
    kept = written(con, "sel_threshold_greedy('sel_scratch.out', 'sel_scratch.v', 200, 0.8)", order="rank")
    assert all(s < 0.8 for _, _, s in kept if s is not None)


@pytest.mark.parametrize(
    "call",
    [
        "sel_kcenter('sel_scratch.out', 'sel_scratch.v', 40, 3)",
        "sel_mmr('sel_scratch.out', 'sel_scratch.v', 40, 0.5)",
        "sel_threshold_greedy('sel_scratch.out', 'sel_scratch.v', 40, 0.9)",
    ],
)
def test_nearest_sim_is_the_max_cosine_to_the_earlier_picks(con, call):
    x, _ = clustered(n=120)
    vectors(con, x, {"relevance": np.linspace(0, 1, 120), "score": np.arange(120.0)})
    picks = written(con, call, order="rank")
    e = x[[p[0] // 10 for p in picks]] / np.linalg.norm(x[[p[0] // 10 for p in picks]], axis=1, keepdims=True)
    expected = [None] + [float((e[:i] @ e[i]).max()) for i in range(1, len(e))]
    assert picks[0][2] is None
    assert [p[2] for p in picks[1:]] == pytest.approx(expected[1:], abs=1e-5)


def test_nearest_earlier_cosine_in_small_blocks_equals_one_block():
    from sqlsel.udfs.diversity import _nearest_earlier_cosine

    e = np.random.default_rng(1).normal(size=(37, 8)).astype(np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    one = _nearest_earlier_cosine(e, block=64)
    assert np.isnan(one[0]) and np.allclose(_nearest_earlier_cosine(e, block=5)[1:], one[1:])
    assert one[1:] == pytest.approx([(e[:i] @ e[i]).max() for i in range(1, 37)], abs=1e-6)


def test_mmr_with_lambda_one_is_top_k_by_relevance(con):
    x, _ = clustered(n=100)
    vectors(con, x, {"relevance": np.random.default_rng(0).random(100)})
    top = sql(con, "SELECT id FROM sel_scratch.v ORDER BY relevance DESC LIMIT 4")
    sql(con, "SELECT sel_mmr('sel_scratch.out', 'sel_scratch.v', 4, 1.0)")
    assert sql(con, "SELECT id FROM sel_scratch.out ORDER BY rank") == top


@pytest.mark.parametrize(
    "call, message",
    [
        (
            "sel_kcenter('sel_scratch.o', 'sel_scratch.v', 500, 0)",
            "k must be between 1 and the number of rows \\(50\\); got 500",
        ),
        ("sel_mmr('sel_scratch.o', 'sel_scratch.v', 3)", "relevance"),
        ("sel_semdedup('sel_scratch.o', 'sel_scratch.v', 'nope', 0.1)", "Unknown model 'nope'"),
        ("sel_semdedup('sel_scratch.o', 'sel_scratch.v', 'c2', 0.1)", "have 8 values but model 'c2' was fitted on 2"),
        (
            "sel_semdedup('sel_scratch.o', 'sel_scratch.v', 'c8', 0.1, 'middle')",
            "keep must be one of hard, easy, random",
        ),
        ("sel_kcenter('sel_scratch.o', 'SELECT 1 AS id, NULL::FLOAT[] AS embedding', 1)", "row id 1 .*NULL"),
        (
            "sel_kcenter('sel_scratch.o', 'SELECT 1.5 AS id, [1.0]::FLOAT[] AS embedding', 1)",
            "floating-point keys cannot name rows",
        ),
        (
            "sel_kcenter('sel_scratch.o', 'SELECT 1 AS id, [1.0]::FLOAT[] AS embedding UNION ALL SELECT 1, [2.0]', 1)",
            "id 1 appears more than once",
        ),
        ("sel_kcenter('drop table x', 'sel_scratch.v', 1)", "into_table must be a qualified table name"),
        ("sel_kcenter('picks', 'sel_scratch.v', 1)", "into_table must be a qualified table name"),
        (
            "sel_mmr('sel_scratch.o', 'SELECT id, embedding, ''NaN''::DOUBLE AS relevance FROM sel_scratch.v', 3)",
            "relevance nan; it must be a finite number",
        ),
    ],
)
def test_bad_input_is_refused_clearly(con, call, message):
    vectors(con, clustered(n=50, d=8)[0])
    sql(con, "CREATE TABLE sel_scratch.two AS SELECT range AS id, [range, 1.0]::FLOAT[] AS embedding FROM range(10)")
    sql(con, "SELECT sel_kmeans_fit('c2', 'sel_scratch.two', '2')")
    sql(con, "SELECT sel_kmeans_fit('c8', 'sel_scratch.v', '2')")
    with pytest.raises(Exception, match=message):
        sql(con, f"SELECT {call}")


@pytest.fixture
def dup_pool(write_jsonl):
    base = [
        f"Document {i} talks about topic {i % 7} with words {' '.join(str(j) for j in range(i, i + 12))}"
        for i in range(60)
    ]
    rows = [{"id": i, "text": t, "score": float(i % 13)} for i, t in enumerate(base + base[:20])]  # 20 exact copies
    return write_jsonl("pool.jsonl", rows)


def test_semdedup_recipe_removes_the_exact_copies(dup_pool):
    kept = sqlsel.run_recipe("semdedup", {"pool": str(dup_pool), "eps": 0.001, "clusters": 5}).table
    removed = sqlsel.run_recipe("semdedup", {"pool": str(dup_pool), "eps": 0.001, "clusters": 5, "removed": True}).table
    assert kept.num_rows + removed.num_rows == 80 and removed.num_rows >= 20
    assert {"cluster", "max_sim", "dup_of"} <= set(kept.column_names)
    texts = dict(
        zip(
            kept.column("id").to_pylist() + removed.column("id").to_pylist(),
            kept.column("text").to_pylist() + removed.column("text").to_pylist(),
            strict=True,
        )
    )
    assert len({texts[i] for i in kept.column("id").to_pylist()}) == kept.num_rows  # no two kept rows alike


@pytest.mark.parametrize("threads", [1, 2])
def test_recipes_are_deterministic_at_1_and_2_threads(dup_pool, threads):
    for recipe, params in [
        ("semdedup", {"eps": 0.05, "clusters": 5}),
        ("d4", {"clusters": 4}),
        ("diverse_topk", {"k": 10}),
        ("diverse_topk", {"k": 10, "method": "mmr"}),
    ]:
        one = sqlsel.run_recipe(recipe, {"pool": str(dup_pool), **params}, threads=1)
        other = sqlsel.run_recipe(recipe, {"pool": str(dup_pool), **params}, threads=threads)
        assert one.table.equals(other.table), recipe


def test_d4_keeps_about_ratio_of_the_deduplicated_rows(dup_pool):
    dedup = sqlsel.run_recipe("semdedup", {"pool": str(dup_pool), "eps": 0.05, "clusters": 4}).rows_out
    d4 = sqlsel.run_recipe("d4", {"pool": str(dup_pool), "eps": 0.05, "clusters": 4, "ratio": 0.5}).rows_out
    assert abs(d4 - dedup / 2) <= 4


def test_diverse_topk_outputs_rank_order_and_every_pool_column(dup_pool):
    table = sqlsel.run_recipe("diverse_topk", {"pool": str(dup_pool), "k": 8, "method": "threshold", "tau": 0.5}).table
    assert table.column("rank").to_pylist() == list(range(1, table.num_rows + 1)) and table.num_rows <= 8
    assert {"id", "text", "score", "rank", "nearest_sim"} <= set(table.column_names)


@pytest.mark.parametrize(
    "recipe, params, message",
    [
        ("diverse_topk", {"k": 0}, "Parameter k must be >= 1; got 0"),
        (
            "diverse_topk",
            {"k": 5, "method": "random"},
            "Parameter method must be one of kcenter, facility, mmr, threshold",
        ),
        ("semdedup", {"eps": 3.0}, "Parameter eps must be in \\[0, 2\\]; got 3.0"),
        ("semdedup", {"keep": "middle"}, "Parameter keep must be one of hard, easy, random; got 'middle'"),
        ("d4", {"ratio": 0.0}, "Parameter ratio must be in \\(0, 1\\]"),
        ("semdedup", {"embedder": "column"}, "embedder column needs an embedding column"),
    ],
)
def test_recipe_parameters_are_checked(dup_pool, recipe, params, message):
    with pytest.raises(SqlselError, match=message):
        sqlsel.run_recipe(recipe, {"pool": str(dup_pool), **params})


def test_mmr_needs_a_score_column(examples):
    with pytest.raises(SqlselError, match="method mmr needs a numeric score column"):
        sqlsel.run_recipe("diverse_topk", {"pool": str(examples / "pool.parquet"), "k": 5, "method": "mmr"})


def test_index_backed_semdedup_finds_the_exact_removals(con):
    x, _ = clustered(n=1500, d=32, dup_share=0.4)
    vectors(con, x)
    sql(con, "SELECT sel_kmeans_fit('c', 'sel_scratch.v', '8', 1)")
    sql(con, "SELECT sel_vectors_store('v', 'sel_scratch.v')")
    sql(con, "SELECT sel_index_build('ix', 'v')")
    sql(con, "SELECT sel_semdedup('sel_scratch.out', 'sel_scratch.v', 'c', 0.01)")
    exact = {r[0] for r in sql(con, "SELECT id FROM sel_scratch.out WHERE removed")}
    sql(con, "SELECT sel_semdedup('sel_scratch.out', 'sel_scratch.v', 'c', 0.01, index := 'ix')")
    fast = {r[0] for r in sql(con, "SELECT id FROM sel_scratch.out WHERE removed")}
    assert len(exact) > 300 and fast <= exact and len(fast) / len(exact) >= 0.99


def test_index_backed_semdedup_needs_a_cosine_index(con):
    x, _ = clustered(n=300, d=8)
    vectors(con, x)
    sql(con, "SELECT sel_kmeans_fit('c', 'sel_scratch.v', '4', 1)")
    sql(con, "SELECT sel_vectors_store('v', 'sel_scratch.v')")
    sql(con, "SELECT sel_index_build('l2ix', 'v', 'l2')")
    with pytest.raises(Exception, match="built with metric 'l2', not 'cosine'"):
        sql(con, "SELECT sel_semdedup('sel_scratch.out', 'sel_scratch.v', 'c', 0.01, index := 'l2ix')")


@pytest.mark.parametrize(
    "key_sql", ["'doc-' || (40 - range)", "md5(range::VARCHAR)::UUID", "(18446744073709551615 - range)::UBIGINT"]
)
def test_set_level_functions_take_any_key_and_give_it_back_in_its_type(con, key_sql):
    x, _ = clustered(n=40, d=8, dup_share=0.3)
    con.register("_x", pa.table({"embedding": list(x)}))
    sql(
        con,
        f"CREATE TABLE sel_scratch.k AS SELECT {key_sql} AS id, embedding::FLOAT[] AS embedding FROM (SELECT row_number() OVER () - 1 AS range, * FROM _x)",
    )
    key_type = sql(con, "SELECT typeof(id) FROM sel_scratch.k LIMIT 1")[0][0]
    sql(con, "SELECT sel_kmeans_fit('c', 'sel_scratch.k', '3', 1)")
    sql(con, "SELECT sel_semdedup('sel_scratch.d', 'SELECT * FROM sel_scratch.k', 'c', 0.01, 'random', 3)")
    sql(con, "SELECT sel_kcenter('sel_scratch.p', 'SELECT * FROM sel_scratch.k', 5, 2)")
    assert sql(con, "SELECT DISTINCT typeof(id), typeof(dup_of) FROM sel_scratch.d") == [(key_type, key_type)]
    assert sql(con, "SELECT count(*) FROM sel_scratch.d JOIN sel_scratch.k USING (id)") == [(40,)]
    assert sql(con, "SELECT count(*) FROM sel_scratch.d d JOIN sel_scratch.k k ON d.dup_of = k.id") == sql(
        con, "SELECT count(*) FROM sel_scratch.d WHERE removed"
    )
    picks = sql(con, "SELECT id FROM sel_scratch.p ORDER BY rank")
    sql(con, "SELECT sel_kcenter('sel_scratch.p', 'SELECT * FROM sel_scratch.k ORDER BY random()', 5, 2)")
    assert sql(con, "SELECT id FROM sel_scratch.p ORDER BY rank") == picks  # any row order, the same picks


def test_a_sampled_source_is_read_once(con):
    """An unseeded sample differs between reads: reading it twice broke on the second read."""
    x, _ = clustered(n=300, d=8)
    vectors(con, x)
    count = sql(
        con, "SELECT sel_kcenter('sel_scratch.out', 'SELECT * FROM sel_scratch.v USING SAMPLE 50% (bernoulli)', 5)"
    )[0][0]
    assert count == 5 and len(sql(con, "SELECT * FROM sel_scratch.out")) == 5


def test_index_neighbours_are_asked_again_for_new_vectors_under_the_same_keys(con, monkeypatch):
    import sqlsel.udfs.diversity as diversity
    from sqlsel.kernels.keys import key_hashes
    from sqlsel.relations import Vectors

    calls = []
    query = diversity._query_neighbours
    monkeypatch.setattr(diversity, "_query_neighbours", lambda *a: calls.append(1) or query(*a))
    x, _ = clustered(n=300, d=8)
    vectors(con, x)
    sql(con, "SELECT sel_vectors_store('v', 'sel_scratch.v')")
    sql(con, "SELECT sel_index_build('ix', 'v')")
    ctx, keys, rows = FunctionContext(con), np.arange(300) * 10, np.arange(300)
    for y in (x, x, x + np.float32(1e-3)):  # the same keys and rows asked about; the last with other vectors
        data = Vectors(keys, "BIGINT", key_hashes(pa.array(keys)), y.astype(np.float32))
        diversity._neighbours(ctx, "ix", data, rows)
    assert len(calls) == 2

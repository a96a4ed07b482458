"""Optimal-transport gradients (GOT-D): potentials that satisfy the Sinkhorn equations, from SQL and a recipe."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.special import logsumexp

import sqlsel
from sqlsel.errors import SqlselError
from sqlsel.kernels.transport import ot_distance, ot_potentials, unit_cost
from tests.conftest import EXAMPLES, need


@pytest.fixture(scope="module")
def embedded():
    """Hash embeddings of real documents: 400 pool rows and the example target's 40 first texts."""
    con = sqlsel.connect()
    pool = con.sql(f"SELECT sel_hash_embed(text, 32) FROM '{EXAMPLES / 'pool.parquet'}' ORDER BY id LIMIT 400")
    target = con.sql(f"SELECT sel_hash_embed(text, 32) FROM read_json('{EXAMPLES / 'target.jsonl'}') LIMIT 40")
    x = np.array([r[0] for r in pool.fetchall() if r[0] is not None])
    y = np.array([r[0] for r in target.fetchall() if r[0] is not None])
    con.close()
    return x, y


def sinkhorn(c, eps, steps=20_000):
    """A plain log-domain Sinkhorn (uniform masses), for comparison: centred f and the matching g."""
    n, m = c.shape
    f, g = np.zeros(n), np.zeros(m)
    for _ in range(steps):
        before = f
        f = -eps * logsumexp((g[None, :] - c) / eps, axis=1) - eps * np.log(n)
        g = -eps * logsumexp((f[:, None] - c) / eps, axis=0) - eps * np.log(m)
        if np.abs(f - before).max() < 1e-13:
            break
    return f - f.mean(), g + f.mean()


@pytest.mark.parametrize("eps", [0.1, 0.05])
def test_potentials_are_the_sinkhorn_fixed_point_centred(embedded, eps):
    need("ot")
    x, y = embedded
    fit = ot_potentials(x, y, eps)
    f, g = sinkhorn(unit_cost(x, y), eps)
    assert fit.converged and abs(fit.potential.mean()) < 1e-12
    assert fit.potential == pytest.approx(f, abs=1e-6) and fit.target_potential == pytest.approx(g, abs=1e-6)


def test_the_plan_from_the_potentials_has_the_uniform_marginals(embedded):
    need("ot")
    x, y = embedded
    fit = ot_potentials(x, y, 0.1)
    plan = np.exp((fit.potential[:, None] + fit.target_potential[None, :] - unit_cost(x, y)) / 0.1)
    assert plan.sum(axis=1) == pytest.approx(np.full(len(x), 1 / len(x)), rel=1e-6)
    assert plan.sum(axis=0) == pytest.approx(np.full(len(y), 1 / len(y)), rel=1e-6)
    assert fit.cost == pytest.approx(float((plan * unit_cost(x, y)).sum()), rel=1e-6)


def test_a_solve_that_does_not_converge_is_refused_naming_eps(con, monkeypatch):
    need("ot")
    import sqlsel.kernels.transport as transport

    solve = transport.ot_potentials
    monkeypatch.setattr("sqlsel.udfs.transport.ot_potentials", lambda x, y, eps: solve(x, y, eps, iterations=3))
    pool, target = SOURCE.format(path=EXAMPLES / "pool.parquet"), TARGET.format(path=EXAMPLES / "target.jsonl", dim=32)
    with pytest.raises(Exception, match="did not converge in .* at eps 0.01; a larger eps"):
        con.sql(f"SELECT sel_ot_gradients('sel_scratch.ot', '{pool}', '{target}', 0.01)").fetchall()


def test_rows_near_the_target_get_the_most_negative_gradients():
    need("ot")
    rng = np.random.default_rng(0)
    target = rng.normal([4.0, 4.0, 0.0], 0.3, size=(30, 3))
    pool = np.vstack([rng.normal([4.0, 4.0, 0.0], 0.3, size=(20, 3)), rng.normal([-4.0, 0.0, 4.0], 0.3, size=(80, 3))])
    order = np.argsort(ot_potentials(pool, target, 0.05).gradient)
    assert set(order[:20]) == set(range(20))


def test_bad_problems_are_refused():
    need("ot")
    with pytest.raises(ValueError, match="at least 2 pool rows and 1 target row"):
        ot_potentials(np.ones((3, 2)), np.ones((0, 2)))
    with pytest.raises(ValueError, match="eps must be positive"):
        ot_potentials(np.ones((3, 2)), np.ones((1, 2)), eps=0.0)


SOURCE = "SELECT id, sel_hash_embed(text, 32) AS embedding FROM ''{path}'' WHERE id < 200 AND length(text) > 20"
TARGET = "SELECT row_number() OVER (ORDER BY text) AS id, sel_hash_embed(text, {dim}) AS embedding FROM read_json(''{path}'')"


def test_from_sql_a_row_per_pool_row_in_its_key_type(con):
    need("ot")
    pool, target = SOURCE.format(path=EXAMPLES / "pool.parquet"), TARGET.format(path=EXAMPLES / "target.jsonl", dim=32)
    written = con.sql(f"SELECT sel_ot_gradients('sel_scratch.ot', '{pool}', '{target}', 0.1)").fetchall()[0][0]
    rows = con.sql("SELECT id, potential, gradient FROM sel_scratch.ot").fetchall()
    assert written == len(rows) > 100 and abs(sum(r[1] for r in rows)) < 1e-9
    mismatch = TARGET.format(path=EXAMPLES / "target.jsonl", dim=16)
    with pytest.raises(Exception, match="pool embeddings have 32 dimensions, target embeddings 16"):
        con.sql(f"SELECT sel_ot_gradients('sel_scratch.ot', '{pool}', '{mismatch}')").fetchall()
    with pytest.raises(Exception, match="eps must be positive"):
        con.sql(f"SELECT sel_ot_gradients('sel_scratch.ot', '{pool}', '{target}', -1)").fetchall()


def test_a_problem_past_the_memory_share_is_refused(con):
    need("ot")
    con.sql("SET memory_limit = '40MB'")  # a quarter (10 MB) holds no 10 × 1,900² doubles
    pool = SOURCE.format(path=EXAMPLES / "pool.parquet").replace("WHERE id < 200 AND", "WHERE")
    try:
        with pytest.raises(Exception, match="Select from a sample of the pool or the target"):
            con.sql(f"SELECT sel_ot_gradients('sel_scratch.ot', '{pool}', '{pool}')").fetchall()
    finally:
        con.sql("RESET memory_limit")


def test_the_recipe_selects_the_k_most_negative_gradients_at_any_thread_count(examples, tmp_path):
    need("ot")
    params = {"pool": str(examples / "pool.parquet"), "target": str(examples / "target.jsonl"), "k": 25, "dim": 64}
    one = sqlsel.run_recipe("otgrad_select", params, threads=1).table
    two = sqlsel.run_recipe("otgrad_select", params, threads=2).table
    assert one.equals(two) and one.column("rank").to_pylist() == list(range(1, 26))
    gradients = one.column("ot_gradient").to_pylist()
    assert gradients == sorted(gradients)


def test_the_recipe_needs_embeddings_on_both_sides_for_embedder_column(tmp_path, examples):
    need("ot")
    pool = tmp_path / "pool.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "embedding": [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]}), pool)
    params = {"pool": str(pool), "target": str(examples / "target.jsonl"), "k": 2, "embedder": "column"}
    with pytest.raises(SqlselError, match="embedder column needs an embedding column in both pool and target"):
        sqlsel.run_recipe("otgrad_select", params)


def test_a_target_without_any_embedding_is_refused_by_name(tmp_path, examples):
    need("ot")
    target = tmp_path / "target.jsonl"
    target.write_text('{"text": null}\n{"text": ""}\n')
    params = {"pool": str(examples / "pool.parquet"), "target": str(target), "k": 5}
    with pytest.raises(SqlselError, match="sel_ot_fit \\(target\\): .*has no rows"):
        sqlsel.run_recipe("otgrad_select", params)


def test_the_exact_distance_is_the_optimal_assignments_mean_cost(embedded):
    need("ot")
    from scipy.optimize import linear_sum_assignment

    x, y = embedded
    a, b = x[:40], y[:40]  # equal sizes, uniform masses: optimal transport is an assignment
    cost = unit_cost(a, b)
    rows, cols = linear_sum_assignment(cost)
    assert ot_distance(a, b) == pytest.approx(cost[rows, cols].mean(), abs=1e-9)
    assert ot_distance(x, y, 0.1) == pytest.approx(ot_potentials(x, y, 0.1).cost, rel=1e-12)
    assert ot_distance(x, y, 0.05) >= ot_distance(x, y) - 1e-9  # an entropic plan costs at least the optimum


def test_ot_distance_from_sql_and_the_recipes_metric(con, examples):
    need("ot")
    pool, target = SOURCE.format(path=EXAMPLES / "pool.parquet"), TARGET.format(path=EXAMPLES / "target.jsonl", dim=32)
    (exact,) = con.sql(f"SELECT sel_ot_distance('{pool}', '{target}')").fetchall()[0]
    assert 0 < exact < 4
    with pytest.raises(Exception, match="eps must be 0 .exact. or positive"):
        con.sql(f"SELECT sel_ot_distance('{pool}', '{target}', -0.5)").fetchall()
    params = {"pool": str(examples / "pool.parquet"), "target": str(examples / "target.jsonl"), "k": 50, "dim": 32}
    chosen = sqlsel.run_recipe("otgrad_select", params)
    # the same problem by hand: the 50 most negative gradients are the selection, the 50 largest its opposite
    embedded = f"SELECT id, sel_hash_embed(text, 32) AS embedding FROM '{examples / 'pool.parquet'}'"
    con.sql(f"CREATE TABLE sel_scratch.p AS SELECT * FROM ({embedded}) WHERE embedding IS NOT NULL")
    con.sql("CREATE TABLE sel_scratch.t AS " + target.replace("''", "'"))
    con.sql("SELECT sel_ot_gradients('sel_scratch.g', 'sel_scratch.p', 'sel_scratch.t')").fetchall()
    ends = {}
    for name, order in (("best", "ASC"), ("worst", "DESC")):
        picked = (
            "SELECT id, embedding FROM sel_scratch.p "
            f"WHERE id IN (SELECT id FROM sel_scratch.g ORDER BY gradient {order}, id LIMIT 50)"
        )
        ends[name] = con.sql(f"SELECT sel_ot_distance('{picked}', 'sel_scratch.t')").fetchall()[0][0]
    assert chosen.metrics["ot_distance_selected"] == pytest.approx(ends["best"], rel=1e-9)
    assert ends["best"] < ends["worst"]


def test_a_stored_model_scores_the_fitted_rows_as_the_solve_did(con):
    need("ot")
    pool, target = SOURCE.format(path=EXAMPLES / "pool.parquet"), TARGET.format(path=EXAMPLES / "target.jsonl", dim=32)
    # rows of other lengths and off the origin: the model keeps the target's unit rows in double precision
    pool = pool.replace(
        "sel_hash_embed(text, 32) AS", "list_transform(sel_hash_embed(text, 32), lambda v: 3 * v + 0.01) AS"
    )
    target = target.replace(
        "sel_hash_embed(text, 32) AS", "list_transform(sel_hash_embed(text, 32), lambda v: v - 0.02) AS"
    )
    assert con.sql(f"SELECT sel_ot_fit('toward', '{pool}', '{target}')").fetchall()[0][0] > 100
    con.sql(f"SELECT sel_ot_gradients('sel_scratch.ot', '{pool}', '{target}')").fetchall()
    rows = con.sql(
        f"SELECT o.gradient, sel_ot_gradient(p.embedding, 'toward') FROM sel_scratch.ot o "
        f"JOIN ({pool.replace(chr(39) * 2, chr(39))}) p USING (id)"
    ).fetchall()
    assert [r[1] for r in rows] == pytest.approx([r[0] for r in rows], abs=1e-9)
    assert con.sql("SELECT kind FROM sel_models WHERE name = 'toward'").fetchall() == [("ot",)]


def test_a_stored_model_refuses_unknown_names_and_other_dimensions(con):
    need("ot")
    pool, target = SOURCE.format(path=EXAMPLES / "pool.parquet"), TARGET.format(path=EXAMPLES / "target.jsonl", dim=32)
    con.sql(f"SELECT sel_ot_fit('toward', '{pool}', '{target}')").fetchall()
    assert con.sql("SELECT sel_ot_gradient(NULL::FLOAT[], 'toward')").fetchall() == [(None,)]
    with pytest.raises(Exception, match="fitted on 32-dimensional vectors"):
        con.sql("SELECT sel_ot_gradient([1.0, 0.0]::FLOAT[], 'toward')").fetchall()
    with pytest.raises(Exception, match="towards.*Fit one with SELECT sel_ot_fit"):
        con.sql("SELECT sel_ot_gradient([1.0, 0.0]::FLOAT[], 'towards')").fetchall()


def test_the_recipe_fits_a_sample_and_scores_every_row(examples):
    need("ot")
    params = {"pool": str(examples / "pool.parquet"), "target": str(examples / "target.jsonl"), "k": 25, "dim": 64}
    sampled = sqlsel.run_recipe("otgrad_select", {**params, "fit_rows": 500})
    whole = sqlsel.run_recipe("otgrad_select", params)
    assert sampled.metrics["rows_fitted"] == 500 and whole.metrics["rows_fitted"] > 1900
    overlap = set(sampled.table.column("id").to_pylist()) & set(whole.table.column("id").to_pylist())
    assert len(overlap) >= 15  # a quarter of the pool finds most of the same rows

"""Score-column methods (README "Score-column methods"): the documented SQL and the color_filter recipe
against plain Python computations of each paper's rule."""

from __future__ import annotations

import math
import os
import re

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sqlsel
from sqlsel.errors import SqlselError
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def documented():
    """A connection that ran the README section's SQL (from the repository root), and its statements' results."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Score-column methods")[1].split("\n### ")[0]
    sql = re.findall(r"```sql\n(.*?)```", section, re.S)[0]
    con = sqlsel.connect()
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        results = []
        for statement in con.extract_statements(sql):
            relation = con.sql(statement.query)
            if statement.type == duckdb.StatementType.SELECT:
                results.append(relation.fetchall())
    finally:
        os.chdir(here)
    yield con, results
    con.close()


def rows(con, sql):
    return [
        dict(zip([d[0] for d in con.execute(sql).description], r, strict=True)) for r in con.execute(sql).fetchall()
    ]


def test_ifd_keeps_the_highest_ratios_below_one(documented):
    con, (ifd, _) = documented
    table = rows(con, "SELECT id, loss_answer, loss_answer_given_instruction AS given FROM scored")
    ratios = sorted(
        ((r["given"] / r["loss_answer"], r["id"]) for r in table if r["given"] / r["loss_answer"] < 1),
        key=lambda p: (-p[0], p[1]),
    )[:100]
    assert [i for i, _ in ifd] == [i for _, i in ratios] and all(v < 1 for _, v in ifd)


def test_el2n_is_the_norm_of_softmax_minus_one_hot(documented):
    con, _ = documented
    for r in rows(con, "SELECT s.id, probs, label, el2n FROM scored s JOIN el2n USING (id) LIMIT 50"):
        one_hot = np.eye(len(r["probs"]))[r["label"]]
        assert r["el2n"] == pytest.approx(float(np.linalg.norm(np.array(r["probs"]) - one_hot)), rel=1e-12)


def test_instructmining_keeps_the_lowest_predicted_loss(documented):
    con, (_, kept) = documented
    table = rows(con, "SELECT id, reward, log_length FROM scored")
    predicted = sorted((0.2 - 0.5 * r["reward"] + 0.1 * r["log_length"], r["id"]) for r in table)[:100]
    assert [i for i, _ in kept] == [i for _, i in predicted]


@pytest.fixture
def losses(tmp_path):
    rng = np.random.default_rng(3)
    prior = rng.random(300) * 3
    conditional = prior - rng.random(300)
    prior[4], conditional[9] = np.nan, np.inf
    missing = np.arange(300) == 11  # a NULL loss
    path = tmp_path / "losses.parquet"
    table = pa.table({"id": np.arange(300) * 7, "lp": pa.array(prior, mask=missing), "lc": conditional})
    pq.write_table(table, path)
    prior[11] = np.nan
    return path, prior, conditional


def color(path, **params):
    return sqlsel.run_recipe(
        "color_filter", {"pool": str(path), "prior_loss": "lp", "conditional_loss": "lc", **params}
    )


def test_color_filter_takes_the_largest_conditional_loss_reductions(losses):
    path, prior, conditional = losses
    result = color(path, k=15)
    reduction = prior - conditional
    finite = [i for i in range(300) if math.isfinite(reduction[i])]
    expected = sorted(finite, key=lambda i: (-reduction[i], i))[:15]
    assert result.table.column("id").to_pylist() == [i * 7 for i in expected]
    assert result.table.column("color_score").to_pylist() == pytest.approx([reduction[i] for i in expected])
    assert result.metrics["candidates"] == 297  # NaN, infinite and NULL losses are never candidates


def test_color_filter_chooses_among_a_seeded_draw_of_tau_times_k(losses):
    path, *_ = losses
    one, again, other = color(path, k=10, tau=3), color(path, k=10, tau=3), color(path, k=10, tau=3, seed=1)
    assert one.metrics["candidates"] == 30 and one.table.equals(again.table)
    assert one.table.column("id").to_pylist() != other.table.column("id").to_pylist()
    con = sqlsel.connect()  # the draw: the 30 scored rows with the smallest seeded noise of their keys
    drawn = con.sql(
        f"SELECT id, lp - lc AS r FROM '{path}' WHERE isfinite(lp - lc) ORDER BY sel_gumbel(id, 0), id LIMIT 30"
    ).fetchall()
    con.close()
    best = [i for i, _ in sorted(drawn, key=lambda p: (-p[1], p[0]))[:10]]
    assert one.table.column("id").to_pylist() == best


def test_color_filter_refuses_a_tau_below_one(losses):
    path, *_ = losses
    with pytest.raises(SqlselError, match="tau must be 0 .* or at least 1"):
        color(path, k=10, tau=0.5)

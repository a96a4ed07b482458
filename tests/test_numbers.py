"""Numbers: parameters checked before any work; NaN and ±inf in score columns are no score."""

from __future__ import annotations

import duckdb
import pytest

import sqlsel
from sqlsel.errors import ParameterError


def scored_pool(tmp_path, score_sql: str, n: int = 60):
    path = tmp_path / "scored.parquet"
    duckdb.sql(
        f"COPY (SELECT i AS id, 'row ' || i || ' about topic ' || (i % 5) AS text, {score_sql} AS score "
        f"FROM range({n}) t(i)) TO '{path}'"
    )
    return path


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "-inf"])
def test_bad_smoothing_is_refused_before_any_work(con, small_task, value):
    with pytest.raises(ParameterError, match="Parameter smoothing must be"):
        sqlsel.run_recipe(
            "dsir_select",
            {"pool": str(small_task[0]), "target": str(small_task[1]), "k": 3, "smoothing": value},
            con=con,
        )
    assert con.execute("SELECT count(*) FROM sel_models").fetchall() == [(0,)]


@pytest.mark.parametrize(
    "recipe, params",
    [
        ("ccs_select", {"score": "score", "n": 30}),
        ("diverse_topk", {"k": 30, "method": "mmr"}),
        ("diverse_topk", {"k": 30, "method": "threshold", "tau": 1.0}),
    ],
)
def test_nan_and_infinite_scores_are_never_selected(tmp_path, recipe, params):
    bad = "CASE i % 4 WHEN 0 THEN 'NaN'::DOUBLE WHEN 1 THEN 'inf'::DOUBLE WHEN 2 THEN NULL ELSE i END"
    table = sqlsel.run_recipe(recipe, {"pool": str(scored_pool(tmp_path, bad)), **params}).table
    ids = table.column("id").to_pylist()
    assert ids and all(i % 4 == 3 for i in ids) and len(ids) == len(set(ids)) == 15


def test_mmr_relevance_is_rescaled_so_diversity_still_counts(tmp_path):
    """Scores in the thousands would swamp cosine similarities; rescaled to [0, 1] they do not."""
    pool = scored_pool(tmp_path, "1000 + i * 1000.0")
    raw_top = sqlsel.run_recipe("diverse_topk", {"pool": str(pool), "k": 10, "method": "mmr", "lambda": 1.0}).table
    mixed = sqlsel.run_recipe("diverse_topk", {"pool": str(pool), "k": 10, "method": "mmr", "lambda": 0.3})
    assert raw_top.column("id").to_pylist() == list(range(59, 49, -1))  # lambda 1: top-k by score
    assert mixed.table.column("id").to_pylist() != raw_top.column("id").to_pylist()
    assert mixed.metrics == {"score_min": 1000.0, "score_max": 60000.0}


@pytest.mark.parametrize("value", ["nan", "1.5", "-0.1"])
def test_out_of_range_fractions_are_refused(tmp_path, value):
    with pytest.raises(ParameterError, match=r"Parameter hard_cut must (be in \[0, 1\)|be a finite number)"):
        sqlsel.run_recipe(
            "ccs_select", {"pool": str(scored_pool(tmp_path, "i")), "score": "score", "n": 5, "hard_cut": value}
        )


def test_balanced_quality_that_is_not_finite_comes_last(tmp_path):
    path = tmp_path / "q.parquet"
    duckdb.sql(
        f"COPY (SELECT i AS id, 'text number ' || i AS text, CASE WHEN i < 30 THEN 'NaN'::DOUBLE ELSE i END AS quality "
        f"FROM range(60) t(i)) TO '{path}'"
    )
    table = sqlsel.run_recipe(
        "balanced_sample", {"pool": str(path), "n": 20, "clusters": "1", "strategy": "quality"}
    ).table
    assert all(i >= 30 for i in table.column("id").to_pylist())

"""The ccs_select recipe: hard cut, equal-width strata, exact budget, determinism and bad input."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sqlsel
from sqlsel.errors import SqlselError


@pytest.fixture
def scored(tmp_path):
    rng = np.random.default_rng(1)
    score = np.r_[rng.normal(0, 1, 900), rng.normal(6, 0.5, 100)]  # a dense easy mass and a sparse hard tail
    path = tmp_path / "scored.parquet"
    pq.write_table(pa.table({"id": np.arange(1000), "text": ["t"] * 1000, "margin": score}), path)
    return path, score


def run(path, **params):
    return sqlsel.run_recipe("ccs_select", {"pool": str(path), "score": "margin", "n": 100, **params}).table


def test_budget_is_met_exactly_and_the_sparse_strata_are_kept_whole(scored):
    path, score = scored
    table = run(path, strata=10)
    assert table.num_rows == 100 and "stratum" in table.column_names
    per = np.bincount(table.column("stratum").to_numpy(), minlength=10)
    assert per.max() <= 100 // 10 + 5 and (per > 0).sum() >= 8  # coverage, not the dense mass


def test_hard_cut_drops_the_lowest_scores_first(scored):
    path, score = scored
    kept = run(path, hard_cut=0.5).column("margin").to_numpy()
    assert kept.min() >= np.sort(score)[500]


def test_same_seed_same_rows_other_seed_other_rows(scored):
    path, _ = scored
    a, b, c = run(path, seed=3), run(path, seed=3), run(path, seed=4)
    assert a.column("id").to_pylist() == b.column("id").to_pylist() != c.column("id").to_pylist()


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"score": "margn"},
            "Parameter score names no column of the inputs: .margn.. Did you mean .margin.. Their columns: id, text, margin.",
        ),
        ({"hard_cut": 1.0}, "hard_cut must be in"),
        ({"strata": 0}, "Parameter strata must be >= 1; got 0"),
        ({"n": -1}, "Parameter n must be >= 1; got -1"),
    ],
)
def test_bad_parameters(scored, params, message):
    with pytest.raises(SqlselError, match=message):
        run(scored[0], **params)

"""TAROT: whitening, each target's nearest rows layer by layer, and the size chosen by optimal transport."""

from __future__ import annotations

import numpy as np
import pytest

import sqlsel
from sqlsel.errors import SqlselError
from sqlsel.kernels import tarot
from sqlsel.kernels.tarot import NearestRows, _fixed_size, nearest_pool_rows, tarot_select, whiten
from sqlsel.kernels.transport import ot_distance
from tests.conftest import EXAMPLES, need

POOL = f"SELECT id, sel_hash_embed(text, 32) AS embedding FROM ''{EXAMPLES / 'pool.parquet'}'' WHERE id < 400"
TARGET = (
    "SELECT row_number() OVER (ORDER BY text) AS id, sel_hash_embed(text, 32) AS embedding "
    f"FROM read_json(''{EXAMPLES / 'target.jsonl'}'') WHERE sel_hash_embed(text, 32) IS NOT NULL"
)


@pytest.fixture(scope="module")
def embedded():
    """Hash embeddings of real documents: the first 400 pool rows and the example target."""
    con = sqlsel.connect()
    x = np.array([r[1] for r in con.sql(POOL.replace("''", "'") + " ORDER BY id").fetchall() if r[1] is not None])
    y = np.array([r[1] for r in con.sql(TARGET.replace("''", "'")).fetchall()])
    con.close()
    return x, y


def test_whitened_cosines_match_zca_whitening(embedded):
    """Cholesky and ZCA whitening differ by a rotation, so every cosine between whitened rows agrees."""
    x, y = embedded
    pool_w, target_w = whiten(x, y, ridge=1e-3)
    both = np.concatenate([x, y]).astype(np.float64)
    centred = both - both.mean(axis=0)
    covariance = centred.T @ centred / len(both)
    covariance += 1e-3 * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    values, vectors = np.linalg.eigh(covariance)
    zca = centred @ vectors @ np.diag(values**-0.5) @ vectors.T
    zca /= np.linalg.norm(zca, axis=1, keepdims=True)
    assert pool_w @ target_w.T == pytest.approx(zca[: len(x)] @ zca[len(x) :].T, abs=1e-5)


def test_fewer_rows_than_dimensions_are_whitened_through_the_ridge():
    rng = np.random.default_rng(3)
    pool, target = rng.normal(size=(10, 64)).astype(np.float32), rng.normal(size=(3, 64)).astype(np.float32)
    pool_w, target_w = whiten(pool, target)
    assert np.isfinite(pool_w).all() and np.linalg.norm(target_w, axis=1) == pytest.approx(np.ones(3), abs=1e-5)
    with pytest.raises(ValueError, match="ridge must be positive"):
        whiten(pool, target, ridge=0)


def test_nearest_rows_match_a_full_sort_across_blocks(embedded, monkeypatch):
    x, y = embedded
    pool_w, target_w = whiten(x, y)
    monkeypatch.setattr(tarot, "_BLOCK", 64)  # several blocks merged
    rows, sims = nearest_pool_rows(pool_w, target_w, 50)
    full = target_w @ pool_w.T
    expected = np.lexsort((np.broadcast_to(np.arange(len(x)), full.shape), -full), axis=1)[:, :50]
    assert (rows == expected).all() and sims == pytest.approx(np.take_along_axis(full, expected, axis=1))


def test_layers_fill_k_by_turns_then_by_similarity():
    """Two targets on the axes: each takes its nearest row in turn; the third pick ties at 0.958, lower row first."""
    pool = np.array([[1, 0.1], [0.1, 1], [1, 0.3], [0.3, 1], [0.7, 0.7]], np.float32)
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    target = np.array([[1, 0], [0, 1]], np.float32)
    picked = _fixed_size(NearestRows(pool, target, 1), 3)
    assert picked.rows.tolist() == [0, 1, 2] and picked.layers.tolist() == [1, 1, 2]
    assert _fixed_size(NearestRows(pool, target, 1), 5).rows.tolist() == [0, 1, 2, 3, 4]


def test_choosing_the_size_keeps_each_folds_best_prefix(embedded):
    need("ot")
    x, y = embedded
    picked = tarot_select(x, y, k=0, folds=3, seed=1)
    pool_w, target_w = whiten(x, y)
    parts = np.array_split(np.random.default_rng(1).permutation(len(y)), 3)
    union: set[int] = set()
    for fold, part in enumerate(parts, start=1):
        curve = [p for p in picked.curve if p.fold == fold]
        distances = [p.distance for p in curve]
        assert all(a > b for a, b in zip(distances[:-2], distances[1:-1], strict=False))  # fell until the last
        assert len(curve) == 1 or distances[-1] >= distances[-2]
        best = min(curve, key=lambda p: p.distance)
        rows = set(nearest_pool_rows(pool_w, target_w[part], best.layers)[0].ravel().tolist())
        others = np.setdiff1d(np.arange(len(y)), part)
        assert len(rows) == best.rows and ot_distance(pool_w[sorted(rows)], target_w[others]) == pytest.approx(
            best.distance
        )
        union |= rows
    assert set(picked.rows.tolist()) == union and len(picked.rows) == len(union)


def test_the_size_choice_is_seeded_and_needs_two_target_rows(embedded):
    need("ot")
    x, y = embedded
    assert tarot_select(x, y, 0, seed=4).rows.tolist() == tarot_select(x, y, 0, seed=4).rows.tolist()
    with pytest.raises(ValueError, match="needs at least 2 target rows"):
        tarot_select(x, y[:1], 0)
    with pytest.raises(ValueError, match="folds must be at least 2"):
        tarot_select(x, y, 5, folds=1)


def test_from_sql_picks_in_the_pools_key_type_and_the_curve(con):
    need("ot")
    written = con.sql(
        f"SELECT sel_tarot('sel_scratch.t', '{POOL}', '{TARGET}', 0, curve_table := 'sel_scratch.curve')"
    ).fetchall()[0][0]
    picks = con.sql("SELECT id, rank, layer, similarity FROM sel_scratch.t ORDER BY rank").fetchall()
    assert written == len(picks) > 0 and [r[1] for r in picks] == list(range(1, len(picks) + 1))
    assert con.sql("SELECT typeof(id) FROM sel_scratch.t LIMIT 1").fetchall()[0][0] == "BIGINT"
    assert [r[2] for r in picks] == sorted(r[2] for r in picks)
    assert con.sql("SELECT count(DISTINCT fold) FROM sel_scratch.curve").fetchall()[0][0] == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("-1", "k must be 0 \\(choose the size\\) or a positive number"),
        ("5, folds := 1", "folds must be at least 2"),
        ("5, ridge := 0", "ridge must be positive"),
    ],
)
def test_bad_parameters_are_refused_by_name(con, args, message):
    with pytest.raises(Exception, match=message):
        con.sql(f"SELECT sel_tarot('sel_scratch.t', '{POOL}', '{TARGET}', {args})").fetchall()


def test_the_recipe_is_the_same_at_any_thread_count_and_reports_its_curve(examples):
    need("ot")
    params = {"pool": str(examples / "pool.parquet"), "target": str(examples / "target.jsonl"), "k": 0, "dim": 64}
    one = sqlsel.run_recipe("tarot_select", params, threads=1)
    two = sqlsel.run_recipe("tarot_select", params, threads=2)
    assert one.table.equals(two.table) and one.metrics["rows_chosen"] == one.rows_out > 0
    assert {p["fold"] for p in one.metrics["ot_curve"]} == {1, 2, 3, 4, 5} and one.metrics["ot_distance_selected"] > 0


def test_k_above_the_pool_selects_every_row(tmp_path, examples):
    need("ot")
    params = {"pool": str(examples / "pool.parquet"), "target": str(examples / "target.jsonl"), "k": 10**6}
    result = sqlsel.run_recipe("tarot_select", params)
    assert (
        result.rows_out == sqlsel.connect().sql(f"SELECT count(*) FROM '{examples / 'pool.parquet'}'").fetchall()[0][0]
    )
    assert result.metrics["ot_curve"] is None
    with pytest.raises(SqlselError, match="needs at least 2 target rows"):
        one = tmp_path / "one.jsonl"
        one.write_text('{"text": "a single target document about kernels"}\n')
        sqlsel.run_recipe("tarot_select", {**params, "target": str(one), "k": 0})


def test_a_layer_that_adds_no_row_is_skipped_not_taken_for_the_minimum():
    """Near-duplicate targets swap their nearest rows: layer 3 adds nothing, and the curve goes on past it."""
    rng = np.random.default_rng(15)
    pool, base = rng.normal(size=(60, 4)), rng.normal(size=(3, 4))
    target = np.repeat(base, 2, axis=0) + 1e-3 * rng.normal(size=(6, 4))
    curve = tarot_select(pool, target, 0, folds=2, seed=0).curve
    first = [p for p in curve if p.fold == 1]
    assert [p.layers for p in first] == [1, 2, 4, 5] and first[2].distance < first[1].distance
    assert all(a.rows < b.rows for a, b in zip(first, first[1:], strict=False))


def test_ties_at_the_depth_cut_go_to_the_lower_rows(embedded, monkeypatch):
    x, y = embedded
    pool_w, target_w = whiten(np.tile(x[:50], (4, 1)), y)  # every row four times: ties everywhere
    monkeypatch.setattr(tarot, "_BLOCK", 32)
    rows, _ = nearest_pool_rows(pool_w, target_w, 5)
    full = (target_w.astype(np.float64) @ pool_w.T.astype(np.float64)).astype(np.float32)
    expected = np.lexsort((np.broadcast_to(np.arange(len(pool_w)), full.shape), -full), axis=1)[:, :5]
    assert (rows == expected).all()

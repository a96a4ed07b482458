"""MIG: the label graph, information spread over it, and greedy information gain, checked step by step."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

import sqlsel
from sqlsel.errors import SqlselError
from sqlsel.kernels.mig import label_graph, mig_select
from tests.conftest import EXAMPLES

LABELLED = (
    "SELECT id, [source, split_part(parse_filename(path), '.', 1)] AS labels, length(text) / 100 AS quality, "
    f"sel_hash_embed(text, 64) AS embedding FROM '{EXAMPLES / 'pool.parquet'}' WHERE id < 400"
)


def reference_steps(labels, quality, label_vectors, k, threshold, phi="pow", a=1e-6, b=0.8, alpha=1.0, norm=False):
    """The authors' steps on dense matrices: graph, propagation, vectorised rows, argmax gain k times."""
    e = label_vectors / np.linalg.norm(label_vectors, axis=1, keepdims=True)
    w = e @ e.T
    w = np.where(w >= threshold, w, 0.0)
    np.fill_diagonal(w, 1.0)
    p = w / w.sum(axis=0)
    v = np.zeros((len(labels), len(e)))
    for i, row in enumerate(labels):
        for label in set(row):
            v[i, label] = quality[i] / (len(set(row)) if norm else 1)
    v = v @ p
    x, chosen = np.zeros(len(e)), []
    available = np.ones(len(labels), bool)
    for _ in range(k):
        slope = b * (x + a) ** (b - 1) if phi == "pow" else alpha * np.exp(-alpha * x)
        gains = np.where(available, v @ slope, -np.inf)
        i = int(np.argmax(gains))
        chosen.append(i)
        available[i] = False
        x += v[i]
    return chosen


def test_a_hand_checked_graph_and_the_first_gains():
    e = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]])
    cos = 0.99 / np.hypot(0.99, 0.14)
    graph = label_graph(e, threshold=0.9, prop_weight=0.5)
    spread, gather = np.zeros((3, 3)), np.zeros((3, 3))
    for r in range(3):
        at = slice(graph.indptr[r], graph.indptr[r + 1])
        spread[r, graph.indices[at]], gather[graph.indices[at], r] = graph.spread[at], graph.gather[at]
    column = 1 + 0.5 * cos
    expected = np.array([[1 / column, 0.5 * cos / column, 0], [0.5 * cos / column, 1 / column, 0], [0, 0, 1]])
    assert spread == pytest.approx(expected) and gather == pytest.approx(expected)
    picks = mig_select(np.array([0, 2, 3]), np.array([0, 1, 2]), np.array([2.0, 1.0]), graph, 2)
    slope0 = 0.8 * 1e-6**-0.2
    assert picks.order.tolist() == [0, 1] and picks.gains[0] == pytest.approx(2 * 2 * slope0)
    assert picks.gains[1] == pytest.approx(slope0)  # label 2 untouched: its full first gain


@pytest.mark.parametrize(("phi", "threshold", "norm"), [("pow", 0.7, False), ("pow", 0.5, True), ("exp", 0.7, False)])
def test_lazy_greedy_picks_what_the_authors_steps_pick_on_real_documents(phi, threshold, norm):
    rows = duckdb.sql(f"SELECT * FROM ({LABELLED.replace('sel_hash_embed(text, 64)', 'NULL')}) ORDER BY id").fetchall()
    con = sqlsel.connect()
    vectors = {r[0]: np.array(r[1]) for r in con.sql(f"SELECT id, embedding FROM ({LABELLED})").fetchall()}
    names = sorted({label for r in rows for label in r[1]})
    number = {n: i for i, n in enumerate(names)}
    labels = [[number[label] for label in r[1]] for r in rows]
    sums = np.zeros((len(names), 64))
    for r, row_labels in zip(rows, labels, strict=True):
        for label in set(row_labels):
            sums[label] += vectors[r[0]]
    quality = np.array([r[2] for r in rows])
    expected = reference_steps(labels, quality, sums, 60, threshold, phi, alpha=0.05, norm=norm)
    indptr = np.cumsum([0] + [len(set(x)) for x in labels])
    ids = np.concatenate([sorted(set(x)) for x in labels])
    weights = quality / (np.diff(indptr) if norm else 1)
    picks = mig_select(indptr, ids, weights, label_graph(sums, threshold), 60, phi, alpha=0.05)
    assert picks.order.tolist() == expected


def test_equal_gains_go_to_the_lowest_row():
    graph = label_graph(np.eye(2), threshold=0.9)
    assert mig_select(np.arange(5), np.array([0, 0, 1, 1]), np.ones(4), graph, 4).order.tolist() == [0, 2, 1, 3]


def mig(con, rows_sql, labels_sql, k, extra=""):
    rows_sql, labels_sql = rows_sql.replace("'", "''"), labels_sql.replace("'", "''")
    return con.sql(f"SELECT sel_mig('sel_scratch.m', '{rows_sql}', '{labels_sql}', {k}{extra})").fetchall()[0][0]


LABELS = "SELECT * FROM (VALUES ('a', [1.0, 0.0]), ('b', [0.0, 1.0])) t(label, embedding)"


def test_from_sql_in_the_key_type_with_unlabelled_rows_never_picked(con):
    rows = "SELECT * FROM (VALUES ('x', ['a'], 1.0), ('y', [], 5.0), ('z', NULL, 5.0), ('w', ['b', NULL], 0.5)) t(id, labels, quality)"
    assert mig(con, rows, LABELS, 10) == 2
    assert con.sql("SELECT id, rank FROM sel_scratch.m ORDER BY rank").fetchall() == [("x", 1), ("w", 2)]


def test_label_embeddings_left_null_are_the_mean_of_their_rows(con):
    rows = "SELECT * FROM (VALUES (1, ['a'], 1.0, [1.0, 0.0]), (2, ['b'], 1.0, [0.9, 0.1]), (3, ['c'], 0.5, [0.0, 1.0])) t(id, labels, quality, embedding)"
    labels = "SELECT * FROM (VALUES ('a', NULL), ('b', NULL), ('c', NULL)) t(label, embedding)"
    assert mig(con, rows, labels, 2) == 2  # a and b are alike (one covers the other): c comes second
    assert [r[0] for r in con.sql("SELECT id FROM sel_scratch.m ORDER BY rank").fetchall()] == [1, 3]
    with pytest.raises(Exception, match="no embedding column to average instead"):
        mig(con, "SELECT 1 AS id, ['a'] AS labels, 1.0 AS quality", labels, 1)


@pytest.mark.parametrize(
    ("rows", "k", "message"),
    [
        ("SELECT 1 AS id, ['a'] AS labels, NULL::DOUBLE AS quality", 1, "row id 1 .* has quality None"),
        ("SELECT 1 AS id, ['a'] AS labels, -1.0 AS quality", 1, "qualities must be finite and 0 or more"),
        ("SELECT 1 AS id, ['a'] AS labels, 'nan'::DOUBLE AS quality", 1, "qualities must be finite"),
        ("SELECT 1 AS id, ['q'] AS labels, 1.0 AS quality", 1, "label 'q' .* is not among the labels"),
        ("SELECT 1 AS id, []::VARCHAR[] AS labels, 1.0 AS quality", 1, "no row .* has a label"),
        ("SELECT 1 AS id, ['a'] AS labels, 1.0 AS quality", 0, "k must be at least 1"),
        ("SELECT 1 AS id, 'a' AS labels, 1.0 AS quality", 1, "must be a list"),
    ],
)
def test_bad_rows_are_refused_by_name(con, rows, k, message):
    with pytest.raises(Exception, match=message):
        mig(con, rows, LABELS, k)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (", threshold := 0", "threshold must be in \\(0, 1\\]"),
        (", phi := 'log'", "phi must be one of pow, exp"),
        (", phi_b := 1.5", "0 < b < 1"),
    ],
)
def test_bad_parameters_are_refused(con, extra, message):
    with pytest.raises(Exception, match=message):
        mig(con, "SELECT 1 AS id, ['a'] AS labels, 1.0 AS quality", LABELS, 1, extra)


def test_the_recipe_is_the_same_at_any_thread_count(recipe_pool):
    params = {"pool": str(recipe_pool), "k": 40, "quality": "quality", "labels": "labels", "label_embedding": "rows"}
    one = sqlsel.run_recipe("mig_select", params, threads=1)
    two = sqlsel.run_recipe("mig_select", params, threads=2)
    assert one.table.equals(two.table) and one.rows_out == 40
    assert one.metrics["labels_covered"] <= one.metrics["labels"] and one.metrics["rows_without_labels"] == 0
    gains = one.table.column("mig_gain").to_pylist()
    assert gains == sorted(gains, reverse=True)  # submodular: gains never rise


def test_the_recipe_refuses_text_labels_embedded_by_column(recipe_pool):
    params = {"pool": str(recipe_pool), "k": 5, "quality": "quality", "labels": "labels", "embedder": "column"}
    with pytest.raises(SqlselError, match="label_embedding text embeds each label's text with embedder"):
        sqlsel.run_recipe("mig_select", params)


def test_the_graph_is_exactly_symmetric_and_gather_is_the_transpose():
    e = np.random.default_rng(2).normal(size=(700, 6))
    graph = label_graph(e, threshold=0.8, prop_weight=0.7)
    rows = np.repeat(np.arange(graph.labels), np.diff(graph.indptr))
    spread = dict(zip(zip(rows.tolist(), graph.indices.tolist(), strict=True), graph.spread.tolist(), strict=True))
    gather = dict(zip(zip(rows.tolist(), graph.indices.tolist(), strict=True), graph.gather.tolist(), strict=True))
    assert all(gather[(j, i)] == value for (i, j), value in spread.items())  # P[i, j] read from j's side
    sums = np.bincount(graph.indices, weights=graph.spread, minlength=graph.labels)
    assert sums == pytest.approx(np.ones(graph.labels))  # columns sum to 1

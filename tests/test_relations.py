"""Reading whole relations inside set-level functions (sqlsel.relations)."""

from __future__ import annotations

import mmap

import numpy as np

from sqlsel.kernels.diversity import kcenter_greedy
from sqlsel.kernels.sampling import uniform
from sqlsel.relations import _populated_matrix


def test_large_matrices_are_mapped_up_front_and_writable():
    big, small = _populated_matrix(50_000, 384), _populated_matrix(10, 384)
    assert big.shape == (50_000, 384) and big.dtype == np.float32 and big.flags.writeable
    root = big
    while isinstance(root, np.ndarray):
        root = root.base
    assert isinstance(getattr(root, "obj", root), mmap.mmap) == hasattr(mmap, "MAP_POPULATE")
    big[-1] = 1.5
    assert big[-1].sum() == 1.5 * 384 and small.shape == (10, 384)


def test_a_relation_past_the_mapped_size_reads_every_row_in_id_order(con):
    rows, dim = 45_000, 384  # 69 MB of vectors: read into a mapped matrix, in batches, ids descending
    con.execute(
        f"CREATE TABLE sel_scratch.v AS SELECT {rows} - i AS id, "
        f"list_transform(range({dim}), lambda j: ((i * 31 + j * 7) % 101)::FLOAT) AS embedding FROM range({rows}) t(i)"
    ).fetchall()
    con.execute("SELECT sel_kcenter('sel_scratch.picks', 'sel_scratch.v', 3, 0)").fetchall()
    picks = con.execute("SELECT * FROM sel_scratch.picks ORDER BY rank").fetchall()
    ids = np.arange(1, rows + 1)
    i = (rows - ids)[:, None]  # the row that got id k
    x = ((i * 31 + np.arange(dim)[None, :] * 7) % 101).astype(np.float32)
    start = int(np.lexsort((ids, uniform(ids, 0)))[0])  # sel_kcenter's seeded start
    assert [p[0] for p in picks] == [int(ids[r]) for r in kcenter_greedy(x, 3, start).order]


def test_a_failed_mapping_falls_back_to_numpy(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(mmap, "mmap", refuse)
    x = _populated_matrix(50_000, 384)
    assert x.shape == (50_000, 384) and x.flags.owndata


def test_a_growing_matrix_keeps_every_block_in_order_and_stays_writable():
    from sqlsel.relations import _GrowingMatrix

    grow = _GrowingMatrix(3, 4)
    blocks = [np.full((n, 3), i, np.float32) for i, n in enumerate([3, 5, 1, 9])]
    for block in blocks:
        grow.append(block)
    x = grow.matrix()
    assert np.array_equal(x, np.vstack(blocks)) and x.flags.writeable
    x[0, 0] = 42.0
    assert grow.matrix()[0, 0] == 42.0


class _Unresizable(mmap.mmap):
    """An anonymous mapping whose resize fails, as on platforms without mremap."""

    def resize(self, size):
        raise OSError(12, "Cannot allocate memory")


def test_a_growing_matrix_falls_back_to_blocks_where_a_mapping_cannot_grow(monkeypatch):
    from sqlsel.relations import _GrowingMatrix

    grow = _GrowingMatrix(2, 2)
    grow.region = _Unresizable(-1, 16, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    grow.append(np.ones((2, 2), np.float32))
    grow.append(np.full((3, 2), 2, np.float32))
    assert grow.matrix().tolist() == [[1, 1], [1, 1], [2, 2], [2, 2], [2, 2]] and grow.region is None


def test_a_growing_matrix_keeps_blocks_where_no_mapping_can_be_made(monkeypatch):
    from sqlsel import relations

    def refuse(*args, **kwargs):
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(relations.mmap, "mmap", refuse)
    grow = relations._GrowingMatrix(2, 2)
    grow.append(np.ones((3, 2), np.float32))
    assert grow.matrix().shape == (3, 2) and grow.region is None


def test_empty_embeddings_are_refused(con):
    import pytest

    with pytest.raises(Exception, match="have no values"):
        con.execute(
            "SELECT sel_kcenter('sel_scratch.p', 'SELECT range AS id, []::FLOAT[] AS embedding FROM range(5)', 1)"
        ).fetchall()

"""The zipfit_select recipe: output shape, ties, modes, determinism and bad input."""

from __future__ import annotations

import pytest

import sqlsel
from sqlsel.errors import InputError, SqlselError


def run(small_task, tmp_path=None, **params):
    pool, target = small_task
    out = tmp_path / "out.parquet" if tmp_path else None
    return sqlsel.run_recipe("zipfit_select", {"pool": str(pool), "target": str(target), **params}, out=out)


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_selects_the_rows_like_the_target(small_task, mode):
    result = run(small_task, k=10, mode=mode)
    rows = result.table.to_pylist()
    assert result.table.column_names == ["id", "text", "zipfit"]
    assert all("cat" in r["text"] for r in rows)  # the prose pool rows, not the code
    assert [(-r["zipfit"], r["id"]) for r in rows] == sorted((-r["zipfit"], r["id"]) for r in rows)


def test_ties_break_by_id(write_jsonl):
    pool = write_jsonl("pool.jsonl", [{"id": i, "text": "the same text"} for i in (5, 3, 9, 1)])
    target = write_jsonl("target.jsonl", [{"text": "the same"}])
    result = sqlsel.run_recipe("zipfit_select", {"pool": str(pool), "target": str(target), "k": 3})
    assert result.table.column("id").to_pylist() == [1, 3, 5]


def test_k_larger_than_the_pool_selects_every_row(small_task):
    assert run(small_task, k=10_000).rows_out == 60


@pytest.mark.parametrize(
    "params, message",
    [
        ({"k": 0}, "Parameter k must be >= 1; got 0"),
        ({"k": 5, "mode": "quick"}, "Parameter mode must be one of exact, fast; got 'quick'"),
        ({"k": 5, "algorithm": "gzip", "level": 0}, "gzip level 0 stores the input"),
        ({"k": 5, "algorithm": "bz2"}, "Parameter algorithm must be one of lz4, gzip, zstd; got 'bz2'"),
    ],
)
def test_bad_parameters_fail_clearly_and_write_nothing(small_task, tmp_path, params, message):
    with pytest.raises(SqlselError, match=message):
        run(small_task, tmp_path, **params)
    assert not (tmp_path / "out.parquet").exists()


def test_empty_target_file_is_an_error(small_task, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(InputError, match="'.*empty.jsonl' is empty"):
        run((small_task[0], empty), tmp_path, k=5)
    assert not (tmp_path / "out.parquet").exists()


def test_target_without_text_is_an_empty_set(small_task, write_jsonl, tmp_path):
    nulls = write_jsonl("nulls.jsonl", [{"text": None}, {"text": None}])
    with pytest.raises(SqlselError, match="Target set 'zipfit_select' is empty"):
        run((small_task[0], nulls), tmp_path, k=5)
    assert not (tmp_path / "out.parquet").exists()


def test_invalid_utf8_is_an_input_error(small_task, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"id": 1, "text": "ok"}\n{"id": 2, "text": "bad \xff\xfe"}\n')
    with pytest.raises(InputError, match="UTF-8"):
        run((bad, small_task[1]), tmp_path, k=1)
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_same_selection_at_1_and_2_threads(examples, tmp_path, mode):
    params = {"pool": str(examples / "pool.parquet"), "target": str(examples / "target.jsonl"), "k": 100, "mode": mode}
    one = sqlsel.run_recipe("zipfit_select", params, db=tmp_path / "a.duckdb", threads=1)
    two = sqlsel.run_recipe("zipfit_select", params, db=tmp_path / "b.duckdb", threads=2)
    assert one.table.equals(two.table) and one.selection_digest == two.selection_digest

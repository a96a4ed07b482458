"""Same seed ⇒ same selection, at 1 and 2 threads and across runs and processes."""

from __future__ import annotations

import pytest

import sqlsel


def selected(examples, tmp_path, threads, seed, run_no):
    db = tmp_path / f"cat{threads}_{seed}_{run_no}.duckdb"
    result = sqlsel.run_recipe(
        "dsir_select",
        {"pool": str(examples / "pool.parquet"), "target": str(examples / "target.jsonl"), "k": 200, "seed": seed},
        db=db,
        threads=threads,
    )
    return result.table.column("id").to_pylist(), result.selection_digest


@pytest.mark.parametrize("seed", [0, 12345])
def test_same_seed_same_keys_at_1_and_2_threads(examples, tmp_path, seed):
    one = selected(examples, tmp_path, 1, seed, 0)
    two = selected(examples, tmp_path, 2, seed, 0)
    again = selected(examples, tmp_path, 2, seed, 1)
    assert one == two == again


def test_other_seed_other_sample(examples, tmp_path):
    assert selected(examples, tmp_path, 2, 1, 0)[0] != selected(examples, tmp_path, 2, 2, 0)[0]

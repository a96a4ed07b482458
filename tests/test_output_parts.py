"""--out DIR/: a folder of Parquet parts, written beside and renamed into place like a file."""

from __future__ import annotations

import duckdb
import pytest

import sqlsel
from sqlsel.errors import OutputError


def params(examples):
    return {"pool": str(examples / "pool.parquet"), "target": str(examples / "target.jsonl"), "k": 30}


def read_ids(folder) -> list:
    """The ids of a folder of parts in the order written: by file name, then row."""
    sql = (
        f"SELECT id FROM read_parquet('{folder}/part-*.parquet', filename=true, file_row_number=true) "
        "ORDER BY filename, file_row_number"
    )
    return [r[0] for r in duckdb.sql(sql).fetchall()]


def test_a_folder_of_parts_holds_the_selection_in_order(examples, tmp_path):
    out = tmp_path / "selected"
    result = sqlsel.run_recipe("dsir_select", params(examples), db=tmp_path / "c.duckdb", out=f"{out}/")
    assert sorted(p.name for p in out.iterdir()) == ["_SQLSEL_OUTPUT", "part-0.parquet"]
    assert read_ids(out) == result_ids(examples, tmp_path)
    assert result.output_path == str(out)


def result_ids(examples, tmp_path):
    return sqlsel.run_recipe("dsir_select", params(examples), db=tmp_path / "c.duckdb").table.column("id").to_pylist()


def test_an_earlier_output_is_replaced_and_a_foreign_folder_refused(examples, tmp_path):
    out = tmp_path / "selected"
    for _ in range(2):
        sqlsel.run_recipe("dsir_select", params(examples), db=tmp_path / "c.duckdb", out=f"{out}/")
    assert len(list(tmp_path.glob(".selected*"))) == 0
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not an earlier sqlsel output"):
        sqlsel.run_recipe("dsir_select", params(examples), db=tmp_path / "c.duckdb", out=f"{mine}/")
    assert (mine / "notes.txt").read_text() == "keep me"


def test_spark_writes_parts_in_order(spark, examples, tmp_path):
    out = tmp_path / "selected"
    sqlsel.run_recipe(
        "dsir_select", params(examples), db=tmp_path / "c.duckdb", out=f"{out}/", engine="spark", spark=spark
    )
    names = sorted(p.name for p in out.iterdir())
    assert "_SQLSEL_OUTPUT" in names and any(n.startswith("part-") for n in names)
    assert read_ids(out) == result_ids(examples, tmp_path)

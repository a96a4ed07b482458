"""Inputs as users hold them: keys of any type, checked before any work; outputs checked before any work."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pyarrow as pa
import pytest

import sqlsel
from sqlsel.errors import InputError, OutputError, RowKeyError

TEXTS = [f"the cat number {i} sat on the mat" if i % 2 else f"def f{i}(x): return x * {i}" for i in range(40)]


def parquet(path, rows_sql: str):
    duckdb.sql(f"COPY ({rows_sql}) TO '{path}' (FORMAT parquet)")
    return path


@pytest.fixture
def target(tmp_path):
    return parquet(tmp_path / "target.parquet", "SELECT 'the cat sat on a mat ' || range AS text FROM range(5)")


def pool_of(tmp_path, key_sql: str, name: str = "pool.parquet", column: str = "id"):
    texts = ", ".join("'" + t.replace("'", "''") + "'" for t in TEXTS)
    return parquet(tmp_path / name, f"SELECT {key_sql} AS {column}, [{texts}][i + 1] AS text FROM range(40) t(i)")


def dsir(pool, target, **params):
    return sqlsel.run_recipe("dsir_select", {"pool": str(pool), "target": str(target), "k": 10, **params})


@pytest.mark.parametrize(
    "key_sql",
    ["'doc-' || i", "md5(i::VARCHAR)::UUID", "(18446744073709551615 - i)::UBIGINT", "i::INTEGER - 20", "i::UTINYINT"],
)
def test_keys_of_any_integer_or_string_type_select_k_distinct_rows(tmp_path, target, key_sql):
    pool = pool_of(tmp_path, key_sql)
    result = dsir(pool, target)
    ids = result.table.column("id").to_pylist()
    assert len(ids) == len(set(ids)) == 10
    again = dsir(pool, target, seed=0)
    assert again.table.equals(result.table) and again.selection_digest == result.selection_digest


def test_string_keys_select_the_same_rows_in_any_row_order(tmp_path, target):
    forward = pool_of(tmp_path, "'doc-' || i")
    backward = parquet(tmp_path / "backward.parquet", f"SELECT * FROM '{forward}' ORDER BY id DESC")
    a, b = dsir(forward, target, seed=5), dsir(backward, target, seed=5)
    assert sorted(a.table.column("id").to_pylist()) == sorted(b.table.column("id").to_pylist())


def test_duplicate_keys_across_files_name_the_key_and_both_files(tmp_path, target):
    (tmp_path / "parts").mkdir()
    pool_of(tmp_path, "i", "parts/a.parquet")
    pool_of(tmp_path, "i + 30", "parts/b.parquet")  # 30..39 are in both
    with pytest.raises(RowKeyError, match=r"pool: id 30 appears 2 times \(in .*a.parquet and .*b.parquet\)"):
        dsir(tmp_path / "parts" / "*.parquet", target)


def test_duplicate_keys_in_one_file_are_refused_before_any_work(tmp_path, target, con):
    pool = pool_of(tmp_path, "i % 30")
    with pytest.raises(RowKeyError, match="id 0 appears 2 times"):
        sqlsel.run_recipe("dsir_select", {"pool": str(pool), "target": str(target), "k": 10}, con=con)
    statements = con.execute("SELECT statements FROM sel_runs").fetchall()[0][0]
    assert statements in (None, "[]")  # no statement ran


def test_null_keys_are_refused_naming_the_file(tmp_path, target):
    pool = pool_of(tmp_path, "CASE WHEN i = 7 THEN NULL ELSE i END")
    with pytest.raises(RowKeyError, match=r"pool has 1 row with a NULL id \(the first in .*pool.parquet\)"):
        dsir(pool, target)


@pytest.mark.parametrize(
    "key_sql, kind", [("i::DOUBLE", "DOUBLE"), ("i::DECIMAL(10, 2)", "DECIMAL"), ("[i]", "BIGINT\\[\\]")]
)
def test_float_and_other_keys_are_refused_saying_why(tmp_path, target, key_sql, kind):
    pool = pool_of(tmp_path, key_sql)
    with pytest.raises(RowKeyError, match=f"key column 'id' is {kind}"):
        dsir(pool, target)


def test_a_pool_without_a_key_shows_how_to_add_one(tmp_path, target):
    pool = parquet(tmp_path / "nokey.parquet", "SELECT 'text ' || range AS text FROM range(5)")
    with pytest.raises(RowKeyError, match=r"no key column 'id' \(its columns: text\).*--key COLUMN.*row_number\(\)"):
        dsir(pool, target)


def test_key_option_names_another_column_and_the_output_keeps_it(tmp_path, target):
    pool = pool_of(tmp_path, "'d' || i", column="doc_id")
    result = sqlsel.run_recipe("dsir_select", {"pool": str(pool), "target": str(target), "k": 5}, key="doc_id")
    assert result.table.column_names[:2] == ["doc_id", "text"] and "id" not in result.table.column_names
    out = tmp_path / "out.parquet"
    sqlsel.run_recipe("dsir_select", {"pool": str(pool), "target": str(target), "k": 5}, key="doc_id", out=out)
    assert duckdb.sql(f"SELECT count(DISTINCT doc_id) FROM '{out}'").fetchall() == [(5,)]


def test_an_empty_pool_is_an_error(tmp_path, target):
    pool = parquet(tmp_path / "empty.parquet", "SELECT 1 AS id, 'x' AS text WHERE false")
    with pytest.raises(InputError, match="pool has no rows"):
        dsir(pool, target)


def test_an_output_that_is_an_input_is_refused_before_any_work(tmp_path, target):
    pool = pool_of(tmp_path, "i")
    before = pool.read_bytes()
    with pytest.raises(OutputError, match="is one of the pool files"):
        sqlsel.run_recipe("dsir_select", {"pool": str(pool), "target": str(target), "k": 5}, out=pool)
    assert pool.read_bytes() == before


def test_an_unwritable_output_folder_is_refused_before_any_work(tmp_path, target, unwritable):
    folder = tmp_path / "locked"
    folder.mkdir()
    pool = pool_of(tmp_path, "i")
    unwritable(folder)
    with pytest.raises(OutputError, match="folder .*locked' is not writable"):
        sqlsel.run_recipe("dsir_select", {"pool": str(pool), "target": str(target), "k": 5}, out=folder / "o.parquet")
    assert list(folder.iterdir()) == []


def test_temporaries_of_killed_runs_are_removed_by_the_next_run(tmp_path, target):
    pool, out = pool_of(tmp_path, "i"), tmp_path / "out.parquet"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".out.parquet.{dead.stdout.strip()}.tmp"
    stale.write_bytes(b"half a file")
    sqlsel.run_recipe("dsir_select", {"pool": str(pool), "target": str(target), "k": 5}, out=out)
    assert out.exists() and not stale.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_record_batch_reader_is_read_once_and_checked(target):
    import pyarrow as pa

    table = pa.table({"id": [f"r{i}" for i in range(40)], "text": TEXTS})
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=7))
    result = sqlsel.run_recipe("dsir_select", {"pool": reader, "target": str(target), "k": 4})
    assert result.rows_out == 4


def test_a_broken_link_in_a_glob_is_a_one_line_error(tmp_path, target):
    (tmp_path / "parts").mkdir()
    pool_of(tmp_path, "i", "parts/a.parquet")
    (tmp_path / "parts" / "b.parquet").symlink_to(tmp_path / "gone.parquet")
    with pytest.raises(InputError, match="b.parquet' is not a readable file"):
        dsir(tmp_path / "parts" / "*.parquet", target)


def test_a_catalog_table_named_pool_does_not_stand_in_for_the_runs_pool(tmp_path):
    db = tmp_path / "c.duckdb"
    con = sqlsel.connect(db)
    con.execute("CREATE TABLE pool AS SELECT 1 AS id, [1.0]::FLOAT[] AS embedding")  # a user's own table
    pool = pool_of(tmp_path, "i")
    result = sqlsel.run_recipe("diverse_topk", {"pool": str(pool), "k": 3, "dim": 16}, con=con)
    con.close()
    assert result.rows_out == 3


def test_integer_parameters_outside_their_sql_type_are_refused(tmp_path, target):
    from sqlsel.errors import ParameterError

    with pytest.raises(ParameterError, match="seed is BIGINT: it must be between"):
        dsir(pool_of(tmp_path, "i"), target, seed=2**64)


def test_table_function_reads_what_inputs_read_and_says_none_when_gone(tmp_path):
    from sqlsel.inputs import table_function

    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "part-0.parquet").write_bytes(b"")
    (tmp_path / "a.jsonl").write_text("{}\n")
    (tmp_path / "a.txt").write_text("x")
    assert table_function(tmp_path / "parts").startswith("read_parquet(") and "*.parquet" in table_function(
        tmp_path / "parts"
    )
    assert table_function(tmp_path / "a.jsonl").endswith("format = 'newline_delimited')")
    assert table_function(str(tmp_path / "*.jsonl")).startswith("read_json(")
    assert [
        table_function(p) for p in (tmp_path / "gone.parquet", tmp_path / "a.txt", None, str(tmp_path / "*.csv"))
    ] == [None] * 4


def test_an_input_that_fails_after_registering_leaves_nothing_behind(con, monkeypatch):
    import sqlsel.inputs as inputs

    def broken(con, given, key=None):
        raise duckdb.BinderException("the view could not be made")

    monkeypatch.setattr(inputs, "_view", broken)
    with pytest.raises(duckdb.BinderException):
        inputs.register_input(con, "pool", pa.table({"id": [1, 2]}))
    left = con.sql("SELECT view_name FROM duckdb_views() WHERE view_name LIKE '%pool%' AND NOT internal").fetchall()
    assert left == [] and "_sel_input_pool" not in {r[0] for r in con.sql("SHOW TABLES").fetchall()}

"""Vector tables in LanceDB beside the catalog: store, load back, replace, refuse bad input."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import sqlsel


def sql(con, text, params=None):
    return con.execute(text, params or []).fetchall()


def make(con, rows="SELECT range AS id, [range::FLOAT, 2.0, 3.0] AS embedding, 'r' || range AS note FROM range(50)"):
    sql(con, f"CREATE OR REPLACE TABLE sel_scratch.v AS {rows}")


def test_store_and_load_round_trip_every_column(con):
    make(con)
    assert sql(con, "SELECT sel_vectors_store('v', 'sel_scratch.v')") == [(50,)]
    assert sql(con, "SELECT sel_vectors_load('v', 'sel_scratch.back')") == [(50,)]
    back = sql(con, "SELECT id, embedding::FLOAT[], note FROM sel_scratch.back ORDER BY id")
    assert back == sql(con, "SELECT id, embedding::FLOAT[], note FROM sel_scratch.v ORDER BY id")
    assert sql(con, "SELECT rows, dim, version FROM sel_vector_tables") == [(50, 3, 1)]


def test_a_file_catalog_keeps_its_vectors_beside_it(tmp_path):
    con = sqlsel.connect(tmp_path / "catalog.duckdb")
    make(con)
    sql(con, "SELECT sel_vectors_store('v', 'sel_scratch.v')")
    assert sql(con, "SELECT path FROM sel_vector_tables") == [(str(tmp_path / "catalog.lance"),)]
    con.close()
    reopened = sqlsel.connect(tmp_path / "catalog.duckdb")  # another session reads them back
    assert sql(reopened, "SELECT sel_vectors_load('v', 'sel_scratch.v2')") == [(50,)]
    reopened.close()


def test_storing_again_replaces_and_drops_the_old_lance_table(con):
    make(con)
    sql(con, "SELECT sel_vectors_store('v', 'sel_scratch.v')")
    ((path, first),) = sql(con, "SELECT path, lance_table FROM sel_vector_tables")
    sql(con, "SELECT sel_vectors_store('v', 'SELECT * FROM sel_scratch.v WHERE id < 10')")
    ((second, rows),) = sql(con, "SELECT lance_table, rows FROM sel_vector_tables")
    assert rows == 10 and second != first
    import lancedb

    assert first not in lancedb.connect(path).list_tables().tables


@pytest.mark.parametrize(
    "rows, message",
    [
        ("SELECT 1 AS id, [1.0, 2.0] AS embedding UNION ALL SELECT 7, NULL", "row id 7 .*NULL"),
        ("SELECT 1 AS id, [1.0, 2.0] AS embedding UNION ALL SELECT 8, [1.0]", "row id 8 .*1 values where"),
        ("SELECT 1 AS id, [1.0, 'nan'::FLOAT] AS embedding", "row id 1 .*NaN"),
        ("SELECT 1 AS id, 2 AS vector", "needs id and embedding columns; it has id, vector"),
        ("SELECT 1 AS id, [1.0] AS embedding WHERE false", "has no rows"),
    ],
)
def test_bad_vectors_store_nothing_and_keep_the_previous_table(con, rows, message):
    make(con)
    sql(con, "SELECT sel_vectors_store('v', 'sel_scratch.v')")
    make(con, rows)
    with pytest.raises(Exception, match=message):
        sql(con, "SELECT sel_vectors_store('v', 'sel_scratch.v')")
    assert sql(con, "SELECT rows FROM sel_vector_tables WHERE name = 'v'") == [(50,)]


def test_unknown_tables_and_bad_targets_are_refused(con):
    make(con)
    sql(con, "SELECT sel_vectors_store('pool_vectors', 'sel_scratch.v')")
    with pytest.raises(Exception, match="Unknown vector table 'pool_vector'.*Did you mean 'pool_vectors'"):
        sql(con, "SELECT sel_vectors_load('pool_vector', 'sel_scratch.x')")
    with pytest.raises(Exception, match="into_table must be a qualified table name"):
        sql(con, "SELECT sel_vectors_load('pool_vectors', 'x; DROP TABLE y')")


def test_loaded_vectors_feed_a_kmeans_fit(con):
    rng = np.random.default_rng(0)
    con.register("_x", pa.table({"id": np.arange(40), "embedding": list(rng.normal(size=(40, 4)).astype(np.float32))}))
    sql(con, "CREATE TABLE sel_scratch.v AS SELECT * FROM _x")
    sql(con, "SELECT sel_vectors_store('v', 'sel_scratch.v')")
    sql(con, "SELECT sel_vectors_load('v', 'sel_scratch.back')")
    assert sql(con, "SELECT sel_kmeans_fit('m', 'sel_scratch.back', '4', 1)") == [(40,)]


def test_each_in_memory_catalog_has_its_own_lance_folder_removed_with_it():
    import gc

    from sqlsel.lance import lance_folder

    a, b = sqlsel.connect(), sqlsel.connect()
    for con in (a, b):
        con.sql("CREATE TABLE sel_scratch.v AS SELECT range AS id, [range, 1.0]::FLOAT[] AS embedding FROM range(3)")
        con.sql("SELECT sel_vectors_store('pts', 'sel_scratch.v')").fetchall()
    folder_a, folder_b = lance_folder(None, a), lance_folder(None, b)
    assert folder_a != folder_b and folder_a.is_dir() and folder_b.is_dir()
    a.close()
    del a
    gc.collect()
    assert not folder_a.exists() and folder_b.is_dir()
    assert b.sql("SELECT sel_vectors_load('pts', 'sel_scratch.back')").fetchall() == [(3,)]
    b.close()


def test_registering_the_functions_again_keeps_an_in_memory_catalogs_vectors():
    import gc

    con = sqlsel.connect()
    con.sql("CREATE TABLE sel_scratch.v AS SELECT range AS id, [range, 1.0]::FLOAT[] AS embedding FROM range(3)")
    con.sql("SELECT sel_vectors_store('pts', 'sel_scratch.v')").fetchall()
    sqlsel.register(con)
    gc.collect()  # the first registration's context goes; the connection's folder stays
    assert con.sql("SELECT sel_vectors_load('pts', 'sel_scratch.back')").fetchall() == [(3,)]
    con.close()

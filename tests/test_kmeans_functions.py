"""k-means from SQL: fit into the catalog, cluster and measure rows, refuse bad vectors clearly."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import sqlsel
from sqlsel.errors import SqlselError
from sqlsel.kernels.kmeans import assign


def sql(con, text):
    return con.execute(text).fetchall()


def one(con, text):
    return sql(con, text)[0][0]


def blob_table(con, name="sel_scratch.v", per=40, dim=4, centers=(0.0, 3.0, 6.0, 9.0), seed=0):
    rng = np.random.default_rng(seed)
    x = np.vstack([rng.normal(c, 0.1, (per, dim)) for c in centers]).astype(np.float32)
    con.register("_blobs", pa.table({"id": np.arange(len(x)), "embedding": list(x)}))
    sql(con, f"CREATE OR REPLACE TABLE {name} AS SELECT id, embedding::FLOAT[] AS embedding FROM _blobs")
    return x


def test_fit_stores_every_level_and_clusters_nest(con):
    x = blob_table(con)
    assert one(con, "SELECT sel_kmeans_fit('m', 'sel_scratch.v', '8,4', 1)") == len(x)
    sizes = sql(con, "SELECT level, count(*), sum(size) FROM sel_kmeans_centroids GROUP BY level ORDER BY level")
    assert sizes == [(1, 8, 160), (2, 4, 160)]
    rows = con.sql(
        "SELECT sel_cluster(embedding, 'm'), sel_cluster(embedding, 'm', 2), sel_clusters(embedding, 'm') "
        "FROM sel_scratch.v ORDER BY id"
    ).fetchall()
    assert all(path == [c1, c2] for c1, c2, path in rows)
    assert [len({r[1] for r in rows[i * 40 : (i + 1) * 40]}) for i in range(4)] == [1, 1, 1, 1]


def test_centroid_distance_is_the_l2_distance_to_the_nearest_centroid(con):
    x = blob_table(con)
    sql(con, "SELECT sel_kmeans_fit('m', 'sel_scratch.v', '5')")
    centroids = np.array(
        [r[0] for r in con.sql("SELECT centroid FROM sel_kmeans_centroids ORDER BY cluster").fetchall()]
    )
    got = [
        r[0] for r in con.sql("SELECT sel_centroid_distance(embedding, 'm') FROM sel_scratch.v ORDER BY id").fetchall()
    ]
    np.testing.assert_allclose(got, np.sqrt(assign(x, centroids)[1]), rtol=1e-5, atol=1e-6)


def test_fit_reads_a_query_and_fixed_size_arrays(con):
    blob_table(con)
    query = "SELECT id, embedding::FLOAT[4] AS embedding FROM sel_scratch.v WHERE id % 2 = 0"
    assert one(con, f"SELECT sel_kmeans_fit('m', '{query}', '4', 3)") == 80
    assert one(con, "SELECT count(DISTINCT sel_cluster(embedding::FLOAT[4], 'm')) FROM sel_scratch.v") == 4


@pytest.mark.parametrize("threads", [1, 2])
def test_same_seed_same_model_at_any_thread_count(threads):
    con = sqlsel.connect(threads=threads)
    blob_table(con, per=300, dim=8)
    sql(con, "SELECT sel_kmeans_fit('m', 'sel_scratch.v', '16,4', 7, '{\"steps\": [2, 3]}')")
    got = one(con, "SELECT list(sel_clusters(embedding, 'm') ORDER BY id) FROM sel_scratch.v")
    con.close()
    reference = sqlsel.connect(threads=1)
    blob_table(reference, per=300, dim=8)
    sql(reference, "SELECT sel_kmeans_fit('m', 'sel_scratch.v', '16,4', 7, '{\"steps\": [2, 3]}')")
    assert got == one(reference, "SELECT list(sel_clusters(embedding, 'm') ORDER BY id) FROM sel_scratch.v")
    reference.close()


@pytest.mark.parametrize(
    "rows, message",
    [
        ("SELECT 1 AS id, NULL::FLOAT[] AS embedding UNION ALL SELECT 2, [1, 2]", "row id 1 .*the vector is NULL"),
        ("SELECT 1 AS id, [1.0, 2.0] AS embedding UNION ALL SELECT 2, [1.0, 2.0, 3.0]", "row id 2 .*3 values where"),
        ("SELECT 1 AS id, [1.0, 'nan'::FLOAT] AS embedding UNION ALL SELECT 2, [1, 2]", "row id 1 .*NaN"),
        ("SELECT 1 AS id, [1.0, 2.0] AS embedding UNION ALL SELECT 1, [1, 2]", "id 1 appears more than once"),
        ("SELECT 1 AS id, [1.0, 2.0] AS embedding WHERE false", "has no rows"),
        (
            "SELECT 1 AS id, [1.0, 2.0] AS embedding UNION ALL SELECT 2, [1, 2]",
            "3 clusters asked for but .* only 2 rows",
        ),
    ],
)
def test_fit_refuses_bad_vectors(con, rows, message):
    sql(con, f"CREATE TABLE sel_scratch.bad AS {rows}")
    with pytest.raises(Exception, match=message):
        sql(con, "SELECT sel_kmeans_fit('m', 'sel_scratch.bad', '3')")
    assert one(con, "SELECT count(*) FROM sel_models") == 0  # nothing half-stored


@pytest.mark.parametrize(
    "call, message",
    [
        ("sel_kmeans_fit('m', 'sel_scratch.v', '4', 0, '{\"iteratons\": 3}')", "Did you mean 'iterations'"),
        ("sel_kmeans_fit('m', 'sel_scratch.v', '4,0')", "clusters must be positive"),
        ("sel_kmeans_fit('m', 'sel_scratch.v', '4,8')", "level 2 asks for 8 clusters but there are only 4"),
        ("sel_kmeans_fit('m', 'no_such_table', '4')", "cannot read 'no_such_table'"),
        ("sel_kmeans_fit('m', 'sel_scratch.v; DROP TABLE x', '4')", "must be a table or view name or a SELECT"),
    ],
)
def test_fit_refuses_bad_parameters(con, call, message):
    blob_table(con)
    with pytest.raises(Exception, match=message):
        sql(con, f"SELECT {call}")


def test_temp_tables_are_refused_with_the_way_out(con):
    blob_table(con, name="vectors_tmp")
    sql(con, "CREATE TEMP TABLE tmp_v AS SELECT * FROM vectors_tmp")
    with pytest.raises(Exception, match="not a TEMP one: use sel_scratch"):
        sql(con, "SELECT sel_kmeans_fit('m', 'tmp_v', '4')")


def test_clustering_refuses_wrong_dimensions_unknown_models_and_levels(con):
    blob_table(con)
    sql(con, "SELECT sel_kmeans_fit('topics', 'sel_scratch.v', '4,2')")
    with pytest.raises(Exception, match="has 2 values; expected 4 .*model 'topics'"):
        sql(con, "SELECT sel_cluster([1, 2]::FLOAT[], 'topics')")
    with pytest.raises(Exception, match="Did you mean 'topics'"):
        sql(con, "SELECT sel_cluster(embedding, 'topic') FROM sel_scratch.v")
    with pytest.raises(Exception, match="level must be between 1 and 2"):
        sql(con, "SELECT sel_centroid_distance(embedding, 'topics', 3) FROM sel_scratch.v")
    assert one(con, "SELECT sel_cluster(NULL::FLOAT[], 'topics')") is None


def test_errors_are_sqlsel_errors_through_the_runner(tmp_path):
    recipe = tmp_path / "fit.sql"
    recipe.write_text("-- description: fit\nSELECT sel_kmeans_fit('m', 'missing', '4');\n")
    with pytest.raises(SqlselError, match="cannot read 'missing'"):
        sqlsel.run_recipe(recipe)


def test_documented_examples_run_in_order(monkeypatch):
    from sqlsel.functions import load_families
    from tests.conftest import ROOT

    monkeypatch.chdir(ROOT)
    specs = load_families()
    con = sqlsel.connect()
    for name in ("sel_kmeans_fit", "sel_cluster", "sel_clusters", "sel_centroid_distance", "sel_balanced_quotas"):
        assert sql(con, specs[name].example), name
    con.close()


def test_a_fit_inside_a_callers_transaction_is_not_undone_by_its_rollback(con):
    """As documented: the fit commits in a transaction of its own."""
    con.execute("CREATE TABLE sel_scratch.pts AS SELECT range AS id, [range, 1.0]::FLOAT[] AS embedding FROM range(9)")
    con.execute("BEGIN TRANSACTION")
    con.execute("SELECT sel_kmeans_fit('kept', 'sel_scratch.pts', '2')").fetchall()
    con.execute("ROLLBACK")
    assert con.execute("SELECT name FROM sel_models").fetchall() == [("kept",)]


def test_the_sample_option_records_itself_and_zero_fits_on_every_row(con):
    con.execute(
        "CREATE TABLE sel_scratch.many AS SELECT range AS id, [range % 10, range % 7]::FLOAT[] AS embedding FROM range(400)"
    )
    con.execute("SELECT sel_kmeans_fit('s', 'sel_scratch.many', '4', 1, '{\"sample\": 20}')").fetchall()
    con.execute("SELECT sel_kmeans_fit('r', 'sel_scratch.many', '4', 1, '{\"sample\": 0}')").fetchall()
    params = dict(con.execute("SELECT name, params->>'$.sample' FROM sel_models").fetchall())
    assert params == {"s": "20", "r": "0"}
    with pytest.raises(Exception, match="k-means option refine must be a int"):
        con.execute("SELECT sel_kmeans_fit('x', 'sel_scratch.many', '4', 1, '{\"refine\": 1.5}')").fetchall()


@pytest.mark.parametrize(
    "option", ['{"sample": -1}', '{"sample_iterations": 0}', '{"refine": -2}', '{"iterations": 0}']
)
def test_k_means_options_out_of_range_are_refused(con, option):
    con.execute("CREATE TABLE sel_scratch.few AS SELECT range AS id, [range, 1.0]::FLOAT[] AS embedding FROM range(9)")
    with pytest.raises(Exception, match="must be at least"):
        con.execute(f"SELECT sel_kmeans_fit('x', 'sel_scratch.few', '2', 1, '{option}')").fetchall()


def test_a_model_records_every_option_its_fit_used(con):
    con.execute("CREATE TABLE sel_scratch.few AS SELECT range AS id, [range, 1.0]::FLOAT[] AS embedding FROM range(9)")
    con.execute("SELECT sel_kmeans_fit('x', 'sel_scratch.few', '2')").fetchall()
    params = con.execute("SELECT params FROM sel_models WHERE name = 'x'").fetchall()[0][0]
    assert all(f'"{name}"' in params for name in ("sample", "sample_iterations", "refine"))


def test_a_fit_larger_than_its_memory_share_streams_its_source_with_the_same_result(con, monkeypatch):
    blob_table(con, per=100)
    sql(con, """SELECT sel_kmeans_fit('whole', 'sel_scratch.v', '8,2', 5, '{"sample": 10}')""")
    monkeypatch.setattr("sqlsel.udfs.kmeans.memory_budget", lambda ctx: 1000)  # 400 × 4 floats do not fit
    sql(con, """SELECT sel_kmeans_fit('streamed', 'sel_scratch.v', '8,2', 5, '{"sample": 10}')""")
    fits = con.sql(
        "SELECT m.name, list(c.centroid ORDER BY c.level, c.cluster), list(c.size ORDER BY c.level, c.cluster) "
        "FROM sel_models m JOIN sel_kmeans_centroids c USING (model_id) GROUP BY m.name ORDER BY m.name"
    ).fetchall()
    assert fits[0][0] == "streamed" and fits[0][1:] == fits[1][1:]


def test_a_streamed_fit_refuses_duplicate_ids(con, monkeypatch):
    blob_table(con, per=100)
    sql(con, "INSERT INTO sel_scratch.v SELECT * FROM sel_scratch.v WHERE id = 7")
    monkeypatch.setattr("sqlsel.udfs.kmeans.memory_budget", lambda ctx: 1000)
    with pytest.raises(Exception, match="id 7 appears more than once"):
        sql(con, """SELECT sel_kmeans_fit('m', 'sel_scratch.v', '8', 5, '{"sample": 10}')""")

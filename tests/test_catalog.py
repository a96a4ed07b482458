from __future__ import annotations

import duckdb
import pytest

import sqlsel
from sqlsel import catalog
from sqlsel.errors import MigrationError


def test_connect_applies_every_migration_once(tmp_path):
    db = tmp_path / "c.duckdb"
    sqlsel.connect(db).close()
    con = sqlsel.connect(db)
    names = [r[0] for r in con.execute("SELECT name FROM sel_migrations").fetchall()]
    con.close()
    assert names == [m.stem for m in sorted(catalog.sql_files("migrations"))]


def test_opening_an_older_catalog_migrates_it(tmp_path):
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE unrelated(x INT)").fetchall()
    con.close()
    con = sqlsel.connect(db)
    assert catalog.pending_migrations(con) == []
    assert con.execute("SELECT count(*) FROM sel_runs").fetchall() == [(0,)]
    con.close()


def test_failed_migration_rolls_back(tmp_path, monkeypatch):
    bad = tmp_path / "migrations"
    bad.mkdir()
    (bad / "0001_ok.sql").write_text("CREATE TABLE a(x INT);")
    (bad / "0002_bad.sql").write_text("CREATE TABLE b(x INT); CREATE TABLE a(x INT);")
    monkeypatch.setattr(catalog, "sql_files", lambda kind: sorted(bad.glob("*.sql")))
    con = duckdb.connect()
    with pytest.raises(MigrationError, match="0002_bad failed and was rolled back"):
        catalog.migrate(con)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert "b" not in tables and "a" in tables
    assert [m.name for m in catalog.pending_migrations(con)] == ["0002_bad"]
    con.close()


def test_models_are_plain_tables(con, small_task):
    sqlsel.run_recipe("dsir_select", {"pool": str(small_task[0]), "target": str(small_task[1]), "k": 2}, con=con)
    models = catalog.list_models(con)
    assert [(m["name"], m["kind"], m["params"]["buckets"]) for m in models] == [("dsir_select", "dsir", 10000)]
    assert con.execute("SELECT count(*) FROM sel_dsir_buckets").fetchall() == [(10000,)]
    (fingerprint,) = con.execute("SELECT input_fingerprint FROM sel_models").fetchall()[0]
    assert len(fingerprint) == 64


def test_refit_replaces_the_payload(con, small_task):
    for _ in range(2):
        sqlsel.run_recipe("dsir_select", {"pool": str(small_task[0]), "target": str(small_task[1]), "k": 2}, con=con)
    assert con.execute("SELECT count(*) FROM sel_dsir_buckets").fetchall() == [(10000,)]


def test_migrations_inside_a_callers_transaction_join_it(tmp_path):
    import duckdb

    from sqlsel.catalog import migrate

    con = duckdb.connect(str(tmp_path / "c.duckdb"))
    con.execute("BEGIN TRANSACTION")
    con.execute("CREATE TABLE mine (x INTEGER)")
    assert migrate(con)  # no BEGIN of its own, so no error that would abort the caller's transaction
    con.execute("ROLLBACK")  # the caller decides: their table and the migrations go together
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name IN ('mine', 'sel_runs')").fetchall() == [
        (0,)
    ]
    con.close()

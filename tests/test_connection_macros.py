"""sqlsel's macros in a catalog file: created once, kept while current, created again when their SQL changes."""

from __future__ import annotations

import pytest

import sqlsel
import sqlsel.connection
from sqlsel.connection import MACROS_STAMP


@pytest.fixture
def statements_run(monkeypatch):
    """Every statement sqlsel.connection runs, as text."""
    run: list[str] = []
    real = sqlsel.connection.run_sql

    def recording(con, sql, params=None):
        run.append(str(getattr(sql, "query", sql)))
        return real(con, sql, params)

    monkeypatch.setattr(sqlsel.connection, "run_sql", recording)
    return run


def macros_created(statements: list[str]) -> list[str]:
    return [s for s in statements if "CREATE OR REPLACE MACRO" in s.upper()]


def test_a_reopened_catalog_keeps_its_macros_and_creates_none(tmp_path, statements_run):
    sqlsel.connect(tmp_path / "c.duckdb").close()
    assert len(macros_created(statements_run)) > 40
    statements_run.clear()
    with sqlsel.connect(tmp_path / "c.duckdb") as con:
        assert macros_created(statements_run) == []
        assert con.execute("SELECT sel_key_hash(5), sel_is_finite(1.0), sel_gumbel(7, 0) > -100").fetchone() == (
            5,
            True,
            True,
        )


def test_macros_whose_sql_changed_are_created_again(tmp_path, monkeypatch):
    sqlsel.connect(tmp_path / "c.duckdb").close()
    real = sqlsel.connection.function_macros
    monkeypatch.setattr(
        sqlsel.connection, "function_macros", lambda: [*real(), "CREATE OR REPLACE MACRO sel_test_added(x) AS x + 1"]
    )
    with sqlsel.connect(tmp_path / "c.duckdb") as con:
        assert con.execute("SELECT sel_test_added(41)").fetchone() == (42,)


def test_a_stale_stamp_brings_back_a_macro_an_interrupted_connect_lost(tmp_path):
    with sqlsel.connect(tmp_path / "c.duckdb") as con:
        con.execute("DROP MACRO sel_dsir_length")
        con.execute(f"CREATE OR REPLACE MACRO {MACROS_STAMP}() AS 'from an older sqlsel'")
    with sqlsel.connect(tmp_path / "c.duckdb") as con:
        assert con.execute("SELECT sel_dsir_length([1, 2, 3], 2)").fetchone() == (2,)


def test_a_read_only_catalog_gets_the_macros_in_memory(tmp_path):
    sqlsel.connect(tmp_path / "c.duckdb").close()
    with sqlsel.connect(tmp_path / "c.duckdb", read_only=True) as con:
        assert con.execute("SELECT sel_key_hash('a') > 0").fetchone() == (True,)

"""FunctionContext: model lookups are asked of the catalog once per statement inside models_fixed."""

from __future__ import annotations

import pytest

import sqlsel
from sqlsel.functions import FunctionContext, models_fixed

SCORE = "SELECT sum(sel_zipfit_fast('row ' || i::VARCHAR || ' of the pool', 'ts')) FROM range(5000) t(i)"


@pytest.fixture
def lookups(monkeypatch):
    """The catalog queries that look a model up by name, as they happen."""
    seen: list[str] = []
    query = FunctionContext.query

    def counting(self, sql, params=None):
        if "FROM sel_models WHERE name" in sql:
            seen.append(sql)
        return query(self, sql, params)

    monkeypatch.setattr(FunctionContext, "query", counting)
    return seen


def store(con, algorithm: str) -> None:
    con.sql(
        f"SELECT sel_zipfit_target('ts', ['the row of a target', 'another target row'], '{algorithm}', 1)"
    ).fetchall()


def test_each_batch_looks_the_model_up_outside_a_statement_scope(con, lookups):
    store(con, "lz4")
    con.sql(SCORE).fetchall()
    assert len(lookups) >= 3  # 5,000 rows arrive in 2,048-row batches


def test_one_lookup_per_statement_inside_models_fixed(con, lookups):
    store(con, "lz4")
    with models_fixed(con):
        con.sql(SCORE).fetchall()
    assert len(lookups) == 1


def test_a_catalog_write_inside_the_scope_is_seen(con):
    with models_fixed(con):
        store(con, "lz4")
        lz4 = con.sql(SCORE).fetchall()
        store(con, "gzip")  # the same name, a new model id
        gzip = con.sql(SCORE).fetchall()
    assert lz4 != gzip
    store(con, "gzip")
    assert con.sql(SCORE).fetchall() == gzip


def test_recipe_statements_look_each_model_up_once(tmp_path, write_jsonl, lookups):
    pool = write_jsonl("pool.jsonl", [{"id": i, "text": f"pool row {i} about things"} for i in range(5000)])
    target = write_jsonl("target.jsonl", [{"text": "pool row about things"}])
    sqlsel.run_recipe("zipfit_select", {"pool": str(pool), "target": str(target), "k": 10, "mode": "fast"})
    assert len(lookups) == 1


def test_no_effect_on_a_connection_without_sqlsel_functions():
    import duckdb

    plain = duckdb.connect()
    with models_fixed(plain):
        assert plain.sql("SELECT 1").fetchall() == [(1,)]
    plain.close()


def test_cursors_of_functions_print_no_progress_bar(con):
    from sqlsel.functions import function_context

    cursor = function_context(con)._new_cursor()
    assert cursor.execute("SELECT current_setting('enable_progress_bar_print')").fetchall() == [(False,)]


def test_the_model_cache_keeps_the_most_recently_used_models(con, monkeypatch):
    import sqlsel.functions as functions

    monkeypatch.setattr(functions, "MODEL_CACHE_ENTRIES", 2)
    ctx = FunctionContext(con)
    built = []
    for key in ["a", "b", "a", "c", "a", "b"]:  # c evicts b (a was used since); b is built again
        ctx.cached(key, lambda key=key: built.append(key) or key.upper())
    assert built == ["a", "b", "c", "b"]
    assert ctx.latest("slot", 1, lambda: "one") == "one" and ctx.latest("slot", 1, lambda: "new") == "one"
    assert ctx.latest("slot", 2, lambda: "two") == "two"

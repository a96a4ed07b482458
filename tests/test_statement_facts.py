"""Statement facts: the sel_ calls and tables of a statement, parsed once per installation."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlsel.cache import cache_dir
from sqlsel.recipe import statement_facts


def test_facts_name_the_sel_calls_their_model_arguments_and_the_tables_read():
    facts = statement_facts("SELECT sel_cluster(e, 'topics', $level), upper(t) FROM sel_scratch.v JOIN pool USING (id)")
    assert facts.calls == (("sel_cluster", (None, ("string", "topics"), ("param", "level"))),)
    assert set(facts.tables) == {("sel_scratch", "v"), ("", "pool")}


def test_a_macro_definition_names_what_it_defines_and_reads_no_table_of_that_name():
    facts = statement_facts("CREATE OR REPLACE TEMP MACRO main.sel_mine(t) AS TABLE SELECT t FROM pool")
    assert facts.defines == ("sel_mine",)
    assert facts.tables == (("", "pool"),)


def test_sql_that_sqlglot_cannot_read_has_no_facts():
    assert statement_facts("SELECT FROM WHERE ((") is None


def test_a_second_process_reads_the_cached_facts_without_importing_sqlglot(tmp_path):
    code = (
        "import sys; from sqlsel.recipe import statement_facts; "
        "f = statement_facts(\"SELECT sel_hash_embed(text, 8) FROM 'x.parquet'\"); "
        "print(f.calls[0][0], 'sqlglot' in sys.modules)"
    )
    env = {"SQLSEL_CACHE_DIR": str(tmp_path), "PATH": "", "NUMBA_CACHE_DIR": os.environ["NUMBA_CACHE_DIR"]}
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True) for _ in range(2)]
    assert [r.stdout.split() for r in runs] == [["sel_hash_embed", "True"], ["sel_hash_embed", "False"]]


def test_a_damaged_cache_entry_is_parsed_again(monkeypatch, tmp_path):
    monkeypatch.setenv("SQLSEL_CACHE_DIR", str(tmp_path))
    sql = "SELECT sel_token_count('a b') AS n"
    statement_facts.__wrapped__(sql)
    for entry in (cache_dir() / "statements").iterdir():
        entry.write_text("{not json")
    assert statement_facts.__wrapped__(sql).calls == (("sel_token_count", (("string", "a b"),)),)
    assert all(json.loads(e.read_text())["parsed"] for e in (cache_dir() / "statements").iterdir())

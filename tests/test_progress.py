"""Progress of a run: rows seen of the rows a statement reads, and a line per finished statement."""

from __future__ import annotations

import io

import duckdb

import sqlsel
from sqlsel import runner
from sqlsel.progress import ProgressView


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def big_pool(tmp_path):
    path = tmp_path / "pool.parquet"
    duckdb.sql(
        f"COPY (SELECT range AS id, 'word ' || range || ' more words here' AS text FROM range(60000)) TO '{path}'"
    )
    return path


def test_statements_report_rows_done_of_a_known_total(tmp_path, small_task, monkeypatch):
    monkeypatch.setattr(runner, "POLL_SECONDS", 0.005)
    seen = []
    params = {"pool": str(big_pool(tmp_path)), "target": str(small_task[1]), "k": 5}
    sqlsel.run_recipe(
        "dsir_select", params, on_progress=lambda p: seen.append((p.index, p.rows_done, p.total_rows, p.finished))
    )
    featurize = [s for s in seen if s[0] == 1]
    assert featurize[0] == (1, 0, 60000, False) and featurize[-1][3]
    assert any(0 < done < 60000 for _, done, _, finished in featurize if not finished)
    assert sorted({s[0] for s in seen if s[3]}) == [1, 2, 3, 4, 5, 6]


def test_without_a_terminal_each_finished_statement_is_one_line(small_task):
    stream = io.StringIO()
    with ProgressView(stream) as on_progress:
        sqlsel.run_recipe(
            "dsir_select", {"pool": str(small_task[0]), "target": str(small_task[1]), "k": 5}, on_progress=on_progress
        )
    lines = stream.getvalue().splitlines()
    assert len(lines) == 6 and lines[0].startswith("[1/6]") and "60 rows" in lines[0] and "_dsir_pool" in lines[0]


def test_on_a_terminal_the_bar_leaves_the_same_lines(small_task):
    stream = _Terminal()
    with ProgressView(stream) as on_progress:
        sqlsel.run_recipe(
            "dsir_select", {"pool": str(small_task[0]), "target": str(small_task[1]), "k": 5}, on_progress=on_progress
        )
    text = stream.getvalue()
    assert "[1/6]" in text and "[6/6]" in text and "_dsir_pool" in text

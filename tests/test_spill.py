"""Where DuckDB spills past memory_limit: never into the user's working directory."""

from __future__ import annotations

import tempfile
from pathlib import Path

import sqlsel


def test_an_in_memory_catalog_spills_into_a_private_temp_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    con = sqlsel.connect()
    con.execute("SET memory_limit = '100MB'")
    con.execute(
        "CREATE TABLE sel_scratch.big AS SELECT range AS id, range::VARCHAR || repeat('x', 300) AS t FROM range(1000000)"
    )
    folder = Path(con.execute("SELECT current_setting('temp_directory')").fetchone()[0])
    assert any(folder.iterdir()) and folder.is_relative_to(tempfile.gettempdir())
    assert not (tmp_path / ".tmp").exists()
    con.close()

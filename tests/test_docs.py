"""The README and the example notebook are executable, and the docs match the function table."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from click.testing import CliRunner

from sqlsel.cli import cli
from tests.conftest import EXAMPLES, ROOT

README = (ROOT / "README.md").read_text()


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


def test_function_table_is_generated_from_the_declarations():
    table = CliRunner().invoke(cli, ["functions", "--markdown"]).output.strip()
    documented = README.split("<!-- functions:start -->")[1].split("<!-- functions:end -->")[0].strip()
    assert documented == table


def test_every_command_is_documented():
    for name in cli.commands:
        assert f"sqlsel {name}" in README, name


def test_readme_python_tour_runs():
    code = blocks("python")[0]
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, timeout=120)


def test_readme_two_commands_come_first():
    first_two = blocks("bash")[:2]
    assert "sqlsel run dsir_select" in first_two[0] and "pytest" in first_two[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert first_two[1].strip() in ci


def test_notebook_runs():
    nb = json.loads((EXAMPLES / "quickstart.ipynb").read_text())
    code = "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    subprocess.run([sys.executable, "-c", code], cwd=EXAMPLES, check=True, capture_output=True, timeout=120)


def test_readme_sql_examples_run(monkeypatch):
    import sqlsel

    monkeypatch.chdir(ROOT)
    con = sqlsel.connect()
    for block in blocks("sql"):
        for statement in con.extract_statements(block):
            con.sql(statement.query).fetchall()
    assert con.sql("SELECT count(*) FROM sel_zipfit_texts").fetchall()[0][0] > 0
    con.close()

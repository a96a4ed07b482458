"""The README and the example notebook are executable, and the docs match the function table."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

from click.testing import CliRunner

from sqlsel.cli import cli
from tests.conftest import EXAMPLES, ROOT, need

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


def test_notebook_runs_in_a_jupyter_kernel_without_ipywidgets():
    """The quickstart in a real (headless) Jupyter kernel, where DuckDB's progress-bar setting behaves differently."""
    nbformat = need("nbformat")
    NotebookClient = need("nbclient").NotebookClient

    assert importlib.util.find_spec("ipywidgets") is None, "CI runs the notebook without ipywidgets"
    notebook = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]


def test_readme_sql_examples_run(monkeypatch):
    import sqlsel

    monkeypatch.chdir(ROOT)
    con = sqlsel.connect()
    for block in blocks("sql"):
        for statement in con.extract_statements(block):
            con.sql(statement.query).fetchall()
    assert con.sql("SELECT count(*) FROM sel_zipfit_texts").fetchall()[0][0] > 0
    con.close()

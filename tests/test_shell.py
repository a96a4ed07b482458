"""`sqlsel shell` reading a script from a pipe, as the DuckDB shell does."""

from __future__ import annotations

from click.testing import CliRunner

from sqlsel.cli import cli
from sqlsel.shell import split_script

SCRIPT = """.tables
SELECT 1 AS one;
SELEC 2;
-- a comment; not a statement
SELECT 'a;b' AS semicolon_in_a_string, sel_token_count('x y') AS two;
SELECT * FROM no_such_table;
SELECT 3 AS three;
"""


def shell(tmp_path, script, *flags):
    return CliRunner().invoke(cli, ["shell", "--db", str(tmp_path / "c.duckdb"), *flags], input=script)


def test_a_piped_script_runs_dot_commands_and_goes_on_after_errors(tmp_path):
    result = shell(tmp_path, SCRIPT)
    assert result.exit_code == 1
    assert "sel_models" in result.output and "semicolon_in_a_string" in result.output and "three" in result.output
    assert 'Error at line 3: syntax error at or near "SELEC"' in result.output
    assert "Error at line 6: Table with name no_such_table does not exist!" in result.output


def test_bail_stops_at_the_first_error(tmp_path):
    result = shell(tmp_path, SCRIPT, "-bail")
    assert result.exit_code == 1 and "Error at line 3" in result.output
    assert "semicolon_in_a_string" not in result.output and "Error at line 6" not in result.output


def test_a_clean_script_exits_zero_and_quit_stops_it(tmp_path):
    result = shell(tmp_path, "SELECT 42 AS answer;\n.quit\nSELECT 43 AS never;\n")
    assert result.exit_code == 0 and "42" in result.output and "never" not in result.output


def test_statements_split_on_semicolons_outside_quotes_and_comments():
    items = list(split_script("SELECT ';' AS a; /* ; */ SELECT $$;$$;\nSELECT E'it\\'s; x';\n.help\nSELECT 1"))
    assert [(i.kind, i.text, i.terminated) for i in items] == [
        ("sql", "SELECT ';' AS a;", True),
        ("sql", "/* ; */ SELECT $$;$$;", True),
        ("sql", "SELECT E'it\\'s; x';", True),
        ("dot", ".help", True),
        ("sql", "SELECT 1", False),
    ]

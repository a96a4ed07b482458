"""``sqlsel shell``: an interactive SQL prompt over a connection with every sqlsel function."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

from sqlsel.connection import connect
from sqlsel.display import print_table
from sqlsel.errors import SqlselError
from sqlsel.functions import models_fixed

MAX_ROWS = 40
HELP = """Statements end with ';' and may span lines. Dot commands:
  .functions   list sqlsel functions      .tables   list tables and views
  .help        this text                  .quit     leave (also Ctrl-D)"""


def execute(con: duckdb.DuckDBPyConnection, script: str) -> None:
    """Run every statement of ``script``, printing result rows as tables and errors as one line."""
    try:
        statements = con.extract_statements(script)
    except duckdb.Error as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return
    for statement in statements:
        try:
            with models_fixed(con):
                cur = con.execute(statement)
                if cur.description is None:
                    cur.fetchall()
                    continue
                columns = [d[0] for d in cur.description]
                rows = cur.fetchmany(MAX_ROWS + 1)
                if len(rows) > MAX_ROWS:
                    cur.abort()  # drop the rows not shown
                else:
                    cur.fetchall()
            shown = [dict(zip(columns, r, strict=True)) for r in rows[:MAX_ROWS]]
            print_table(columns, shown, MAX_ROWS + 1 if len(rows) > MAX_ROWS else len(rows))
        except (duckdb.Error, SqlselError) as exc:
            print(f"Error: {exc}", file=sys.stderr)


def dot_command(con: duckdb.DuckDBPyConnection, line: str) -> bool:
    """Handle a ``.command``; returns False when the shell should exit."""
    cmd = line.strip().split()[0]
    if cmd in (".quit", ".exit"):
        return False
    if cmd == ".functions":
        from sqlsel.functions import load_families

        for spec in sorted(load_families().values(), key=lambda s: s.name):
            print(f"{spec.signature}\n    {spec.summary}")
    elif cmd == ".tables":
        execute(
            con,
            "SELECT schema_name, table_name, 'table' AS kind FROM duckdb_tables() "
            "UNION ALL SELECT schema_name, view_name, 'view' FROM duckdb_views() WHERE NOT internal ORDER BY 2;",
        )
    else:
        print(HELP)
    return True


def run_shell(db: Path | str | None) -> None:
    """Interactive loop on a terminal; a script from stdin otherwise."""
    con = connect(db)
    try:
        if not sys.stdin.isatty():
            execute(con, sys.stdin.read())
            return
        _interactive(con, db)
    finally:
        con.close()


def _interactive(con: duckdb.DuckDBPyConnection, db: Path | str | None) -> None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    history = Path.home() / ".sqlsel_history"
    session: PromptSession[str] = PromptSession(history=FileHistory(str(history)))
    print(f"sqlsel shell on {db or ':memory:'}. {HELP.splitlines()[0]} Type .help for more.")
    buffer = ""
    while True:
        try:
            line = session.prompt("sqlsel> " if not buffer else "   ...> ")
        except KeyboardInterrupt:
            buffer = ""
            continue
        except EOFError:
            return
        if not buffer and line.strip().startswith("."):
            if not dot_command(con, line):
                return
            continue
        buffer += line + "\n"
        if buffer.strip().endswith(";"):
            execute(con, buffer)
            buffer = ""

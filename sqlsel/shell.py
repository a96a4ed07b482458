"""``sqlsel shell``: a SQL prompt, or a script on standard input, over a connection with every sqlsel function.

A script is read like the DuckDB shell reads one: dot commands (``.tables``) on lines of their own,
SQL statements ended by ``;`` (not inside quotes or comments). Each failing statement is reported
with its line and the script goes on, unless ``bail`` is set; the caller learns whether all succeeded.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from sqlsel.connection import connect
from sqlsel.display import print_table
from sqlsel.duck import error_message
from sqlsel.errors import SqlselError
from sqlsel.functions import models_fixed
from sqlsel.kernels import CompileWatch

MAX_ROWS = 40
HELP = """Statements end with ';' and may span lines. Dot commands:
  .functions   list sqlsel functions      .tables   list tables and views
  .help        this text                  .quit     leave (also Ctrl-D)"""


@dataclass(frozen=True)
class Item:
    """A piece of a script: a dot command or one SQL statement, with the line it starts on."""

    kind: str  # "dot" | "sql"
    text: str
    line: int
    terminated: bool = True  # False for a statement the script ends in without its ';'


def split_script(text: str) -> Iterator[Item]:
    """Dot commands and ``;``-ended statements of a script; a trailing statement without ``;`` counts too.

    ``;`` ends a statement only outside '…' and E'…' strings, "…" identifiers, $tag$…$tag$ strings,
    -- and /* */ comments. A line whose first character (after spaces) is ``.`` is a dot command when no
    statement is open.
    """
    buffer: list[str] = []
    start = 0
    has_code = False  # the open statement has more than spaces and comments
    state = ""  # '', "'", '"', '--', '/*', or a $tag$
    line = 1
    i = 0
    at_line_start = True
    while i < len(text):
        ch = text[i]
        if not state and at_line_start and not has_code:
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            stripped = text[i:end].strip()
            if stripped.startswith("."):
                yield Item("dot", stripped, line)
                buffer = []
                i = end
                continue
        at_line_start = False
        if ch == "\n":
            line += 1
            at_line_start = True
            if state == "--":
                state = ""
        comment = text.startswith("--", i) or text.startswith("/*", i)
        if not state and not has_code and not ch.isspace() and not comment:
            start, has_code = line, True
        buffer.append(ch)
        if state == "":
            if (
                ch == "'"
                and i > 0
                and text[i - 1] in "eE"
                and (i < 2 or not (text[i - 2].isalnum() or text[i - 2] == "_"))
            ):
                state = "E'"  # an escape string: a backslash escapes the next character, a quote included
            elif ch in "'\"":
                state = ch
            elif text.startswith("--", i):
                state = "--"
            elif text.startswith("/*", i):
                state = "/*"
                buffer.append("*")
                i += 1
            elif ch == "$":
                close = text.find("$", i + 1)
                tag = text[i : close + 1] if close > i else ""
                if tag and (tag == "$$" or tag[1:-1].isidentifier()):
                    state = tag
                    buffer.extend(tag[1:])
                    i = close
            elif ch == ";":
                yield Item("sql", "".join(buffer).strip(), start)
                buffer, has_code = [], False
        elif state == "E'":
            if ch == "\\" and i + 1 < len(text):
                buffer.append(text[i + 1])
                i += 1
            elif ch == "'":
                state = ""
        elif state in ("'", '"'):
            if ch == state:
                state = ""
        elif state == "/*":
            if text.startswith("*/", i):
                buffer.append("/")
                i += 1
                state = ""
        elif state.startswith("$") and text.startswith(state, i):
            buffer.extend(state[1:])
            i += len(state) - 1
            state = ""
        i += 1
    if has_code:
        yield Item("sql", "".join(buffer).strip(), start, terminated=False)


def execute(con: duckdb.DuckDBPyConnection, sql: str, line: int | None = None) -> bool:
    """Run one statement, printing its rows as a table or its error as one line; True when it succeeded."""
    watch = CompileWatch(on_first=lambda: print(CompileWatch.NOTICE, file=sys.stderr))
    try:
        with models_fixed(con), watch:
            cur = con.execute(sql)
            if cur.description is None:
                cur.fetchall()
                return True
            columns = [d[0] for d in cur.description]
            rows = cur.fetchmany(MAX_ROWS + 1)
            if len(rows) > MAX_ROWS:
                cur.abort()  # drop the rows not shown
            else:
                cur.fetchall()
        shown = [dict(zip(columns, r, strict=True)) for r in rows[:MAX_ROWS]]
        print_table(columns, shown, MAX_ROWS + 1 if len(rows) > MAX_ROWS else len(rows))
        return True
    except (duckdb.Error, SqlselError) as exc:
        where = f" at line {line}" if line is not None else ""
        print(f"Error{where}: {error_message(exc)}", file=sys.stderr)
        return False
    finally:
        if summary := watch.summary():
            print(summary, file=sys.stderr)


def run_script(con: duckdb.DuckDBPyConnection, script: str, bail: bool = False) -> bool:
    """Run every dot command and statement of ``script``; False if any failed (the first, with ``bail``)."""
    ok = True
    for item in split_script(script):
        if item.kind == "dot":
            keep_going, done = dot_command(con, item.text, item.line)
            ok = ok and done
            if not keep_going:
                break
        else:
            ok = execute(con, item.text, item.line) and ok
        if bail and not ok:
            break
    return ok


def dot_command(con: duckdb.DuckDBPyConnection, line: str, at: int | None = None) -> tuple[bool, bool]:
    """Handle a ``.command``: (whether the shell goes on, whether the command succeeded)."""
    cmd = line.strip().split()[0]
    if cmd in (".quit", ".exit"):
        return False, True
    if cmd == ".functions":
        from sqlsel.functions import load_families

        for spec in sorted(load_families().values(), key=lambda s: s.name):
            print(f"{spec.signature}\n    {spec.summary}")
    elif cmd == ".tables":
        return True, execute(
            con,
            "SELECT database_name AS database, schema_name AS schema, table_name AS name, 'table' AS kind "
            "FROM duckdb_tables() UNION ALL "
            "SELECT database_name, schema_name, view_name, 'view' FROM duckdb_views() WHERE NOT internal "
            "ORDER BY 3",
        )
    elif cmd == ".help":
        print(HELP)
    else:
        where = f" at line {at}" if at is not None else ""
        print(f"Error{where}: unknown command {cmd}; try .help", file=sys.stderr)
        return True, False
    return True, True


def run_shell(db: Path | str | None, read_only: bool = False, bail: bool = False) -> bool:
    """Interactive loop on a terminal; a script from stdin otherwise. False when a script statement failed."""
    con = connect(db, read_only=read_only)
    try:
        if not sys.stdin.isatty():
            return run_script(con, sys.stdin.read(), bail)
        _interactive(con, db, read_only)
        return True
    finally:
        con.close()


def _interactive(con: duckdb.DuckDBPyConnection, db: Path | str | None, read_only: bool) -> None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    history = Path.home() / ".sqlsel_history"
    session: PromptSession[str] = PromptSession(history=FileHistory(str(history)))
    mode = " (read-only)" if read_only else ""
    print(f"sqlsel shell on {db or ':memory:'}{mode}. {HELP.splitlines()[0]} Type .help for more.")
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
            if not dot_command(con, line)[0]:
                return
            continue
        buffer += line + "\n"
        items = list(split_script(buffer))
        if items and items[-1].terminated:
            for item in items:
                try:
                    execute(con, item.text)
                except KeyboardInterrupt:
                    print("Interrupted.", file=sys.stderr)
                    break
            buffer = ""

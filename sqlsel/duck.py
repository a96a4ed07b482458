"""Small DuckDB helpers: run a statement and consume its result, quote names and strings, say what an error means."""

from __future__ import annotations

import re
from typing import Any

import duckdb

__all__ = ["run_sql", "error_message", "sql_string", "sql_identifier"]


def run_sql(con: duckdb.DuckDBPyConnection, sql: Any, params: Any = None) -> list[tuple[Any, ...]]:
    """Execute one statement (text or a parsed statement) and fetch all its rows."""
    return con.execute(sql, params if params is not None else []).fetchall()


def sql_string(text: object) -> str:
    """``text`` as a SQL string literal: ``'it''s'``."""
    return "'" + str(text).replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier: ``"my ""odd"" column"``."""
    return '"' + name.replace('"', '""') + '"'


_CLASS_PREFIX = re.compile(r"^(?:[A-Z][A-Za-z]*(?: [A-Za-z]+)* Error|INTERRUPT Error): ")
_UDF_PREFIX = re.compile(r"^.*?Python exception occurred while executing the UDF: ", re.S)
_SQLSEL_CLASS = re.compile(r"^(?:sqlsel\.errors\.)?[A-Z]\w*(?:Error|Exception): ")


def error_message(exc: BaseException) -> str:
    """The first line of an error's text, without DuckDB's class prefix ("Binder Error: ") or the UDF
    wrapper ("Python exception occurred while executing the UDF: InputError: ")."""
    text = str(exc).strip()
    if _UDF_PREFIX.match(text):
        text = _UDF_PREFIX.sub("", text)
        text = _SQLSEL_CLASS.sub("", text) if _sqlsel_class(text) else text
    else:
        text = _CLASS_PREFIX.sub("", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _sqlsel_class(text: str) -> bool:
    from sqlsel import errors

    name = text.split(":", 1)[0].rsplit(".", 1)[-1]
    return isinstance(getattr(errors, name, None), type)

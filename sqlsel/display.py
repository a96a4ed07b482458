"""Rows as terminal tables (rich), shared by ``sqlsel run`` and ``sqlsel shell``."""

from __future__ import annotations

from typing import Any

__all__ = ["print_table"]

MAX_CELL = 80


def print_table(columns: list[str], rows: list[dict[str, Any]], total: int | None = None) -> None:
    """Print ``rows`` (dicts keyed by column) under ``columns``; say how many were left out."""
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*(_cell(row[c]) for c in columns))
    console = Console()
    console.print(table)
    if total is not None and total > len(rows):
        console.print(f"({len(rows)} of {total} rows shown)")


def _cell(value: Any) -> str:
    text = "NULL" if value is None else str(value)
    text = text.replace("\n", "⏎")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def print_run(record: dict[str, Any]) -> None:
    """Print one run record in full: every field, JSON fields indented, statement timings as a table."""
    import json

    from rich.console import Console

    console = Console()
    skip = {"statements", "recipe_text", "params", "inputs", "metrics"}
    width = max(len(k) for k in record)
    for name, value in record.items():
        if name not in skip:
            console.print(f"{name:<{width}}  {'' if value is None else value}", highlight=False, markup=False)
    for name in ("params", "inputs", "metrics"):
        if record.get(name) not in (None, {}, []):
            console.print(f"{name}:", highlight=False)
            console.print(json.dumps(record[name], indent=2, default=str), highlight=False, markup=False)
    if record.get("statements"):
        rows = [
            {
                "#": i,
                "seconds": f"{s['seconds']:.3f}",
                "compiling": f"{s['compile_seconds']:.3f}" if s.get("compile_seconds") else "",
                "rows": s.get("rows"),
                "peak MB": s.get("peak_rss_mb"),
                "statement": s["sql"],
            }
            for i, s in enumerate(record["statements"], 1)
        ]
        columns = ["#", "seconds", "compiling", "rows", "peak MB", "statement"]
        if not any(row["compiling"] for row in rows):  # only a first run after an install compiles
            columns.remove("compiling")
        print_table(columns, rows, len(rows))
    if record.get("recipe_text"):
        console.print("recipe:", highlight=False)
        console.print(record["recipe_text"], highlight=False, markup=False)

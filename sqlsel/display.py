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

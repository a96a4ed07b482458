"""How ``sqlsel run`` shows a run's progress on stderr.

On a terminal: a live bar per statement, rows seen by sqlsel functions of the rows the statement reads
(a spinner where that total is unknown or no function sees rows), and a line per finished statement.
Elsewhere (a log file, CI): only the line per finished statement, as soon as it finishes.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from sqlsel.runner import StatementProgress

__all__ = ["ProgressView", "statement_line"]


def statement_line(p: StatementProgress) -> str:
    """``[3/7]   12.3s   181,256 rows  CREATE OR REPLACE TEMP TABLE …`` for a finished statement."""
    rows = f"{p.rows_out:,} rows" if p.rows_out is not None else ""
    sql = p.sql if len(p.sql) <= 70 else p.sql[:69] + "…"
    return f"[{p.index}/{p.count}] {p.seconds:7.1f}s {rows:>14}  {sql}"


class ProgressView:
    """A context manager that yields the runner's ``on_progress`` callback."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.live: Any = None
        self.task: Any = None

    def __enter__(self) -> Any:
        if self.stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.live = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[rows]}"),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self.live.start()
        return self.update

    def note(self, text: str) -> None:
        """A line of its own above the live bar (from any thread), or plain on stderr."""
        if self.live is None:
            click.echo(text, file=self.stream)
        else:
            self.live.console.print(text, highlight=False, markup=False)

    def update(self, p: StatementProgress) -> None:
        if self.live is None:
            if p.finished:
                click.echo(statement_line(p), file=self.stream)
            return
        if p.finished:
            self.live.console.print(statement_line(p), highlight=False, markup=False, no_wrap=True, overflow="ellipsis")
            if self.task is not None:
                self.live.remove_task(self.task)
                self.task = None
            return
        sql = p.sql if len(p.sql) <= 40 else p.sql[:39] + "…"
        description = f"[{p.index}/{p.count}] {sql}"
        known = p.total_rows is not None and p.rows_done > 0
        total = p.total_rows if known else None
        rows = (
            f"{p.rows_done:,} of {p.total_rows:,} rows" if known else (f"{p.rows_done:,} rows" if p.rows_done else "")
        )
        if self.task is None:
            self.task = self.live.add_task(description, total=total, completed=min(p.rows_done, total or 0), rows=rows)
        else:
            self.live.update(
                self.task, description=description, total=total, completed=min(p.rows_done, total or 0), rows=rows
            )

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()

"""The ``sqlsel`` command line: thin wiring around the library (runner, catalog, shell)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import duckdb

from sqlsel.display import print_table
from sqlsel.errors import SqlselError

DEFAULT_DB = "sqlsel.duckdb"
DB_ENV = "SQLSEL_DB"

db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=lambda: os.environ.get(DB_ENV, DEFAULT_DB),
    show_default=f"${DB_ENV} or ./{DEFAULT_DB}",
    help="Catalog file (created and migrated if needed).",
)


class _Cli(click.Group):
    """Turns library errors into one-line messages and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SqlselError as exc:
            raise click.ClickException(str(exc)) from None
        except duckdb.Error as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("Interrupted: no output was written.", err=True)
            sys.exit(130)


@click.group(cls=_Cli)
@click.version_option(package_name="sqlsel")
def cli() -> None:
    """Training-data selection as SQL: run recipes, explore in a shell, inspect the catalog."""


def _parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="-p/--param")
        params[name.strip()] = value
    return params


@cli.command()
@click.argument("recipe")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="A recipe parameter (repeatable).")
@db_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Output file: .parquet, .jsonl or .csv.")
@click.option("--threads", type=click.IntRange(min=1), help="DuckDB threads (default: all cores).")
@click.option("--describe", is_flag=True, help="Show the recipe's description and parameters, then exit.")
def run(recipe: str, params: tuple[str, ...], db: Path, out: Path | None, threads: int | None, describe: bool) -> None:
    """Run RECIPE (a bundled recipe name or a .sql file) and record the run in the catalog."""
    from sqlsel.recipe import load_recipe
    from sqlsel.runner import run_recipe

    loaded = load_recipe(recipe)
    if describe:
        click.echo(loaded.usage())
        return
    with _progress_bar() as on_progress:
        result = run_recipe(loaded, _parse_params(params), db=db, out=out, threads=threads, on_progress=on_progress)
    if result.table is not None:
        print_table(result.table.column_names, result.table.slice(0, 20).to_pylist(), result.rows_out)
    where = f" to {result.output_path}" if result.output_path else ""
    metrics = "".join(f", {k}={v:.6g}" if isinstance(v, float) else f", {k}={v}" for k, v in result.metrics.items())
    click.echo(f"run {result.run_id}: {result.rows_out} rows{where} in {result.elapsed_s:.1f}s{metrics}", err=True)


@cli.command()
def recipes() -> None:
    """List the bundled recipes."""
    from sqlsel.recipe import load_recipe, recipe_names

    for name in recipe_names():
        click.echo(f"{name}: {load_recipe(name).description}")


@cli.command()
@click.argument("name", required=False)
@click.option("--markdown", is_flag=True, help="Print a Markdown table (for the docs).")
def functions(name: str | None, markdown: bool) -> None:
    """List every sqlsel SQL function, or show one NAME in full (documentation and example)."""
    from sqlsel.errors import UnknownFunctionError
    from sqlsel.functions import load_families

    table = load_families()
    if name is not None:
        spec = table.get(name.lower())
        if spec is None:
            raise UnknownFunctionError(name, table, "`sqlsel functions` lists them.")
        click.echo(f"{spec.signature}\n\n    {spec.doc.strip()}")
        if spec.example:
            click.echo(f"\nExample:\n    {spec.example}")
        return
    specs = sorted(table.values(), key=lambda s: s.name)
    if markdown:
        click.echo("| function | description |\n|---|---|")
        for s in specs:
            summary = s.summary.replace("|", r"\|")
            click.echo(f"| `{s.signature}` | {summary} |")
        return
    for s in specs:
        click.echo(f"{s.signature}\n    {s.summary}")
    click.echo("\n`sqlsel functions NAME` shows one in full, with an example.")


@cli.command()
@db_option
@click.option("--limit", default=20, show_default=True, help="Most recent runs to show.")
def runs(db: Path, limit: int) -> None:
    """Show the most recent recipe runs recorded in the catalog."""
    from sqlsel.catalog import list_runs
    from sqlsel.connection import connect

    con = connect(db)
    try:
        rows = list_runs(con, limit)
    finally:
        con.close()
    cols = ["run_id", "recipe", "status", "rows_out", "started", "metrics", "error"]
    print_table(cols, [{c: r[c] for c in cols} for r in rows], len(rows))


@cli.command()
@db_option
@click.option("--list", "list_only", is_flag=True, help="Only list migrations and whether they are applied.")
def migrate(db: Path, list_only: bool) -> None:
    """Apply pending catalog migrations (each in one transaction)."""
    from sqlsel.catalog import migrate as apply
    from sqlsel.catalog import migrations

    con = duckdb.connect(str(db))
    try:
        if not list_only:
            for m in apply(con):
                click.echo(f"applied {m.name}")
        for m in migrations(con):
            click.echo(f"{m.name}: {'applied ' + str(m.applied_at) if m.applied_at else 'pending'}")
    finally:
        con.close()


@cli.command()
@db_option
def shell(db: Path) -> None:
    """An interactive SQL prompt with every sqlsel function (history, multi-line, tables).

    Statements end with ';'. Dot commands: .functions, .tables, .help, .quit. Reads a script from
    standard input when it is not a terminal.
    """
    from sqlsel.shell import run_shell

    run_shell(db)


class _progress_bar:  # noqa: N801 (used as a context manager like a function)
    """A progress bar on stderr when it is a terminal; yields the callback for the runner."""

    def __enter__(self) -> Callable[[float], None] | None:
        if not sys.stderr.isatty():
            self.progress = None
            return None
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("query"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            transient=True,
        )
        self.progress.start()
        task = self.progress.add_task("query", total=100)
        return lambda pct: self.progress.update(task, completed=pct) if self.progress else None

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


def main() -> None:
    cli(prog_name="sqlsel")


if __name__ == "__main__":
    main()

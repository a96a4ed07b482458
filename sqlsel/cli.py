"""The ``sqlsel`` command line: thin wiring around the library (runner, catalog, shell)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
import duckdb

from sqlsel.display import print_table
from sqlsel.errors import CatalogNotFoundError, ParameterError, RunInterrupted, SqlselError
from sqlsel.own_process import exit_without_teardown, refuse_implicit_imports, tune_malloc

DEFAULT_DB = "sqlsel.duckdb"
DB_ENV = "SQLSEL_DB"


def _default_db() -> str:
    return os.environ.get(DB_ENV, DEFAULT_DB)


def _db_option(default: Any, help: str) -> Any:
    path = click.Path(dir_okay=False, path_type=Path)
    return click.option("--db", type=path, default=default, show_default=f"${DB_ENV} or ./{DEFAULT_DB}", help=help)


db_option = _db_option(_default_db, "Catalog file (created and migrated if needed).")
read_db_option = _db_option(None, "Catalog file to read (opened read-only; it must exist).")


class _Cli(click.Group):
    """Turns library errors into one-line messages and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlsel.duck import error_message

        try:
            return super().invoke(ctx)
        except SqlselError as exc:
            raise click.ClickException(str(exc)) from None
        except duckdb.Error as exc:
            raise click.ClickException(error_message(exc)) from None
        except OSError as exc:  # a file that vanished, a folder that cannot be read
            raise click.ClickException(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)) from None
        except KeyboardInterrupt as exc:
            message = str(exc) if isinstance(exc, RunInterrupted) else "Interrupted."
            click.echo(message, err=True)
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
@click.option(
    "--out",
    metavar="PATH",
    help="Output file (.parquet, .jsonl or .csv), or a folder of Parquet parts (a path ending in /).",
)
@click.option("--threads", type=click.IntRange(min=1), help="DuckDB threads (default: all cores).")
@click.option(
    "--memory",
    metavar="SIZE",
    help="DuckDB memory_limit for the run, e.g. 1.5GB (DuckDB spills past it; set-level functions keep their "
    "vectors within a quarter of it, cluster by cluster). Default: DuckDB's, 80% of RAM.",
)
@click.option("--key", default="id", show_default=True, help="The pool column that identifies rows (unique, not NULL).")
@click.option(
    "--read-only", is_flag=True, help="Open the catalog read-only: score with its models; nothing is recorded."
)
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="Where the statements run: DuckDB in this process, or Apache Spark (pip install 'sqlsel[spark]').",
)
@click.option(
    "--master",
    metavar="URL",
    help="Spark master for --engine spark: local[N] (default: local[--threads or every core]), "
    "spark://HOST:PORT, yarn, or sc://HOST for Spark Connect.",
)
@click.option("--describe", is_flag=True, help="Show the recipe's description and parameters, then exit.")
def run(
    recipe: str,
    params: tuple[str, ...],
    db: Path,
    out: str | None,
    threads: int | None,
    memory: str | None,
    key: str,
    read_only: bool,
    engine: str,
    master: str | None,
    describe: bool,
) -> None:
    """Run RECIPE (a bundled recipe name or a .sql file) and record the run in the catalog."""
    from sqlsel.connection import connect
    from sqlsel.kernels import CompileWatch
    from sqlsel.progress import ProgressView
    from sqlsel.recipe import Recipe, load_recipe
    from sqlsel.runner import preload_kernels, run_recipe

    if describe:
        click.echo(load_recipe(recipe).usage())
        return
    loaded: Recipe | str = recipe
    try:
        loaded = load_recipe(recipe)  # an unknown name is no run: say so before creating a catalog
    except ParameterError:
        if not Path(recipe).is_file():
            raise  # a file whose header does not parse is a failed run: run_recipe records it
    given = _parse_params(params)
    if engine == "duckdb":
        preload_kernels(loaded)  # while the catalog opens
    con = connect(db, read_only=read_only)
    view = ProgressView()
    try:
        with view as on_progress, CompileWatch(on_first=lambda: view.note(CompileWatch.NOTICE)) as compiled:
            result = run_recipe(
                loaded,
                given,
                con=con,
                out=out,
                threads=threads,
                key=key,
                on_progress=on_progress,
                memory=memory,
                engine=engine,
                master=master,
            )
    finally:
        con.close()
    if result.table is not None:
        print_table(result.table.column_names, result.table.slice(0, 20).to_pylist(), result.rows_out)
    _echo_result(result)
    if summary := compiled.summary():
        click.echo(summary, err=True)


def _metric_text(value: Any, run_id: int | None) -> str:
    """A metric on the run's summary line: numbers in 6 digits, a list (a curve) by its length."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        where = f": sqlsel runs show {run_id}" if run_id is not None else ""
        return f"[{len(value)} entries{where}]"
    return str(value)


def _echo_result(result: Any) -> None:
    where = f" to {result.output_path}" if result.output_path else ""
    metrics = "".join(f", {k}={_metric_text(v, result.run_id)}" for k, v in result.metrics.items())
    name = f"run {result.run_id}" if result.run_id is not None else "run (not recorded: the catalog is read-only)"
    click.echo(f"{name}: {result.rows_out} rows{where} in {result.elapsed_s:.1f}s{metrics}", err=True)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)


@cli.command()
@click.argument("run_id", type=int)
@db_option
@click.option("--out", help="Output file or folder (default: print the rows, as the run did without --out).")
@click.option("--strict", is_flag=True, help="Refuse to run when an input changed since the recorded run.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True)
@click.option("--master", help="Spark master for --engine spark.")
def rerun(run_id: int, db: Path, out: str | None, strict: bool, engine: str, master: str | None) -> None:
    """Run recorded run RUN_ID again (its recipe text, parameters, seed) and say if it selects the same rows.

    Models the recipe fits go under names of their own (NAME_rerunRUN_ID); inputs changed since the
    run are listed (or refused with --strict). Exits 1 when the selection differs.
    """
    from sqlsel.connection import connect
    from sqlsel.progress import ProgressView
    from sqlsel.reruns import rerun as rerun_run

    con = connect(db)
    try:
        with ProgressView():
            done = rerun_run(con, run_id, out=out, strict=strict, engine=engine, master=master)
    finally:
        con.close()
    for change in done.changed_inputs:
        click.echo(f"warning: input changed since run {run_id}: {change}", err=True)
    if done.result.table is not None:
        print_table(done.result.table.column_names, done.result.table.slice(0, 20).to_pylist(), done.result.rows_out)
    _echo_result(done.result)
    if done.recorded_digest is None:
        click.echo(f"run {run_id} recorded no selection (status not ok): nothing to compare", err=True)
    elif done.same:
        click.echo(f"same selection as run {run_id} (digest {done.recorded_digest[:12]})", err=True)
    else:
        click.echo(
            f"DIFFERENT selection from run {run_id}: digest {done.result.selection_digest[:12]}, recorded "
            f"{done.recorded_digest[:12]} (sqlsel runs diff {run_id} {done.result.run_id} says what differs)",
            err=True,
        )
        raise SystemExit(1)


@cli.command()
@click.argument("recipe")
@click.option("--engine", type=click.Choice(["spark"]), default="spark", show_default=True, help="The engine to check.")
def check(recipe: str, engine: str) -> None:
    """Check that RECIPE runs on another engine as written: name each construct that does not carry, and its fix.

    Exits 1 when something does not carry. Runs without Spark installed (sqlglot reads the recipe).
    """
    from sqlsel.portable import portability_problems
    from sqlsel.recipe import load_recipe

    loaded = load_recipe(recipe)
    problems = portability_problems(loaded)
    for problem in problems:
        click.echo(f"{loaded.name}: {problem}")
    if problems:
        raise SystemExit(1)
    click.echo(f"{loaded.name}: runs on {engine} as written")


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
            raise UnknownFunctionError(name, table)
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


def _read_only(db: Path | None, functions: bool = False) -> duckdb.DuckDBPyConnection:
    """The catalog opened read-only: read commands never create, migrate or write a catalog.

    Only a command that calls sqlsel functions (``report`` scores the pool with the run's model) gets
    them registered; the others load no kernel.
    """
    from sqlsel.connection import connect, read_catalog

    path = db if db is not None else Path(_default_db())
    if not path.is_file():
        raise CatalogNotFoundError(str(path))
    return connect(path, read_only=True) if functions else read_catalog(path)


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


@cli.group(invoke_without_command=True)
@read_db_option
@click.option("--limit", default=20, show_default=True, help="Most recent runs to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (every recorded field) instead of a table.")
@click.pass_context
def runs(ctx: click.Context, db: Path | None, limit: int, as_json: bool) -> None:
    """Show the most recent recipe runs recorded in the catalog (`sqlsel runs show ID` shows one in full)."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlsel.catalog import get_run, list_runs

    con = _read_only(db)
    try:
        rows = [get_run(con, r["run_id"]) for r in list_runs(con, limit)] if as_json else list_runs(con, limit)
    finally:
        con.close()
    if as_json:
        _echo_json(rows)
        return
    cols = ["run_id", "recipe", "status", "rows_out", "started", "metrics", "error"]
    print_table(cols, [{c: r[c] for c in cols} for r in rows], len(rows))


@runs.command("show")
@click.argument("run_id", type=int)
@read_db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def runs_show(ctx: click.Context, run_id: int, db: Path | None, as_json: bool) -> None:
    """Everything recorded about run RUN_ID: parameters, inputs, output, digest, metrics, timings, error."""
    from sqlsel.catalog import get_run

    con = _read_only(db if db is not None else ctx.parent.params.get("db") if ctx.parent else None)
    try:
        record = get_run(con, run_id)
        known = [r[0] for r in con.execute("SELECT run_id FROM sel_runs ORDER BY run_id DESC LIMIT 5").fetchall()]
    finally:
        con.close()
    if record is None:
        raise SqlselError(f"No run {run_id} in this catalog; the latest are {', '.join(map(str, known)) or 'none'}.")
    if as_json:
        _echo_json(record)
        return
    from sqlsel.display import print_run

    print_run(record)


@cli.command()
@click.argument("run_id", type=int)
@read_db_option
@click.option(
    "--by", "by", multiple=True, metavar="COLUMN", help="A pool column to compare pool and output by (repeatable)."
)
@click.option(
    "--out", "out", default="report.html", show_default=True, help="The HTML file; its .json is written beside it."
)
def report(run_id: int, db: Path | None, by: tuple[str, ...], out: str) -> None:
    """Write a self-contained HTML report of run RUN_ID (and report.json with every number shown)."""
    from sqlsel.report import report as build

    con = _read_only(db, functions=True)
    try:
        html_path, json_path = build(con, run_id, by=list(by)).write(out)
    finally:
        con.close()
    click.echo(f"wrote {html_path} and {json_path}", err=True)


@runs.command("diff")
@click.argument("a", type=int)
@click.argument("b", type=int)
@read_db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def runs_diff(ctx: click.Context, a: int, b: int, db: Path | None, as_json: bool) -> None:
    """What differs between runs A and B: recipe, versions, parameters, inputs, and the rows they selected."""
    from sqlsel.reruns import diff_runs

    con = _read_only(db if db is not None else ctx.parent.params.get("db") if ctx.parent else None)
    try:
        diff = diff_runs(con, a, b)
    finally:
        con.close()
    if as_json:
        _echo_json(diff)
        return
    for section in ("fields", "params", "inputs"):
        for name, (x, y) in diff[section].items():
            click.echo(f"{section[:-1] if section != 'inputs' else 'input'} {name}: {x!r} -> {y!r}")
    if not any(diff[s] for s in ("fields", "params", "inputs")):
        click.echo("same recipe, versions, parameters and inputs")
    keys = diff["keys"]
    if keys.get("overlap") is None:
        same = "same" if keys["same_digest"] else "different"
        click.echo(f"selections: {same} digest; overlap unknown: {keys['why']}")
    else:
        n_a, n_b = keys["selected"]
        click.echo(
            f"selections: {'same' if keys['same_digest'] else 'different'} digest; run {a} selected {n_a:,} keys, "
            f"run {b} {n_b:,}, both {keys['overlap']:,} (Jaccard {keys['jaccard']:.4f})"
        )


@cli.command()
@read_db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with each model's parameters).")
def models(db: Path | None, as_json: bool) -> None:
    """List the models in the catalog: name, kind, the run that fitted it and what it was fitted on."""
    from sqlsel.catalog import list_models

    con = _read_only(db)
    try:
        rows = list_models(con)
    finally:
        con.close()
    if as_json:
        _echo_json(rows)
        return
    cols = ["name", "kind", "model_id", "run_id", "created", "params"]
    print_table(cols, [{c: r[c] for c in cols} for r in rows], len(rows))


@cli.command()
@db_option
@click.option("--list", "list_only", is_flag=True, help="Only list migrations and whether they are applied.")
@click.option(
    "--storage-version",
    metavar="VERSION",
    help="Rewrite the catalog in this DuckDB storage version (e.g. v1.4.0, which the DuckDB 1.5 CLI reads; latest).",
)
def migrate(db: Path, list_only: bool, storage_version: str | None) -> None:
    """Apply pending catalog migrations (each in one transaction); convert its storage version."""
    from sqlsel.catalog import migrate as apply
    from sqlsel.catalog import migrations
    from sqlsel.connection import convert_storage, create_catalog_file

    if list_only and not db.is_file():
        click.echo(f"{db} does not exist yet; `sqlsel migrate --db {db}` creates it with every migration:")
        con = duckdb.connect(":memory:")  # lists them all as pending, creating nothing
    else:
        if not db.exists():
            create_catalog_file(db, storage_version)
        elif storage_version is not None:
            convert_storage(db, storage_version)
            click.echo(f"rewrote {db} in storage version {storage_version}")
        con = duckdb.connect(str(db), read_only=list_only)
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
@click.option("--read-only", is_flag=True, help="Open the catalog read-only (it must exist); fits are refused.")
@click.option("-bail", "--bail", is_flag=True, help="Stop a script at its first failing statement.")
def shell(db: Path, read_only: bool, bail: bool) -> None:
    """An interactive SQL prompt with every sqlsel function (history, multi-line, tables).

    Statements end with ';'. Dot commands: .functions, .tables, .help, .quit. Reads a script from
    standard input when it is not a terminal: each failing statement is reported with its line, the
    script goes on (stops with -bail), and the exit code is 1 when any statement failed.
    """
    from sqlsel.shell import run_shell

    if not run_shell(db, read_only=read_only, bail=bail):
        sys.exit(1)


def main() -> None:
    tune_malloc()
    refuse_implicit_imports()
    try:
        cli(prog_name="sqlsel")
    except SystemExit as done:
        exit_without_teardown(done.code)
    exit_without_teardown(0)


if __name__ == "__main__":
    main()

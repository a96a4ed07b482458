"""One recipe, two engines: which statements carry to Spark, and their Spark SQL.

Recipes are DuckDB SQL, the canonical dialect. On Spark a recipe's statements split in two kinds:

* **Spark statements** are translated by sqlglot (DuckDB → Spark) after three steps of our own:
  scalar macros of ``udfs/*.sql`` are expanded in place (Spark has no macros), ``$parameters``
  become typed literals (a DOUBLE as ``CAST('0.5' AS DOUBLE)``: Spark reads ``0.5`` as a DECIMAL),
  and ``sel_scratch.name`` becomes the temporary view ``name``. ``error(msg)`` becomes
  ``raise_error(msg)``.
* **Driver statements** call a function that writes the catalog or reads a whole relation (a fit,
  ``sel_semdedup``, …: :func:`sqlsel.functions.driver_functions`). They run unchanged on the
  driver's DuckDB over copies of the (small) relations they read; see :mod:`sqlsel.spark.runner`.

:func:`portability_problems` names every construct of a Spark statement that sqlglot would pass
through silently wrong or that Spark cannot run, with the portable form to write instead. It runs
before any work when a recipe runs on Spark, and ``sqlsel check RECIPE`` runs it on demand.

Example:
    >>> from sqlsel.recipe import load_recipe
    >>> portability_problems(load_recipe("zipfit_select"))
    []
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlsel.connection import SCRATCH
from sqlsel.recipe import Recipe, line_of
from sqlsel.resources import SHELL_MACROS, macro_files

_LEN = re.compile(r"\blen\s*\(", re.IGNORECASE)

__all__ = [
    "Problem",
    "portability_problems",
    "cached_problems",
    "is_driver_statement",
    "spark_statement",
    "relations_read",
]


@dataclass(frozen=True)
class Problem:
    """A construct that does not carry to Spark: where it is, what it is, what to write instead."""

    statement: int  # 1-based
    line: int | None  # in the recipe file, when found
    construct: str
    portable: str

    def __str__(self) -> str:
        where = f"statement {self.statement}" + (f" (line {self.line})" if self.line else "")
        return f"{where}: {self.construct} does not carry to Spark; {self.portable}"


def parse_statement(sql: str) -> Any:
    """sqlglot's tree of one DuckDB statement."""
    import sqlglot

    return sqlglot.parse_one(sql, read="duckdb")


def _rules() -> list[tuple[Callable[[Any], bool], str, str]]:
    """(does this node not carry, what it is, the portable form)."""
    from sqlglot import exp

    def anonymous(*names: str) -> Callable[[Any], bool]:
        return lambda n: isinstance(n, exp.Anonymous) and n.name.lower() in names

    return [
        (lambda n: isinstance(n, exp.Comprehension), "a list comprehension", "use list_transform / list_filter"),
        (lambda n: isinstance(n, exp.Slice), "a list slice x[a:b]", "use list_slice(x, a, b)"),
        (
            lambda n: isinstance(n, exp.ArrayAgg) and n.find(exp.Order) is not None,
            "list(x ORDER BY y) (Spark's collect_list drops the ORDER BY)",
            "aggregate structs and sort them (list_sort), or move the aggregate into a driver statement",
        ),
        (anonymous("hash"), "hash() (a different function on Spark)", "use sel_key_hash(key) or md5"),
        (
            anonymous("read_json_auto", "read_json", "read_csv", "read_csv_auto"),
            "a file read in SQL",
            "pass files as table parameters",
        ),
        (anonymous("strlen"), "strlen()", "use length()"),
        (anonymous("isfinite", "isinf", "isnan"), "isfinite() (Spark has none)", "use sel_is_finite(x)"),
        (
            anonymous("query_table", "duckdb_columns", "duckdb_tables"),
            "a DuckDB catalog function",
            "name the relation directly",
        ),
        (
            lambda n: isinstance(n, exp.Table) and isinstance(n.this, exp.GenerateSeries),
            "a range() or generate_series() table (Spark names its column differently)",
            "use SELECT unnest(generate_series(a, b)) AS name",
        ),
        (lambda n: isinstance(n, exp.Copy), "COPY … TO", "the runner writes the output (--out)"),
        (lambda n: isinstance(n, exp.Describe), "DESCRIBE", "name the columns the recipe needs"),
        (
            lambda n: isinstance(n, (exp.Transaction, exp.Commit, exp.Rollback)),
            "a transaction",
            "fits write through sel_ functions",
        ),
        (lambda n: isinstance(n, exp.OnConflict), "INSERT … ON CONFLICT", "fits write through sel_ functions"),
        (
            lambda n: isinstance(n, (exp.Delete, exp.Update, exp.Insert)),
            "DELETE, UPDATE or INSERT (Spark's views are not modified in place)",
            "CREATE OR REPLACE TABLE x AS SELECT … with the rows to keep",
        ),
        (
            lambda n: isinstance(n, exp.Union) and bool(n.args.get("by_name")),
            "UNION … BY NAME",
            "list the columns of each side",
        ),
        (
            lambda n: (
                isinstance(n, (exp.Explode, exp.Unnest)) and any(isinstance(a, exp.PropertyEQ) for a in n.expressions)
            ),
            "unnest(…, recursive := true)",
            "select the struct's fields by name",
        ),
        (
            lambda n: (
                isinstance(n, exp.Window)
                and isinstance(n.this, (exp.RowNumber, exp.Rank, exp.DenseRank, exp.Ntile))
                and n.args.get("order") is None
            ),
            "row_number() or rank() without ORDER BY (Spark requires an ordered window)",
            "order the window, e.g. OVER (ORDER BY key)",
        ),
        (
            lambda n: isinstance(n, exp.DataType) and n.this == exp.DataType.Type.ARRAY and bool(n.args.get("values")),
            "a fixed-size array type (FLOAT[n])",
            "use the variable-size type (FLOAT[])",
        ),
    ]


def is_driver_statement(sql: str) -> bool:
    """Whether a statement calls a function that writes the catalog or reads a whole relation."""
    from sqlsel.functions import driver_functions

    names = set(driver_functions())
    facts = _calls(sql)
    return bool(names & facts)


@functools.lru_cache(maxsize=256)
def _calls(sql: str) -> frozenset[str]:
    from sqlglot import exp

    return frozenset(c.name.lower() for c in parse_statement(sql).find_all(exp.Anonymous))


def portability_problems(recipe: Recipe) -> list[Problem]:
    """Every construct of ``recipe``'s Spark statements that does not carry to Spark (empty: it ports)."""
    import duckdb
    import sqlglot
    from sqlglot import exp

    from sqlsel.recipe import split_statements

    con = duckdb.connect()
    try:
        statements = [s.query for s in split_statements(con, recipe.text, str(recipe.path))]
    finally:
        con.close()
    problems: list[Problem] = []
    rules = _rules()
    for index, sql in enumerate(statements, 1):
        try:
            tree = expand_macros(parse_statement(sql))
        except sqlglot.errors.SqlglotError as exc:
            problems.append(
                Problem(index, line_of(recipe.text, sql), f"SQL sqlglot cannot read ({exc})", "simplify it")
            )
            continue
        if is_driver_statement(sql):
            continue  # runs on the driver's DuckDB as written
        seen = set()
        if _LEN.search(sql):
            problems.append(
                Problem(
                    index,
                    line_of(recipe.text, sql),
                    "len() (Spark's length() reads strings only)",
                    "use array_length(x) for a list, length(x) for a string",
                )
            )
        for node in tree.walk():
            for test, construct, portable in rules:
                if construct not in seen and test(node):
                    seen.add(construct)
                    problems.append(Problem(index, line_of(recipe.text, sql), construct, portable))
        for qualify in tree.find_all(exp.Qualify):
            if _outside_windows(qualify.this):
                problems.append(
                    Problem(
                        index,
                        line_of(recipe.text, sql),
                        "QUALIFY comparing with a joined table's column (sqlglot moves the filter out of the join)",
                        "compute the window in a subquery beside that column and filter it with WHERE",
                    )
                )
        for name in _macro_calls(tree):
            problems.append(Problem(index, line_of(recipe.text, sql), f"the table macro {name}", "inline its query"))
    return problems


def _outside_windows(condition: Any) -> bool:
    """Whether a condition names a table-qualified column outside its window functions."""
    from sqlglot import exp

    for column in condition.find_all(exp.Column):
        if column.table and column.find_ancestor(exp.Window) is None:
            return True
    return False


#: Bump when the rules change: cached answers of older rules are ignored.
_RULES_VERSION = 1


def cached_problems(recipe: Recipe) -> list[str]:
    """:func:`portability_problems` as text, kept per installation by the recipe's text (no sqlglot import
    for a recipe seen before): what a DuckDB run says of a recipe that would not carry to Spark."""
    from sqlsel import __version__
    from sqlsel.cache import cache_key, read_cached, write_cached

    key = cache_key(_RULES_VERSION, __version__, recipe.text)  # the version: macros and rules ship with it
    cached = read_cached("portability", key)
    if cached is not None and isinstance(cached.get("problems"), list):
        return [str(p) for p in cached["problems"]]
    problems = [str(p) for p in portability_problems(recipe)]
    write_cached("portability", key, {"problems": problems})
    return problems


@functools.lru_cache(maxsize=1)
def _macros() -> dict[str, tuple[list[str], Any]]:
    """The scalar macros of ``udfs/*.sql``: name -> (parameters, body).

    ``udfs/shell.sql`` is left out: its ``sqlsel_`` macros are for a plain DuckDB shell, never in a recipe.
    """
    import sqlglot
    from sqlglot import exp

    macros: dict[str, tuple[list[str], Any]] = {}
    for name, text in macro_files().items():
        if name == SHELL_MACROS:
            continue
        for tree in sqlglot.parse(text, read="duckdb"):
            if not isinstance(tree, exp.Create) or str(tree.args.get("kind", "")).upper() != "MACRO":
                continue
            fn = tree.this
            body = tree.expression
            if isinstance(body, exp.Query) or fn is None:
                continue  # a table macro
            macros[fn.this.name.lower()] = ([p.name for p in fn.expressions], body)
    return macros


def _macro_calls(tree: Any) -> list[str]:
    """Table macros the statement calls (they do not expand into Spark SQL)."""
    from sqlglot import exp

    scalar = _macros()
    return sorted(
        {
            t.this.name.lower()
            for t in tree.find_all(exp.Table)
            if isinstance(t.this, exp.Anonymous)
            and t.this.name.lower().startswith("sel_")
            and t.this.name.lower() not in scalar
        }
    )


def expand_macros(tree: Any) -> Any:
    """``tree`` with every call of a scalar macro of ``udfs/*.sql`` replaced by its body (recursively)."""
    from sqlglot import exp

    macros = _macros()

    def expand(node: Any) -> Any:
        if isinstance(node, exp.Anonymous) and node.name.lower() in macros:
            params, body = macros[node.name.lower()]
            values = dict(zip(params, node.expressions, strict=False))

            def substitute(inner: Any) -> Any:
                if isinstance(inner, exp.Column) and not inner.table and inner.name in values:
                    return exp.paren(values[inner.name].copy(), copy=False)
                return inner

            return expand_macros(body.copy().transform(substitute))
        return node

    return tree.transform(expand)


def _literal(value: Any) -> Any:
    from sqlglot import exp

    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value}")
        return exp.cast(exp.Literal.string(repr(value)), "double")
    return exp.Literal.string(str(value))


def spark_statement(sql: str, params: Mapping[str, Any]) -> Any:
    """The sqlglot tree of one Spark statement: macros expanded, parameters bound, scratch names local."""
    from sqlglot import exp

    tree = expand_macros(parse_statement(sql))

    def rewrite(node: Any) -> Any:
        if isinstance(node, exp.Placeholder) and node.name in params:
            return _literal(params[node.name])
        if isinstance(node, exp.Table) and node.db == SCRATCH:
            return exp.to_table(node.name, alias=node.alias or None)
        if isinstance(node, exp.Anonymous) and node.name.lower() == "error":
            node.set("this", "raise_error")
        return node

    return tree.transform(rewrite)


def relations_read(sql: str) -> list[tuple[str, str]]:
    """The (database, name) of every table a statement reads, CTE names left out."""
    from sqlglot import exp

    tree = parse_statement(sql)
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    out: list[tuple[str, str]] = []
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Identifier) and table.name.lower() not in ctes:
            pair = (table.db, table.name)
            if pair not in out:
                out.append(pair)
    return out

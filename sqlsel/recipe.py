"""Saved curation queries: a ``-- key: value`` header, then SQL statements.

Header lines (before the first SQL line)::

    -- description: one line saying what the recipe selects
    -- param pool: table; pool files (Parquet or JSONL, a path or a glob) with id and text
    -- param k: BIGINT >= 1; rows to select
    -- param eps: DOUBLE = 0.05 in [0, 2]; a number with its valid range
    -- param keep: VARCHAR = 'hard' in {hard, easy, random}; one of a few words
    -- param seed: BIGINT = 0; seed of the random choices
    -- param score: column; a column of a table parameter, named by the user (spliced in as "score")
    -- key: pool              (table parameters whose rows have a unique key: checked before any work)
    -- optional pool: embedding FLOAT[], score DOUBLE
                              (columns a table may lack: NULL when it does; $pool_has_embedding says which)
    -- fits: model            (the parameter naming a model the recipe fits itself)
    -- metric kl: SELECT …   (a query over sel_result, the recipe's output rows; reported by the run)

A parameter's check (``>= x``, ``> x``, ``<= x``, ``< x``, ``in [a, b)`` with either bracket and
``inf`` as a bound, or ``in {word, …}``) is applied when the parameters are bound, before any work;
DOUBLE parameters must always be finite, and no parameter may be NULL.

``table`` parameters become views of that name over the given files; every other parameter is
bound as a prepared parameter (``$k``). Statements are split and executed exactly as written;
sqlglot only analyses them (functions and models used).
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from sqlsel.cache import cache_key, read_cached, write_cached
from sqlsel.duck import run_sql
from sqlsel.errors import (
    ParameterError,
    RecipeSyntaxError,
    UnknownFunctionError,
    UnknownModelError,
    UnknownRecipeError,
    did_you_mean,
)
from sqlsel.resources import macro_files, resource_dir

__all__ = [
    "with_columns",
    "first_line",
    "line_of",
    "Param",
    "Recipe",
    "load_recipe",
    "recipe_names",
    "split_statements",
    "statement_facts",
    "StatementFacts",
]

_HEADER = re.compile(r"^--\s*(?P<key>[a-z_]+)(?:\s+(?P<name>\w+))?\s*:\s*(?P<value>.*)$")
_PARAM = re.compile(
    r"^(?P<type>[A-Za-z]+(?:\[\])?)\s*(?:=\s*(?P<default>'[^']*'|[^\s;]+))?\s*"
    r"(?P<check>(?:>=|<=|>|<|in\b)[^;]*?)?\s*(?:;\s*(?P<doc>.*))?$"
)
_TYPES = {"table": str, "column": str, "BIGINT": int, "INTEGER": int, "DOUBLE": float, "VARCHAR": str, "BOOLEAN": bool}
_INT_RANGE = {"BIGINT": (-(2**63), 2**63 - 1), "INTEGER": (-(2**31), 2**31 - 1)}
_BOUND = re.compile(r"^(?P<op>>=|<=|>|<)\s*(?P<value>\S+)$")
_INTERVAL = re.compile(r"^in\s*(?P<lo_bracket>[\[(])\s*(?P<lo>[^,]+),\s*(?P<hi>[^\])]+?)\s*(?P<hi_bracket>[\])])$")
_CHOICES = re.compile(r"^in\s*\{(?P<words>[^}]*)\}$")


@dataclass(frozen=True)
class Check:
    """A parameter's valid values: a range of numbers or a set of words."""

    text: str  # as written in the header, shown in messages: '>= 1', 'in [0, 1)', 'in {a, b}'
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Check:
        text = text.strip()
        if m := _CHOICES.match(text):
            words = tuple(w.strip() for w in m.group("words").split(",") if w.strip())
            return cls(f"one of {', '.join(words)}", choices=words)
        if m := _INTERVAL.match(text):
            return cls(
                text,
                low=float(m.group("lo")),
                high=float(m.group("hi")),
                low_open=m.group("lo_bracket") == "(",
                high_open=m.group("hi_bracket") == ")",
            )
        if m := _BOUND.match(text):
            op, value = m.group("op"), float(m.group("value"))
            if op.startswith(">"):
                return cls(text, low=value, low_open=op == ">")
            return cls(text, high=value, high_open=op == "<")
        raise ValueError(f"bad check {text!r}: expected >= x, > x, <= x, < x, in [a, b) or in {{word, ...}}")

    def accepts(self, value: Any) -> bool:
        if self.choices:
            return value in self.choices
        low_ok = value > self.low if self.low_open else value >= self.low
        high_ok = value < self.high if self.high_open else value <= self.high
        return bool(low_ok and high_ok)


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str | None
    doc: str
    check: Check | None = None

    @property
    def is_table(self) -> bool:
        return self.type == "table"

    @property
    def is_column(self) -> bool:
        """A column of a table parameter, named by the user: spliced into the SQL as a quoted identifier."""
        return self.type == "column"

    def convert(self, raw: Any) -> Any:
        """The Python value of ``raw`` (a CLI string or a Python value) for this parameter's type, checked."""
        if raw is None:
            raise ParameterError(f"Parameter {self.name} must not be NULL.")
        if self.is_table and not isinstance(raw, (str, Path)):
            return raw  # a relation or Arrow table passed from Python
        value = self._typed(raw)
        if isinstance(value, float) and not math.isfinite(value):
            raise ParameterError(f"Parameter {self.name} must be a finite number; got {raw!r}.")
        low, high = _INT_RANGE.get(self.type, (None, None))
        if low is not None and not low <= value <= high:
            raise ParameterError(
                f"Parameter {self.name} is {self.type}: it must be between {low} and {high}; got {raw!r}."
            )
        if self.check is not None and not self.check.accepts(value):
            hint = did_you_mean(str(value), self.check.choices) if self.check.choices else ""
            raise ParameterError(f"Parameter {self.name} must be {self.check.text}; got {raw!r}.{hint}")
        return value

    def _typed(self, raw: Any) -> Any:
        kind = _TYPES[self.type]
        if isinstance(raw, str):
            text = raw.strip()
            if kind is bool:
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ParameterError(f"Parameter {self.name} must be true or false; got {raw!r}.")
                return text.lower() in ("true", "1")
            if kind is str and len(text) >= 2 and text[0] == text[-1] == "'":
                return text[1:-1]
            try:
                return kind(text)
            except ValueError:
                raise ParameterError(f"Parameter {self.name} must be {self.type}; got {raw!r}.") from None
        if kind is int and isinstance(raw, float) and not raw.is_integer():
            raise ParameterError(f"Parameter {self.name} must be {self.type} (a whole number); got {raw!r}.")
        if kind is bool and not isinstance(raw, (bool, int)):
            raise ParameterError(f"Parameter {self.name} must be true or false; got {raw!r}.")
        try:
            return kind(raw)
        except (TypeError, ValueError):
            raise ParameterError(f"Parameter {self.name} must be {self.type}; got {raw!r}.") from None


@dataclass
class Recipe:
    """A parsed recipe file."""

    name: str
    path: Path
    text: str
    description: str = ""
    params: dict[str, Param] = field(default_factory=dict)
    keyed: list[str] = field(default_factory=list)  # table parameters whose rows carry a unique key
    optional: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> column -> type it may lack
    fits: list[str] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)

    def usage(self) -> str:
        lines = [f"{self.name}: {self.description}", "parameters:"]
        for p in self.params.values():
            default = "required" if p.default is None else f"default {p.default}"
            check = f", {p.check.text}" if p.check else ""
            lines.append(f"  {p.name} ({p.type}, {default}{check}): {p.doc}")
        return "\n".join(lines)

    def bind(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Values of every parameter from ``given`` and the defaults, type- and range-checked.

        Errors are one line naming the parameter and listing the recipe's parameters.
        """
        listed = ", ".join(self.params)
        unknown = [n for n in given if n not in self.params]
        if unknown:
            hint = did_you_mean(unknown[0], self.params)
            raise ParameterError(
                f"Unknown parameter {unknown[0]!r} for recipe {self.name}.{hint} Its parameters: {listed} "
                f"(sqlsel run {self.name} --describe explains them)."
            )
        values = {}
        for p in self.params.values():
            if p.name in given:
                values[p.name] = p.convert(given[p.name])
            elif p.default is not None:
                values[p.name] = p.convert(p.default)
            else:
                raise ParameterError(
                    f"Missing parameter {p.name!r} for recipe {self.name}: pass -p {p.name}=VALUE. "
                    f"Its parameters: {listed} (sqlsel run {self.name} --describe explains them)."
                )
        return values

    def statements(self, con: duckdb.DuckDBPyConnection) -> list[Any]:
        return split_statements(con, self.text, str(self.path))

    def functions_called(self) -> set[str]:
        """The ``sel_`` names the recipe's text calls, and those the library macros it calls call in turn.

        A scan of the text, not an analysis (:meth:`check` analyses the statements): what a run loads
        the kernels of before its catalog opens (:func:`sqlsel.runner.preload_kernels`).
        """
        called = {name.lower() for name in _CALLS.findall(self.text)}
        bodies = _library_macro_calls()
        pending = list(called)
        while pending:
            for name in bodies.get(pending.pop(), ()):
                if name not in called:
                    called.add(name)
                    pending.append(name)
        return called

    def check(self, con: duckdb.DuckDBPyConnection, values: Mapping[str, Any]) -> None:
        """Fail before any work on unknown sel_ functions or models the catalog does not hold."""
        models_needed = self.models_read(con, values)
        fitted = {str(values[p]) for p in self.fits if p in values}
        missing = sorted(models_needed - fitted)
        if missing:
            have = [r[0] for r in run_sql(con, "SELECT name FROM sel_models")]
            absent = [m for m in missing if m not in have]
            if absent:
                raise UnknownModelError(absent[0], have, "Fit it first, or pass --db with the catalog that holds it.")

    def models_read(self, con: duckdb.DuckDBPyConnection, values: Mapping[str, Any]) -> set[str]:
        """The catalog models the recipe's functions read, by name (UnknownFunctionError for a function unknown)."""
        from sqlsel.functions import load_families

        known = load_families()
        read = [facts for statement in self.statements(con) if (facts := statement_facts(statement.query)) is not None]
        calls = [call for facts in read for call in facts.calls]
        defined = {name for facts in read for name in facts.defines}
        macros = defined | _macros(con, {fname for fname, _ in calls if fname not in known and fname not in defined})
        models_needed: set[str] = set()
        for fname, args in calls:
            if fname not in known and fname not in macros:
                raise UnknownFunctionError(fname, [*known, *sorted(defined)])
            spec = known.get(fname)
            pos = list(spec.params).index(spec.model_param) if spec and spec.model_param else None
            if pos is not None and len(args) > pos:
                name = _literal(args[pos], values)
                if name is not None:
                    models_needed.add(name)
        return models_needed


Argument = tuple[str, str] | None  # ("string", text) or ("param", name); None for any other expression


@dataclass(frozen=True)
class StatementFacts:
    """What a run needs to know of one statement before running it, read by sqlglot.

    ``calls``: every ``sel_`` function or macro called, with its arguments that are string literals
    or ``$parameters`` (the model names a check looks up). ``tables``: the (database, table) names it
    reads, for a progress bar's total. ``defines``: the macro or function a ``CREATE MACRO`` or
    ``CREATE FUNCTION`` statement defines, so that a recipe may call a ``sel_`` macro of its own.
    """

    calls: tuple[tuple[str, tuple[Argument, ...]], ...]
    tables: tuple[tuple[str, str], ...]
    defines: tuple[str, ...] = ()


#: Bump when statement_facts reads trees differently: cached facts of older versions are ignored.
_FACTS_VERSION = 2


@functools.lru_cache(maxsize=256)
def statement_facts(sql: str) -> StatementFacts | None:
    """The :class:`StatementFacts` of one statement; None where sqlglot cannot read it.

    sqlglot's grammar lags DuckDB's, so analysis is best effort: the statement itself runs as written.
    Importing sqlglot and parsing a recipe take about a quarter of a second, so facts are kept per
    installation (:mod:`sqlsel.cache`), keyed by the statement's text: a recipe is
    parsed once, not once per run.
    """
    key = cache_key(_FACTS_VERSION, sql)
    cached = read_cached("statements", key)
    if cached is not None:
        return _facts_from_json(cached)
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.SqlglotError:
        tree = None
    facts = None
    if tree is not None:
        calls = tuple(
            (call.name.lower(), tuple(_argument(a) for a in call.expressions))
            for call in tree.find_all(exp.Anonymous)
            if call.name.lower().startswith("sel_")
        )
        defined = tree.this if isinstance(tree, exp.Create) and tree.kind in ("MACRO", "FUNCTION") else None
        facts = StatementFacts(
            calls,
            tuple((t.db, t.name) for t in tree.find_all(exp.Table) if t.name and t.parent is not defined),
            (defined.this.name.lower(),) if isinstance(defined, exp.UserDefinedFunction) else (),
        )
    write_cached("statements", key, {"parsed": False} if facts is None else {"parsed": True, **facts.__dict__})
    return facts


def with_columns(sql: str, columns: Mapping[str, str]) -> str:
    """``sql`` with each ``$name`` of a column parameter replaced by the column's quoted name.

    Prepared parameters are values, never identifiers; a column parameter's value has been checked
    against the inputs' columns before it gets here.
    """
    for name, column in columns.items():
        quoted = '"' + column.replace('"', '""') + '"'
        sql = re.sub(rf"\${re.escape(name)}\b", lambda _, q=quoted: q, sql)
    return sql


def first_line(sql: str) -> str:
    """A statement's first line of SQL (comments skipped): how runs and messages name it."""
    return next((ln.strip() for ln in sql.splitlines() if ln.strip() and not ln.strip().startswith("--")), "")


def line_of(text: str, statement: str) -> int | None:
    """The line of the recipe ``text`` where ``statement`` starts, when it can be found."""
    first = first_line(statement)
    for number, line in enumerate(text.splitlines(), 1):
        if first and line.strip() == first:
            return number
    return None


def _argument(node: Any) -> Argument:
    from sqlglot import exp

    if isinstance(node, exp.Literal) and node.is_string:
        return ("string", str(node.this))
    if isinstance(node, exp.Placeholder):
        return ("param", str(node.name))
    return None


def _facts_from_json(data: dict[str, Any]) -> StatementFacts | None:
    if not data.get("parsed"):
        return None
    calls = tuple(
        (str(name), tuple(None if a is None else (str(a[0]), str(a[1])) for a in args)) for name, args in data["calls"]
    )
    tables = tuple((str(db), str(name)) for db, name in data["tables"])
    return StatementFacts(calls, tables, tuple(str(name) for name in data.get("defines", ())))


def _macros(con: duckdb.DuckDBPyConnection, names: set[str]) -> set[str]:
    """Which of ``names`` are SQL macros on this connection (the sel_ macros of udfs/*.sql, or a user's).

    The library's are on every sqlsel connection; the others are looked up in one query, since
    listing ``duckdb_functions()`` takes 15-40 ms however few it returns.
    """
    library = names & _library_macro_calls().keys()
    others = names - library
    if not others:
        return library
    sql = (
        "SELECT DISTINCT function_name FROM duckdb_functions() "
        "WHERE function_type IN ('macro', 'table_macro') AND list_contains(?, function_name)"
    )
    return library | {str(r[0]) for r in run_sql(con, sql, [sorted(others)])}


_MACRO = re.compile(r"^CREATE\s+OR\s+REPLACE\s+MACRO\s+(\w+)", re.I | re.M)
_CALLS = re.compile(r"\b(sel_\w+)\s*\(", re.I)


@functools.lru_cache(maxsize=1)
def _library_macro_calls() -> dict[str, frozenset[str]]:
    """Each macro ``udfs/*.sql`` creates → the ``sel_`` names its body calls.

    Every sqlsel connection holds these macros (:func:`sqlsel.connection.create_macros`).
    """
    calls: dict[str, frozenset[str]] = {}
    for text in macro_files().values():
        starts = [(m.start(), m.group(1).lower()) for m in _MACRO.finditer(text)] + [(len(text), "")]
        for (start, name), (end, _) in itertools.pairwise(starts):
            body = text[start:end].split(" AS", 1)[-1]
            calls[name] = frozenset(n.lower() for n in _CALLS.findall(body)) - {name}
    return calls


def _literal(arg: Argument, values: Mapping[str, Any]) -> str | None:
    if arg is None:
        return None
    kind, text = arg
    if kind == "string":
        return text
    return str(values[text]) if text in values else None


def split_statements(con: duckdb.DuckDBPyConnection, text: str, source: str) -> list[Any]:
    """DuckDB's own statement splitter; a syntax error becomes :class:`RecipeSyntaxError`."""
    try:
        return list(con.extract_statements(text))
    except duckdb.ParserException as exc:
        raise _syntax_error(str(exc), text, source) from None


def _syntax_error(message: str, text: str, source: str) -> RecipeSyntaxError:
    """Turn DuckDB's ``LINE n: …`` + caret message into an absolute line and column."""
    first = message.splitlines()[0].replace("Parser Error: ", "")
    m = re.search(r"LINE (\d+): (.*)\n(\s*)\^", message)
    if not m:
        return RecipeSyntaxError(first, source)
    line = int(m.group(1))
    column = len(m.group(3)) - len(f"LINE {m.group(1)}: ") + 1
    snippet = m.group(2)
    # DuckDB shortens long lines with "..."; locate the snippet in the real line when it did
    lines = text.splitlines()
    if 0 < line <= len(lines) and snippet.startswith("...") and snippet[3:20] in lines[line - 1]:
        column += lines[line - 1].index(snippet[3:20]) - 3
    return RecipeSyntaxError(
        f"{first}\n  {lines[line - 1] if 0 < line <= len(lines) else snippet}\n  {' ' * (column - 1)}^",
        source,
        line,
        column,
    )


def parse_recipe(text: str, name: str, path: Path) -> Recipe:
    recipe = Recipe(name=name, path=path, text=text)
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith("--"):
            break
        m = _HEADER.match(line.strip())
        if not m:
            continue
        key, pname, value = m.group("key"), m.group("name"), m.group("value").strip()
        if key == "description":
            recipe.description = value
        elif key == "param" and pname:
            pm = _PARAM.match(value)
            if not pm or pm.group("type") not in _TYPES:
                raise ParameterError(
                    f"{path}: bad parameter declaration {line.strip()!r}; expected "
                    f"'-- param NAME: TYPE [= DEFAULT] [CHECK]; doc' with TYPE one of {', '.join(_TYPES)}"
                )
            try:
                check = Check.parse(pm.group("check")) if pm.group("check") else None
            except ValueError as exc:
                raise ParameterError(f"{path}: parameter {pname}: {exc}") from None
            doc = (pm.group("doc") or "").strip()
            recipe.params[pname] = Param(pname, pm.group("type"), pm.group("default"), doc, check)
        elif key == "key":
            recipe.keyed.extend(name.strip() for name in value.split(",") if name.strip())
        elif key == "optional" and pname:
            try:
                columns = dict(c.strip().split(None, 1) for c in value.split(",") if c.strip())
            except ValueError:
                raise ParameterError(
                    f"{path}: bad optional columns {line.strip()!r}; expected '-- optional TABLE: column TYPE, …'"
                ) from None
            recipe.optional[pname] = {c: t.strip() for c, t in columns.items()}
        elif key == "fits":
            recipe.fits.append(value)
        elif key == "metric" and pname:
            recipe.metrics[pname] = value
    return recipe


def recipe_names() -> list[str]:
    return sorted(p.stem for p in resource_dir("sql").glob("*.sql"))


def load_recipe(name_or_path: str | Path) -> Recipe:
    """A bundled recipe by name (``dsir_select``) or any ``.sql`` file by path."""
    path = Path(name_or_path)
    if path.suffix == ".sql" or path.exists():
        if not path.is_file():
            raise UnknownRecipeError(str(name_or_path), recipe_names(), "Pass a recipe name or an existing .sql file.")
        return parse_recipe(path.read_text(encoding="utf-8"), path.stem, path)
    bundled = resource_dir("sql") / f"{name_or_path}.sql"
    if not bundled.is_file():
        raise UnknownRecipeError(str(name_or_path), recipe_names(), "Pass a recipe name or an existing .sql file.")
    return parse_recipe(bundled.read_text(encoding="utf-8"), str(name_or_path), bundled)

"""Every error sqlsel raises on purpose.

Messages name the bad value, list the valid options where there are few, and say how to fix it.
The CLI prints ``str(error)`` and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable

__all__ = [
    "SqlselError",
    "UnknownNameError",
    "UnknownModelError",
    "UnknownVectorTableError",
    "UnknownIndexError",
    "UnknownRecipeError",
    "UnknownFunctionError",
    "UnknownAlgorithmError",
    "ParameterError",
    "RecipeSyntaxError",
    "InputError",
    "RowKeyError",
    "OutputError",
    "ReadOnlyCatalogError",
    "CatalogNotFoundError",
    "MigrationError",
    "MissingExtraError",
    "RunInterrupted",
    "did_you_mean",
]


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` when a close option exists, else the empty string.

    A prefix that every option shares (``sel_``), where the name has it too, is left out of the
    comparison: it would make any two names look alike.

    Example:
        >>> options = ["sel_token_count", "sel_ot_fit"]
        >>> did_you_mean("sel_token_cuont", options), did_you_mean("sel_short", options)
        (" Did you mean 'sel_token_count'?", '')
    """
    choices = list(options)
    shared = os.path.commonprefix(choices) if len(choices) > 1 else ""
    cut = len(shared) if name.startswith(shared) else 0
    close = difflib.get_close_matches(name[cut:], [c[cut:] for c in choices], n=1)
    return f" Did you mean {name[:cut] + close[0]!r}?" if close else ""


class SqlselError(Exception):
    """Base class: an error a user can fix, with a message that says how."""


class UnknownNameError(SqlselError):
    """A name (model, recipe, function) that does not exist.

    The message lists the known names, up to :attr:`MAX_LISTED` of them; beyond that it gives their
    number and the command that lists them (:attr:`listing`).
    """

    kind = "name"
    #: The command that lists every known name, for a message with too many to list.
    listing = ""
    MAX_LISTED = 12

    def __init__(self, name: str, options: Iterable[str], fix: str = "") -> None:
        options = sorted(options)
        listed = ", ".join(repr(o) for o in options) if options else "none"
        if len(options) > self.MAX_LISTED:
            first = ", ".join(repr(o) for o in options[: self.MAX_LISTED])
            listed = f"{len(options)}" + (f" ({self.listing} lists them)" if self.listing else f": {first}, …")
        plural = getattr(self, "plural", self.kind + "s")
        message = f"Unknown {self.kind} {name!r}.{did_you_mean(name, options)} Known {plural}: {listed}."
        super().__init__(message + (f" {fix}" if fix else ""))
        self.name = name
        self.options = options


class UnknownModelError(UnknownNameError):
    kind = "model"
    listing = "`sqlsel models`"


class UnknownVectorTableError(UnknownNameError):
    kind = "vector table"


class UnknownIndexError(UnknownNameError):
    kind = "vector index"
    plural = "vector indexes"


class UnknownRecipeError(UnknownNameError):
    kind = "recipe"


class UnknownFunctionError(UnknownNameError):
    kind = "function"
    listing = "`sqlsel functions`"


class UnknownAlgorithmError(UnknownNameError):
    kind = "compression algorithm"


class ParameterError(SqlselError):
    """A recipe parameter that is missing, unknown or of the wrong type."""


class RecipeSyntaxError(SqlselError):
    """SQL that does not parse; carries the line and column of the error."""

    def __init__(self, message: str, source: str, line: int | None = None, column: int | None = None) -> None:
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(f"Syntax error in {source}{where}: {message}")
        self.line = line
        self.column = column


class InputError(SqlselError):
    """An input file that is missing or unreadable, or input data that is not what a function needs."""


class RowKeyError(InputError):
    """A key column that is missing, of a type that cannot name rows, or with NULL or duplicate keys."""


class OutputError(SqlselError):
    """An output path sqlsel cannot write, or one that would overwrite an input."""


class ReadOnlyCatalogError(SqlselError):
    """A write to a catalog opened read-only."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"The catalog is open read-only, so {what} cannot be stored in it. "
            "Open it writable (without --read-only / read_only=True), or as a user who may write it."
        )


class CatalogNotFoundError(SqlselError):
    """A read command given a catalog file that does not exist."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"No catalog at {path!r}: the file does not exist. Pass --db with an existing catalog "
            "(or set $SQLSEL_DB); `sqlsel run` creates one."
        )


class MigrationError(SqlselError):
    """A catalog migration that failed or cannot be applied."""


class MissingExtraError(SqlselError):
    """An optional dependency that is not installed."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(f"{what} needs an optional dependency: pip install 'sqlsel[{extra}]'")


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C (or ``con.interrupt()``): recorded as interrupted, nothing written."""

    def __init__(self, run_id: int | None) -> None:
        where = f"run {run_id} is recorded as interrupted" if run_id is not None else "the run was not recorded"
        super().__init__(f"Interrupted: {where}; no output was written and no model changed.")
        self.run_id = run_id

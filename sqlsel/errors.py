"""Every error sqlsel raises on purpose.

Messages name the bad value, list the valid options where there are few, and say how to fix it.
The CLI prints ``str(error)`` and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "SqlselError",
    "UnknownNameError",
    "UnknownModelError",
    "UnknownRecipeError",
    "UnknownFunctionError",
    "UnknownAlgorithmError",
    "ParameterError",
    "RecipeSyntaxError",
    "InputError",
    "OutputError",
    "MigrationError",
    "MissingExtraError",
    "did_you_mean",
]


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` when a close option exists, else the empty string."""
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


class SqlselError(Exception):
    """Base class: an error a user can fix, with a message that says how."""


class UnknownNameError(SqlselError):
    """A name (model, recipe, function) that does not exist."""

    kind = "name"

    def __init__(self, name: str, options: Iterable[str], fix: str = "") -> None:
        options = sorted(options)
        listed = ", ".join(repr(o) for o in options) if options else "none"
        plural = getattr(self, "plural", self.kind + "s")
        message = f"Unknown {self.kind} {name!r}.{did_you_mean(name, options)} Known {plural}: {listed}."
        super().__init__(message + (f" {fix}" if fix else ""))
        self.name = name
        self.options = options


class UnknownModelError(UnknownNameError):
    kind = "model"


class UnknownRecipeError(UnknownNameError):
    kind = "recipe"


class UnknownFunctionError(UnknownNameError):
    kind = "function"


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


class OutputError(SqlselError):
    """An output path sqlsel cannot write."""


class MigrationError(SqlselError):
    """A catalog migration that failed or cannot be applied."""


class MissingExtraError(SqlselError):
    """An optional dependency that is not installed."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(f"{what} needs an optional dependency: pip install 'sqlsel[{extra}]'")

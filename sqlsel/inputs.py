"""A run's inputs and output: files become views, keys and output paths are checked before any work.

:func:`register_input` turns a path or glob of Parquet, JSONL or CSV files (or an Arrow table or
DuckDB relation) into a view; :func:`check_key` makes sure its rows carry a unique, non-NULL key of a
type that can name rows, naming an offending key (and, across files, both files) in one line.
:func:`output_path` refuses an output path that cannot be written and :func:`check_not_an_input`
one that is one of the inputs, before the run does any work, and :func:`remove_stale_temporaries`
clears what a killed run left.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from sqlsel.duck import run_sql, sql_identifier, sql_string
from sqlsel.errors import InputError, OutputError, RowKeyError
from sqlsel.kernels.keys import key_type_problem
from sqlsel.processes import alive

__all__ = [
    "Input",
    "OUTPUT_FORMATS",
    "register_input",
    "check_key",
    "key_column",
    "check_key_counts",
    "output_path",
    "remove_output",
    "PARTS",
    "PARTS_MARKER",
    "check_not_an_input",
    "temporary_path",
    "remove_stale_temporaries",
    "table_function",
]

OUTPUT_FORMATS = {".parquet": "parquet", ".jsonl": "json", ".csv": "csv"}
_READERS = {".parquet": "parquet", ".jsonl": "json", ".ndjson": "json", ".json": "json", ".csv": "csv"}
_RAW = "_sel_raw_{}"  # the view over an input as it is, before its key column is named id


@dataclass
class Input:
    """One table parameter of a run: the view ``name`` and where its rows come from."""

    name: str
    reader: str  # parquet | json | csv | arrow | relation
    files: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)  # what the run record keeps of it
    rows: int | None = None  # counted by check_key
    optional: dict[str, str] = field(default_factory=dict)  # columns the recipe may read: name -> DuckDB type
    missing: list[str] = field(default_factory=list)  # optional columns the files lack (NULL in the view)

    def flags(self) -> dict[str, bool]:
        """``{<input>_has_<column>: bool}`` for each optional column: the recipe's parameters saying which it has."""
        return {f"{self.name}_has_{c}": c not in self.missing for c in self.optional}


def register_input(
    con: duckdb.DuckDBPyConnection, name: str, value: Any, optional: dict[str, str] | None = None
) -> Input:
    """Create the view ``name`` over the files (or relation, Arrow table) passed for it.

    ``optional`` columns (name -> DuckDB type) that the input lacks are NULL columns of the view, so a
    recipe can name them; :meth:`Input.flags` says which are there.
    """
    given = _registered(con, name, value)
    try:
        given.optional = dict(optional or {})
        present = {r[0].lower() for r in run_sql(con, f'DESCRIBE SELECT * FROM "{_RAW.format(name)}"')}
        given.missing = [c for c in given.optional if c.lower() not in present]
        return _view(con, given)
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # the caller never gets it to drop; its own error is the one to see
            drop_input(con, given)
        raise


def _registered(con: duckdb.DuckDBPyConnection, name: str, value: Any) -> Input:
    raw = _RAW.format(name)
    if isinstance(value, duckdb.DuckDBPyRelation):
        value.create_view(raw, replace=True)
        return Input(name, "relation", records=[{"relation": name}])
    if isinstance(value, pa.RecordBatchReader):
        value = value.read_all()  # read once: the key check and the recipe each scan it
    if isinstance(value, pa.Table):
        con.register(f"_sel_input_{name}", value)
        run_sql(con, f'CREATE OR REPLACE TEMP VIEW "{raw}" AS SELECT * FROM _sel_input_{name}')
        return Input(name, "arrow", records=[{"arrow": name, "rows": getattr(value, "num_rows", None)}])
    pattern = str(value)
    files = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else ([pattern] if os.path.isfile(pattern) else [])
    if not files:
        what = "No files match" if glob.has_magic(pattern) else "No such file"
        raise InputError(f"{what}: {pattern!r} (parameter {name}). Pass an existing Parquet or JSONL path or glob.")
    broken = [f for f in files if not os.path.isfile(f)]
    if broken:
        raise InputError(f"Parameter {name}: {broken[0]!r} is not a readable file (a broken link?).")
    if all(os.path.getsize(f) == 0 for f in files):
        raise InputError(f"Parameter {name}: {pattern!r} is empty (0 bytes). Pass a file with rows.")
    kinds = {_READERS.get(Path(f).suffix.lower()) for f in files}
    if None in kinds or len(kinds) != 1:
        raise InputError(f"Parameter {name}: files must all be one of {', '.join(sorted(_READERS))}; got {pattern!r}.")
    kind = kinds.pop()
    assert kind is not None
    _relation(con, kind, files).create_view(raw, replace=True)
    records = [{"path": os.path.abspath(f), "size": os.path.getsize(f), "mtime": os.path.getmtime(f)} for f in files]
    return Input(name, kind, [os.path.abspath(f) for f in files], records)


def table_function(path: str | Path | None) -> str | None:
    """DuckDB SQL reading a file, a glob or a folder of Parquet parts as inputs are read, or None.

    None where nothing is there to read, or the extension is not one sqlsel reads (reports and reruns
    look at recorded inputs and outputs, which may be gone since).
    """
    if not path:
        return None
    p = Path(path)
    if p.is_dir():
        p = p / "*.parquet"
    if not (glob.glob(str(p)) if glob.has_magic(str(p)) else p.is_file()):
        return None
    kind = _READERS.get(p.suffix.lower())
    if kind == "parquet":
        return f"read_parquet({sql_string(str(p))})"
    if kind == "json":
        return f"read_json({sql_string(str(p))}, format = 'newline_delimited')"
    return f"read_csv({sql_string(str(p))})" if kind == "csv" else None


def _relation(con: duckdb.DuckDBPyConnection, kind: str, files: list[str], filename: bool = False) -> Any:
    if kind == "parquet":
        return con.read_parquet(files, filename=filename)
    if kind == "json":
        return con.read_json(files, format="newline_delimited", filename=filename)
    return con.read_csv(files, filename=filename)


def _view(con: duckdb.DuckDBPyConnection, given: Input, key: str | None = None) -> Input:
    """The input's public view: its raw view, with the key column named ``id`` when it is another column."""
    raw = _RAW.format(given.name)
    nulls = "".join(f", NULL::{given.optional[c]} AS {sql_identifier(c)}" for c in given.missing)
    select = (
        f'SELECT * RENAME ({sql_identifier(key)} AS id){nulls} FROM "{raw}"'
        if key and key.lower() != "id"
        else f'SELECT *{nulls} FROM "{raw}"'
    )
    run_sql(con, f'CREATE OR REPLACE TEMP VIEW "{given.name}" AS {select}')
    return given


def drop_input(con: duckdb.DuckDBPyConnection, given: Input) -> None:
    """Remove an input's views (and the Arrow table registered for it) when its run ends."""
    run_sql(con, f'DROP VIEW IF EXISTS "{given.name}"')
    run_sql(con, f'DROP VIEW IF EXISTS "{_RAW.format(given.name)}"')
    if given.reader == "arrow":
        con.unregister(f"_sel_input_{given.name}")


def check_key(con: duckdb.DuckDBPyConnection, given: Input, key: str = "id") -> None:
    """Make sure every row of ``given`` has a unique, non-NULL ``key`` of an integer or string type.

    Renames the key to ``id`` in the input's view when it is another column, and counts the rows
    (``given.rows``). Costs one scan of the key column (Parquet reads that column only) and a hash of
    its values.
    """
    column = key_column(con, given, key)
    raw = _RAW.format(given.name)
    n, non_null, distinct = run_sql(
        con, f'SELECT count(*), count({sql_identifier(column)}), count(DISTINCT {sql_identifier(column)}) FROM "{raw}"'
    )[0]
    check_key_counts(con, given, column, int(n), int(non_null), int(distinct))


def key_column(con: duckdb.DuckDBPyConnection, given: Input, key: str = "id") -> str:
    """The input's key column as spelled in its files, refused if missing, ambiguous or of a type that cannot key rows.

    Reads the files' schemas only.
    """
    raw = _RAW.format(given.name)
    columns = {r[0].lower(): (r[0], r[1]) for r in run_sql(con, f'DESCRIBE SELECT * FROM "{raw}"')}
    if key.lower() not in columns:
        raise RowKeyError(_missing_key(given, key, [c for c, _ in columns.values()]))
    column, kind = columns[key.lower()]
    if key.lower() != "id" and "id" in columns:
        raise RowKeyError(
            f"{given.name} has both an id column and the key column {column!r}: rename or drop its id column "
            f"(the recipes call the key id, and the output names it {column!r} again)."
        )
    _check_key_type(given.name, column, kind)
    return column


def check_key_counts(
    con: duckdb.DuckDBPyConnection, given: Input, column: str, n: int, non_null: int, distinct: int
) -> None:
    """Refuse an input without rows or with NULL or duplicate keys (naming one, read by DuckDB), else name the key id.

    ``n``, ``non_null`` and ``distinct`` are the counts of rows, keys and distinct keys, from whichever engine runs.
    """
    if n == 0:
        raise InputError(f"{given.name} has no rows: there is nothing to select from.{_where(given)}")
    if non_null < n:
        raise RowKeyError(_null_keys(con, given, column, n - non_null))
    if distinct < n:
        raise RowKeyError(_duplicate_keys(con, given, column))
    _view(con, given, column)
    given.rows = int(n)


def _missing_key(given: Input, key: str, columns: list[str]) -> str:
    source = given.files[0] if given.files else "pool.parquet"
    return (
        f"{given.name} has no key column {key!r} (its columns: {', '.join(columns)}). Name the column that "
        f"identifies rows with --key COLUMN (key= in run_recipe), or add one, e.g. COPY (SELECT row_number() "
        f"OVER () AS id, * FROM '{source}') TO 'with_id.parquet'."
    )


def _check_key_type(name: str, column: str, kind: str) -> None:
    problem = key_type_problem(kind)
    if problem is not None:
        raise RowKeyError(f"{name}'s key column {column!r} is {problem} (--key COLUMN).")


def _null_keys(con: duckdb.DuckDBPyConnection, given: Input, column: str, count: int) -> str:
    files = _files_where(con, given, f"{sql_identifier(column)} IS NULL", [], 1)
    where = f" (the first in {files[0]})" if files else ""
    return (
        f"{given.name} has {count} row{'s' if count > 1 else ''} with a NULL {column}{where}: every row needs a key. "
        f"Fill them in, or leave them out (WHERE {column} IS NOT NULL)."
    )


def _duplicate_keys(con: duckdb.DuckDBPyConnection, given: Input, column: str) -> str:
    col = sql_identifier(column)
    key, count = run_sql(
        con,
        f'SELECT {col}, count(*) FROM "{_RAW.format(given.name)}" WHERE {col} IS NOT NULL '
        f"GROUP BY {col} HAVING count(*) > 1 ORDER BY {col} LIMIT 1",
    )[0]
    files = _files_where(con, given, f"{col} = ?", [key], 2)
    where = f" (in {files[0]} and {files[1]})" if len(files) > 1 else f" (in {files[0]})" if files else ""
    return (
        f"{given.name}: {column} {key!r} appears {count} times{where}; keys must be unique. Keep one row per "
        f"key first, e.g. SELECT * FROM {given.name} QUALIFY row_number() OVER (PARTITION BY {column}) = 1."
    )


def _files_where(
    con: duckdb.DuckDBPyConnection, given: Input, condition: str, params: list[Any], limit: int
) -> list[str]:
    """Up to ``limit`` of the input's files that hold a row matching ``condition`` (none without files)."""
    if not given.files:
        return []
    try:
        _relation(con, given.reader, given.files, filename=True).create_view("_sel_by_file", replace=True)
        rows = run_sql(
            con,
            f"SELECT DISTINCT filename FROM _sel_by_file WHERE {condition} ORDER BY filename LIMIT {int(limit)}",
            params,
        )
    except duckdb.Error:  # e.g. the data has a column called filename: the message goes without the files
        return []
    finally:
        run_sql(con, "DROP VIEW IF EXISTS _sel_by_file")
    return [str(r[0]) for r in rows]


def _where(given: Input) -> str:
    return f" ({', '.join(given.files[:3])}{', …' if len(given.files) > 3 else ''})" if given.files else ""


#: The format of an output folder (``--out DIR/``): Parquet part files, in the output's order by name.
PARTS = "parquet parts"
#: The file that marks a folder as sqlsel's output, which a later run may replace.
PARTS_MARKER = "_SQLSEL_OUTPUT"


def output_path(out: str | Path | None) -> tuple[Path | None, str | None]:
    """The output path and format, refused now (before any work) if it cannot be written.

    A path ending in ``/`` is a folder of Parquet part files (:data:`PARTS`); it may exist only empty
    or as an earlier sqlsel output (holding :data:`PARTS_MARKER`), which the run then replaces.
    """
    if out is None:
        return None, None
    path = Path(out)
    parts = str(out).endswith(("/", os.sep))
    fmt = PARTS if parts else OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(
            f"Cannot write {str(path)!r}: the output extension must be one of {', '.join(OUTPUT_FORMATS)}, "
            "or end the path with / for a folder of Parquet parts."
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"Cannot write {str(path)!r}: folder {str(folder)!r} does not exist.")
    if path.is_dir() and not parts:
        raise OutputError(f"Cannot write {str(path)!r}: it is a folder (end it with / to write Parquet parts there).")
    if parts and path.exists() and not (path.is_dir() and (not any(path.iterdir()) or (path / PARTS_MARKER).exists())):
        raise OutputError(
            f"Cannot write {str(path)!r}: it exists and is not an earlier sqlsel output; pass a new folder."
        )
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".sqlsel-probe-"):
            pass
    except OSError as exc:
        raise OutputError(
            f"Cannot write {str(path)!r}: folder {str(folder)!r} is not writable ({exc.strerror})."
        ) from None
    return path, fmt


def check_not_an_input(path: Path | None, inputs: list[Input]) -> None:
    """Refuse an output path that is one of the input files: writing it would replace what is read."""
    if path is None:
        return
    real = os.path.realpath(path)
    for given in inputs:
        files = {os.path.realpath(f) for f in given.files}
        if real in files or any(f.startswith(real + os.sep) for f in files):
            raise OutputError(
                f"Cannot write {str(path)!r}: it is one of the {given.name} files, and the output would replace "
                "it. Write the selection to another path."
            )


def temporary_path(out: Path) -> Path:
    """Where the output is written before it is renamed into place: ``.NAME.PID.tmp`` beside it."""
    return out.with_name(f".{out.name}.{os.getpid()}.tmp")


def remove_stale_temporaries(out: Path) -> list[Path]:
    """Remove the temporaries of ``out`` that processes which no longer run left behind (``kill -9``)."""
    removed = []
    for candidate in out.parent.glob(f".{glob.escape(out.name)}.*.tmp*"):  # .tmp, and Spark's .tmp.parts
        pid = candidate.name[len(out.name) + 2 :].split(".")[0]
        if pid.isdigit() and not alive(int(pid)):
            remove_output(candidate)
            removed.append(candidate)
    return removed


def remove_output(path: Path) -> None:
    """Remove an output file or folder of parts (or its temporary), if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)

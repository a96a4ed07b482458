"""Repeat a recorded run, and say what differs between two runs.

A run's record holds what a rerun needs (see ARCHITECTURE, decision 2): the recipe's text, the bound
parameters and seed, the key column, threads, and every input file with its size and mtime.
:func:`rerun` runs that text again with those parameters, fitting into model names of its own so the
user's current models stay as they are, and says whether it selected the same keys (the digests of
the sorted keys match) and which inputs changed since. :func:`diff_runs` compares two records and,
where both outputs still exist, their selected keys::

    >>> result = rerun(con, 3)                      # doctest: +SKIP
    >>> result.same, result.changed_inputs          # doctest: +SKIP
    (True, [])
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from sqlsel.catalog import get_run
from sqlsel.duck import sql_identifier
from sqlsel.errors import InputError, SqlselError
from sqlsel.inputs import table_function
from sqlsel.recipe import parse_recipe
from sqlsel.runner import RunResult, run_recipe

__all__ = ["RerunResult", "rerun", "diff_runs", "changed_inputs", "rerun_model_name"]


@dataclass
class RerunResult:
    """A rerun: the new run, whether it selected what the recorded one did, and what changed since."""

    of: int
    result: RunResult
    recorded_digest: str | None
    changed_inputs: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return self.recorded_digest is not None and self.result.selection_digest == self.recorded_digest


def rerun_model_name(name: str, run_id: int) -> str:
    """The model name a rerun of ``run_id`` fits into instead of ``name``."""
    return f"{name}_rerun{run_id}"


def _record(con: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, Any]:
    record = get_run(con, run_id)
    if record is None:
        known = [r[0] for r in con.execute("SELECT run_id FROM sel_runs ORDER BY run_id DESC LIMIT 5").fetchall()]
        raise SqlselError(f"No run {run_id} in the catalog; the latest are {known or 'none'} (sqlsel runs lists them).")
    return record


def changed_inputs(record: dict[str, Any]) -> list[str]:
    """What changed in a run's input files since it ran: each a line naming the file and the change."""
    changes = []
    recorded = {r["path"]: r for r in record.get("inputs") or [] if "path" in r}
    for path, r in recorded.items():
        if not os.path.isfile(path):
            changes.append(f"{path}: missing")
            continue
        size, mtime = os.path.getsize(path), os.path.getmtime(path)
        if size != r["size"]:
            changes.append(f"{path}: {r['size']:,} bytes when recorded, {size:,} now")
        elif abs(mtime - r["mtime"]) > 1e-6:
            changes.append(f"{path}: modified since the run (same size)")
    for value in (record.get("params") or {}).values():  # a glob that now matches more files
        if isinstance(value, str) and glob.has_magic(value):
            for path in sorted(glob.glob(value)):
                if os.path.abspath(path) not in recorded and recorded:
                    changes.append(f"{os.path.abspath(path)}: new file matching {value!r}")
    return changes


def rerun(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    *,
    out: str | Path | None = None,
    strict: bool = False,
    engine: str = "duckdb",
    master: str | None = None,
) -> RerunResult:
    """Run recorded run ``run_id`` again: its recipe text, parameters, seed, key and threads.

    Models the recipe fits (its ``-- fits:`` parameters) get names of their own
    (:func:`rerun_model_name`). Inputs that changed since are listed in the result, or refused with
    ``strict``. Runs recorded before the recipe's text was kept (migration 0006) cannot be rerun.
    """
    record = _record(con, run_id)
    text = record.get("recipe_text")
    if not text:
        raise SqlselError(
            f"Run {run_id} was recorded without its recipe's text (before migration 0006, or it failed before "
            "reading it), so it cannot be rerun. Run the recipe again with the parameters `sqlsel runs show` lists."
        )
    params = dict(record.get("params") or {})
    opaque = [k for k, v in params.items() if isinstance(v, str) and v.startswith("<") and v.endswith(">")]
    if opaque:
        raise SqlselError(
            f"Run {run_id} read parameter {opaque[0]} from memory ({params[opaque[0]]}), not from a file: "
            "it cannot be rerun from the catalog."
        )
    label = str(record["recipe"])
    recipe = parse_recipe(text, Path(label).stem, Path(label))
    for name in recipe.fits:
        if name in params and params[name] is not None:
            params[name] = rerun_model_name(str(params[name]), run_id)
    changes = changed_inputs(record)
    if changes and strict:
        raise InputError(f"The inputs of run {run_id} changed since it ran: " + "; ".join(changes) + ".")
    result = run_recipe(
        recipe,
        params,
        con=con,
        out=out,
        threads=record.get("threads"),
        key=record.get("key_column") or "id",
        engine=engine,
        master=master,
    )
    return RerunResult(run_id, result, record.get("selection_digest"), changes)


_COMPARED = ("recipe", "query_hash", "engine", "sqlsel_version", "duckdb_version", "key_column", "threads", "seed")


def diff_runs(con: duckdb.DuckDBPyConnection, a: int, b: int) -> dict[str, Any]:
    """What differs between runs ``a`` and ``b``: fields, parameters, inputs, and their selected keys.

    ``keys`` compares the selections: equal digests, and where both output files still exist, how
    many keys each selected and how many both did.
    """
    ra, rb = _record(con, a), _record(con, b)
    fields = {k: [ra.get(k), rb.get(k)] for k in _COMPARED if ra.get(k) != rb.get(k)}
    pa_, pb = ra.get("params") or {}, rb.get("params") or {}
    params = {k: [pa_.get(k), pb.get(k)] for k in sorted(set(pa_) | set(pb)) if pa_.get(k) != pb.get(k)}
    ia = {r.get("path"): r for r in ra.get("inputs") or []}
    ib = {r.get("path"): r for r in rb.get("inputs") or []}
    inputs = {
        str(p): [_input_fact(ia.get(p)), _input_fact(ib.get(p))]
        for p in sorted(set(ia) | set(ib), key=str)
        if _input_fact(ia.get(p)) != _input_fact(ib.get(p))
    }
    keys: dict[str, Any] = {"same_digest": ra.get("selection_digest") == rb.get("selection_digest") is not None}
    keys.update(_overlap(con, ra, rb))
    return {"runs": [a, b], "fields": fields, "params": params, "inputs": inputs, "keys": keys}


def _input_fact(record: dict[str, Any] | None) -> str | None:
    return None if record is None else f"{record.get('size', 0):,} bytes, mtime {record.get('mtime')}"


def _overlap(con: duckdb.DuckDBPyConnection, ra: dict[str, Any], rb: dict[str, Any]) -> dict[str, Any]:
    paths = [table_function(r.get("output_path")) for r in (ra, rb)]
    missing = [r["run_id"] for r, p in zip((ra, rb), paths, strict=True) if p is None]
    if missing:
        return {"overlap": None, "why": f"the output of run {missing[0]} is not on disk (or was not written)"}
    selects = [
        f"SELECT DISTINCT {sql_identifier(r.get('key_column') or 'id')}::VARCHAR AS k FROM {p}"
        for r, p in zip((ra, rb), paths, strict=True)
    ]
    try:
        n_a, n_b, both = con.execute(
            f"WITH a AS ({selects[0]}), b AS ({selects[1]}) "
            "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b), (SELECT count(*) FROM a JOIN b USING (k))"
        ).fetchall()[0]
    except duckdb.Error as exc:
        return {"overlap": None, "why": f"cannot read the outputs: {str(exc).splitlines()[0]}"}
    return {"selected": [n_a, n_b], "overlap": both, "jaccard": both / max(n_a + n_b - both, 1)}

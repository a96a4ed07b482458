"""What a run selected and why, from its record and its output: the data of ``sqlsel report``.

:func:`report` gathers, for one recorded run, every number a person looks at: the run (recipe, hash,
parameters, seed, versions, inputs, time per statement), the funnel (rows in, rows after each
statement, the recipe's metrics, rows out), the distribution of the recipe's score among the rows it
output (for DSIR also over the whole pool, with the cut marked), the composition of pool and output
by ``by`` columns, cluster sizes of dedup runs, and sample rows. It reads the pool at most once more,
and only the columns it needs. :mod:`sqlsel.report_html` draws it::

    >>> r = report(con, 3, by=["source"])          # doctest: +SKIP
    >>> r.data["funnel"]["rows_out"]               # doctest: +SKIP
    1000
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from sqlsel.catalog import get_run
from sqlsel.duck import run_sql, sql_identifier, sql_string
from sqlsel.errors import SqlselError
from sqlsel.inputs import table_function
from sqlsel.recipe import parse_recipe

__all__ = ["Report", "report", "SCORE_COLUMNS"]

#: The column of each bundled recipe's output that explains the choice (its score or similarity).
SCORE_COLUMNS = {
    "dsir_select": "log_weight",
    "zipfit_select": "zipfit",
    "balanced_sample": "centroid_distance",
    "semdedup": "max_sim",
    "d4": "centroid_distance",
    "diverse_topk": "nearest_sim",
    "exact_dedup": "copies",
    "minhash_dedup": "jaccard",
    "color_filter": "color_score",
    "otgrad_select": "ot_gradient",
    "tarot_select": "tarot_similarity",
    "mig_select": "mig_gain",
}
#: Over the whole pool, where the run's model is still the current one: the same score as the output's
#: (formatted with the run's parameters as SQL literals, and ``has_embedding``: whether the pool has that column).
POOL_SCORES = {
    "dsir_select": "sel_dsir_weight(text, {model})",
    "zipfit_select": "CASE WHEN {mode} = 'fast' THEN sel_zipfit_fast(text, {model}) ELSE sel_zipfit(text, {model}) END",
    "balanced_sample": "sel_centroid_distance(sel_recipe_embedding({embedding}, text, {embedder}, {dim}, "
    "{has_embedding}), {model})",
}
_TOP = 15  # values of a --by column shown; the rest are summed as "(other)"
_SAMPLE = 5
_TEXT = 240


@dataclass
class Report:
    """A run's report: ``data`` holds every number shown (JSON-able); ``to_html()`` draws it."""

    data: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({**self.data, "notes": self.notes}, indent=2, default=str)

    def to_html(self) -> str:
        from sqlsel.report_html import render

        return render(self)

    def _repr_html_(self) -> str:
        return self.to_html()

    def write(self, html_path: str | Path) -> tuple[Path, Path]:
        """Write the HTML file and ``<stem>.json`` beside it; return both paths."""
        html = Path(html_path)
        html.write_text(self.to_html(), encoding="utf-8")
        data = html.with_suffix(".json")
        data.write_text(self.to_json() + "\n", encoding="utf-8")
        return html, data


def report(con: duckdb.DuckDBPyConnection, run_id: int, by: list[str] | tuple[str, ...] = ()) -> Report:
    """The report of run ``run_id`` (see the module docstring); ``by`` names pool columns to compare."""
    record = get_run(con, run_id)
    if record is None:
        raise SqlselError(f"No run {run_id} in the catalog (sqlsel runs lists them).")
    recipe_name = Path(str(record["recipe"])).stem
    params = record.get("params") or {}
    rep = Report({"run": _run_section(record), "statements": record.get("statements") or []})
    key = record.get("key_column") or "id"
    output = table_function(record.get("output_path"))
    pool_param = _pool_param(record)
    pool = _pool_reader(params.get(pool_param)) if pool_param else None
    if output is None:
        rep.notes.append("the output is not on disk (or was not written): only the record is shown")
    rep.data["funnel"] = _funnel(con, record, pool)
    score = SCORE_COLUMNS.get(recipe_name)
    if recipe_name == "ccs_select":
        score = params.get("score")
    columns = _columns(con, output) if output else []
    model = _current_model(con, record)
    if score and score in columns:
        scores = _scores(con, output, str(score), recipe_name, record, pool, model, rep.notes)
        if scores["selected"]["n"] or "pool" in scores:  # a column of NULLs (no row removed) has nothing to draw
            rep.data["scores"] = scores
    if output and model and recipe_name == "dsir_select" and "text" in columns:
        rep.data["dsir_grams"] = _dsir_grams(con, output, model)
    if output and model and recipe_name == "balanced_sample" and "clusters" in columns:
        rep.data["quotas"] = _quotas(con, output, model)
    if output and "cluster_size" in columns:
        rep.data["cluster_sizes"] = _counts(con, f"SELECT cluster_size AS v, count(*) AS n FROM {output} GROUP BY v")
    if output and pool and by:
        rep.data["composition"] = {c: _composition(con, pool, output, key, c, rep.notes) for c in by}
    if output:
        rep.data["samples"] = _samples(con, output, key, columns, str(score) if score else None)
        if rep.data.get("scores"):
            rep.data["nearest_cut"] = _samples(con, output, key, columns, str(score), ascending=True)
        if pool and "dup_of" in columns and "text" in columns:
            rep.data["duplicate_pairs"] = _pairs(con, output, pool, key)
    return rep


def _run_section(record: dict[str, Any]) -> dict[str, Any]:
    fields = ["run_id", "recipe", "query_hash", "status", "seed", "engine", "sqlsel_version", "duckdb_version"]
    fields += ["threads", "memory_limit", "key_column", "rows_out", "selection_digest", "output_path", "error"]
    run = {f: record.get(f) for f in fields}
    run["params"] = record.get("params") or {}
    run["inputs"] = [{"path": i.get("path"), "size": i.get("size")} for i in record.get("inputs") or []]
    started, ended = record.get("started"), record.get("ended")
    run["started"] = str(started) if started else None
    run["seconds"] = (ended - started).total_seconds() if started and ended else None
    run["metrics"] = record.get("metrics") or {}
    return run


def _pool_param(record: dict[str, Any]) -> str | None:
    """The recipe's keyed table parameter (its pool), from the recorded recipe text."""
    text = record.get("recipe_text")
    if not text:
        return None
    recipe = parse_recipe(text, Path(str(record["recipe"])).stem, Path(str(record["recipe"])))
    return recipe.keyed[0] if recipe.keyed else None


def _pool_reader(value: Any) -> str | None:
    """The pool as recorded (a path or glob; an in-memory input is recorded as ``<…>``), read again."""
    return None if not isinstance(value, str) or value.startswith("<") else table_function(value)


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [r[0] for r in run_sql(con, f"DESCRIBE SELECT * FROM {relation}")]


def _funnel(con: duckdb.DuckDBPyConnection, record: dict[str, Any], pool: str | None) -> dict[str, Any]:
    rows_in = None
    if pool:
        try:
            rows_in = run_sql(con, f"SELECT count(*) FROM {pool}")[0][0]
        except duckdb.Error:
            rows_in = None
    stages = [{"statement": s.get("sql"), "rows": s.get("rows")} for s in record.get("statements") or []]
    return {
        "rows_in": rows_in,
        "stages": stages,
        "metrics": record.get("metrics") or {},
        "rows_out": record.get("rows_out"),
    }


def _values(con: duckdb.DuckDBPyConnection, sql: str) -> np.ndarray:
    """The finite values of column ``v`` of a query, as float64 (one pass over its rows)."""
    v = con.sql(sql).fetchnumpy()["v"]
    v = np.asarray(v.filled(np.nan) if np.ma.isMaskedArray(v) else v, dtype=np.float64)
    return v[np.isfinite(v)]


def _histogram(values: np.ndarray, bins: int | list[float] = 40) -> dict[str, Any]:
    """Counts of ``values`` in ``bins`` equal bins between their minimum and maximum (or in given edges)."""
    if not len(values):
        return {"edges": [], "counts": [], "n": 0}
    counts, edges = np.histogram(values, bins=bins)
    return {"edges": edges.tolist(), "counts": counts.tolist(), "n": len(values)}


def _scores(
    con: duckdb.DuckDBPyConnection,
    output: str,
    column: str,
    recipe: str,
    record: dict[str, Any],
    pool: str | None,
    model: tuple[int, str, dict] | None,
    notes: list[str],
) -> dict[str, Any]:
    selected = _values(con, f"SELECT {sql_identifier(column)}::DOUBLE AS v FROM {output}")
    result: dict[str, Any] = {"column": column, "selected": _histogram(selected)}
    result["cut"] = float(selected.min()) if len(selected) else None
    name = (record.get("params") or {}).get("model")
    if recipe in POOL_SCORES and pool and name:
        if model is not None:
            has_embedding = "embedding" in _columns(con, pool)
            literals = {k: sql_string(v) if isinstance(v, str) else repr(v) for k, v in record["params"].items()}
            literals |= {"has_embedding": str(has_embedding).lower()}
            literals["embedding"] = "embedding" if has_embedding else "NULL::FLOAT[]"
            expr = POOL_SCORES[recipe].format(**literals)
            scores = _values(con, f"SELECT {expr} AS v FROM {pool} WHERE text IS NOT NULL")
            result["pool"] = _histogram(scores)
            result["selected"] = _histogram(selected, result["pool"]["edges"])  # the same bins, to compare
            if result["cut"] is not None:
                result["pool_above_cut"] = int((scores >= result["cut"]).sum())
        else:
            notes.append(f"model {name!r} was refitted by a later run: the pool's scores are not shown")
    return result


def _counts(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, list[Any]]:
    rows = run_sql(con, f"{sql} ORDER BY v")
    return {"values": [r[0] for r in rows], "counts": [r[1] for r in rows]}


def _composition(
    con: duckdb.DuckDBPyConnection, pool: str, output: str, key: str, column: str, notes: list[str]
) -> dict[str, Any]:
    col, k = sql_identifier(column), sql_identifier(key)
    try:
        rows = run_sql(
            con,
            f"WITH p AS (SELECT {k} AS k, {col}::VARCHAR AS v FROM {pool}), "
            f"s AS (SELECT DISTINCT {k} AS k FROM {output}) "
            "SELECT coalesce(v, '(null)') AS v, count(*) AS pool, count(s.k) AS selected "
            "FROM p LEFT JOIN s USING (k) GROUP BY 1 ORDER BY pool DESC, v",
        )
    except duckdb.Error as exc:
        notes.append(f"composition by {column!r} is not shown: {str(exc).splitlines()[0]}")
        return {}
    top, rest = rows[:_TOP], rows[_TOP:]
    if rest:
        top.append(("(other)", sum(r[1] for r in rest), sum(r[2] for r in rest)))
    return {"values": [r[0] for r in top], "pool": [r[1] for r in top], "selected": [r[2] for r in top]}


def _samples(
    con: duckdb.DuckDBPyConnection,
    output: str,
    key: str,
    columns: list[str],
    score: str | None,
    ascending: bool = False,
) -> list[dict[str, Any]]:
    """A few output rows: the highest scored, or with ``ascending`` the lowest (nearest the cut)."""
    shown = [key] + ([score] if score and score != key else [])
    shown += [c for c in ("dup_of", "reason", "cluster", "source") if c in columns and c not in shown]
    text = f", left(text, {_TEXT}) AS text" if "text" in columns else ""
    order = f"ORDER BY {sql_identifier(score)} {'ASC' if ascending else 'DESC'} NULLS LAST" if score else ""
    rel = con.sql(f"SELECT {', '.join(sql_identifier(c) for c in shown)}{text} FROM {output} {order} LIMIT {_SAMPLE}")
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def _pairs(con: duckdb.DuckDBPyConnection, output: str, pool: str, key: str) -> list[dict[str, Any]]:
    """Removed rows beside the row each duplicates (its text read from the pool)."""
    k = sql_identifier(key)
    rel = con.sql(
        f"SELECT o.{k} AS {k}, left(o.text, {_TEXT}) AS text, o.dup_of, left(p.text, {_TEXT}) AS dup_of_text "
        f"FROM {output} o JOIN (SELECT {k}, text FROM {pool}) p ON p.{k} = o.dup_of "
        f"ORDER BY o.{k} LIMIT {_SAMPLE}"
    )
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def _current_model(con: duckdb.DuckDBPyConnection, record: dict[str, Any]) -> tuple[int, str, dict] | None:
    """(model_id, name, params) of the model the run fitted, while it is still the current one under its name."""
    name = (record.get("params") or {}).get("model")
    if not name:
        return None
    rows = run_sql(con, "SELECT model_id, run_id, params FROM sel_models WHERE name = ?", [name])
    if not rows or rows[0][1] != record["run_id"]:
        return None
    params = rows[0][2]
    return rows[0][0], str(name), json.loads(params) if isinstance(params, str) else dict(params or {})


_GRAM_DOCS = 2000  # output rows whose grams name the buckets


def _dsir_grams(con: duckdb.DuckDBPyConnection, output: str, model: tuple[int, str, dict]) -> list[dict[str, Any]]:
    """The hashed n-gram buckets whose share grew most from the raw pool to the output, with grams in them.

    Shares are of all n-gram occurrences: the pool's from the model's raw counts, the output's from its
    rows' features. A bucket is named by the most frequent grams of the output's texts that hash to it.
    """
    from sqlsel.kernels.ngrams import ngram_features, sha256_mod  # numba: not at `import sqlsel`
    from sqlsel.kernels.tokens import WORDPUNCT, token_lists

    model_id, _, params = model
    buckets, ngrams = int(params.get("buckets", 10000)), int(params.get("ngrams", 2))
    raw = np.zeros(buckets)
    for bucket, count in run_sql(con, "SELECT bucket, raw_count FROM sel_dsir_buckets WHERE model_id = ?", [model_id]):
        raw[bucket] = count
    texts = [r[0] for r in run_sql(con, f"SELECT text FROM {output} WHERE text IS NOT NULL LIMIT {_GRAM_DOCS}")]
    if not texts or raw.sum() == 0:
        return []
    features = ngram_features(pa.array(texts, pa.large_string()), buckets, ngrams)
    chosen = np.bincount(features.buckets, minlength=buckets).astype(float)
    moved = chosen / chosen.sum() - raw / raw.sum()
    top = [int(b) for b in np.argsort(-moved)[:10]]
    grams: Counter[str] = Counter()
    for tokens in token_lists(pa.array(texts[:500], pa.large_string()), WORDPUNCT):
        for n in range(1, ngrams + 1):
            grams.update(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    names = list(grams)
    where = sha256_mod(pa.array(names, pa.string()), buckets) if names else np.zeros(0, np.int32)
    in_bucket: dict[int, list[str]] = {b: [] for b in top}
    for gram, bucket in sorted(zip(names, where.tolist(), strict=True), key=lambda gb: -grams[gb[0]]):
        if bucket in in_bucket and len(in_bucket[bucket]) < 4:
            in_bucket[bucket].append(gram)
    return [
        {
            "bucket": b,
            "pool_share_pct": 100 * raw[b] / raw.sum(),
            "output_share_pct": 100 * chosen[b] / chosen.sum(),
            "grams": " · ".join(in_bucket[b]),
        }
        for b in top
    ]


def _quotas(con: duckdb.DuckDBPyConnection, output: str, model: tuple[int, str, dict]) -> dict[str, list[int]]:
    """Per finest cluster: the rows it had when the model was fitted, and the rows the output took from it."""
    rows = run_sql(
        con,
        f"SELECT c.cluster, c.size, coalesce(o.n, 0) FROM sel_kmeans_centroids c "
        f"LEFT JOIN (SELECT clusters[1] AS leaf, count(*) AS n FROM {output} GROUP BY leaf) o ON o.leaf = c.cluster "
        "WHERE c.model_id = ? AND c.level = 1 ORDER BY c.cluster",
        [model[0]],
    )
    return {"cluster": [r[0] for r in rows], "had": [r[1] for r in rows], "given": [r[2] for r in rows]}

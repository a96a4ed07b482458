"""A run's report as one self-contained HTML file: tables, and matplotlib figures inlined as PNG.

Nothing in the page is fetched when it is opened (no scripts, fonts or images from elsewhere), so it
can be mailed or archived beside the run. matplotlib (extra ``report``) draws static figures that any
browser shows; Vega-Lite would need its JavaScript inlined or a converter binary, for no gain here.
"""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING, Any

from sqlsel.errors import MissingExtraError

if TYPE_CHECKING:
    from sqlsel.report import Report

__all__ = ["render"]

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ddd; padding: 3px 8px; }
th { background: #f5f5f5; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, monospace; font-size: 12px; } img { max-width: 100%; }
.note { color: #8a5a00; }
"""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingExtraError("A report's figures (matplotlib)", "report") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _figure(draw: Any, width: float = 8.0, height: float = 3.2) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    try:
        draw(ax)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, bool) or v is None:
            return f"<td>{html.escape(str(v))}</td>"
        if isinstance(v, int):
            return f'<td class="n">{v:,}</td>'
        if isinstance(v, float):
            return f'<td class="n">{v:.6g}</td>'
        return f"<td>{html.escape(str(v))}</td>"

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _run(run: dict[str, Any]) -> str:
    keys = ["recipe", "status", "seconds", "rows_out", "seed", "engine", "sqlsel_version", "duckdb_version"]
    keys += ["threads", "memory_limit", "key_column", "query_hash", "selection_digest", "output_path"]
    parts = [_table(["field", "value"], [[k, run.get(k)] for k in keys if run.get(k) is not None])]
    parts.append("<h3>Parameters</h3>" + _table(["parameter", "value"], [[k, v] for k, v in run["params"].items()]))
    if run["inputs"]:
        parts.append("<h3>Inputs</h3>" + _table(["file", "bytes"], [[i["path"], i["size"]] for i in run["inputs"]]))
    if run.get("error"):
        parts.append(f'<p class="note">{html.escape(str(run["error"]))}</p>')
    return "".join(parts)


def _statements(statements: list[dict[str, Any]]) -> str:
    compiled = any(s.get("compile_seconds") for s in statements)  # only a first run after an install compiles
    header = ["#", "statement", "seconds", *(["of which compiling"] if compiled else []), "rows", "peak MB"]
    rows = [
        [i + 1, s.get("sql"), s.get("seconds"), *([s.get("compile_seconds") or ""] if compiled else [])]
        + [s.get("rows"), s.get("peak_rss_mb")]
        for i, s in enumerate(statements)
    ]
    return _table(header, rows)


def _funnel(funnel: dict[str, Any]) -> str:
    labels = ["pool"] if funnel["rows_in"] is not None else []
    values = [funnel["rows_in"]] if funnel["rows_in"] is not None else []
    labels += [f"{i + 1}" for i, s in enumerate(funnel["stages"]) if s["rows"] is not None]
    values += [s["rows"] for s in funnel["stages"] if s["rows"] is not None]
    labels.append("out")
    values.append(funnel["rows_out"] or 0)

    def draw(ax: Any) -> None:
        ax.bar(labels, values, color=["#4c72b0"] * (len(values) - 1) + ["#dd8452"])
        ax.set_title("Rows: the pool, each statement's result (by number), the output")
        ax.set_xlabel("stage")
        ax.set_ylabel("rows")

    metrics = _table(["metric", "value"], [[k, v] for k, v in funnel["metrics"].items()]) if funnel["metrics"] else ""
    return _figure(draw) + metrics


def _scores(scores: dict[str, Any]) -> str:
    def bars(ax: Any, hist: dict[str, Any], label: str, color: str) -> None:
        edges, total = hist["edges"], max(hist["n"], 1)
        if edges:
            shares = [100 * c / total for c in hist["counts"]]
            ax.stairs(shares, edges, label=f"{label} ({hist['n']:,} rows)", color=color, fill=True, alpha=0.5)

    def draw(ax: Any) -> None:
        if "pool" in scores:
            bars(ax, scores["pool"], "pool", "#4c72b0")
        bars(ax, scores["selected"], "output", "#dd8452")
        if scores.get("cut") is not None:
            ax.axvline(scores["cut"], color="#c44e52", linestyle="--", label=f"lowest in output: {scores['cut']:.4g}")
        ax.set_title(f"Distribution of {scores['column']}")
        ax.set_xlabel(scores["column"])
        ax.set_ylabel("% of rows")
        ax.legend()

    above = scores.get("pool_above_cut")
    note = f"<p>{above:,} pool rows score at least the output's lowest.</p>" if above is not None else ""
    return _figure(draw) + note


def _composition(column: str, comp: dict[str, Any]) -> str:
    if not comp:
        return ""
    pool_total, out_total = sum(comp["pool"]) or 1, sum(comp["selected"]) or 1

    def draw(ax: Any) -> None:
        ys = range(len(comp["values"]))
        ax.barh([y - 0.2 for y in ys], [100 * p / pool_total for p in comp["pool"]], 0.4, label="pool")
        ax.barh([y + 0.2 for y in ys], [100 * s / out_total for s in comp["selected"]], 0.4, label="output")
        ax.set_yticks(list(ys), [str(v)[:30] for v in comp["values"]])
        ax.invert_yaxis()
        ax.set_title(f"Share of rows by {column}, pool and output")
        ax.set_xlabel("% of rows")
        ax.legend()

    rows = [[v, p, s] for v, p, s in zip(comp["values"], comp["pool"], comp["selected"], strict=True)]
    height = 1.2 + 0.3 * len(comp["values"])
    return _figure(draw, height=height) + _table([column, "pool rows", "output rows"], rows)


def _quotas(quotas: dict[str, list[int]]) -> str:
    def draw(ax: Any) -> None:
        ax.scatter(quotas["had"], quotas["given"], s=12, color="#8172b2")
        ax.set_title("Rows each finest cluster gave to the output against the rows it had")
        ax.set_xlabel("rows in the cluster (at the fit)")
        ax.set_ylabel("rows in the output")

    capped = max(quotas["given"]) if quotas["given"] else 0
    return _figure(draw) + f"<p>{len(quotas['cluster']):,} clusters; the largest quota is {capped:,} rows.</p>"


def _cluster_sizes(sizes: dict[str, list[Any]]) -> str:
    def draw(ax: Any) -> None:
        ax.bar([str(v) for v in sizes["values"]], sizes["counts"], color="#55a868")
        ax.set_title("Rows in the output by the size of their cluster")
        ax.set_xlabel("cluster size (rows)")
        ax.set_ylabel("rows")

    return _figure(draw)


def render(report: Report) -> str:
    """The report as one HTML document."""
    d = report.data
    run = d["run"]
    title = f"sqlsel run {run['run_id']}: {run['recipe']}"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in report.notes]
    parts += ["<h2>The run</h2>", _run(run), "<h2>Time per statement</h2>", _statements(d["statements"])]
    parts += ["<h2>Funnel</h2>", _funnel(d["funnel"])]
    if "scores" in d:
        parts += ["<h2>Scores</h2>", _scores(d["scores"])]
    for column, comp in (d.get("composition") or {}).items():
        parts += [f"<h2>Composition by {html.escape(column)}</h2>", _composition(column, comp)]
    if d.get("dsir_grams"):
        rows = [[g["bucket"], g["pool_share_pct"], g["output_share_pct"], g["grams"]] for g in d["dsir_grams"]]
        parts += [
            "<h2>n-gram buckets that grew most from pool to output</h2>",
            _table(["bucket", "% of pool n-grams", "% of output n-grams", "grams of the output in it"], rows),
        ]
    if d.get("quotas"):
        parts += ["<h2>Quota each cluster gave against what it had</h2>", _quotas(d["quotas"])]
    if "cluster_sizes" in d:
        parts += ["<h2>Duplicate clusters</h2>", _cluster_sizes(d["cluster_sizes"])]
    for name, title in (
        ("duplicate_pairs", "Removed rows beside the row each duplicates"),
        ("samples", "Sample rows of the output (highest scores first)"),
        ("nearest_cut", "Output rows nearest the cut (lowest scores)"),
    ):
        if d.get(name):
            rows = d[name]
            parts += [f"<h2>{title}</h2>", _table(list(rows[0]), [list(r.values()) for r in rows])]
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )

"""Threads on a pool stored in one row group: every function that splits its batches, at 1 and 2 threads.

DuckDB hands a function one row group per task, so on a pool in one row group (DuckDB's default
``COPY`` writes 122,880 rows per group) a function runs on one DuckDB thread whatever ``threads``
says. The expensive row functions split each batch over the connection's threads themselves
(``functions.KernelPool``). This measures, for each of them, on N real corpus documents with string
keys written by DuckDB's ``COPY`` (one row group):

- the statement's wall time at ``threads`` 1 and 2 (a fresh connection each, so DSIR's gram memo
  starts cold, as in a run; the kernels are compiled and loaded before timing), with the catalog's
  models looked up once per statement as ``sqlsel run`` and the shell do (``models_fixed``), not once
  per batch;
- the time spent inside the function (its calls, summed; with one row group they never overlap):
  the kernel-level figure the issue's ≥ 1.8× asks of the functions other than DSIR and exact ZIP-FIT,
  whose targets are whole processes (``benchmarks/dsir.py``, ``benchmarks/zipfit.py``).

The sides alternate (1, 2, 1, 2, …) and each figure is the median of ``--repeats`` runs.

    python benchmarks/threads.py [--n 60000] [--repeats 3]

Ends with one summary line: the smallest kernel-level ratio and the function it belongs to.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import sqlsel
import sqlsel.functions as functions

CORPUS = Path(__file__).parent / "data" / "corpus.parquet"

#: (label, statement over `pool`, rows of the pool it reads). The statement keeps a value of every row.
CASES = [
    ("sel_ngram_buckets (DSIR features)", "SELECT sel_ngram_buckets(text, 10000, 2) AS v FROM pool", None),
    ("sel_dsir_weight", "SELECT sel_dsir_weight(text, 'dsir') AS v FROM pool", None),
    ("sel_zipfit (exact, 100 targets)", "SELECT sel_zipfit(text, 'zf') AS v FROM pool", 5000),
    ("sel_zipfit_fast", "SELECT sel_zipfit_fast(text, 'zf') AS v FROM pool", None),
    ("sel_hash_embed (dim 256)", "SELECT sel_hash_embed(text, 256) AS v FROM pool", None),
    ("sel_cluster (256 centroids, dim 256)", "SELECT sel_cluster(e, 'km') AS v FROM embedded", None),
    ("sel_minhash (128 permutations)", "SELECT sel_minhash(text) AS v FROM pool", None),
    ("sel_minhash_jaccard", "SELECT sel_minhash_jaccard(s, t) AS v FROM signed", None),
]


class FunctionClock:
    """Seconds spent inside sqlsel functions, by name: wraps ``functions.call_impl``, which both engines call."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        self._original = functions.call_impl

    def __enter__(self) -> FunctionClock:
        original = self._original

        def timed(spec, ctx, arrays):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return original(spec, ctx, arrays)
            finally:
                with self._lock:
                    self.seconds[spec.name] = self.seconds.get(spec.name, 0.0) + time.perf_counter() - start

        functions.call_impl = timed
        return self

    def __exit__(self, *exc: object) -> None:
        functions.call_impl = self._original


def prepare(work: Path, n: int) -> Path:
    """The pool (n documents, one row group, string keys), the target set and the models, in one catalog."""
    catalog = work / "catalog.duckdb"
    con = sqlsel.connect(catalog, threads=2)
    con.execute(
        f"""COPY (SELECT 'doc-' || md5(id::VARCHAR) AS id, text FROM '{CORPUS}'
                  WHERE text IS NOT NULL AND source <> 'kernel_docs' ORDER BY md5(id::VARCHAR) LIMIT {n})
            TO '{work}/pool.parquet'"""
    )
    groups = con.execute(f"SELECT count(DISTINCT row_group_id) FROM parquet_metadata('{work}/pool.parquet')").fetchone()
    assert groups == (1,), f"the pool should be one row group, got {groups}"
    con.execute(f"CREATE VIEW pool AS SELECT * FROM '{work}/pool.parquet'")
    con.execute(
        f"""SELECT sel_zipfit_target('zf', list(text ORDER BY id), 'lz4', 0)
            FROM (SELECT id, text FROM '{CORPUS}' WHERE source = 'kernel_docs' ORDER BY id LIMIT 100)"""
    )
    con.execute(
        f"COPY (SELECT id, text FROM '{CORPUS}' WHERE source = 'kernel_docs' ORDER BY id LIMIT 300) "
        f"TO '{work}/target.parquet'"
    )
    target = {"pool": f"{work}/pool.parquet", "target": f"{work}/target.parquet", "k": 10, "model": "dsir"}
    sqlsel.run_recipe("dsir_select", target, con=con)
    con.execute("CREATE TABLE embedded AS SELECT id, sel_hash_embed(text, 256) AS e FROM pool")
    con.execute("SELECT sel_kmeans_fit('km', 'SELECT id, e AS embedding FROM embedded WHERE e IS NOT NULL', '256')")
    con.execute(
        "CREATE TABLE signed AS SELECT sel_minhash(a.text) AS s, sel_minhash(b.text) AS t "
        "FROM (SELECT row_number() OVER (ORDER BY id) AS r, text FROM pool) a "
        "JOIN (SELECT row_number() OVER (ORDER BY id DESC) AS r, text FROM pool) b USING (r)"
    )
    con.close()
    return catalog


def measure(catalog: Path, sql: str, rows: int | None, threads: int) -> tuple[float, float]:
    """(statement seconds, seconds inside sqlsel functions) of ``sql`` on a fresh connection."""
    con = sqlsel.connect(catalog, read_only=True, threads=threads)
    con.execute("USE sel_catalog")  # the pool view and the tables prepare() made
    limited = sql if rows is None else sql.replace("FROM pool", f"FROM (SELECT * FROM pool LIMIT {rows})")
    con.execute(f"SELECT count(v) FROM ({limited.replace('FROM pool', 'FROM (SELECT * FROM pool LIMIT 8)')})")
    statement = f"SELECT count(v) FROM ({limited})"
    with FunctionClock() as clock, functions.models_fixed(con):  # as `sqlsel run` and the shell run statements
        start = time.perf_counter()
        con.execute(statement).fetchall()
        seconds = time.perf_counter() - start
    con.close()
    return seconds, sum(clock.seconds.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60_000, help="pool documents (one row group up to 122,880)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sqlsel-threads-") as folder:
        work = Path(folder)
        catalog = prepare(work, args.n)
        print(f"pool: {args.n:,} corpus documents, one row group, string keys; medians of {args.repeats}, alternating")
        print(f"{'function':38} {'statement 1 → 2 threads':>26} {'ratio':>6} {'in function 1 → 2':>22} {'ratio':>6}")
        ratios = []
        for label, sql, rows in CASES:
            runs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
            for _ in range(args.repeats):
                for threads in (1, 2):
                    runs[threads].append(measure(catalog, sql, rows, threads))
            (s1, f1), (s2, f2) = (tuple(statistics.median(x) for x in zip(*runs[t], strict=True)) for t in (1, 2))
            ratios.append((f1 / f2, label))
            print(f"{label:38} {s1:10.2f} s → {s2:6.2f} s {s1 / s2:6.2f}× {f1:8.2f} s → {f2:6.2f} s {f1 / f2:6.2f}×")
        worst, name = min(ratios)
        print(f"SUMMARY threads 2 vs 1 on one row group, inside the function: lowest {worst:.2f}× ({name})")


if __name__ == "__main__":
    main()

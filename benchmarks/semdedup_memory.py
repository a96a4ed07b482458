"""SemDeDup on more vectors than its memory: `sqlsel run semdedup --memory` against an unlimited run.

    python benchmarks/semdedup_memory.py [--corpus PATH] [--rows 4000000] [--dim 256] [--clusters 1000]
                                         [--eps 0.05] [--memory 1.5GB] [--skip-unlimited]

The pool: --rows (id, embedding) rows of --dim float32 hash embeddings, every paragraph of the
benchmark corpus once, then the paragraphs again with σ = 0.01 jitter (near-duplicates) until --rows;
Parquet with DuckDB's default row groups, written once to benchmarks/data/ and reused.

Each side is one whole `sqlsel run semdedup -p removed=true` process, as a user runs it, on a fresh
catalog: wall time and the process's peak RSS (every import, DuckDB and numpy/faiss buffer
included). With --memory, DuckDB keeps its buffers (the scratch table of vectors, the sort by
cluster) under the limit and spills past it; the k-means fit streams its source (a sample of
256 rows per cluster in memory, Lloyd steps over a stream) and sel_semdedup works cluster by
cluster. The removed rows (id, cluster, dup_of) must be identical on both sides, and DuckDB's temp
directory must be gone afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE / "data" / "corpus.parquet"


def run_semdedup(pool: Path, work: Path, name: str, args: argparse.Namespace, memory: str | None) -> dict:
    """One `sqlsel run semdedup` process: wall seconds, peak RSS (MB), and where it wrote its removed rows.

    The peak is the child's ``ru_maxrss``, which on Linux starts from this process's RSS when it
    forks: this process therefore stays small (it writes the pool in a child of its own and reads
    the outputs only after both runs).
    """
    db, out = work / f"{name}.duckdb", work / f"{name}.parquet"
    command = [str(Path(sys.executable).parent / "sqlsel"), "run", "semdedup", "--db", str(db), "--out", str(out)]
    command += ["-p", f"pool={pool}", "-p", f"clusters={args.clusters}", "-p", f"eps={args.eps}"]
    command += ["-p", "removed=true", "--threads", "2"] + (["--memory", memory] if memory else [])
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    stderr = proc.stderr.read() if proc.stderr else ""
    if status != 0:
        raise SystemExit(f"{name} failed:\n{stderr}")
    leftovers = [p.name for p in work.iterdir() if p.name.startswith(f"{name}.duckdb.tmp") or p.name == ".tmp"]
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        record = con.execute("SELECT statements FROM sel_runs ORDER BY run_id DESC LIMIT 1").fetchone()
    statements = [
        f"{s['seconds']:7.1f} s  {s['rows']:>10,} rows  peak RSS so far {s.get('peak_rss_mb') or 0:6.0f} MB  "
        f"{s['sql'][:60]}"
        for s in json.loads(record[0])
    ]
    return {
        "seconds": seconds,
        "rss_mb": usage.ru_maxrss / 1024,
        "out": out,
        "leftovers": leftovers,
        "statements": statements,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--eps", type=float, default=0.05)
    parser.add_argument("--memory", default="1.5GB")
    parser.add_argument("--skip-unlimited", action="store_true", help="only the run under --memory")
    args = parser.parse_args()

    pool = HERE / "data" / f"paragraph_pool_{args.rows}x{args.dim}.parquet"
    if not pool.exists():
        if not args.corpus.exists():
            raise SystemExit(f"{args.corpus} is missing: build it with benchmarks/build_corpus.py")
        print(f"writing {pool.name}: {args.rows:,} × {args.dim} hash embeddings of the corpus's paragraphs …")
        call = f"(Path({str(args.corpus)!r}), Path({str(pool)!r}), {args.rows}, {args.dim})"
        writer = f"from pathlib import Path; from _vectors import write_paragraph_pool as w; w{call}"
        subprocess.run([sys.executable, "-c", writer], cwd=HERE, check=True)
    size_gb = pool.stat().st_size / 1e9
    print(
        f"pool: {pool.name}, {args.rows:,} rows × {args.dim} float32 ({args.rows * args.dim * 4 / 1e9:.1f} GB of "
        f"vectors; {size_gb:.1f} GB on disk); clusters={args.clusters}, eps={args.eps}"
    )

    results = {}
    with tempfile.TemporaryDirectory(dir=HERE / "data") as tmp:
        work = Path(tmp)
        sides = [("limited", args.memory)] + ([] if args.skip_unlimited else [("unlimited", None)])
        for name, memory in sides:
            r = results[name] = run_semdedup(pool, work, name, args, memory)
            label = f"--memory {memory}" if memory else "no --memory (DuckDB default: 80% of RAM)"
            print(f"  {label:42s} {r['seconds']:7.1f} s   peak RSS {r['rss_mb']:7.0f} MB   "
                  f"temp files left: {r['leftovers'] or 'none'}")  # fmt: skip
            for line in r["statements"]:
                print(f"      {line}")
        import pyarrow.parquet as pq

        for r in results.values():
            r["removed"] = pq.read_table(r["out"], columns=["id", "cluster", "dup_of"]).sort_by("id")
            print(f"  removed {r['removed'].num_rows:,} rows ({r['out'].stem})")
    limited = results["limited"]
    same = "unlimited" not in results or results["unlimited"]["removed"].equals(limited["removed"])
    if "unlimited" in results:
        print(f"  removed rows (id, cluster, dup_of) identical on both sides: {same}")
    print(
        f"SUMMARY semdedup {args.rows:,}x{args.dim} clusters={args.clusters} --memory {args.memory}: "
        f"{limited['seconds']:.0f} s, peak RSS {limited['rss_mb']:.0f} MB, removed {limited['removed'].num_rows:,}"
        + (
            f"; unlimited {results['unlimited']['seconds']:.0f} s, {results['unlimited']['rss_mb']:.0f} MB, "
            f"same rows: {same}"
            if "unlimited" in results
            else ""
        )
    )
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

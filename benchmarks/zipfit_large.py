"""ZIP-FIT fast mode at scale: N ≈ 180k pool documents × M = 1,000 targets, against the reference projected.

    python benchmarks/zipfit_large.py [--corpus PATH] [--source kernel_docs] [--m 1000] [--sample-n 2000]
                                      [--sample-m 100] [--repeats 3]

The reference (zip-fit 1.0.9) computes one compression per (pool, target) pair, so its time is
O(N·M): it is timed on --sample-n pool documents × --sample-m of the targets (drawn by hash) and
projected to N·M pairs. sqlsel's side is one whole `sqlsel run zipfit_select -p mode=fast` process
(fresh catalog, the pool as one Parquet file in DuckDB's default layout), so start-up, reading and
writing are in its figure. The sides alternate --repeats times (the reference's sample, then a
process); each figure is the median. Prints both and a final SUMMARY line.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE / "data" / "corpus.parquet"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--source", default="kernel_docs")
    ap.add_argument("--m", type=int, default=1000)
    ap.add_argument("--sample-n", type=int, default=2000)
    ap.add_argument("--sample-m", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import duckdb
    from zip_fit.zipfit import ZIPFIT

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        con = duckdb.connect()
        con.execute("CREATE TABLE c AS SELECT id, source, text FROM read_parquet(?)", [str(args.corpus)])
        con.execute(
            "CREATE TABLE t AS SELECT id, text FROM c WHERE source = ? ORDER BY hash(id) LIMIT ?", [args.source, args.m]
        )
        con.execute(f"COPY (SELECT * FROM c WHERE id NOT IN (SELECT id FROM t) ORDER BY id) TO '{work}/pool.parquet'")
        con.execute(f"COPY (SELECT text FROM t ORDER BY id) TO '{work}/target.jsonl' (FORMAT json)")
        n = con.execute("SELECT count(*) FROM c WHERE id NOT IN (SELECT id FROM t)").fetchall()[0][0]
        m = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
        sample = [
            r[0]
            for r in con.execute(
                f"SELECT text FROM c WHERE id NOT IN (SELECT id FROM t) ORDER BY hash(id) LIMIT {args.sample_n}"
            ).fetchall()
        ]
        targets = [r[0] for r in con.execute(f"SELECT text FROM t ORDER BY id LIMIT {args.sample_m}").fetchall()]
        con.close()
        print(f"pool {n:,} documents, {m:,} targets from {args.source}: {n * m:,} pairs")

        z = ZIPFIT("unused.jsonl", "unused.jsonl", k=len(sample), compression_algorithm="lz4", compress_level=0)
        cli = str(Path(sys.executable).parent / "sqlsel")
        command = [cli, "run", "zipfit_select", "-p", f"pool={work / 'pool.parquet'}", "-p",
                   f"target={work / 'target.jsonl'}", "-p", f"k={n // 10}", "-p", "mode=fast", "--threads", "2",
                   "--out", str(work / "out.parquet")]  # fmt: skip
        samples, runs = [], []
        for i in range(args.repeats):
            t0 = time.perf_counter()
            z.rank_sequences_by_alignment(sample, targets)
            samples.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            catalog = ["--db", str(work / f"c{i}.duckdb")]  # a fresh catalog each time, as a first run has
            done = subprocess.run(command + catalog, check=True, capture_output=True, text=True)
            runs.append(time.perf_counter() - t0)
        sampled, ours = statistics.median(samples), statistics.median(runs)
        projected = sampled * (n * m) / (len(sample) * len(targets))
        print(
            f"reference: {len(sample):,} × {len(targets)} pairs in {sampled:.2f} s (median of "
            f"{', '.join(f'{s:.2f}' for s in samples)}); projected to {n * m:,} pairs: {projected:,.0f} s "
            f"({projected / 3600:.1f} h)"
        )
        steps = [line.strip() for line in done.stderr.splitlines() if line.strip().startswith("[")]
        print(f"sqlsel run zipfit_select mode=fast, whole process: {ours:.2f} s (median of "
              f"{', '.join(f'{r:.2f}' for r in runs)}); the last run's statements:")  # fmt: skip
        for line in steps:
            print(f"    {line}")
        print(
            f"SUMMARY zipfit_large fast N={n} M={m}: whole process {ours:.1f} s vs reference projected "
            f"{projected:,.0f} s = {projected / ours:,.0f}x"
        )


if __name__ == "__main__":
    main()

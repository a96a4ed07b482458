"""Peak memory of DSIR scoring: sel_dsir_weight over ~1M real documents (the corpus repeated).

    python benchmarks/dsir_memory.py [--corpus PATH] [--docs 1000000]

Writes the corpus repeated (new ids) to a temporary Parquet file, fits a model on a held-out
target against a 20,000-row sample, then, in a fresh process, streams
``COPY (SELECT id, sel_dsir_weight(text, m) FROM big) TO 'weights.parquet'`` and reports that
process's peak RSS (VmHWM) with the time taken. Target: under 2 GB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _fresh import run_fresh

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE / "data" / "corpus.parquet"

SCORE = """
import sys, time, sqlsel
def peak_rss_mb():
    # VmHWM is this process image's own peak; ru_maxrss would include the parent's RSS at fork
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
con = sqlsel.connect(sys.argv[1], threads=2)
t0 = time.perf_counter()
con.execute("COPY (SELECT id, sel_dsir_weight(text, 'mem') AS w FROM read_parquet(?)) TO '" + sys.argv[3] + "'",
            [sys.argv[2]]).fetchall()
seconds = time.perf_counter() - t0
rows = con.execute("SELECT count(*), count(w) FROM read_parquet(?)", [sys.argv[3]]).fetchall()[0]
con.close()
print(f"RESULT {rows[0]} {rows[1]} {seconds:.1f} {peak_rss_mb():.0f}")
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--docs", type=int, default=1_000_000)
    args = ap.parse_args()
    import duckdb

    import sqlsel

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        big, db = work / "big.parquet", work / "catalog.duckdb"
        con = duckdb.connect()
        n = con.execute("SELECT count(*) FROM read_parquet(?)", [str(args.corpus)]).fetchall()[0][0]
        copies = -(-args.docs // n)
        con.execute(
            f"COPY (SELECT (r.range * {n} + c.id) AS id, c.text FROM read_parquet(?) c, range({copies}) r "
            f"LIMIT {args.docs}) TO '{big}' (ROW_GROUP_SIZE 50000)",
            [str(args.corpus)],
        ).fetchall()
        sample = work / "sample.parquet"
        target = work / "target.parquet"
        con.execute(
            f"COPY (SELECT * FROM read_parquet(?) USING SAMPLE 20000 ROWS (reservoir, 1)) TO '{sample}'",
            [str(args.corpus)],
        ).fetchall()
        con.execute(
            f"COPY (SELECT * FROM read_parquet(?) WHERE source = 'kernel_docs' LIMIT 300) TO '{target}'",
            [str(args.corpus)],
        ).fetchall()
        con.close()
        cat = sqlsel.connect(db)
        sqlsel.run_recipe("dsir_select", {"pool": str(sample), "target": str(target), "k": 1, "model": "mem"}, con=cat)
        cat.close()
        result = run_fresh(SCORE, [str(db), str(big), str(work / "w.parquet")])
        rows, scored, seconds, rss = result.split()
        print(
            f"scored {scored} of {rows} documents in {seconds} s ({int(rows) / float(seconds):.0f} docs/s), "
            f"peak RSS {rss} MB"
        )
        print(f"SUMMARY dsir_memory: {rows} docs scored, peak RSS {rss} MB (target < 2048 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

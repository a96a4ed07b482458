"""Peak memory of ZIP-FIT scoring at N = 20,000 and N = 200,000 real documents: it must not grow with N.

    python benchmarks/zipfit_memory.py [--corpus PATH] [--sizes 20000,200000] [--m 100]

Stores a target set of M held-out kernel_docs documents, then, in a fresh process per (mode, N),
streams ``COPY (SELECT id, sel_zipfit(text, t) FROM pool) TO 'scores.parquet'`` (and the same with
sel_zipfit_fast) over a pool of N documents of the corpus (repeated past its size), and reports that
process's peak RSS (VmHWM) and time. The reference holds all N·M pairs in memory instead.
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
con = sqlsel.connect(sys.argv[1], threads=2)
con.execute("SET preserve_insertion_order = false").fetchall()  # scores need no order: stream, don't buffer
t0 = time.perf_counter()
con.execute("COPY (SELECT id, " + sys.argv[4] + "(text, 'mem') AS s FROM read_parquet(?)) TO '" + sys.argv[3] + "'",
            [sys.argv[2]]).fetchall()
seconds = time.perf_counter() - t0
rows = con.execute("SELECT count(s) FROM read_parquet(?)", [sys.argv[3]]).fetchall()[0][0]
con.close()
rss = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
print(f"RESULT {rows} {seconds:.1f} {rss:.0f}")
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--sizes", default="20000,200000")
    ap.add_argument("--m", type=int, default=100)
    args = ap.parse_args()
    import duckdb

    import sqlsel

    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = work / "catalog.duckdb"
        con = duckdb.connect()
        con.execute(
            "CREATE TABLE t AS SELECT id FROM read_parquet(?) WHERE source = 'kernel_docs' ORDER BY hash(id) LIMIT ?",
            [str(args.corpus), args.m],
        ).fetchall()
        n = con.execute("SELECT count(*) FROM read_parquet(?)", [str(args.corpus)]).fetchall()[0][0]
        copies = -(-max(sizes) // n)
        # one pool file per N: the first N rows of the corpus repeated in an order that mixes sources, in
        # 2,048-row groups so both DuckDB threads score
        con.execute(
            f"CREATE TABLE big AS SELECT (r.range * {n} + c.id) AS id, c.text FROM read_parquet(?) c, "
            f"range({copies}) r WHERE c.id NOT IN (SELECT id FROM t) ORDER BY r.range, hash(c.id)",
            [str(args.corpus)],
        ).fetchall()
        for size in sizes:
            con.execute(
                f"COPY (SELECT * FROM big LIMIT {size}) TO '{work}/pool_{size}.parquet' (ROW_GROUP_SIZE 2048)"
            ).fetchall()
        targets = [
            r[0]
            for r in con.execute(
                "SELECT text FROM read_parquet(?) WHERE id IN (SELECT id FROM t)", [str(args.corpus)]
            ).fetchall()
        ]
        con.close()
        cat = sqlsel.connect(db)
        cat.execute("SELECT sel_zipfit_target('mem', ?, 'lz4', 0)", [targets]).fetchall()
        cat.close()
        peaks = {}
        for function in ("sel_zipfit_fast", "sel_zipfit"):
            for size in sizes:
                out = work / f"{function}_{size}.parquet"
                result = run_fresh(SCORE, [str(db), str(work / f"pool_{size}.parquet"), str(out), function])
                rows, seconds, rss = result.split()
                peaks[function, size] = float(rss)
                print(
                    f"{function:16s} N={size:>7,}: {int(rows):,} rows scored in {seconds} s, peak RSS {rss} MB",
                    flush=True,
                )
    lo, hi = min(sizes), max(sizes)
    growth = ", ".join(f"{f} {peaks[f, lo]:.0f} -> {peaks[f, hi]:.0f} MB" for f in ("sel_zipfit", "sel_zipfit_fast"))
    print(f"SUMMARY zipfit memory M={args.m}, N {lo:,} -> {hi:,}: {growth}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

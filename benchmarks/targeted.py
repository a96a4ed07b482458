"""Targeted selection on the real corpus: otgrad_select next to dsir_select and zipfit_select, on the same tasks.

Task (as in benchmarks/dsir.py): the target is 300 held-out documents of one source; the pool is a
seeded sample of the rest of the corpus; each recipe selects k rows and the figure is top-k precision,
the share of them from the target's source (its share of the pool is the random baseline). Each run is
one whole ``sqlsel run`` process on Parquet in DuckDB's default layout.

    python benchmarks/targeted.py [--pool 20000] [--k 1000] [--sources kernel_docs,python_docs,fortunes_es]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "data" / "corpus.parquet"
SQLSEL = str(Path(sys.executable).parent / "sqlsel")
RECIPES = {
    "dsir_select": [],
    "zipfit_select": ["-p", "mode=fast"],
    "otgrad_select": ["-p", "dim=256"],
}


def prepare(con: duckdb.DuckDBPyConnection, source: str, pool_rows: int, folder: Path) -> tuple[Path, Path, float]:
    """Target (300 held-out documents of ``source``) and pool files; the source's share of the pool."""
    con.execute(
        "CREATE OR REPLACE TABLE t AS SELECT id FROM c WHERE source = ? ORDER BY md5(id::VARCHAR) LIMIT 300", [source]
    )
    con.execute(
        "CREATE OR REPLACE TABLE p AS SELECT id FROM c WHERE id NOT IN (SELECT id FROM t) "
        "ORDER BY md5(id::VARCHAR || 'pool') LIMIT ?",
        [pool_rows],
    )
    pool, target = folder / f"pool_{source}.parquet", folder / f"target_{source}.jsonl"
    con.execute(f"COPY (SELECT id, text FROM c WHERE id IN (SELECT id FROM p) ORDER BY id) TO '{pool}'")
    con.execute(f"COPY (SELECT text FROM c WHERE id IN (SELECT id FROM t)) TO '{target}' (FORMAT json)")
    share = con.execute("SELECT avg((source = ?)::INT) FROM c WHERE id IN (SELECT id FROM p)", [source]).fetchall()
    return pool, target, float(share[0][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=20_000)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--sources", default="kernel_docs,python_docs,fortunes_es")
    args = parser.parse_args()
    if not CORPUS.exists():
        raise SystemExit(f"no corpus at {CORPUS}: python benchmarks/build_corpus.py {CORPUS}")
    con = duckdb.connect()
    con.execute(f"CREATE TABLE c AS SELECT id, source, text FROM '{CORPUS}'")
    results: dict[str, list[float]] = {r: [] for r in RECIPES}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"pool {args.pool:,} documents, target 300 held-out documents, k = {args.k}")
        for source in args.sources.split(","):
            pool, target, share = prepare(con, source, args.pool, folder)
            line = [f"{source} (random: {share:.3f})"]
            for recipe, extra in RECIPES.items():
                out = folder / f"{recipe}_{source}.parquet"
                run = [SQLSEL, "run", recipe, "-p", f"pool={pool}", "-p", f"target={target}", "-p", f"k={args.k}"]
                start = time.perf_counter()
                subprocess.run([*run, *extra, "--out", str(out)], check=True, capture_output=True)
                seconds = time.perf_counter() - start
                precision = con.execute(
                    f"SELECT avg((c.source = ?)::INT) FROM '{out}' o JOIN c USING (id)", [source]
                ).fetchall()[0][0]
                results[recipe].append(float(precision))
                line.append(f"{recipe} {precision:.3f} ({seconds:.1f} s)")
            print(": ".join(line[:1]) + ": " + ", ".join(line[1:]))
    means = ", ".join(f"{r} {sum(v) / len(v):.3f}" for r, v in results.items())
    print(f"SUMMARY targeted top-{args.k} precision, mean over {len(args.sources.split(','))} sources: {means}")


if __name__ == "__main__":
    main()

"""Targeted selection on the real corpus: tarot_select and otgrad_select next to dsir_select and zipfit_select.

Task (as in benchmarks/dsir.py): the target is 300 held-out documents of one source; the pool is a
seeded sample of the rest of the corpus; each recipe selects k rows and the figure is top-k precision,
the share of them from the target's source (its share of the pool is the random baseline), with the
recall beside it (the share of the pool's rows of that source selected). ``tarot_select k=0`` chooses
its own size: its precision and recall are at that size. Each run is one whole ``sqlsel run`` process
on Parquet in DuckDB's default layout.

    python benchmarks/targeted.py [--pool 20000] [--k 1000] [--sources kernel_docs,python_docs,fortunes_es]
    python benchmarks/targeted.py --scale 10000,100000,0 --recipes tarot_select   # cost as the pool grows (0: all)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import duckdb
from _fresh import run_timed

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "data" / "corpus.parquet"
SQLSEL = str(Path(sys.executable).parent / "sqlsel")
#: label -> (recipe, its extra parameters); k is given to every one but tarot_select k=0.
RECIPES = {
    "dsir_select": ("dsir_select", []),
    "zipfit_select": ("zipfit_select", ["-p", "mode=fast"]),
    "otgrad_select": ("otgrad_select", ["-p", "dim=256"]),
    "tarot_select": ("tarot_select", ["-p", "dim=256"]),
    "tarot_select k=0": ("tarot_select", ["-p", "dim=256", "-p", "k=0"]),
}


def prepare(con: duckdb.DuckDBPyConnection, source: str, pool_rows: int, folder: Path) -> tuple[Path, Path, float, int]:
    """Target (300 held-out documents of ``source``) and pool files; the source's share and rows in the pool."""
    con.execute(
        "CREATE OR REPLACE TABLE t AS SELECT id FROM c WHERE source = ? ORDER BY md5(id::VARCHAR) LIMIT 300", [source]
    )
    limit = pool_rows if pool_rows > 0 else 1 << 40
    con.execute(
        "CREATE OR REPLACE TABLE p AS SELECT id FROM c WHERE id NOT IN (SELECT id FROM t) "
        "ORDER BY md5(id::VARCHAR || 'pool') LIMIT ?",
        [limit],
    )
    pool, target = folder / f"pool_{source}_{pool_rows}.parquet", folder / f"target_{source}.jsonl"
    con.execute(f"COPY (SELECT id, text FROM c WHERE id IN (SELECT id FROM p) ORDER BY id) TO '{pool}'")
    con.execute(f"COPY (SELECT text FROM c WHERE id IN (SELECT id FROM t)) TO '{target}' (FORMAT json)")
    share, rows = con.execute(
        "SELECT avg((source = ?)::INT), sum((source = ?)::INT) FROM c WHERE id IN (SELECT id FROM p)", [source, source]
    ).fetchall()[0]
    return pool, target, float(share), int(rows)


def run(recipe: str, extra: list[str], pool: Path, target: Path, k: int, out: Path) -> tuple[float, float]:
    """One whole ``sqlsel run`` process: its wall seconds and its peak RSS (GB)."""
    command = [SQLSEL, "run", recipe, "-p", f"pool={pool}", "-p", f"target={target}", "-p", f"k={k}", *extra]
    seconds, peak, _ = run_timed([*command, "--out", str(out)])
    return seconds, peak


def precision_recall(con: duckdb.DuckDBPyConnection, out: Path, source: str, in_pool: int) -> tuple[float, float, int]:
    sql = f"SELECT sum((c.source = ?)::INT), count(*) FROM '{out}' o JOIN c USING (id)"
    hits, rows = con.execute(sql, [source]).fetchall()[0]
    return hits / rows, hits / in_pool, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=20_000)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--sources", default="kernel_docs,python_docs,fortunes_es")
    parser.add_argument("--recipes", default=",".join(RECIPES), help="labels of RECIPES, comma-separated")
    parser.add_argument("--scale", default="", help="pool sizes to time, comma-separated (0: the whole corpus)")
    args = parser.parse_args()
    if not CORPUS.exists():
        raise SystemExit(f"no corpus at {CORPUS}: python benchmarks/build_corpus.py {CORPUS}")
    chosen = {label: RECIPES[label] for label in args.recipes.split(",")}
    con = duckdb.connect()
    con.execute(f"CREATE TABLE c AS SELECT id, source, text FROM '{CORPUS}'")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.scale:
            source = args.sources.split(",")[0]
            for size in (int(s) for s in args.scale.split(",")):
                pool, target, _, in_pool = prepare(con, source, size, folder)
                rows = con.execute(f"SELECT count(*) FROM '{pool}'").fetchall()[0][0]
                for label, (recipe, extra) in chosen.items():
                    out = folder / "scale.parquet"
                    seconds, peak = run(recipe, extra, pool, target, args.k, out)
                    p, r, n = precision_recall(con, out, source, in_pool)
                    print(
                        f"scale {label}: pool {rows:,}: {seconds:.1f} s, peak RSS {peak:.2f} GB, {n:,} rows, "
                        f"precision {p:.3f}",
                        flush=True,
                    )
            print(f"SUMMARY scale of {args.recipes} over pools of {args.scale} (0: the whole corpus)")
            return
        results: dict[str, list[tuple[float, float, int]]] = {label: [] for label in chosen}
        print(f"pool {args.pool:,} documents, target 300 held-out documents, k = {args.k}")
        for source in args.sources.split(","):
            pool, target, share, in_pool = prepare(con, source, args.pool, folder)
            line = []
            for label, (recipe, extra) in chosen.items():
                out = folder / f"{recipe}_{source}.parquet"
                seconds, _ = run(recipe, extra, pool, target, args.k, out)
                p, r, n = precision_recall(con, out, source, in_pool)
                results[label].append((p, r, n))
                size = f", {n:,} rows" if n != args.k else ""
                line.append(f"{label} {p:.3f} / recall {r:.3f} ({seconds:.1f} s{size})")
            print(f"{source} (random: {share:.3f}, {in_pool} in the pool): " + ", ".join(line), flush=True)
    means = ", ".join(
        f"{label} {sum(v[0] for v in vs) / len(vs):.3f} (recall {sum(v[1] for v in vs) / len(vs):.3f})"
        for label, vs in results.items()
    )
    print(f"SUMMARY targeted top-{args.k} precision, mean over {len(args.sources.split(','))} sources: {means}")


if __name__ == "__main__":
    main()

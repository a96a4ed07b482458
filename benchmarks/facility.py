"""Facility location: sqlsel's lazy greedy against apricot-select 0.6.1 on hash embeddings of the real corpus.

- Parity, dense, 3,000 rows × 200 picks: the same picks as apricot's naive greedy?
- Dense (every pair), N = 10,000 by default: the kernel (similarities + greedy) against apricot's
  ``FacilityLocationSelection(metric='cosine', optimizer='lazy')`` on the same vectors, and the
  objective each reaches (apricot's lazy optimizer settles ties differently from its naive one).
- kNN graph (``neighbours`` = 64), N = 10k, 100k and the whole corpus: the graph (exact search on faiss)
  and the greedy, against apricot's lazy greedy over the same sparse matrix where it finishes.
- Whole process: ``sqlsel run diverse_topk -p method=facility -p neighbours=64`` on the corpus.

Each kernel side runs in a fresh process (its own imports and peak RSS).

    python benchmarks/facility.py [--k 1000] [--dim 64] [--sizes 10000,100000,0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from _fresh import run_fresh

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "data" / "corpus.parquet"
SQLSEL = str(Path(sys.executable).parent / "sqlsel")

SQLSEL_SIDE = """
import json, resource, sys, time
import numpy as np, pyarrow.parquet as pq
from sqlsel.kernels.vectors import vector_matrix
from sqlsel.kernels.submodular import cosine_knn_graph, cosine_similarities, facility_location
x = vector_matrix(pq.read_table(sys.argv[1], columns=['embedding']).column('embedding'))[: int(sys.argv[2])]
k, m = int(sys.argv[3]), int(sys.argv[4])
t = time.perf_counter()
sims = cosine_similarities(x) if m == 0 else cosine_knn_graph(x, m)
built = time.perf_counter() - t
picks = facility_location(sims, k)
total = time.perf_counter() - t
if m:
    np.savez(sys.argv[5], indptr=sims.indptr, indices=sims.indices, data=sims.data)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps({"built": built, "total": total, "order": picks.order.tolist(),
                             "objective": float(picks.gains.sum()), "peak_mb": peak}))
"""

APRICOT_SIDE = """
import json, resource, sys, time, warnings
import numpy as np, pyarrow.parquet as pq
from scipy.sparse import csr_matrix
from apricot import FacilityLocationSelection
from sqlsel.kernels.vectors import vector_matrix
warnings.simplefilter("ignore")
k, m = int(sys.argv[3]), int(sys.argv[4])
if m == 0:
    data = vector_matrix(pq.read_table(sys.argv[1], columns=['embedding']).column('embedding'))[: int(sys.argv[2])]
    data, metric = data.astype(np.float64), "cosine"
else:
    g = np.load(sys.argv[5])
    data = csr_matrix((g["data"], g["indices"].astype(np.int32), g["indptr"].astype(np.int32)))
    metric = "precomputed"
t = time.perf_counter()
fit = FacilityLocationSelection(k, metric=metric, optimizer=sys.argv[6], verbose=False).fit(data)
total = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps({"total": total, "order": fit.ranking.tolist(), "objective": float(fit.gains.sum()),
                             "peak_mb": peak}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--neighbours", type=int, default=64)
    parser.add_argument("--dense", type=int, default=10_000, help="rows of the dense comparison")
    parser.add_argument("--sizes", default="10000,100000,0", help="rows of the kNN runs (0: the whole corpus)")
    parser.add_argument("--apricot-max", type=int, default=100_000, help="largest kNN run apricot is given")
    args = parser.parse_args()
    if not CORPUS.exists():
        raise SystemExit(f"no corpus at {CORPUS}: python benchmarks/build_corpus.py {CORPUS}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        vectors = folder / "vectors.parquet"
        embed = (
            f"COPY (SELECT id, embedding FROM (SELECT id, sel_hash_embed(text, {args.dim}) AS embedding "
            f"FROM '{CORPUS}') WHERE embedding IS NOT NULL ORDER BY id) TO '{vectors}'"
        )
        subprocess.run([sys.executable, "-c", f"import sqlsel; sqlsel.connect().sql({embed!r})"], check=True)
        rows = duckdb.sql(f"SELECT count(*) FROM '{vectors}'").fetchall()[0][0]
        print(f"{rows:,} corpus documents with a hash embedding ({args.dim} dims); k = {args.k}")

        graph = str(folder / "graph.npz")
        common = [str(vectors), "3000", "200", "0", graph]
        ours = json.loads(run_fresh(SQLSEL_SIDE, common, cwd=HERE))
        naive = json.loads(run_fresh(APRICOT_SIDE, [*common, "naive"], cwd=HERE))
        parity = ours["order"] == naive["order"]
        print(
            f"parity, dense 3,000 x 200: same picks as apricot's naive greedy: {parity}; objective "
            f"{ours['objective']:.6f} vs {naive['objective']:.6f}"
        )
        common = [str(vectors), str(args.dense), str(args.k), "0", graph]
        ours = json.loads(run_fresh(SQLSEL_SIDE, common, cwd=HERE))
        theirs = json.loads(run_fresh(APRICOT_SIDE, [*common, "lazy"], cwd=HERE))
        dense_ratio = theirs["total"] / ours["total"]
        print(
            f"dense {args.dense:,}: sqlsel {ours['total']:.1f} s ({ours['peak_mb']:,.0f} MB), apricot lazy "
            f"{theirs['total']:.1f} s ({theirs['peak_mb']:,.0f} MB): {dense_ratio:.1f}x; objective "
            f"{ours['objective']:.6f} vs {theirs['objective']:.6f}"
        )
        knn = []
        for size in [int(s) for s in args.sizes.split(",")]:
            n = size or rows
            common = [str(vectors), str(n), str(args.k), str(args.neighbours), graph]
            ours = json.loads(run_fresh(SQLSEL_SIDE, common, cwd=HERE))
            line = (
                f"kNN graph ({args.neighbours}) {n:,}: sqlsel {ours['total']:.1f} s (graph {ours['built']:.1f} s, "
                f"greedy {ours['total'] - ours['built']:.2f} s, {ours['peak_mb']:,.0f} MB)"
            )
            if n <= args.apricot_max:
                theirs = json.loads(run_fresh(APRICOT_SIDE, [*common, "lazy"], cwd=HERE))
                greedy = ours["total"] - ours["built"]
                line += (
                    f"; apricot lazy greedy on the same graph {theirs['total']:.2f} s "
                    f"({theirs['total'] / greedy:.1f}x the greedy); objective {ours['objective']:.4f} vs "
                    f"{theirs['objective']:.4f}"
                )
            knn.append((n, ours["total"]))
            print(line)

        pool = folder / "pool.parquet"
        duckdb.sql(f"COPY (SELECT id, text FROM '{CORPUS}') TO '{pool}'")
        run = [SQLSEL, "run", "diverse_topk", "-p", f"pool={pool}", "-p", f"k={args.k}", "-p", "method=facility"]
        run += ["-p", f"neighbours={args.neighbours}", "-p", f"dim={args.dim}", "--out", str(folder / "out.parquet")]
        t = time.perf_counter()
        subprocess.run(run, check=True, capture_output=True)
        whole = time.perf_counter() - t
        print(f"whole process, sqlsel run diverse_topk method=facility on {rows:,} documents: {whole:.1f} s")
    print(
        f"SUMMARY facility location: naive-greedy parity {parity}; "
        f"dense {args.dense:,} {dense_ratio:.1f}x apricot lazy; "
        + ", ".join(f"kNN {n:,} in {s:.1f} s" for n, s in knn)
        + f"; whole run {whole:.1f} s"
    )


if __name__ == "__main__":
    main()

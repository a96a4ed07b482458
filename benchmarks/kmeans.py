"""k-means at scale: a 2-level hierarchical fit and nearest-centroid assignment on 1M × 384 vectors.

    python benchmarks/kmeans.py [--corpus PATH] [--rows 1000000] [--dim 384] [--clusters 1000,100]

The vectors are real: sel_hash_embed(text, 384) of every corpus document (benchmarks/build_corpus.py), repeated
with small Gaussian jitter up to --rows, written to a Parquet file of (id, embedding FLOAT[384]).
Each measurement runs in a fresh process that reports its time and peak RSS (VmHWM):

1. sqlsel fit: ``SELECT sel_kmeans_fit('bench', <parquet>, '1000,100', 0)`` through SQL, with the
   default options (level 1: 15 Lloyd iterations on a hash-drawn sample of 256 rows per cluster from a
   random pick, then 2 on every row; 10 resampling fits at level 2), and again with
   ``'{"sample": 0}'``: the reference's fit, k-means++ and 50 Lloyd iterations on every row
   (``--skip-reference`` leaves it out: it takes six minutes here). Time, peak RSS and the level-1
   objective per row of both, and their ratios.
2. sqlsel assignment through SQL: ``COPY (SELECT id, sel_cluster(embedding, 'bench') …) TO …``, and the
   kernel alone (:func:`sqlsel.kernels.kmeans.assign`) on the in-memory matrix.
3. The baseline: a plain numpy/BLAS nearest-centroid argmin (argmin ‖c‖² − 2·x·cᵀ in 8,192-row
   blocks) on the same matrix and centroids; labels must agree.
4. scikit-learn's MiniBatchKMeans (k = level-1 clusters, batch 4,096, 20 epochs) on the same data,
   for comparison: time and inertia per row next to sqlsel's level-1 potential.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _fresh import run_fresh
from _vectors import write_vectors

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE / "data" / "corpus.parquet"

PEAK = "int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024"

FIT = f"""
import sys, time, sqlsel
con = sqlsel.connect(sys.argv[1], threads=2)
t0 = time.perf_counter()
source = "SELECT id, embedding FROM read_parquet('" + sys.argv[2] + "')"
rows = con.execute("SELECT sel_kmeans_fit('bench', ?, ?, 0, ?)", [source, sys.argv[3], sys.argv[4]]).fetchall()[0][0]
seconds = time.perf_counter() - t0
potential = con.execute("SELECT params->>'$.potential[0]' FROM sel_models WHERE name = 'bench'").fetchall()[0][0]
con.close()
print(f"RESULT {{rows}} {{seconds:.1f}} {{{PEAK}:.0f}} {{float(potential) / rows:.5f}}")
"""

ASSIGN_SQL = f"""
import sys, time, sqlsel
con = sqlsel.connect(sys.argv[1], threads=2)
con.execute("SET preserve_insertion_order = false").fetchall()
t0 = time.perf_counter()
con.execute("COPY (SELECT id, sel_cluster(embedding, 'bench') AS c FROM read_parquet('" + sys.argv[2] + "')) "
            "TO '" + sys.argv[3] + "'").fetchall()
seconds = time.perf_counter() - t0
con.close()
print(f"RESULT {{seconds:.1f}} {{{PEAK}:.0f}}")
"""

ASSIGN_KERNELS = f"""
import sys, time, duckdb, numpy as np, pyarrow.parquet as pq
from sqlsel.kernels.kmeans import assign
from sqlsel.kernels.vectors import vector_matrix
x = vector_matrix(pq.read_table(sys.argv[2], columns=['embedding']).column('embedding'))
con = duckdb.connect(sys.argv[1], read_only=True)
sql = ("SELECT centroid FROM sel_kmeans_centroids JOIN sel_models USING (model_id) "
       "WHERE name = 'bench' AND level = 1 ORDER BY cluster")
c = vector_matrix(con.execute(sql).to_arrow_table().column(0))
con.close()

def numpy_argmin(x, c, block=8192):
    cn = np.einsum('ij,ij->i', c, c)
    out = np.empty(len(x), np.int64)
    for s in range(0, len(x), block):
        out[s:s + block] = np.argmin(cn[None, :] - 2.0 * (x[s:s + block] @ c.T), axis=1)
    return out

best = {{}}
for _ in range(2):
    t0 = time.perf_counter(); labels, _ = assign(x, c); t1 = time.perf_counter()
    base = numpy_argmin(x, c); t2 = time.perf_counter()
    best['sqlsel'] = min(best.get('sqlsel', 1e9), t1 - t0)
    best['numpy'] = min(best.get('numpy', 1e9), t2 - t1)
agree = float((labels == base).mean())
print(f"RESULT {{best['sqlsel']:.2f}} {{best['numpy']:.2f}} {{agree:.6f}} {{{PEAK}:.0f}}")
"""

MINIBATCH = f"""
import sys, time, numpy as np, pyarrow.parquet as pq
from sklearn.cluster import MiniBatchKMeans
from sqlsel.kernels.vectors import vector_matrix
x = vector_matrix(pq.read_table(sys.argv[1], columns=['embedding']).column('embedding'))
t0 = time.perf_counter()
km = MiniBatchKMeans(n_clusters=int(sys.argv[2]), batch_size=4096, max_iter=20, n_init=1, random_state=0).fit(x)
seconds = time.perf_counter() - t0
inertia = float(((x - km.cluster_centers_[km.labels_]) ** 2).sum(dtype=np.float64))
print(f"RESULT {{seconds:.1f}} {{inertia / len(x):.5f}} {{{PEAK}:.0f}}")
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--clusters", default="1000,100")
    ap.add_argument("--skip-minibatch", action="store_true")
    ap.add_argument("--skip-reference", action="store_true", help="leave out the reference's every-row fit")
    args = ap.parse_args()
    if not args.corpus.exists():
        print(f"corpus not found: {args.corpus}; build it with benchmarks/build_corpus.py", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        vectors, db, labels = work / "vectors.parquet", work / "catalog.duckdb", work / "labels.parquet"
        write_vectors(args.corpus, vectors, args.rows, args.dim)
        print(f"data: {args.rows:,} × {args.dim} hash embeddings of {args.corpus.name}, clusters {args.clusters}")
        ref = None
        if not args.skip_reference:
            ref = run_fresh(FIT, [str(work / "reference.duckdb"), str(vectors), args.clusters, '{"sample": 0}']).split()
            print(
                f"reference fit, sample 0 (k-means++, 50 Lloyd iterations on every row): {float(ref[1]):7.1f} s  "
                f"peak RSS {float(ref[2]):6.0f} MB  level-1 potential/row {float(ref[3]):.5f}"
            )
        rows, fit_s, fit_rss, potential = run_fresh(FIT, [str(db), str(vectors), args.clusters, "{}"]).split()
        print(
            f"sqlsel fit, default options (SQL, 2 threads): {float(fit_s):7.1f} s  peak RSS {float(fit_rss):6.0f} MB  "
            f"level-1 potential/row {float(potential):.5f}"
        )
        if ref is not None:
            print(
                f"  {float(ref[1]) / float(fit_s):.1f}x faster than the every-row fit, objective "
                f"{(float(potential) / float(ref[3]) - 1):+.2%}"
            )
        sql_s, sql_rss = run_fresh(ASSIGN_SQL, [str(db), str(vectors), str(labels)]).split()
        print(f"sqlsel sel_cluster (SQL, Parquet in and out): {float(sql_s):6.1f} s  peak RSS {float(sql_rss):6.0f} MB")
        ours, numpy_s, agree, kern_rss = run_fresh(ASSIGN_KERNELS, [str(db), str(vectors)]).split()
        print(
            f"assignment kernel: sqlsel {float(ours):.2f} s, numpy/BLAS argmin {float(numpy_s):.2f} s "
            f"(ratio {float(ours) / float(numpy_s):.2f}; SQL end to end {float(sql_s) / float(numpy_s):.2f}), "
            f"labels agree {float(agree):.4%}, peak RSS {float(kern_rss):.0f} MB"
        )
        if not args.skip_minibatch:
            k1 = args.clusters.split(",")[0]
            mb_s, mb_inertia, mb_rss = run_fresh(MINIBATCH, [str(vectors), k1]).split()
            print(
                f"scikit-learn MiniBatchKMeans (k={k1}, 20 epochs): {float(mb_s):7.1f} s  inertia/row "
                f"{float(mb_inertia):.4f}  peak RSS {float(mb_rss):.0f} MB"
            )
    print(
        f"SUMMARY kmeans rows={int(rows)} dim={args.dim} clusters={args.clusters} fit_s={float(fit_s):.0f} "
        f"fit_rss_mb={float(fit_rss):.0f} assign_kernel_vs_numpy={float(ours) / float(numpy_s):.2f} "
        f"assign_sql_vs_numpy={float(sql_s) / float(numpy_s):.2f} assign_sql_rss_mb={float(sql_rss):.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

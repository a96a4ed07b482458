"""SemDeDup and k-center greedy: real duplicates in the corpus, and speed against plain numpy.

    python benchmarks/diversity.py [--corpus PATH] [--rows 1000000] [--kcenter-rows 200000] [--k 10000]
                                   [--clusters 1000] [--eps 0.001,0.01,0.05,0.1] [--skip-speed] [--skip-kcenter]

1. Real duplicates: the corpus (benchmarks/build_corpus.py) holds exact duplicate texts (man pages, headers across
   architectures) and near-duplicates. sel_hash_embed(text, 256) per document, a k-means model of
   --clusters clusters, then sel_semdedup at each ε: rows removed, against the number of exact
   duplicate texts, and a sample of removed pairs.
2. SemDeDup speed, on two sets of --rows × 384 vectors: hash embeddings of the corpus's paragraphs
   (real text), and of its documents repeated with jitter (clusters become crowds of near-copies, the
   hardest case for pruning); --clusters clusters, each row's cluster written beside it by sel_cluster.
   sqlsel's sel_semdedup (exact; its time includes reading the Parquet file) in a fresh process,
   against a straightforward numpy implementation of the reference's rule (per cluster: S = E·Eᵀ, triu,
   column max > 1 − ε, similarities within 1e-4 of the threshold re-decided in float64 as sqlsel does;
   its time excludes reading) given the same clusters and sqlsel's centroid distances, in another;
   both report time and peak RSS; the removal masks must be identical. The numpy process then times
   sqlsel's kernel on its own in-memory matrix: the rule against the rule.
3. k-center greedy: --kcenter-rows × 384, k = --k. sqlsel's sel_kcenter in a fresh process against the
   straightforward eager loop (update every row's distance to its nearest pick after each pick, float64).
   The eager loop costs the same per pick throughout, so it is timed on its first 300 picks and
   extrapolated to k; those picks must equal sqlsel's first 300.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _fresh import run_fresh
from _vectors import write_paragraph_vectors, write_vectors

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE / "data" / "corpus.parquet"
DATASETS = {
    "paragraphs": "hash embeddings of the corpus's first 1M paragraphs: real text, 54% exact repeats",
    "jittered": "the 181k documents' hash embeddings repeated with σ = 0.01 jitter: clusters are crowds of near-copies",
}
PEAK = "int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024"

SQLSEL_SEMDEDUP = f"""
import sys, time, numpy as np, sqlsel
con = sqlsel.connect(sys.argv[1], threads=2)
src = "SELECT id, embedding, cluster FROM read_parquet('" + sys.argv[2] + "') WHERE id < " + sys.argv[5]
t0 = time.perf_counter()
con.execute("SELECT sel_semdedup('sel_scratch.d', ?, 'bench', ?)", [src, float(sys.argv[3])]).fetchall()
seconds = time.perf_counter() - t0
t = con.sql("SELECT cluster, centroid_distance, removed FROM sel_scratch.d ORDER BY id").to_arrow_table()
removed = t.column("removed").to_numpy()
np.save(sys.argv[4], np.column_stack([t.column(0).to_numpy(), t.column(1).to_numpy(), removed]).astype(np.float64))
print(f"RESULT {{seconds:.1f}} {{{PEAK}:.0f}} {{int(removed.sum())}}")
"""

NUMPY_SEMDEDUP = f"""
import sys, time, numpy as np, pyarrow.parquet as pq
from sqlsel.kernels.diversity import semdedup
from sqlsel.kernels.vectors import vector_matrix
t = pq.read_table(sys.argv[2], columns=['id', 'embedding'], filters=[('id', '<', int(sys.argv[5]))])
x = vector_matrix(t.column('embedding'))
theirs = np.load(sys.argv[4])  # the same clusters and centroid distances as sqlsel's run
labels, distance = theirs[:, 0].astype(np.int64), theirs[:, 1]
eps = float(sys.argv[3])
t0 = time.perf_counter()
e = x / np.linalg.norm(x, axis=1, keepdims=True)
removed = np.zeros(len(x), bool)
for k in np.unique(labels):
    idx = np.flatnonzero(labels == k)
    idx = idx[np.lexsort((idx, -distance[idx]))]  # hard: farthest from the centroid first, ties by id
    s = e[idx] @ e[idx].T
    m = np.triu(s, 1).max(axis=0)
    removed[idx[1:]] = m[1:] > 1 - eps
    for j in np.flatnonzero(np.abs(m[1:] - (1 - eps)) <= 1e-4) + 1:  # at the threshold: decide in float64
        u = x[idx[: j + 1]].astype(np.float64)
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        removed[idx[j]] = (u[:j] @ u[j]).max() > 1 - eps + 1e-12  # within 1e-12: equal, so not above
seconds = time.perf_counter() - t0
peak = {PEAK}
same = bool((removed == theirs[:, 2].astype(bool)).all())
t0 = time.perf_counter()  # sqlsel's kernel on the same in-memory matrix: the rule alone, no SQL, no Parquet
angles = np.arccos(np.clip(1 - distance, -1, 1))
kernel = semdedup(x, labels, distance, eps, angles=angles, keys=t.column('id').to_numpy(), threads=2)
kernel_s = time.perf_counter() - t0
kernel_same = bool((kernel.removed == removed).all())
print(f"RESULT {{seconds:.1f}} {{peak:.0f}} {{int(removed.sum())}} {{same}} {{kernel_s:.1f}} {{kernel_same}}")
"""

SQLSEL_KCENTER = f"""
import sys, time, numpy as np, sqlsel
con = sqlsel.connect(threads=2)
src = "SELECT id, embedding FROM read_parquet('" + sys.argv[1] + "') WHERE id < " + sys.argv[2]
t0 = time.perf_counter()
con.execute("SELECT sel_kcenter('sel_scratch.picks', ?, ?, 0)", [src, int(sys.argv[3])]).fetchall()
rows = con.execute("SELECT id FROM sel_scratch.picks ORDER BY rank").fetchall()
seconds = time.perf_counter() - t0
np.save(sys.argv[4], np.array([r[0] for r in rows]))
print(f"RESULT {{seconds:.1f}} {{{PEAK}:.0f}}")
"""

NUMPY_KCENTER = f"""
import sys, time, numpy as np, pyarrow.parquet as pq, pyarrow.compute as pc
from sqlsel.kernels.sampling import uniform
from sqlsel.kernels.vectors import vector_matrix
t = pq.read_table(sys.argv[1], filters=[('id', '<', int(sys.argv[2]))])
ids = t.column('id').to_numpy()
x = vector_matrix(t.column('embedding')).astype(np.float64)
picks = int(sys.argv[3])
t0 = time.perf_counter()
start = int(np.lexsort((ids, uniform(ids, 0)))[0])
mind = np.sqrt(((x - x[start]) ** 2).sum(1)); mind[start] = -1
order = [start]
for _ in range(1, picks):
    p = int(np.argmax(mind)); order.append(p)
    mind = np.minimum(mind, np.sqrt(((x - x[p]) ** 2).sum(1))); mind[order] = -1
seconds = time.perf_counter() - t0
same = bool((ids[order] == np.load(sys.argv[4])[:picks]).all())
print(f"RESULT {{seconds:.1f}} {{{PEAK}:.0f}} {{same}}")
"""


def real_duplicates(corpus: Path, clusters: int, eps_values: list[float]) -> str:
    import sqlsel

    con = sqlsel.connect(threads=2)
    total, distinct = con.execute(
        "SELECT count(*), count(DISTINCT text) FROM read_parquet(?)", [str(corpus)]
    ).fetchall()[0]
    con.execute(
        "CREATE TABLE sel_scratch.docs AS SELECT id, text, source, sel_hash_embed(text, 256) AS embedding "
        "FROM read_parquet(?) WHERE sel_hash_embed(text, 256) IS NOT NULL",
        [str(corpus)],
    ).fetchall()
    t0 = time.perf_counter()
    con.execute(
        "SELECT sel_kmeans_fit('dups', 'sel_scratch.docs', ?, 0, '{\"iterations\": 20}')", [str(clusters)]
    ).fetchall()
    print(
        f"real corpus: {total:,} documents, {total - distinct:,} exact duplicate texts; hash embeddings (256), "
        f"{clusters} clusters fitted in {time.perf_counter() - t0:.0f} s"
    )
    t0 = time.perf_counter()
    con.execute("SELECT sel_vectors_store('docs', 'SELECT id, embedding FROM sel_scratch.docs')").fetchall()
    con.execute("SELECT sel_index_build('docs_index', 'docs')").fetchall()
    print(f"  vector table and IVF_HNSW_SQ cosine index built in {time.perf_counter() - t0:.0f} s")
    counts = []
    for eps in eps_values:
        t0 = time.perf_counter()
        con.execute(
            "SELECT sel_semdedup('sel_scratch.fast', 'sel_scratch.docs', 'dups', ?, index := 'docs_index')", [eps]
        ).fetchall()
        fast_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        con.execute("SELECT sel_semdedup('sel_scratch.dedup', 'sel_scratch.docs', 'dups', ?)", [eps]).fetchall()
        exact_s = time.perf_counter() - t0
        found, wrong = con.execute(
            "SELECT count(*) FILTER (d.removed AND f.removed), count(*) FILTER (f.removed AND NOT d.removed) "
            "FROM sel_scratch.dedup d JOIN sel_scratch.fast f USING (id)"
        ).fetchall()[0]
        removed = con.execute("SELECT count(*) FROM sel_scratch.dedup WHERE removed").fetchall()[0][0]
        exact = con.execute(
            "SELECT count(*) FROM sel_scratch.dedup d JOIN sel_scratch.docs a USING (id) "
            "JOIN sel_scratch.docs b ON b.id = d.dup_of WHERE d.removed AND a.text = b.text"
        ).fetchall()[0][0]
        recall = found / removed if removed else 1.0
        counts.append(f"eps={eps}:{removed}:recall={recall:.4f}")
        print(
            f"  eps {eps:<6} removes {removed:7,} rows ({removed / total:.1%}) in {exact_s:.1f} s; {exact:,} repeat "
            f"their dup_of's text exactly; index-backed: {fast_s:.1f} s, recall of removals {recall:.4f}, "
            f"{wrong} removed that exact keeps"
        )
    print("  sample of removed pairs at the largest eps (max_sim, source, text starts):")
    sample = con.execute(
        "SELECT d.max_sim, a.source, a.text, b.text FROM sel_scratch.dedup d JOIN sel_scratch.docs a USING (id) "
        "JOIN sel_scratch.docs b ON b.id = d.dup_of WHERE d.removed AND a.text <> b.text "
        "ORDER BY hash(d.id) LIMIT 6"
    ).fetchall()
    for sim, source, a, b in sample:
        clip = lambda s: " ".join(s.split())[:60]  # noqa: E731
        print(f"    {sim:.3f} {source:<12} {clip(a)!r}\n{'':23}~ {clip(b)!r}")
    con.close()
    return " ".join(counts)


def semdedup_speed(name: str, vectors: Path, rows: int, work: Path, args: argparse.Namespace) -> dict:
    """sel_semdedup against the numpy rule on the first ``rows`` of one set of vectors, both given the same clusters."""
    import sqlsel

    work.mkdir()
    db = work / "catalog.duckdb"
    con = sqlsel.connect(db, threads=2)
    t0 = time.perf_counter()
    src = f"SELECT id, embedding FROM read_parquet('{vectors}') WHERE id < {args.rows}"
    con.execute("SELECT sel_kmeans_fit('bench', ?, ?, 0, '{\"iterations\": 10}')", [src, str(args.clusters)]).fetchall()
    clustered = work / "clustered.parquet"  # both sides start from the same cluster of each row
    con.execute(
        f"COPY (SELECT id, embedding, sel_cluster(embedding, 'bench') AS cluster FROM read_parquet('{vectors}') "
        f"WHERE id < {args.rows}) TO '{clustered}' (ROW_GROUP_SIZE 32768)"
    ).fetchall()
    con.close()
    print(
        f"SemDeDup speed on {name}: {rows:,} × 384 vectors ({DATASETS[name]}), {args.clusters} clusters "
        f"(fitted in {time.perf_counter() - t0:.0f} s, 10 iterations), eps {args.speed_eps}"
    )
    mask = work / "removed.npy"
    ours_s, ours_rss, ours_removed = run_fresh(
        SQLSEL_SEMDEDUP, [str(db), str(clustered), str(args.speed_eps), str(mask), str(args.rows)]
    ).split()
    print(
        f"  sqlsel sel_semdedup (SQL, reads Parquet): {float(ours_s):7.1f} s  peak RSS {float(ours_rss):6.0f} MB  "
        f"removed {int(ours_removed):,}"
    )
    np_s, np_rss, np_removed, same, kernel_s, kernel_same = run_fresh(
        NUMPY_SEMDEDUP, [str(db), str(vectors), str(args.speed_eps), str(mask), str(args.rows)]
    ).split()
    print(
        f"  numpy per-cluster S = E·Eᵀ, triu, max:     {float(np_s):7.1f} s  peak RSS {float(np_rss):6.0f} MB  "
        f"removed {int(np_removed):,}; same rows removed: {same}"
    )
    print(
        f"  sqlsel's kernel on numpy's in-memory matrix: {float(kernel_s):5.1f} s "
        f"({float(np_s) / float(kernel_s):.1f}× numpy; the rule alone, no Parquet read); "
        f"same rows removed: {kernel_same}"
    )
    return {
        "sqlsel_s": float(ours_s),
        "numpy_s": float(np_s),
        "same": same,
        "kernel_s": float(kernel_s),
        "rss_mb": float(ours_rss),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--kcenter-rows", type=int, default=200_000)
    ap.add_argument("--k", type=int, default=10_000)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--eps", default="0.001,0.01,0.05,0.1")
    ap.add_argument("--speed-eps", type=float, default=0.05)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-kcenter", action="store_true")
    args = ap.parse_args()
    if not args.corpus.exists():
        print(f"corpus not found: {args.corpus}; build it with benchmarks/build_corpus.py", file=sys.stderr)
        return 2
    dups = real_duplicates(args.corpus, args.clusters, [float(e) for e in args.eps.split(",")])
    if args.skip_speed:
        print(f"SUMMARY diversity duplicates {dups}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        vectors = work / "vectors.parquet"
        write_vectors(args.corpus, vectors, max(args.rows, args.kcenter_rows), 384)
        paragraphs = work / "paragraphs.parquet"
        paragraph_rows = write_paragraph_vectors(args.corpus, paragraphs, args.rows, 384)  # fewer on a small corpus
        speed = {
            name: semdedup_speed(name, path, rows, work / name, args)
            for name, path, rows in (("paragraphs", paragraphs, paragraph_rows), ("jittered", vectors, args.rows))
        }
        kcenter = "k-center skipped"
        if not args.skip_kcenter:
            picks = work / "picks.npy"
            kc_s, kc_rss = run_fresh(
                SQLSEL_KCENTER, [str(vectors), str(args.kcenter_rows), str(args.k), str(picks)]
            ).split()
            print(f"k-center greedy: {args.kcenter_rows:,} × 384, k = {args.k:,}")
            print(f"  sqlsel sel_kcenter (SQL, reads Parquet): {float(kc_s):7.1f} s  peak RSS {float(kc_rss):6.0f} MB")
            prefix = min(300, args.k)
            eager_s, eager_rss, eager_same = run_fresh(
                NUMPY_KCENTER, [str(vectors), str(args.kcenter_rows), str(prefix), str(picks)]
            ).split()
            projected = float(eager_s) / prefix * args.k
            print(
                f"  numpy eager loop: {float(eager_s):.1f} s for {prefix} picks → {projected:,.0f} s projected for "
                f"k = {args.k:,}; peak RSS {float(eager_rss):.0f} MB; same first {prefix} picks: {eager_same}"
            )
            kcenter = (
                f"kcenter_rows={args.kcenter_rows} k={args.k} sqlsel_s={float(kc_s):.1f} "
                f"numpy_projected_s={projected:.0f} speedup={projected / float(kc_s):.1f}x same_prefix={eager_same}"
            )
    semdedup = " ".join(
        f"{name}: sqlsel_s={r['sqlsel_s']:.1f} numpy_s={r['numpy_s']:.1f} speedup={r['numpy_s'] / r['sqlsel_s']:.1f}x "
        f"same={r['same']} kernel_speedup={r['numpy_s'] / r['kernel_s']:.1f}x rss_mb={r['rss_mb']:.0f};"
        for name, r in speed.items()
    )
    print(f"SUMMARY diversity semdedup_rows={args.rows} {semdedup} {kcenter} duplicates {dups}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""MinHash-LSH dedup on the real corpus: sqlsel's recipe against datasketch, whole processes, and quality.

    python benchmarks/minhash.py [--corpus benchmarks/data/corpus.parquet] [--limit N]

Measures, in one invocation:

1. Whole processes, as users run them: ``sqlsel run minhash_dedup`` (threshold 0.8, 128 permutations,
   5-word shingles; unverified and with ``verify=true``) and a datasketch 2.x script doing the same
   (``MinHash.update_batch`` per document, ``MinHashLSH`` insert and query, union-find; the lowest id of
   a cluster kept). Both read the same Parquet file and write the removed ids.
2. Signature rates: datasketch's (inside its process), rensa's ``RMinHash`` per document from Python
   tokens (``RAYON_NUM_THREADS=1``: one core), and sqlsel's kernel on one thread; docs/s per core.
3. Quality against ground truth: candidates from LSH at threshold 0.5 with 256 permutations (every pair
   within a bucket; texts with equal shingle sets counted once), verified by exact Jaccard on the same
   shingles. Of the clusters joined by pairs with Jaccard >= 0.9, the share where exactly one row is
   kept; of the removed rows, the share with a partner of exact Jaccard >= 0.7. For both systems.

Prints its figures and a final ``SUMMARY`` line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fresh import run_fresh  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "benchmarks" / "data" / "corpus.parquet"

SHINGLES_PY = r"""
import re
_WORD = re.compile(r"\w+")
def shingles(text, n=5):
    toks = _WORD.findall(text.lower())
    if not toks:
        return []
    if len(toks) < n:
        return [" ".join(toks).encode()]
    return [" ".join(toks[i:i + n]).encode() for i in range(len(toks) - n + 1)]
"""

DATASKETCH_PROCESS = (
    SHINGLES_PY
    + r"""
import sys, time, json
import numpy as np, pyarrow.parquet as pq, pyarrow as pa
from datasketch import MinHash, MinHashLSH
pool, out = sys.argv[1], sys.argv[2]
t = pq.read_table(pool, columns=["id", "text"])
ids, texts = t.column("id").to_pylist(), t.column("text").to_pylist()
t0 = time.perf_counter()
sigs = {}
for i, text in zip(ids, texts):
    sh = shingles(text) if text is not None else []
    if sh:
        m = MinHash(num_perm=128, seed=1)
        m.update_batch(sh)
        sigs[i] = m
t_sig = time.perf_counter() - t0
lsh = MinHashLSH(threshold=0.8, num_perm=128)
for i, m in sigs.items():
    lsh.insert(i, m)
parent = {}
def root(x):
    while parent.get(x, x) != x:
        x = parent[x]
    return x
for i, m in sigs.items():
    for j in lsh.query(m):
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
removed = sorted(i for i in sigs if root(i) != i)
dup_of = [root(i) for i in removed]
pq.write_table(pa.table({"id": removed, "dup_of": dup_of}), out)
print("RESULT " + json.dumps({"signatures_s": t_sig, "docs": len(sigs), "total_s": time.perf_counter() - t0}))
"""
)

RENSA_PROCESS = (
    SHINGLES_PY
    + r"""
import sys, time, json
import pyarrow.parquet as pq
from rensa import RMinHash
texts = [x for x in pq.read_table(sys.argv[1], columns=["text"]).column("text").to_pylist() if x]
t0 = time.perf_counter()
for text in texts:
    m = RMinHash(128, 1)
    m.update(shingles(text))
    m.digest()
print("RESULT " + json.dumps({"s": time.perf_counter() - t0, "docs": len(texts)}))
"""
)


def timed(command: list[str], cwd: Path, env: dict | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return time.perf_counter() - start


def sqlsel_run(work: Path, pool: Path, out: Path, threads: int, *extra: str) -> float:
    command = [str(Path(sys.executable).parent / "sqlsel"), "run", "minhash_dedup", "-p", f"pool={pool}"]
    command += ["-p", "removed=true"]
    command += [a for e in extra for a in ("-p", e)] + ["--threads", str(threads), "--out", str(out)]
    return timed(command, work)


def ground_truth(texts: pa.Array) -> dict:
    """Candidate pairs (LSH 0.5, 256 permutations) with their exact Jaccard, and the shingle sets."""
    from sqlsel.kernels.minhash import band_hashes, lsh_params, shingles, signatures

    sh = shingles(texts)
    sig = signatures(texts, 256, 5, 7)
    valid = np.flatnonzero(sig.valid)
    # texts with equal shingle sets: one representative each (their pairs have Jaccard 1)
    set_key = np.array(
        [hash(np.unique(sh.hashes[sh.offsets[i] : sh.offsets[i + 1]]).tobytes()) for i in valid], np.int64
    )
    _, first, group = np.unique(set_key, return_index=True, return_inverse=True)
    reps = valid[first]
    b, r = lsh_params(0.5, 256)
    buckets = band_hashes(sig.values[reps], b, r)
    found: list[np.ndarray] = []  # pair keys left * len(reps) + right, left < right
    capped = 0
    for k in range(b):
        order = np.argsort(buckets[:, k], kind="stable")
        cuts = np.flatnonzero(np.diff(buckets[order, k])) + 1
        for members in np.split(order, cuts):
            if len(members) < 2:
                continue
            m = np.sort(members).astype(np.int64)
            if len(m) > 300:  # chain and star instead of every pair
                capped += 1
                x, y = np.concatenate([m[:-1], np.full(len(m) - 1, m[0])]), np.concatenate([m[1:], m[1:]])
            else:
                x, y = (m[i] for i in np.triu_indices(len(m), 1))
            found.append(x * len(reps) + y)
    keys = np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)
    left, right = keys // len(reps), keys % len(reps)
    jac = _pair_jaccard(sh, reps[left], reps[right])
    return {"reps": reps, "group": group, "valid": valid, "left": left, "right": right, "jaccard": jac, "sh": sh,
            "capped": capped, "bands": (b, r)}  # fmt: skip


def _pair_jaccard(sh, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from sqlsel.kernels.minhash import _jaccard

    ha = [sh.hashes[sh.offsets[i] : sh.offsets[i + 1]] for i in a]
    hb = [sh.hashes[sh.offsets[i] : sh.offsets[i + 1]] for i in b]
    oa = np.concatenate([[0], np.cumsum([len(x) for x in ha])]).astype(np.int64)
    ob = np.concatenate([[0], np.cumsum([len(x) for x in hb])]).astype(np.int64)
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, np.uint64)  # noqa: E731
    return _jaccard(cat(ha), oa, cat(hb), ob)


def quality(gt: dict, ids: np.ndarray, removed_ids: np.ndarray, dup_of: np.ndarray) -> dict:
    """Share of true clusters (Jaccard >= 0.9) keeping exactly one row; share of removals with a >= 0.7 partner."""
    from sqlsel.kernels.minhash import components

    position = {int(v): i for i, v in enumerate(ids.tolist())}
    removed = np.zeros(len(ids), bool)
    removed[[position[int(v)] for v in removed_ids]] = True
    valid, group, reps = gt["valid"], gt["group"], gt["reps"]
    # rows joined: equal shingle sets (same group), and representatives joined by pairs >= 0.9
    strong = gt["jaccard"] >= 0.9
    rep_component = components(gt["left"][strong], gt["right"][strong], len(reps))
    cluster = rep_component[group]  # of every valid row
    sizes = np.bincount(cluster, minlength=len(reps))
    kept = np.bincount(cluster, weights=(~removed[valid]).astype(float), minlength=len(reps))
    multi = sizes >= 2
    one_kept = float(np.mean(kept[multi] == 1))
    none_kept = float(np.mean(kept[multi] == 0))  # wholly removed for a row of a larger cluster they joined
    # removals: exact Jaccard with the row named as duplicate, else with any candidate partner
    rows = np.array([position[int(v)] for v in removed_ids], np.int64)
    partners = np.array([position[int(v)] for v in dup_of], np.int64)
    direct = _pair_jaccard(gt["sh"], rows, partners) >= 0.7
    rep_of_row = np.full(len(ids), -1)
    rep_of_row[valid] = group
    group_size = np.bincount(group)
    good = np.zeros(len(reps), bool)
    ok = gt["jaccard"] >= 0.7
    good[gt["left"][ok]] = True
    good[gt["right"][ok]] = True
    has_partner = direct | (group_size[rep_of_row[rows]] > 1) | good[rep_of_row[rows]]
    return {
        "true_clusters": int(multi.sum()),
        "one_kept": one_kept,
        "none_kept": none_kept,
        "removed": int(len(rows)),
        "partner_07": float(np.mean(has_partner)) if len(rows) else 1.0,
        "direct_07": float(np.mean(direct)) if len(rows) else 1.0,
    }


def rates(work: Path, pool: Path, texts: pa.Array) -> tuple[float, float, float, float]:
    """datasketch's whole process and signature rate, rensa's and sqlsel's signature rates per core."""
    start = time.perf_counter()
    ref = json.loads(run_fresh(DATASKETCH_PROCESS, [str(pool), str(work / "datasketch_removed.parquet")]))
    t_ref = time.perf_counter() - start
    ds_rate = ref["docs"] / ref["signatures_s"]
    print(f"datasketch whole process: {t_ref:.1f} s (signatures {ref['signatures_s']:.1f} s: {ds_rate:,.0f} docs/s)")
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    code = RENSA_PROCESS
    proc = subprocess.run([sys.executable, "-c", code, str(pool)], capture_output=True, text=True, env=env, check=True)
    rensa = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))[7:])
    rensa_rate = rensa["docs"] / rensa["s"]

    from sqlsel.kernels.minhash import signatures

    signatures(texts.slice(0, 100))
    start = time.perf_counter()
    signatures(texts)
    kernel_rate = len(texts) / (time.perf_counter() - start)
    print(
        f"signatures per core: sqlsel kernel {kernel_rate:,.0f} docs/s (tokenizing included), rensa RMinHash "
        f"{rensa_rate:,.0f} docs/s (Python shingles, RAYON_NUM_THREADS=1), datasketch {ds_rate:,.0f} docs/s"
    )

    return t_ref, ds_rate, rensa_rate, kernel_rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--limit", type=int, default=0, help="first N documents only (0: all)")
    parser.add_argument(
        "--quality-only", action="store_true", help="rerun sqlsel only; datasketch's output of an earlier run is reused"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "data" / "minhash")
    args = parser.parse_args()
    if not args.corpus.exists():
        raise SystemExit(f"{args.corpus} is missing: build it with benchmarks/build_corpus.py")
    args.work.mkdir(parents=True, exist_ok=True)
    table = pq.read_table(args.corpus, columns=["id", "text"])
    if args.limit:
        table = table.slice(0, args.limit)
    pool = args.work / "pool.parquet"
    pq.write_table(table, pool)  # DuckDB's and pyarrow's defaults read it alike; one file, as users have
    n = table.num_rows
    print(f"corpus: {n:,} documents, {pool.stat().st_size / 1e6:.0f} MB")

    for f in args.work.glob("sqlsel*.duckdb*"):
        f.unlink()
    sqlsel_run(args.work, pool, args.work / "warmup.parquet", args.threads)  # numba's cache, as after install
    t_sqlsel = sqlsel_run(args.work, pool, args.work / "sqlsel_removed.parquet", args.threads)
    t_verify = sqlsel_run(args.work, pool, args.work / "sqlsel_verified.parquet", args.threads, "verify=true")
    print(f"sqlsel run minhash_dedup, whole process, --threads {args.threads}: {t_sqlsel:.1f} s")
    print(f"  with verify=true: {t_verify:.1f} s")
    texts = table.column("text").combine_chunks()
    if args.quality_only:
        t_ref = ds_rate = rensa_rate = kernel_rate = float("nan")
    else:
        t_ref, ds_rate, rensa_rate, kernel_rate = rates(args.work, pool, texts)

    start = time.perf_counter()
    gt = ground_truth(texts)
    b, r = gt["bands"]
    print(
        f"ground truth: {len(gt['left']):,} candidate pairs (LSH 0.5, 256 permutations, {b}x{r}; "
        f"{gt['capped']} buckets over 300 rows chained), {np.sum(gt['jaccard'] >= 0.9):,} with Jaccard >= 0.9, "
        f"{time.perf_counter() - start:.1f} s"
    )
    ids = table.column("id").to_numpy()
    results = {}
    outputs = {"sqlsel": "sqlsel_removed", "sqlsel verify=true": "sqlsel_verified", "datasketch": "datasketch_removed"}
    for name, stem in outputs.items():
        removed = pq.read_table(args.work / f"{stem}.parquet", columns=["id", "dup_of"])
        q = quality(gt, ids, removed.column("id").to_numpy(), removed.column("dup_of").to_numpy())
        results[name] = q
        print(
            f"{name}: {q['removed']:,} rows removed; of {q['true_clusters']:,} clusters at Jaccard >= 0.9, "
            f"{100 * q['one_kept']:.2f}% keep exactly one row ({100 * q['none_kept']:.2f}% none, "
            f"{100 * (1 - q['one_kept'] - q['none_kept']):.2f}% several); "
            f"{100 * q['partner_07']:.2f}% of removed rows have a partner with exact Jaccard >= 0.7 "
            f"({100 * q['direct_07']:.2f}% with the row named as dup_of)"
        )
    s, d = results["sqlsel"], results["datasketch"]
    print(
        f"SUMMARY minhash_dedup {n:,} docs: whole process sqlsel {t_sqlsel:.1f} s vs datasketch {t_ref:.1f} s "
        f"({t_ref / t_sqlsel:.1f}x); signatures {kernel_rate:,.0f} docs/s/core vs rensa {rensa_rate:,.0f}; one kept "
        f"{100 * s['one_kept']:.1f}% (datasketch {100 * d['one_kept']:.1f}%); partner >= 0.7 "
        f"{100 * s['partner_07']:.1f}% (datasketch {100 * d['partner_07']:.1f}%)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""DSIR benchmark: sqlsel vs data-selection 1.0.3 on the real mixed-domain corpus, in one run.

Task: the target is 300 held-out documents of one source (default kernel_docs); the pool is every
other document of the corpus built by benchmarks/build_corpus.py (~181k documents, ~240 MB).

    python benchmarks/dsir.py [--corpus PATH] [--source kernel_docs] [--k 2000] [--skip-reference]

Prints, for each side, fit and weight times, docs/s and MB/s; the speed ratio; the largest relative
difference between the two sides' log weights in parity mode (smoothing=0, min_example_length=0);
the targeted-selection precision (share of the k selected documents from the target's source) of
sqlsel's defaults, sqlsel's parity mode and the reference (min_example_length 0 and its default
100); whole processes as a user runs them, --repeats of each side alternately (`sqlsel run
dsir_select` on Parquet with DuckDB's default row groups, a fresh catalog; a script running the
reference on JSONL), and their medians; and a final SUMMARY line. Each sqlsel run is a fresh
process (cold caches).

Needs: pip install -e '.[test]' (data-selection 1.0.3 with nltk<3.10 for num_proc=2).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _fresh import run_fresh, settle_memory

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE / "data" / "corpus.parquet"
BUILD = HERE / "build_corpus.py"


def prepare(corpus: Path, source: str, n_target: int, work: Path) -> dict:
    """Split the corpus into target (held-out docs of one source) and pool; write Parquet and JSONL."""
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE c AS SELECT id, source, text FROM read_parquet(?)", [str(corpus)]).fetchall()
    con.execute(
        "CREATE TABLE t AS SELECT id FROM c WHERE source = ? ORDER BY hash(id) LIMIT ?", [source, n_target]
    ).fetchall()
    for name, where in (("pool", "id NOT IN (SELECT id FROM t)"), ("target", "id IN (SELECT id FROM t)")):
        # DuckDB's default layout (122,880 rows per row group), as a user's COPY writes it
        parquet = f"COPY (SELECT * FROM c WHERE {where} ORDER BY id) TO '{work / name}.parquet'"
        con.execute(parquet).fetchall()
        jsonl = f"COPY (SELECT id, text FROM c WHERE {where} ORDER BY id) TO '{work / name}.jsonl' (FORMAT json)"
        con.execute(jsonl).fetchall()
    stats = con.execute("SELECT count(*), sum(strlen(text)) FROM c WHERE id NOT IN (SELECT id FROM t)").fetchall()[0]
    sources = dict(con.execute("SELECT id, source FROM c").fetchall())
    con.close()
    return {"docs": stats[0], "bytes": stats[1], "sources": sources}


def run_sqlsel(work: Path, params: dict, threads: int) -> dict:
    """One recipe run in a fresh process; returns timings, selected ids and (optionally) all weights."""
    code = f"""
import json, sys, time, sqlsel
def peak_rss_mb():
    # VmHWM is this process image's own peak; ru_maxrss would include the parent's RSS at fork
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
params = json.loads(sys.argv[1])
t0 = time.perf_counter()
res = sqlsel.run_recipe("dsir_select", params, threads={threads})
out = {{"elapsed": time.perf_counter() - t0, "timings": res.timings, "metrics": res.metrics,
        "ids": res.table.column("id").to_pylist(), "weights": res.table.column("log_weight").to_pylist(),
        "rss_mb": peak_rss_mb()}}
print("RESULT " + json.dumps(out))
"""
    return json.loads(run_fresh(code, [json.dumps(params)], cwd=work))


def fit_and_weights(timings: list) -> tuple[float, float]:
    """Split the recipe's statement timings into fit (features + histograms + model) and weighting."""
    fit = sum(s for _, s in timings[:-1])  # the last statement weighs the rows and selects; the others fit
    weights = timings[-1][1]
    return fit, weights


def run_reference(work: Path, k: int) -> dict:
    import numpy as np
    from data_selection import HashedNgramDSIR

    cache = work / "ref_cache"
    d = HashedNgramDSIR(
        [str(work / "pool.jsonl")], [str(work / "target.jsonl")], cache_dir=str(cache), num_proc=2, min_example_length=0
    )
    t0 = time.perf_counter()
    d.fit_importance_estimator(num_tokens_to_fit="auto")
    t1 = time.perf_counter()
    d.compute_importance_weights()
    t2 = time.perf_counter()
    shards = [np.load(cache / "log_importance_weights" / f"{i}.npy") for i in range(2)]
    weights = np.empty(sum(len(s) for s in shards))
    weights[0::2], weights[1::2] = shards  # virtual shard i holds every 2nd line from line i
    ids = [json.loads(line)["id"] for line in open(work / "pool.jsonl")]
    picked = {}
    for min_len in (0, 100):
        d.min_example_length = min_len
        out = work / f"ref_out_{min_len}"
        np.random.seed(0)
        d.resample(out_dir=str(out), num_to_sample=k, cache_dir=str(work / f"ref_resample_{min_len}"))
        picked[min_len] = [json.loads(line)["id"] for f in sorted(out.glob("*.jsonl")) for line in open(f)]
    all_weights = dict(zip(ids, weights.tolist(), strict=True))
    return {"fit": t1 - t0, "weights": t2 - t1, "all_weights": all_weights, "picked": picked}


REFERENCE_PROCESS = """
import sys, numpy as np
from data_selection import HashedNgramDSIR
pool, target, cache, out, k = sys.argv[1:6]
d = HashedNgramDSIR([pool], [target], cache_dir=cache, num_proc=2, min_example_length=0)
d.fit_importance_estimator(num_tokens_to_fit="auto")
d.compute_importance_weights()
np.random.seed(0)
d.resample(out_dir=out, num_to_sample=int(k), cache_dir=cache + "_resample")
"""


def whole_processes(
    work: Path, k: int, threads: int, repeats: int, reference: bool, settle_gb: float = 0.0
) -> dict[str, list[float]]:
    """Wall seconds of whole processes, as a user runs each side: `sqlsel run dsir_select` (fresh catalog,
    Parquet in, Parquet out) and a script running the reference (JSONL in, JSONL out), alternately;
    ``settle_gb`` GB touched and freed before each (:func:`_fresh.settle_memory`)."""
    sqlsel_cli = str(Path(sys.executable).parent / "sqlsel")
    times: dict[str, list[float]] = {"sqlsel": [], "reference": []}
    for i in range(repeats):
        command = [sqlsel_cli, "run", "dsir_select", "-p", f"pool={work / 'pool.parquet'}", "-p",
                   f"target={work / 'target.parquet'}", "-p", f"k={k}", "--threads", str(threads),
                   "--db", str(work / f"whole{i}.duckdb"), "--out", str(work / f"whole{i}.parquet")]  # fmt: skip
        settle_memory(settle_gb)
        t0 = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times["sqlsel"].append(time.perf_counter() - t0)
        if reference:
            args = [str(work / "pool.jsonl"), str(work / "target.jsonl"), str(work / f"whole_cache{i}"),
                    str(work / f"whole_out{i}"), str(k)]  # fmt: skip
            settle_memory(settle_gb)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", REFERENCE_PROCESS, *args], check=True, capture_output=True)
            times["reference"].append(time.perf_counter() - t0)
    return times


def precision(ids: list, sources: dict, source: str) -> float:
    return sum(sources[i] == source for i in ids) / max(len(ids), 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--source", default="kernel_docs")
    ap.add_argument("--n-target", type=int, default=300)
    ap.add_argument("--k", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--repeats", type=int, default=3, help="whole-process runs per side (the median is reported)")
    ap.add_argument(
        "--settle-memory",
        type=float,
        default=0.0,
        metavar="GB",
        help="touch and free GB of memory before every whole-process run, on both sides: on a VM that reports "
        "free pages to its host, each then starts as on a machine that does not (see _fresh.settle_memory)",
    )
    args = ap.parse_args()
    if not args.corpus.exists():
        print(f"building the corpus with {BUILD} (needs its Debian packages)", file=sys.stderr)
        args.corpus.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(BUILD), str(args.corpus)], check=True)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        task = prepare(args.corpus, args.source, args.n_target, work)
        mb = task["bytes"] / 1e6
        print(f"pool: {task['docs']} docs, {mb:.0f} MB; target: {args.n_target} {args.source} docs; k={args.k}")
        base = {"pool": str(work / "pool.parquet"), "target": str(work / "target.parquet")}

        parity = run_sqlsel(work, {**base, "k": 10**9, "smoothing": 0, "top_k": True, "model": "all"}, args.threads)
        timed = run_sqlsel(work, {**base, "k": args.k, "smoothing": 0}, args.threads)  # parity mode, Gumbel-top-k
        default = run_sqlsel(work, {**base, "k": args.k}, args.threads)
        fit, weigh = fit_and_weights(timed["timings"])
        ours = fit + weigh
        print(
            f"sqlsel    fit {fit:7.2f} s  weights {weigh:6.2f} s  total {ours:7.2f} s  "
            f"{task['docs'] / ours:8.0f} docs/s  {mb / ours:6.1f} MB/s  (end to end {timed['elapsed']:.1f} s, "
            f"peak RSS {timed['rss_mb']:.0f} MB, threads={args.threads}, fresh process)"
        )
        p_default = precision(default["ids"], task["sources"], args.source)
        p_parity = precision(timed["ids"], task["sources"], args.source)
        print(
            f"sqlsel    precision@{args.k}: defaults (smoothing=1) {p_default:.3f}, parity mode (smoothing=0) "
            f"{p_parity:.3f}; kl_reduction defaults {default['metrics']['kl_reduction']:.4f}, "
            f"parity {timed['metrics']['kl_reduction']:.4f}"
        )

        whole = whole_processes(work, args.k, args.threads, args.repeats, not args.skip_reference, args.settle_memory)
        ours_whole = statistics.median(whole["sqlsel"])
        settled = f", {args.settle_memory:g} GB touched and freed before each" if args.settle_memory else ""
        print(
            f"whole processes ({args.repeats} each, alternating{settled}): sqlsel run dsir_select "
            f"{' / '.join(f'{t:.1f}' for t in whole['sqlsel'])} s, median {ours_whole:.1f} s"
        )
        if args.skip_reference:
            print(
                f"SUMMARY dsir: whole process sqlsel {ours_whole:.1f} s; fit+weights {ours:.1f} s "
                f"({task['docs'] / ours:.0f} docs/s); precision {p_default:.3f}; reference skipped"
            )
            return 0
        theirs_whole = statistics.median(whole["reference"])
        print(
            f"whole processes: data-selection script {' / '.join(f'{t:.1f}' for t in whole['reference'])} s, "
            f"median {theirs_whole:.1f} s: {theirs_whole / ours_whole:.1f}x"
        )
        ref = run_reference(work, args.k)
        theirs = ref["fit"] + ref["weights"]
        print(
            f"reference fit {ref['fit']:7.2f} s  weights {ref['weights']:6.2f} s  total {theirs:7.2f} s  "
            f"{task['docs'] / theirs:8.0f} docs/s  {mb / theirs:6.1f} MB/s  (num_proc=2)"
        )
        got = dict(zip(parity["ids"], parity["weights"], strict=True))
        expected = ref["all_weights"]
        worst = max(abs(got[i] - w) / max(abs(w), 1e-12) for i, w in expected.items())
        same_keys = got.keys() == expected.keys()
        p_ref0 = precision(ref["picked"][0], task["sources"], args.source)
        p_ref100 = precision(ref["picked"][100], task["sources"], args.source)
        print(f"parity: {len(expected)} docs, same ids {same_keys}, max relative weight difference {worst:.2e}")
        print(f"reference precision@{args.k}: min_example_length=0 {p_ref0:.3f}, min_example_length=100 {p_ref100:.3f}")
        ratio = theirs / ours
        print(
            f"SUMMARY dsir: whole process sqlsel {ours_whole:.1f} s vs data-selection {theirs_whole:.1f} s = "
            f"{theirs_whole / ours_whole:.1f}x (medians of {args.repeats}{settled}); "
            f"fit+weights {ours:.1f} s vs {theirs:.1f} s = {ratio:.1f}x; "
            f"max rel weight diff {worst:.1e}; precision@{args.k} sqlsel defaults {p_default:.3f} vs reference "
            f"{max(p_ref0, p_ref100):.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

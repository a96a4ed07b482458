"""Spark benchmark: the same recipe on DuckDB and on Spark local[N], whole processes, in one run.

Task: `dsir_select` (target: 300 held-out kernel_docs documents; pool: the other ~181k documents of the
corpus built by benchmarks/build_corpus.py) and `semdedup` (hash embeddings of the same pool,
100 clusters). Each side is `sqlsel run RECIPE` as a user runs it, a fresh process on Parquet in
DuckDB's default layout (122,880 rows per row group), a fresh catalog per run.

    python benchmarks/spark.py [--corpus PATH] [--k 2000] [--master local[2]] [--repeats 1]

Prints, per recipe, each side's wall time and statement breakdown (from the run record) and whether
both selected the same keys (selection digest); Spark's fixed overhead (a process that starts a
session and runs one query; the 2,000-row example recipe on both engines); how Spark scales with
cores (local[1] against local[N]) and with input partitions (the pool rewritten with 16,384-row row
groups: Spark reads a Parquet row group as one partition at most); and a final SUMMARY line.

Needs: pip install -e '.[spark]' and Java 17.
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

from dsir import DEFAULT_CORPUS, prepare

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
SQLSEL = str(Path(sys.executable).parent / "sqlsel")


def run(recipe: str, params: dict, work: Path, tag: str, engine: str, master: str | None, threads: int) -> dict:
    """One `sqlsel run` process; its wall time, digest and per-statement seconds from the run record."""
    db = work / f"{tag}.duckdb"
    command = [SQLSEL, "run", recipe, "--db", str(db), "--out", str(work / f"{tag}.parquet"), "--engine", engine]
    command += [arg for k, v in params.items() for arg in ("-p", f"{k}={v}")]
    command += ["--threads", str(threads)] if engine == "duckdb" else ["--master", master or f"local[{threads}]"]
    t0 = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    shown = subprocess.run([SQLSEL, "runs", "show", "1", "--db", str(db), "--json"], capture_output=True, text=True)
    record = json.loads(shown.stdout)
    return {
        "wall": wall,
        "digest": record["selection_digest"],
        "statements": [(s["sql"][:60], s["seconds"]) for s in record["statements"]],
        "engine_info": record.get("engine_info"),
    }


def startup(master: str) -> float:
    """Seconds for a process to start a Spark session and run one query (the JVM, the Python workers)."""
    code = (
        "import sqlsel.spark\n"
        f"spark = sqlsel.spark.spark_session({master!r})\n"
        "sqlsel.spark.register(spark)\n"
        "spark.sql(\"SELECT sel_token_count('a b c')\").collect()\n"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t0


def rewrite_row_groups(source: Path, target: Path, rows: int) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM '{source}') TO '{target}' (ROW_GROUP_SIZE {rows})")
    con.close()


def show(label: str, result: dict) -> None:
    print(f"  {label}: {result['wall']:.1f} s")
    for sql, seconds in result["statements"]:
        print(f"      {seconds:8.2f} s  {sql}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--source", default="kernel_docs")
    ap.add_argument("--k", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, help="whole-process runs per side (the median is reported)")
    args = ap.parse_args()
    if not args.corpus.exists():
        raise SystemExit(f"no corpus at {args.corpus}: build it with benchmarks/build_corpus.py")
    master = f"local[{args.threads}]"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        facts = prepare(args.corpus, args.source, 300, work)
        pool, target = work / "pool.parquet", work / "target.parquet"
        print(f"pool: {facts['docs']:,} documents, {facts['bytes'] / 1e6:.0f} MB of text; {args.threads} threads")
        tasks = {
            "dsir_select": {"pool": pool, "target": target, "k": args.k},
            "semdedup": {"pool": pool, "clusters": 100},
        }
        medians: dict[str, dict[str, float]] = {}
        for recipe, params in tasks.items():
            walls: dict[str, list[float]] = {"duckdb": [], "spark": []}
            digests = set()
            print(f"\n{recipe}")
            for i in range(args.repeats):
                for engine in ("duckdb", "spark"):
                    result = run(recipe, params, work, f"{recipe}-{engine}-{i}", engine, master, args.threads)
                    walls[engine].append(result["wall"])
                    digests.add(result["digest"])
                    show(f"{engine} (run {i + 1})", result)
            same = len(digests) == 1
            medians[recipe] = {e: statistics.median(w) for e, w in walls.items()}
            ratio = medians[recipe]["spark"] / medians[recipe]["duckdb"]
            print(f"  median: duckdb {medians[recipe]['duckdb']:.1f} s, spark {medians[recipe]['spark']:.1f} s "
                  f"({ratio:.2f}x DuckDB's time); same selection: {same}")  # fmt: skip
            if not same:
                raise SystemExit(f"{recipe}: Spark and DuckDB selected different rows")

        print("\nSpark's fixed overhead")
        session = startup(master)
        print(f"  a process that starts a {master} session and runs a query and a UDF: {session:.1f} s")
        example = {"pool": EXAMPLES / "pool.parquet", "target": EXAMPLES / "target.jsonl", "k": 100}
        small = {
            e: run("dsir_select", example, work, f"example-{e}", e, master, args.threads)["wall"]
            for e in ("duckdb", "spark")
        }
        print(f"  dsir_select on the 2,000-row example: duckdb {small['duckdb']:.1f} s, spark {small['spark']:.1f} s")

        print("\nHow Spark scales (dsir_select)")
        one = run("dsir_select", tasks["dsir_select"], work, "scale-1", "spark", "local[1]", 1)
        print(f"  local[1]: {one['wall']:.1f} s; {master}: {medians['dsir_select']['spark']:.1f} s "
              f"({one['wall'] / medians['dsir_select']['spark']:.2f}x)")  # fmt: skip
        small_groups = work / "pool_16k.parquet"
        rewrite_row_groups(pool, small_groups, 16384)
        regrouped = {**tasks["dsir_select"], "pool": small_groups}
        many = run("dsir_select", regrouped, work, "scale-rg", "spark", master, args.threads)
        print(f"  {master}, pool in 16,384-row row groups: {many['wall']:.1f} s "
              f"(default layout, 2 row groups: {medians['dsir_select']['spark']:.1f} s)")  # fmt: skip
        show("statements", many)

    d, s = medians["dsir_select"], medians["semdedup"]
    print(
        f"\nSUMMARY dsir_select duckdb {d['duckdb']:.1f}s spark[{master}] {d['spark']:.1f}s ; "
        f"semdedup duckdb {s['duckdb']:.1f}s spark {s['spark']:.1f}s ; same selections ; "
        f"spark start-up {session:.1f}s ; local[1] {one['wall']:.1f}s ; 16k row groups {many['wall']:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The pure-SQL sqlsel_ macros in the DuckDB CLI against the sel_ functions in Python, on the real corpus.

Both sides are whole processes over the same rows of a catalog fitted by ``sqlsel run``:

- DSIR: ``sqlsel_dsir_weight(text, model)`` in ``duckdb -readonly`` vs ``sel_dsir_weight`` through
  ``sqlsel.connect(read_only=True)``, every row of the corpus (181,564 documents by default);
- k-means: ``sqlsel_cluster`` / ``sqlsel_centroid_distance`` at level 2 vs ``sel_cluster`` /
  ``sel_centroid_distance``, on hash embeddings of the first ``--vectors`` documents.

Each side writes (id, value) to Parquet; the script compares them row by row and prints the speeds.

    python benchmarks/shell.py [--rows N] [--vectors N] [--clusters 100,10]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "data" / "corpus.parquet"
TARGET = HERE.parent / "examples" / "target.jsonl"
SQLSEL = str(Path(sys.executable).parent / "sqlsel")
#: Letters whose lowercase DuckDB's lower() gives differently from Python's (README "In a DuckDB shell").
LOWER_DIFFERS = ("\u0130", "\u03a3")

PYTHON = """
import sys, sqlsel
db, query = sys.argv[1], sys.argv[2]
con = sqlsel.connect(db, read_only=True)
con.sql(query)
con.close()
"""


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{done.stderr}")
    return time.perf_counter() - start


def both(cli: str, db: Path, select: str, source: str, out: Path) -> tuple[float, float]:
    """Time the sel_ query in Python and its sqlsel_ twin in the CLI, each writing its rows to Parquet."""
    python = f"COPY ({select.format(prefix='sel_')} FROM {source} ORDER BY id) TO '{out / 'python.parquet'}'"
    shell = f"COPY ({select.format(prefix='sqlsel_')} FROM {source} ORDER BY id) TO '{out / 'shell.parquet'}'"
    return timed([sys.executable, "-c", PYTHON, str(db), python]), timed([cli, "-readonly", str(db), "-c", shell])


def differing(out: Path, columns: list[str], text_source: str | None = None) -> int:
    """Rows whose values differ beyond 1e-12 relative (exact for integer columns)."""
    checks = " OR ".join(
        f"NOT (p.{c} IS NOT DISTINCT FROM s.{c} OR abs(p.{c} - s.{c}) <= 1e-12 * greatest(abs(p.{c}), 1e-300))"
        for c in columns
    )
    skip = ""
    if text_source is not None:
        letters = " OR ".join(f"contains(t.text, '{ch}')" for ch in LOWER_DIFFERS)
        skip = f" AND id NOT IN (SELECT id FROM {text_source} t WHERE {letters})"
    return duckdb.sql(
        f"SELECT count(*) FROM '{out / 'python.parquet'}' p JOIN '{out / 'shell.parquet'}' s USING (id) "
        f"WHERE ({checks}){skip}"
    ).fetchall()[0][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=0, help="corpus rows to score (0: all)")
    parser.add_argument("--vectors", type=int, default=20_000, help="rows to cluster")
    parser.add_argument("--clusters", default="100,10")
    args = parser.parse_args()
    cli = shutil.which("duckdb", path=str(Path(sys.executable).parent)) or shutil.which("duckdb")
    if cli is None:
        raise SystemExit("no duckdb CLI: pip install duckdb-cli==1.5.6")
    if not CORPUS.exists():
        raise SystemExit(f"no corpus at {CORPUS}: python benchmarks/build_corpus.py {CORPUS}")
    version = subprocess.run([cli, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pool = folder / "pool.parquet"
        limit = f"LIMIT {args.rows}" if args.rows else ""
        duckdb.sql(f"COPY (SELECT id, text FROM '{CORPUS}' ORDER BY id {limit}) TO '{pool}'")
        rows = duckdb.sql(f"SELECT count(*) FROM '{pool}'").fetchall()[0][0]
        db = folder / "catalog.duckdb"
        fit = [SQLSEL, "run", "dsir_select", "-p", f"pool={pool}", "-p", f"target={TARGET}"]
        fit_s = timed([*fit, "-p", "k=10", "--db", str(db), "--out", str(folder / "picked.parquet")])
        print(f"{version}; DSIR fitted on {rows:,} documents in {fit_s:.1f} s")

        source = f"read_parquet('{pool}')"
        python_s, shell_s = both(cli, db, "SELECT id, {prefix}dsir_weight(text, 'dsir_select') AS w", source, folder)
        bad = differing(folder, ["w"], source)
        dsir = f"dsir weight {rows / shell_s:,.0f} docs/s in the CLI, {shell_s / python_s:.1f}x slower than Python"
        print(
            f"dsir weight, {rows:,} docs: Python {python_s:.1f} s ({rows / python_s:,.0f}/s), "
            f"shell {shell_s:.1f} s ({rows / shell_s:,.0f}/s): the shell is {shell_s / python_s:.1f}x slower; "
            f"{bad} rows differ beyond 1e-12 (rows with {'/'.join(LOWER_DIFFERS)} excluded)"
        )

        vectors = folder / "vectors.parquet"
        embed = (
            f"COPY (SELECT id, sel_hash_embed(text, 64) AS embedding FROM '{pool}' ORDER BY id LIMIT {args.vectors}) "
            f"TO '{vectors}'"
        )
        subprocess.run([sys.executable, "-c", PYTHON, str(db), embed], check=True)
        fit = [SQLSEL, "run", "balanced_sample", "-p", f"pool={vectors}", "-p", "n=100"]
        subprocess.run(
            [
                *fit,
                "-p",
                f"clusters={args.clusters}",
                "-p",
                "embedder=column",
                "--db",
                str(db),
                "--out",
                str(folder / "balanced.parquet"),
            ],
            check=True,
            capture_output=True,
        )
        cluster = (
            "SELECT id, {prefix}cluster(embedding, 'balanced_sample', 2) AS c, "
            "{prefix}centroid_distance(embedding, 'balanced_sample', 2) AS d"
        )
        python_s, shell_s = both(cli, db, cluster, f"read_parquet('{vectors}')", folder)
        bad = differing(folder, ["c", "d"])
        n = args.vectors
        print(
            f"cluster + distance at level 2 of {args.clusters}, {n:,} x 64: Python {python_s:.1f} s "
            f"({n / python_s:,.0f}/s), shell {shell_s:.1f} s ({n / shell_s:,.0f}/s): "
            f"{shell_s / python_s:.1f}x slower; {bad} rows differ"
        )
        print(f"SUMMARY shell macros: {dsir}; cluster {n / shell_s:,.0f} rows/s, {shell_s / python_s:.1f}x slower")


if __name__ == "__main__":
    main()

"""MIG on the real corpus: cost as the pool grows, and what it selects next to top-quality and random picks.

The corpus has no tags, so each document gets labels derived in SQL: its 5 most distinctive words
(tf-idf over words of 4 or more letters that occur in at least 20 documents and at most 2% of them;
ties by the word). Quality is Gopher's quality verdict: 1.0 when the document passes, 0.25 when not.
Both are computed once, before the timed runs, and written with the pool. Each MIG run is one whole
``sqlsel run mig_select`` process (label_embedding rows: a label's embedding is the mean of its
documents' hash embeddings, dimension 256; threshold 0.9, the paper's defaults otherwise).

    python benchmarks/mig.py [--sizes 10000,100000,0] [--k 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from _fresh import run_timed

import sqlsel

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "data" / "corpus.parquet"
SQLSEL = str(Path(sys.executable).parent / "sqlsel")

LABELS_SQL = """
CREATE TABLE words AS
SELECT id, unnest(regexp_extract_all(lower(text), '\\pL{4,}')) AS word FROM c;
CREATE TABLE df AS
SELECT word, count(DISTINCT id) AS df FROM words GROUP BY word
HAVING count(DISTINCT id) BETWEEN 20 AND 0.02 * (SELECT count(*) FROM c);
CREATE TABLE tagged AS
SELECT c.id, c.source, c.text, coalesce(t.labels, []::VARCHAR[]) AS labels,
       CASE WHEN (sel_gopher_quality(c.text)).keep THEN 1.0 ELSE 0.25 END AS quality
FROM c LEFT JOIN (
    SELECT id, list(word ORDER BY score DESC, word)[1:5] AS labels
    FROM (SELECT id, word, count(*) * ln((SELECT count(*) FROM c) / any_value(df)) AS score
          FROM words JOIN df USING (word) GROUP BY id, word)
    GROUP BY id
) t USING (id);
"""


def compare(con: duckdb.DuckDBPyConnection, picked: Path, k: int) -> str:
    """Labels and sources covered and mean quality: MIG's picks, the top-k by quality, k random rows."""
    sets = {
        "mig": f"SELECT id FROM '{picked}'",
        "top quality": f"SELECT id FROM pool ORDER BY quality DESC, hash(id) LIMIT {k}",
        "random": f"SELECT id FROM pool ORDER BY hash(id, 'random') LIMIT {k}",
    }
    parts = []
    for name, ids in sets.items():
        labels, sources, quality = con.sql(
            f"SELECT (SELECT count(DISTINCT l) FROM (SELECT unnest(labels) AS l FROM pool WHERE id IN ({ids}))), "
            f"count(DISTINCT source), avg(quality) FROM pool WHERE id IN ({ids})"
        ).fetchall()[0]
        parts.append(f"{name}: {labels:,} labels, {sources} sources, quality {quality:.3f}")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,0", help="pool sizes (0: the whole corpus)")
    parser.add_argument("--k", type=int, default=1000)
    args = parser.parse_args()
    if not CORPUS.exists():
        raise SystemExit(f"no corpus at {CORPUS}: python benchmarks/build_corpus.py {CORPUS}")
    con = sqlsel.connect()
    con.sql(f"CREATE TABLE c AS SELECT id, source, text FROM '{CORPUS}'")
    start = time.perf_counter()
    for statement in con.extract_statements(LABELS_SQL):
        con.sql(statement.query)
    labels = con.sql("SELECT count(DISTINCT l) FROM (SELECT unnest(labels) AS l FROM tagged)").fetchall()[0][0]
    print(f"labels and quality for {CORPUS.name}: {time.perf_counter() - start:.1f} s, {labels:,} distinct labels")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            limit = f"LIMIT {size}" if size else ""
            pool = Path(tmp) / f"pool_{size}.parquet"
            con.sql(f"CREATE OR REPLACE TABLE pool AS SELECT * FROM tagged ORDER BY md5(id::VARCHAR) {limit}")
            con.sql(f"COPY (SELECT * FROM pool ORDER BY id) TO '{pool}'")
            rows = con.sql("SELECT count(*) FROM pool").fetchall()[0][0]
            out = Path(tmp) / "picked.parquet"
            command = [SQLSEL, "run", "mig_select", "-p", f"pool={pool}", "-p", f"k={args.k}", "-p", "quality=quality"]
            command += ["-p", "labels=labels", "-p", "label_embedding=rows", "--out", str(out)]
            seconds, peak, stderr = run_timed(command)
            print(f"pool {rows:,}: {seconds:.1f} s whole process, peak RSS {peak:.2f} GB", flush=True)
            print("  " + stderr.strip().splitlines()[-1], flush=True)
            print("  " + compare(con, out, args.k), flush=True)
    print(f"SUMMARY mig_select k={args.k}: see the lines above (pool sizes {args.sizes})")


if __name__ == "__main__":
    main()

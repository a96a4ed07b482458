"""Quality filters against datatrove 0.10.1 on the real corpus: agreement and throughput.

A seeded sample across sources of ``benchmarks/data/corpus.parquet`` (default 10,000 texts) goes
through datatrove's four filters (``filter(doc)`` on ``Document`` objects, no executor; English
words by spaCy, as datatrove loads them) and sqlsel's kernels in the same process, each filter on
its own, in the same order for both (so both tokenizers' caches are warm alike after the first).
Agreement is on (keep, reason) per text, and for C4 also the cleaned text of kept ones; every
difference is listed with its id. Then ``sqlsel run quality_filter`` on the sample's Parquet in a
fresh process (whole-process wall time, all four filters). Prints a final SUMMARY line.

    python benchmarks/quality.py [--n 10000] [--seed 0]

Needs ``pip install datatrove==0.10.1 spacy``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sqlsel.kernels import quality

CORPUS = Path(__file__).resolve().parent / "data" / "corpus.parquet"


def sample(n: int, seed: int) -> pa.Table:
    """``n`` rows drawn without replacement, each source in proportion to its size (seeded)."""
    table = pq.read_table(CORPUS, columns=["id", "source", "path", "text"])
    table = table.filter(pc.is_valid(table["text"]))
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(table.num_rows, size=min(n, table.num_rows), replace=False))
    return table.take(picked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    table = sample(args.n, args.seed)
    ids = table.column("id").to_pylist()
    texts = table.column("text").to_pylist()
    sources = table.column("source").to_pylist()
    print(f"{len(texts):,} texts from {len(set(sources))} sources, {sum(map(len, texts)) / 1e6:.1f} M characters")

    filters = [
        ("gopher_quality", GopherQualityFilter(), quality.gopher_quality),
        ("gopher_repetition", GopherRepetitionFilter(), quality.gopher_repetition),
        ("c4", C4QualityFilter(), quality.c4_quality),
        ("fineweb", FineWebQualityFilter(), quality.fineweb_quality),
    ]
    quality.gopher_repetition(pa.array(["warm up the compiled loop"]))  # numba's cache or compile, not timed
    arrow_texts = pa.array(texts, pa.string())
    summary = []
    for name, ref, kernel in filters:
        start = time.perf_counter()
        expected = []
        for i, text in zip(ids, texts, strict=True):
            doc = Document(text=text, id=str(i))
            verdict = ref.filter(doc)
            expected.append((True, None, doc.text) if verdict is True else (False, verdict[1], None))
        theirs = time.perf_counter() - start
        start = time.perf_counter()
        ours = kernel(arrow_texts).to_pylist()
        mine = time.perf_counter() - start
        diffs = []
        for i, text, (keep, reason, cleaned), row in zip(ids, texts, expected, ours, strict=True):
            if (row["keep"], row["reason"]) != (keep, reason) or (name == "c4" and keep and row["text"] != cleaned):
                diffs.append((i, (keep, reason), (row["keep"], row["reason"]), text[:80]))
        agreement = 1 - len(diffs) / len(texts)
        kept = sum(e[0] for e in expected)
        print(
            f"{name:18s} agreement {agreement:.4%} ({len(diffs)} differ)  kept {kept:,}  "
            f"datatrove {len(texts) / theirs:,.0f} docs/s  sqlsel {len(texts) / mine:,.0f} docs/s  "
            f"({theirs / mine:.1f}x)"
        )
        for d in diffs:
            print(f"   id {d[0]}: datatrove {d[1]} sqlsel {d[2]} text {d[3]!r}")
        summary.append(f"{name}={agreement:.4%}/{theirs / mine:.1f}x")

    with tempfile.TemporaryDirectory() as tmp:
        pool = Path(tmp) / "sample.parquet"
        pq.write_table(table, pool)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "sqlsel.cli", "run", "quality_filter", "-p", f"pool={pool}"]
            + ["--out", str(Path(tmp) / "out.parquet"), "--db", str(Path(tmp) / "c.duckdb")],
            check=True,
        )
        whole = time.perf_counter() - start
    print(f"sqlsel run quality_filter (4 filters, whole process): {whole:.1f} s, {len(texts) / whole:,.0f} docs/s")
    print(f"SUMMARY quality n={len(texts)} " + " ".join(summary) + f" whole_process={whole:.1f}s")


if __name__ == "__main__":
    main()

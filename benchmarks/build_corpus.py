#!/usr/bin/env python3
"""Build a real, mixed-domain text corpus from documents installed on a Debian machine.

Every document is a chunk of a real file that nobody wrote for this project:
Python standard-library code, the Python and Linux kernel documentation, man pages,
C headers, GNU coding standards and fortune cookies (English, German, Spanish).
Each row keeps its `source`, so selection quality can be scored against ground truth.

    apt-get install -y python3.11-doc linux-doc-6.1 fortunes fortunes-de fortunes-es gnu-standards man-db
    python3 build_corpus.py OUT.parquet [--max-docs N]

Output columns: id BIGINT, source VARCHAR, path VARCHAR, text VARCHAR. Deterministic for a given
set of installed packages: files are walked in sorted order and ids follow that order.
"""

import argparse
import gzip
import re
import sys
import sysconfig
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MAX_CHARS = 2000
MIN_CHARS = 80


def read(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace")


def chunks(text: str, sep: str = r"\n\s*\n"):
    """Greedily pack blank-line separated blocks into chunks of at most MAX_CHARS."""
    buf = ""
    for block in re.split(sep, text):
        block = block.strip("\n")
        if not block.strip():
            continue
        if buf and len(buf) + len(block) + 2 > MAX_CHARS:
            yield buf
            buf = ""
        buf = f"{buf}\n\n{block}" if buf else block[: MAX_CHARS * 2]
    if buf:
        yield buf


def files(root: str, pattern: str):
    base = Path(root)
    return sorted(p for p in base.glob(pattern) if p.is_file()) if base.exists() else []


def fortunes(root: str):
    for p in files(root, "*"):
        if p.suffix in (".dat", ".u8") or p.is_symlink():
            continue
        for quote in read(p).split("\n%\n"):
            yield p, quote.strip()


def sources():
    stdlib = sysconfig.get_paths()["stdlib"]
    yield (
        "python_code",
        ((p, c) for p in files(stdlib, "**/*.py") if "site-packages" not in p.parts for c in chunks(read(p))),
    )
    yield (
        "python_docs",
        ((p, c) for p in files("/usr/share/doc/python3.11/html/_sources", "**/*.rst.txt") for c in chunks(read(p))),
    )
    yield (
        "kernel_docs",
        ((p, c) for p in files("/usr/share/doc/linux-doc-6.1/Documentation", "**/*.rst.gz") for c in chunks(read(p))),
    )
    yield (
        "man_pages",
        ((p, c) for sec in "1578" for p in files(f"/usr/share/man/man{sec}", "*.gz") for c in chunks(read(p))),
    )
    yield "c_headers", ((p, c) for p in files("/usr/include", "**/*.h") for c in chunks(read(p)))
    yield "gnu_standards", ((p, c) for p in files("/usr/share/doc/gnu-standards", "*.text.gz") for c in chunks(read(p)))
    yield "fortunes_en", fortunes("/usr/share/games/fortunes")
    yield "fortunes_de", fortunes("/usr/share/games/fortunes/de")
    yield "fortunes_es", fortunes("/usr/share/games/fortunes/es")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--max-docs", type=int, default=0, help="keep at most N documents per source (0: all)")
    args = ap.parse_args()
    rows = {"id": [], "source": [], "path": [], "text": []}
    for name, docs in sources():
        n = 0
        for path, text in docs:
            if len(text) < MIN_CHARS and not name.startswith("fortunes"):
                continue
            if args.max_docs and n >= args.max_docs:
                break
            rows["id"].append(len(rows["id"]))
            rows["source"].append(name)
            rows["path"].append(str(path))
            rows["text"].append(text)
            n += 1
        print(f"{name:14s} {n:8d} docs", file=sys.stderr)
        if n == 0:
            print(f"warning: no documents for {name}; is its package installed?", file=sys.stderr)
    pq.write_table(pa.table(rows), args.out, compression="zstd", row_group_size=50_000)
    print(f"wrote {len(rows['id'])} documents to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

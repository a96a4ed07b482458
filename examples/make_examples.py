"""Rebuild the bundled example data from the Python 3.11 documentation and standard library.

    apt-get install -y python3.11-doc && python examples/make_examples.py

Writes examples/pool.parquet (1,000 documentation chunks + 1,000 standard-library code chunks,
columns id, source, path, text) and examples/target.jsonl (60 held-out chunks of the Python
tutorial and HOWTOs). All text is Python documentation or code, under the PSF licence
(examples/LICENSE-PSF.txt).
"""

from __future__ import annotations

import json
import random
import sys
import sysconfig
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))
from build_corpus import chunks  # noqa: E402  (the corpus's chunking: blank-line blocks packed to 2,000 chars)

DOCS = Path("/usr/share/doc/python3.11/html/_sources")
MIN_CHARS = 200


def collect(paths, source):
    for p in sorted(paths):
        for c in chunks(p.read_text(encoding="utf-8", errors="replace")):
            if len(c) >= MIN_CHARS:
                yield {"source": source, "path": str(p.relative_to(p.parents[len(p.parents) - 5])), "text": c}


def main() -> None:
    rng = random.Random(0)
    tutorial = list(
        collect(
            list((DOCS / "tutorial").glob("*.rst.txt")) + list((DOCS / "howto").glob("*.rst.txt")), "python_tutorial"
        )
    )
    library = list(collect((DOCS / "library").glob("*.rst.txt"), "python_docs"))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = list(collect([p for p in stdlib.glob("*.py")], "python_code"))
    target = rng.sample(tutorial, 60)
    rest = [d for d in tutorial if d not in target]
    pool = rng.sample(rest, 200) + rng.sample(library, 800) + rng.sample(code, 1000)
    rng.shuffle(pool)
    rows = [{"id": i, **d} for i, d in enumerate(pool)]
    pq.write_table(pa.Table.from_pylist(rows), HERE / "pool.parquet", compression="zstd")
    with open(HERE / "target.jsonl", "w", encoding="utf-8") as f:
        for i, d in enumerate(target):
            f.write(json.dumps({"id": 100000 + i, **d}) + "\n")
    print(f"pool: {len(rows)} rows, target: {len(target)} rows")


if __name__ == "__main__":
    main()

"""Real vectors for the set-level benchmarks: hash embeddings of the benchmark corpus, as Parquet."""

from __future__ import annotations

from pathlib import Path


def write_vectors(corpus: Path, path: Path, rows: int, dim: int) -> None:
    """Hash embeddings of the corpus, repeated with jitter (σ = 0.01) up to ``rows``, as Parquet."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    import sqlsel
    from sqlsel.kernels.vectors import vector_matrix

    con = sqlsel.connect(threads=2)
    emb = (
        con.sql(
            f"SELECT e FROM (SELECT id, sel_hash_embed(text, {dim}) AS e FROM read_parquet(?)) "
            "WHERE e IS NOT NULL ORDER BY id",
            params=[str(corpus)],
        )
        .to_arrow_table()
        .column("e")
    )
    con.close()
    base = vector_matrix(emb)
    rng = np.random.default_rng(0)
    writer = None
    for start in range(0, rows, 100_000):
        count = min(100_000, rows - start)
        x = base[np.arange(start, start + count) % len(base)]
        if start >= len(base):
            x = x + rng.normal(0, 0.01, x.shape).astype(np.float32)
        table = pa.table(
            {
                "id": pa.array(np.arange(start, start + count, dtype=np.int64)),
                "embedding": pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), dim),
            }
        )
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=2048 * 16)
    assert writer is not None
    writer.close()

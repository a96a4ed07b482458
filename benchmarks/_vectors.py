"""Real vectors for the set-level benchmarks: hash embeddings of the benchmark corpus, as Parquet.

Two sets of 1M vectors from a corpus of 181k documents: the documents' paragraphs (real text, each
embedded once), and the documents repeated with jitter (a stress case: ~5 near-copies of every
document, so k-means clusters are crowds of near-duplicates).
"""

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


def write_paragraph_vectors(corpus: Path, path: Path, rows: int, dim: int) -> int:
    """Hash embeddings of the corpus's paragraphs (blank-line separated, 32+ characters), in corpus order.

    Returns how many were written: ``rows``, or every paragraph when the corpus has fewer.
    """
    import sqlsel

    con = sqlsel.connect(threads=2)
    con.execute(
        f"""COPY (
              SELECT (row_number() OVER (ORDER BY doc, part) - 1)::BIGINT AS id,
                     sel_hash_embed(text, {dim}) AS embedding
              FROM (SELECT id AS doc, unnest(string_split(text, chr(10) || chr(10))) AS text,
                           generate_subscripts(string_split(text, chr(10) || chr(10)), 1) AS part
                    FROM read_parquet(?))
              WHERE strlen(trim(text)) >= 32
              QUALIFY id < {rows}
            ) TO '{path}' (ROW_GROUP_SIZE 32768)""",
        [str(corpus)],
    ).fetchall()
    written = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchall()[0][0]
    con.close()
    return int(written)


def write_paragraph_pool(corpus: Path, path: Path, rows: int, dim: int) -> None:
    """A pool of ``rows`` (id, embedding) rows: every paragraph's hash embedding, then repeats with jitter.

    The corpus's paragraphs (as :func:`write_paragraph_vectors`) come first, each once; past them the
    paragraphs are repeated in order with σ = 0.01 Gaussian jitter (cosine ≈ 0.99 to the original,
    near-duplicates at ε = 0.05), until ``rows``. Row groups of 122,880 rows, DuckDB's default.
    """
    import tempfile

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sqlsel.kernels.vectors import vector_matrix

    with tempfile.TemporaryDirectory() as tmp:
        first = Path(tmp) / "paragraphs.parquet"
        count = write_paragraph_vectors(corpus, first, rows, dim)
        base = vector_matrix(pq.read_table(first, columns=["embedding"]).column("embedding"))
    assert len(base) == count
    rng = np.random.default_rng(0)
    writer = None
    chunk = 122_880
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        at = np.arange(start, start + n)
        x = base[at % count]
        copies = at >= count
        if copies.any():
            x[copies] += rng.normal(0, 0.01, (int(copies.sum()), dim)).astype(np.float32)
        table = pa.table(
            {
                "id": pa.array(at.astype(np.int64)),
                "embedding": pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), dim),
            }
        )
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=chunk)
    assert writer is not None
    writer.close()

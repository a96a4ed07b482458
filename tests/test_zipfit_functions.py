"""The ZIP-FIT SQL functions: sizes, NCD, stored target sets, scores, and their bad input."""

from __future__ import annotations

import gzip

import duckdb
import lz4.frame
import pytest

CATS = ["the cat sat on the mat", "a cat and another cat sat on a mat", "cats like mats"]


def store(con, name="cats", texts=CATS, algorithm="lz4", level=0):
    return con.sql("SELECT sel_zipfit_target(?, ?, ?, ?)", params=[name, texts, algorithm, level]).fetchall()[0][0]


def test_compressed_size_matches_the_libraries(con):
    text = "hello hello hello hello world"
    got = con.sql("SELECT sel_compressed_size(?, 'gzip', 9), sel_compressed_size(?, 'lz4', 0)", params=[text, text])
    assert got.fetchall() == [(len(gzip.compress(text.encode(), 9)), len(lz4.frame.compress(text.encode())))]


def test_ncd_and_ratio(con):
    similar, unrelated, ratio = con.sql(
        "SELECT sel_ncd(?, ?), sel_ncd_with(?, '1203 9987 5561 0042', 'zstd', 3), "
        "sel_compression_ratio(repeat('spam ', 200))",
        params=[CATS[0], CATS[1], CATS[0]],
    ).fetchall()[0]
    assert 0 <= similar < unrelated and ratio > 10


def test_target_set_is_stored_with_sizes_and_replaced_by_name(con):
    assert store(con, texts=CATS + [None]) == 3
    assert store(con, texts=CATS[:2], algorithm="gzip", level=6) == 2
    models = con.sql("SELECT name, kind, params->>'algorithm', params->>'texts' FROM sel_models").fetchall()
    assert models == [("cats", "zipfit", "gzip", "2")]
    sizes = con.sql("SELECT text, size FROM sel_zipfit_texts ORDER BY ordinal").fetchall()
    assert sizes == [(t, len(gzip.compress(t.encode(), 6))) for t in CATS[:2]]


@pytest.mark.parametrize("texts", [[], [None, None], None])
def test_empty_target_set_is_an_error_and_stores_nothing(con, texts):
    with pytest.raises(duckdb.Error, match="Target set 'cats' is empty"):
        store(con, texts=texts)
    assert con.sql("SELECT count(*) FROM sel_models").fetchall() == [(0,)]


def test_unknown_target_set_lists_the_known_ones(con):
    store(con)
    with pytest.raises(duckdb.Error, match="Unknown model 'cat'. Did you mean 'cats'"):
        con.sql("SELECT sel_zipfit('x', 'cat')").fetchall()


@pytest.mark.parametrize(
    "algorithm, level, message",
    [("brotli", 1, "Unknown compression algorithm 'brotli'"), ("gzip", 0, "gzip level 0 stores the input")],
)
def test_bad_codec_is_refused_before_storing(con, algorithm, level, message):
    with pytest.raises(duckdb.Error, match=message):
        store(con, algorithm=algorithm, level=level)
    assert con.sql("SELECT count(*) FROM sel_zipfit_texts").fetchall() == [(0,)]


def test_null_and_empty_texts(con):
    store(con)
    rows = con.sql(
        "SELECT sel_zipfit(t, 'cats'), sel_zipfit_fast(t, 'cats'), sel_compression_ratio(t) "
        "FROM (VALUES (NULL), (''), ('the cat sat on the mat')) v(t)"
    ).fetchall()
    assert rows[0] == (None, None, None)
    empty, cat = rows[1], rows[2]
    assert empty[2] == 0 and empty[0] < cat[0] and empty[1] < cat[1]  # documented: empty text scores low


def test_ten_megabyte_text_is_scored_exactly(con):
    store(con)
    big = "the cat sat on the mat. " * 450_000  # 10.8 MB, past LZ4's 64 KiB block: library path
    got = con.sql("SELECT sel_zipfit(?, 'cats')", params=[big]).fetchall()[0][0]
    c = [len(lz4.frame.compress(t.encode())) for t in CATS]
    cx = len(lz4.frame.compress(big.encode()))
    pairs = [len(lz4.frame.compress((big + t).encode())) for t in CATS]
    want = sum(1 - (p - min(cx, ct)) / max(cx, ct) for p, ct in zip(pairs, c, strict=True)) / 3
    assert got == pytest.approx(want, rel=1e-12)


def test_duplicate_texts_score_like_distinct_ones(con):
    store(con)
    rows = con.sql(
        "SELECT sel_zipfit(t, 'cats') FROM (VALUES ('the cat sat'), ('dogs'), ('the cat sat')) v(t)"
    ).fetchall()
    assert rows[0] == rows[2] != rows[1]


def test_one_statement_stores_a_set_per_group(con):
    con.sql(
        "SELECT src, sel_zipfit_target('set_' || src, list(t ORDER BY t), 'lz4', 0) "
        "FROM (SELECT i % 4 AS src, 'text ' || i AS t FROM range(400) r(i)) GROUP BY src"
    ).fetchall()
    sets = con.sql("SELECT name, params->>'texts' FROM sel_models ORDER BY name").fetchall()
    assert sets == [(f"set_{i}", "100") for i in range(4)]
    assert con.sql("SELECT count(*) FROM sel_zipfit_texts").fetchall() == [(400,)]

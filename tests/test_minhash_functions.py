"""MinHash from SQL: sel_minhash, sel_lsh_buckets, the Jaccard functions and sel_connected_components."""

from __future__ import annotations

import pytest

import sqlsel


def one(con, sql, params=None):
    return con.execute(sql, params or []).fetchall()[0]


def test_no_shingle_means_no_signature(con):
    row = one(
        con, "SELECT sel_minhash(NULL), sel_minhash(''), sel_minhash(' \t\n'), sel_minhash('?!'), sel_minhash('a')"
    )
    assert row[:4] == (None, None, None, None) and len(row[4]) == 128


def test_binary_looking_and_10_mb_texts_have_signatures(con):
    binary = "".join(chr(c) for c in range(1, 0x2FF) if chr(c).isprintable())
    huge = "lorem ipsum dolor sit amet " * 400_000  # 10.8 MB
    sig_a, sig_b = one(con, "SELECT sel_minhash(?, 64), sel_minhash(?, 64)", [binary, huge])
    assert len(sig_a) == len(sig_b) == 64
    # 5 distinct shingles repeat; the 4 words added make 4 more
    assert one(con, "SELECT sel_jaccard(?, ?)", [huge, huge + " extra words here now"])[0] == pytest.approx(5 / 9)


def test_estimate_and_exact_jaccard_agree_roughly(con):
    a = " ".join(f"w{i}" for i in range(200))
    b = " ".join(f"w{i}" for i in range(20, 220))
    est, exact = one(
        con, "SELECT sel_minhash_jaccard(sel_minhash(?, 256), sel_minhash(?, 256)), sel_jaccard(?, ?)", [a, b, a, b]
    )
    assert exact == pytest.approx(176 / 216) and est == pytest.approx(exact, abs=0.1)


def test_buckets_follow_the_threshold_or_the_given_shape(con):
    assert one(con, "SELECT len(sel_lsh_buckets(sel_minhash('a b c')))")[0] == 9  # 0.8 with 128: 9 x 13
    assert one(con, "SELECT len(sel_lsh_buckets(sel_minhash('a b c'), 0.5, 20, 5))")[0] == 20


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT sel_minhash('a', 0)", "num_perm must be in 1..1024; got 0"),
        ("SELECT sel_minhash('a', 2000)", "num_perm must be in 1..1024; got 2000"),
        ("SELECT sel_minhash('a', 128, 0)", "ngram must be in 1..64; got 0"),
        (
            "SELECT sel_minhash('a', unit := 'words')",
            "unit must be one of word, char; got 'words'. Did you mean 'word'",
        ),
        ("SELECT sel_lsh_buckets(sel_minhash('a'), 0)", r"threshold must be in \(0, 1\]; got 0.0"),
        ("SELECT sel_lsh_buckets(sel_minhash('a'), 0.8, 20, 10)", "bands 20, rows 10"),
        ("SELECT sel_lsh_buckets(sel_minhash('a'), 0.8, 4, 0)", "bands 4, rows 0"),
        ("SELECT sel_minhash_jaccard(sel_minhash('a', 64), sel_minhash('a', 32))", "different lengths .64 and 32"),
    ],
)
def test_out_of_range_parameters_are_named(con, sql, message):
    with pytest.raises(Exception, match=message):
        con.execute(sql).fetchall()


def test_components_of_string_keys_name_the_smallest(con):
    con.execute(
        "CREATE TABLE sel_scratch.pairs AS SELECT * FROM (VALUES ('b', 'c'), ('d', 'c'), ('x', 'y'), (NULL, 'z')) t(a, b)"
    )
    assert one(con, "SELECT sel_connected_components('sel_scratch.cc', 'sel_scratch.pairs')")[0] == 5
    rows = con.execute("SELECT id, component, size FROM sel_scratch.cc ORDER BY id").fetchall()
    assert rows == [("b", "b", 3), ("c", "b", 3), ("d", "b", 3), ("x", "x", 2), ("y", "x", 2)]


def test_components_refuse_a_source_without_pairs(con):
    with pytest.raises(Exception, match="reads columns a, b"):
        con.execute("SELECT sel_connected_components('sel_scratch.cc', 'SELECT 1 AS a')").fetchall()


@pytest.mark.parametrize("threads", [1, 2])
def test_signatures_do_not_depend_on_threads(examples, threads):
    con = sqlsel.connect()
    con.execute(f"SET threads = {threads}")
    sql = f"SELECT sum(hash(sel_minhash(text, 32)))::VARCHAR FROM '{examples / 'pool.parquet'}'"
    got = con.execute(sql).fetchall()[0][0]
    con.close()
    reference = sqlsel.connect()
    reference.execute("SET threads = 1")
    rows = reference.execute(f"SELECT text FROM '{examples / 'pool.parquet'}'").fetchall()
    expected = sum_of_hashes(reference, [r[0] for r in rows])
    assert got == expected


def sum_of_hashes(con, texts):
    """The same sum, one text at a time (no batch, no thread split)."""
    con.execute("CREATE TABLE one_by_one (sig INTEGER[])")
    for text in texts:
        con.execute("INSERT INTO one_by_one SELECT sel_minhash(?, 32)", [text])
    return con.execute("SELECT sum(hash(sig))::VARCHAR FROM one_by_one").fetchall()[0][0]

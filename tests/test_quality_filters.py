"""Quality filters: the kernels, their SQL functions, the quality_filter recipe, parity with datatrove."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sqlsel
from sqlsel.errors import ParameterError, SqlselError
from sqlsel.kernels import quality
from sqlsel.kernels.words import EnglishWords

POOL = Path(__file__).resolve().parents[1] / "examples" / "pool.parquet"
FILTERS = (quality.gopher_quality, quality.gopher_repetition, quality.c4_quality, quality.fineweb_quality)
GOOD = (
    "The committee met on Tuesday to discuss the budget and the plans for next year. "
    "Members agreed that the proposal was sound, and that funding should be increased. "
) * 6


def pool_text(id_: int) -> str:
    """A real documentation page from the example pool (id 219 passes all four filters)."""
    table = pq.read_table(POOL, columns=["id", "text"]).to_pylist()
    return next(row["text"] for row in table if row["id"] == id_)


def one(kernel, text, **params):
    return kernel(pa.array([text], pa.string()), **params).to_pylist()[0]


def test_words_follow_spacy_english_rules():
    words = EnglishWords().words("Don't stop: (e.g. 10a.m., see https://example.org/x?y=1) -- ok...")
    assert words == [
        "Do",
        "n't",
        "stop",
        ":",
        "(",
        "e.g.",
        "10",
        "a.m.",
        ",",
        "see",
        "https://example.org/x?y=1",
        ")",
    ] + [
        "--",
        "ok",
        "...",
    ]


def test_a_plain_paragraph_passes_every_filter():
    assert one(quality.gopher_quality, GOOD)["keep"]
    assert all(one(kernel, pool_text(219))["keep"] for kernel in FILTERS)
    assert one(quality.gopher_repetition, GOOD)["reason"] == "duplicated_5_n_grams"
    c4 = one(quality.c4_quality, GOOD.replace(". ", ".\n"))
    assert c4["keep"] and c4["reason"] is None and c4["sentences"] >= 5
    assert one(quality.fineweb_quality, GOOD.replace(". ", ".\n"))["reason"] == "char_dup_ratio"  # repeated lines


def test_each_filter_names_the_rule_as_datatrove_does():
    assert one(quality.gopher_quality, "short text")["reason"] == "gopher_short_doc"
    assert one(quality.gopher_quality, "# " * 60 + GOOD)["reason"] == "gopher_too_many_hashes"
    assert one(quality.gopher_repetition, "a line\na line\na line\nother")["reason"] == "dup_line_frac"
    assert one(quality.c4_quality, "This is a line with lorem ipsum in it.")["reason"] == "lorem_ipsum"
    assert one(quality.c4_quality, "A line { with a brace } here.")["reason"] == "curly_bracket"
    assert one(quality.fineweb_quality, "no punctuation here\nnor here")["reason"] == "line_punct_ratio"


def test_c4_drops_lines_and_returns_the_cleaned_text():
    text = "Keep this line, it ends well.\nno end\nUse JavaScript here, please.\n" + "Fine line one two. " * 5
    out = one(quality.c4_quality, text)
    assert out["keep"] and out["text"] == "Keep this line, it ends well.\n" + ("Fine line one two. " * 5).strip()
    assert (out["lines"], out["lines_kept"]) == (4, 2)


def test_null_empty_and_blank_texts():
    texts = pa.array([None, "", "  \n\t "], pa.string())
    gq = quality.gopher_quality(texts).to_pylist()
    assert gq[0] is None and [r["reason"] for r in gq[1:]] == ["gopher_short_doc"] * 2
    gr = quality.gopher_repetition(texts).to_pylist()
    assert gr[0] is None and gr[1]["reason"] == "empty" and gr[2]["keep"]  # datatrove keeps a blank text
    c4 = quality.c4_quality(texts).to_pylist()
    assert c4[0] is None and [r["reason"] for r in c4[1:]] == ["too_few_sentences"] * 2
    fw = quality.fineweb_quality(texts).to_pylist()
    assert fw[0] is None and [r["reason"] for r in fw[1:]] == ["empty"] * 2


def test_a_zero_threshold_switches_a_gopher_rule_off():
    assert one(quality.gopher_quality, "short text", min_doc_words=0, min_stop_words=0)["reason"] is None


@pytest.mark.parametrize(
    ("kernel", "params", "named"),
    [
        (quality.gopher_quality, {"max_bullet_lines_ratio": 1.5}, "max_bullet_lines_ratio"),
        (quality.gopher_quality, {"min_doc_words": -1}, "min_doc_words"),
        (quality.gopher_repetition, {"dup_line_frac": -0.1}, "dup_line_frac"),
        (quality.c4_quality, {"min_num_sentences": -2}, "min_num_sentences"),
        (quality.fineweb_quality, {"short_line_thr": float("nan")}, "short_line_thr"),
    ],
)
def test_thresholds_out_of_range_are_refused_naming_the_value(kernel, params, named):
    with pytest.raises(ParameterError, match=named):
        kernel(pa.array(["x"]), **params)


def test_a_ten_megabyte_text_is_scored():
    big = "The quick brown fox jumps over the lazy dog. " * 230_000
    assert len(big) > 10_000_000
    texts = pa.array([big])
    assert quality.gopher_repetition(texts).to_pylist()[0]["reason"] == "top_3_gram"
    assert quality.gopher_quality(texts).to_pylist()[0]["reason"] == "gopher_long_doc"
    assert quality.fineweb_quality(texts).to_pylist()[0]["reason"] == "line_punct_ratio"  # ends in a space
    c4 = quality.c4_quality(texts).to_pylist()[0]
    assert c4["keep"] and c4["sentences"] == 230_000


def test_sql_functions_take_defaults_and_thresholds(tmp_path):
    con = sqlsel.connect(tmp_path / "c.duckdb")
    row = con.sql("SELECT sel_gopher_quality('short text'), sel_gopher_quality(NULL)").fetchall()[0]
    assert row[0]["reason"] == "gopher_short_doc" and row[1] is None
    (kept,) = con.sql(
        "SELECT sel_gopher_quality('short text', min_doc_words := 0, min_stop_words := 0).keep"
    ).fetchall()[0]
    assert kept
    (reason,) = con.sql("SELECT sel_fineweb_quality('no punctuation\nhere').reason").fetchall()[0]
    assert reason == "line_punct_ratio"
    (text,) = con.sql("SELECT sel_c4_quality('A fine line. And two. Three. Four. Five.\nbad').text").fetchall()[0]
    assert text == "A fine line. And two. Three. Four. Five."
    (top,) = con.sql(
        "SELECT sel_gopher_repetition('a b a b a b a b', top_2_gram_frac := 0.9, top_3_gram_frac := 0, top_4_gram_frac := 0, dup_5_gram_frac := 0, dup_6_gram_frac := 0).reason"
    ).fetchall()[0]
    assert top is None
    with pytest.raises(Exception, match="dup_line_frac"):
        con.sql("SELECT sel_gopher_repetition('x', dup_line_frac := 2.0)").fetchall()


def test_the_recipe_keeps_passing_rows_and_explains_the_removed(tmp_path):
    pool = tmp_path / "pool.parquet"
    texts = [pool_text(219), "short", None, "x {" * 3]
    pq.write_table(pa.table({"id": [1, 2, 3, 4], "text": texts}), pool)
    db = tmp_path / "c.duckdb"
    kept = sqlsel.run_recipe("quality_filter", {"pool": str(pool)}, db=db)
    assert kept.table.column("id").to_pylist() == [1, 3]
    assert kept.table.column("c4_text").to_pylist()[0].endswith("or function name in the local scope.")
    assert kept.metrics["rows_removed"] == 2 and kept.metrics["dropped_gopher_quality"] == 2
    removed = sqlsel.run_recipe("quality_filter", {"pool": str(pool), "removed": True}, db=db).table
    assert removed.column("reason").to_pylist() == ["gopher_quality:gopher_short_doc"] * 2
    only = sqlsel.run_recipe("quality_filter", {"pool": str(pool), "filters": "fineweb"}, db=db)
    assert only.metrics["dropped_gopher_quality"] == 0 and only.metrics["dropped_fineweb"] == 2
    with pytest.raises(SqlselError, match="gopher_quality, gopher_repetition"):
        sqlsel.run_recipe("quality_filter", {"pool": str(pool), "filters": "gopher,c4"}, db=db)


def test_same_verdicts_as_datatrove_on_real_documentation():
    pytest.importorskip("datatrove")
    pytest.importorskip("spacy")  # datatrove's English word tokenizer
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    texts = [t for t in pq.read_table(POOL, columns=["text"]).column("text").to_pylist()[:400] if t is not None]
    texts += ["", " \n ", "\n\n", "lorem ipsum dolor sit amet.", "Hi.\n" * 10]
    for ref, kernel in [
        (GopherQualityFilter(), quality.gopher_quality),
        (GopherRepetitionFilter(), quality.gopher_repetition),
        (C4QualityFilter(), quality.c4_quality),
        (FineWebQualityFilter(), quality.fineweb_quality),
    ]:
        ours = kernel(pa.array(texts)).to_pylist()
        for text, row in zip(texts, ours, strict=True):
            if not text and isinstance(ref, GopherQualityFilter):
                continue  # datatrove divides by zero lines after its first rule... which fires first anyway
            doc = Document(text=text, id="x")
            verdict = ref.filter(doc)
            expected = (True, None) if verdict is True else (False, verdict[1])
            assert (row["keep"], row["reason"]) == expected, (type(ref).__name__, text[:200])
            if isinstance(ref, C4QualityFilter) and verdict is True:
                assert row["text"] == doc.text


def test_plain_chunks_match_no_affix():
    """words._plain's claim: no prefix, suffix or infix pattern matches in such a chunk."""
    from sqlsel.kernels.words import _plain, rules

    patterns = [re.compile(rules()[k]) for k in ("prefix", "suffix", "infix")]
    chunks = ["a", "Z", "7", "abc", "ABC123", "x1y2z3", "10", "0", "km", "GB", "mph", "US", "hello", "b32rev9"]
    chunks += [c + u for c in ("1", "99", "x9") for u in ("km", "m", "GB", "K", "mph", "x")]
    for chunk in chunks:
        if _plain(chunk):
            assert not any(p.search(chunk) for p in patterns), chunk
            assert EnglishWords().chunk(chunk) == (chunk,)
    assert not _plain("10km") and EnglishWords().chunk("10km") == ("10", "km")  # a unit after a number


def test_a_chunk_after_its_core_is_cached_splits_as_spacy_does():
    # spaCy caches a chunk's tokens before its special-case matcher: ":o" merges in "0.o:o" alone,
    # and ":o)" does in "0.o:o)" even after "0.o:o" was seen (the cached tokens are ":", "o")
    words = EnglishWords()
    assert words.words("0.o:o") == ["0.o", ":o"]
    assert words.words("0.o:o)") == ["0.o", ":o)"]
    assert EnglishWords().words("0.o:o)") == ["0.o", ":o)"]


def test_threads_share_one_tokenizer():
    import threading

    from sqlsel.kernels.words import english_words

    seen = []
    thread = threading.Thread(target=lambda: seen.append(english_words()))
    thread.start()
    thread.join()
    assert seen == [english_words()]


def test_tokens_match_spacy_on_random_chunks():
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    words = EnglishWords()
    rnd = random.Random(0)
    pieces = list("aAzZkmgsTGMKx019.,;:!?()[]{}<>\"'`-_/\\#@$%^&*+=~|…–—’“”°²€£©→é中 \n")
    pieces += ["km", "'s", "n't", "http://", "www.", ".com", "...", "e.g.", "U.S.", "US$", "a.m.", ":o", ":)", "10"]
    for _ in range(3000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 12)))
        assert words.all_tokens(text) == [t.text for t in nlp.tokenizer(text)], text

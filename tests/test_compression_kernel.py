"""Codecs, NCD and ZIP-FIT scores as pure functions of bytes."""

from __future__ import annotations

import gzip

import numpy as np
import pyarrow as pa
import pytest
import zstandard

from sqlsel.errors import ParameterError, UnknownAlgorithmError
from sqlsel.kernels.compression import Codec, TargetSet, _coverage, _mean_similarity, _sampled, ncd
from sqlsel.kernels.rows import Rows, utf8_rows

CAT = b"The cat sat on the mat and looked at the other cat on the mat. "
CODE = b"def f(x):\n    return [i * x for i in range(10)]\n"
DIGITS = b"8302 1193 4471 0952 6618 2240 9137 5583 7709 3364 "


def test_sizes_are_the_reference_formulas():
    data = CAT * 5
    assert Codec("gzip", 6).size(data) == len(gzip.compress(data, compresslevel=6))
    assert Codec("zstd", 3).size(data) == len(zstandard.ZstdCompressor(level=3).compress(data))
    assert Codec("lz4", 9).sizes(Rows.of([data, b""])).tolist() == [
        Codec("lz4", 9).size(data),
        Codec("lz4", 9).size(b""),
    ]


def test_gzip_level_0_is_refused_with_the_reason():
    with pytest.raises(ParameterError, match="stores the input without compressing"):
        Codec("gzip", 0)


def test_unknown_algorithm_suggests_and_lists():
    with pytest.raises(UnknownAlgorithmError, match="Did you mean 'zstd'.*'gzip', 'lz4', 'zstd'"):
        Codec("zstdd", 3)


@pytest.mark.parametrize("algorithm, level", [("lz4", 17), ("zstd", 0), ("gzip", 10), ("gzip", True)])
def test_levels_out_of_range(algorithm, level):
    with pytest.raises(ParameterError, match=f"{algorithm} levels are"):
        Codec(algorithm, level)


def test_ncd_is_smaller_for_similar_texts():
    c = Codec("gzip", 9)
    similar = ncd(c.size(CAT * 3), c.size(CAT * 4), c.size(CAT * 3 + CAT * 4))
    unrelated = ncd(c.size(CAT * 3), c.size(DIGITS * 3), c.size(CAT * 3 + DIGITS * 3))
    assert similar < unrelated


@pytest.mark.parametrize("algorithm, level", [("lz4", 0), ("gzip", 1), ("zstd", 1)])
def test_exact_scores_equal_the_pairwise_mean(algorithm, level):
    codec = Codec(algorithm, level)
    targets, pool = [CAT * 2, CAT + CODE, CODE * 3], [CAT * 3, CODE * 2, DIGITS * 4, b""]
    want = [np.mean([1 - ncd(codec.size(x), codec.size(t), codec.size(x + t)) for t in targets]) for x in pool]
    got = TargetSet.build(targets, codec).exact_scores(Rows.of(pool))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_fast_scores_rank_related_texts_first_and_empty_text_low():
    target = TargetSet.build([CAT * 3, CAT * 2 + b"The dog sat too. ", CAT * 4], Codec())
    fast = target.fast_scores(Rows.of([CAT * 3, CODE * 4, DIGITS * 4, b""]))
    assert fast[0] == fast.max() and fast[3] == fast.min()


def sampled(word: bytes) -> bool:
    return bool(_sampled(np.uint64(int.from_bytes(word, "little"))))


def test_coverage_skipping_lz4_matches_counts_every_distinct_sampled_word():
    targets = [CAT * 2, CAT + CODE, CODE * 3]
    rng = np.random.default_rng(3)
    noise = bytes(rng.integers(97, 123, 70_000).astype(np.uint8))  # over one LZ4 block: no skipping
    pool = [CAT * 40 + CODE * 9, DIGITS + CAT, b"abc", b"", CODE * 200, noise + CAT]
    df = {}
    for t in targets:
        for w in {t[i : i + 4] for i in range(len(t) - 3)}:
            df[w] = df.get(w, 0) + 1
    want = [sum(df.get(w, 0) for w in {x[i : i + 4] for i in range(len(x) - 3)} if sampled(w)) for x in pool]
    assert 0 < sum(map(sampled, df)) < len(df)
    rows, sketch = Rows.of(pool), TargetSet.build(targets, Codec()).sketch()
    sizes, skipping = _coverage(rows.data, rows.offsets, sketch, True)
    unused, every = _coverage(rows.data, rows.offsets, sketch, False)
    assert skipping.tolist() == every.tolist() == want
    assert sizes.tolist() == [Codec().size(x) for x in pool[:-1]] + [-1] and set(unused) == {-1}


def test_mean_similarity_caps_each_pair_at_the_smaller_text():
    rng = np.random.default_rng(1)
    ct = np.sort(rng.integers(5, 100, 12)).astype(float)
    cx, saving = rng.integers(5, 100, 30).astype(float), rng.uniform(0, 150, 30)
    want = [np.mean(np.minimum(np.minimum(s, x), ct) / np.maximum(x, ct)) for s, x in zip(saving, cx, strict=True)]
    head, tail = np.concatenate([[0.0], np.cumsum(ct)]), np.concatenate([np.cumsum((1.0 / ct)[::-1])[::-1], [0.0]])
    np.testing.assert_allclose(_mean_similarity(saving, cx, 1.0, 0.0, 1.0, ct, head, tail), want)


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string(), pa.string_view()])
def test_utf8_rows_reads_every_string_layout_and_slices(kind):
    arr = pa.array(["ab", None, "", "héllo", "xyz"], kind).slice(1)
    rows = utf8_rows(arr)
    assert [rows[i] for i in range(len(rows))] == [b"", b"", "héllo".encode(), b"xyz"]


def test_coverage_does_not_depend_on_the_rows_called_with_it():
    """Scratch buffers are sized by a call's longest row: a row scores the same alone as beside longer ones."""
    rng = np.random.default_rng(5)
    words = [CAT, CODE, DIGITS, b"lz4 ", b"the ", b"\xc3\xa9t\xc3\xa9 "]
    pool = [b"".join(rng.choice(words, int(n))) for n in rng.integers(0, 40, 30)] + [b"", b"abc", CODE * 3000]
    rows, sketch = Rows.of(pool), TargetSet.build([CAT * 2, CAT + CODE, CODE * 3], Codec()).sketch()
    sizes, together = _coverage(rows.data, rows.offsets, sketch, True)
    for i, text in enumerate(pool):
        one = Rows.of([text])
        alone_size, alone = _coverage(one.data, one.offsets, sketch, True)
        assert (alone_size[0], alone[0]) == (sizes[i], together[i])

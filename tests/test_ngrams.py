"""Hashed n-gram features: golden values from the reference's tests and its own featurizer."""

from __future__ import annotations

import hashlib
import re
import sys

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlsel.kernels import _compiled, _openssl
from sqlsel.kernels.ngrams import ngram_features, sha256_mod, token_counts
from sqlsel.kernels.rows import utf8_rows
from tests.conftest import need


@pytest.fixture(scope="module")
def data_selection():
    """The reference featurizer (test extra): only the parity tests need it."""
    return need("data_selection.hashed_ngram_dsir")


EDGE_CASES = [
    "Alice went to the store",
    "",
    "   ",
    "İstanbul ΣΑΣ όσος café naïve straße",  # Python's full lowercasing (İ, final sigma)
    "\x1c\x1dfoo\u00a0bar\u2028baz...!!?",  # Unicode whitespace
    "x" * 5000 + " end",
    "a_b c1 2d __init__ ->= ===",
    "日本語のテキスト、句読点。",
    "emoji 🙂🙂 and \u0301combining",
]


def counts(f, i, buckets):
    return np.bincount(f.buckets[f.offsets[i] : f.offsets[i + 1]], minlength=buckets)


def test_golden_hash_buckets():
    assert sha256_mod(pa.array(["alice", "alice went"]), 10000).tolist() == [6720, 114]


def _compiled_sha256(data, offsets, buckets):
    return _compiled.sha256_mod(data, offsets, buckets, _compiled.SHA256_K, _compiled.SHA256_H)


SHA256_KERNELS = [
    pytest.param(_compiled_sha256, id="compiled"),
    pytest.param(
        _openssl.sha256_mod,
        id="openssl",
        marks=pytest.mark.skipif(not _openssl.AVAILABLE, reason="libcrypto not linkable here"),
    ),
]


@pytest.mark.parametrize("kernel", SHA256_KERNELS)
@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=150), min_size=1, max_size=20), st.sampled_from([1, 10000, 2**24, 2**31]))
def test_sha256_buckets_equal_hashlibs(kernel, texts, buckets):
    want = [int(hashlib.sha256(t.encode()).hexdigest(), 16) % buckets for t in texts]  # 0-2 blocks of 64 bytes
    rows = utf8_rows(pa.array(texts))
    assert kernel(rows.data, rows.offsets, buckets).tolist() == want
    assert sha256_mod(pa.array(texts), buckets).tolist() == want


@pytest.mark.skipif(sys.platform != "linux", reason="found through /proc/self/maps")
def test_openssl_sha256_is_linked_on_linux():
    assert _openssl.AVAILABLE, f"libcrypto not linked (loaded: {_openssl.loaded_libcrypto()})"


def test_golden_feature_count():
    f = ngram_features(pa.array(["Alice went to the store"]), 10000, 2)
    assert len(f.buckets) == 9  # 5 unigrams + 4 bigrams


@pytest.mark.parametrize("ngrams,buckets", [(1, 997), (2, 10000), (3, 50)])
def test_matches_reference_featurizer(data_selection, ngrams, buckets):
    f = ngram_features(pa.array(EDGE_CASES), buckets, ngrams)
    for i, text in enumerate(EDGE_CASES):
        expected = data_selection.get_ngram_counts(text, n=ngrams, num_buckets=buckets)
        assert np.array_equal(counts(f, i, buckets), expected), text


def test_null_text_has_no_features():
    f = ngram_features(pa.array(["a b", None, "c"]), 100, 2)
    assert f.valid.tolist() == [True, False, True]
    assert np.diff(f.offsets).tolist() == [3, 0, 1]


def test_token_counts_match_wordpunct():
    assert token_counts(pa.array(["Hello, world!", "", None])).tolist() == [4, 0, 0]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=12), st.integers(0, 12))
def test_features_do_not_depend_on_batch_split(data_selection, texts, cut):
    cut = min(cut, len(texts))
    whole = ngram_features(pa.array(texts), 101, 2)
    parts = [ngram_features(pa.array(texts[:cut]), 101, 2), ngram_features(pa.array(texts[cut:]), 101, 2)]
    joined = np.concatenate([p.buckets for p in parts])
    assert np.array_equal(whole.buckets, joined)
    for i, text in enumerate(texts):
        assert np.array_equal(counts(whole, i, 101), data_selection.get_ngram_counts(text, n=2, num_buckets=101))


def test_a_memo_remembers_buckets_across_calls_and_changes_no_feature():
    from sqlsel.kernels.ngrams import GramMemo

    texts = pa.array(["Alice went to the store", "the store was closed", None, "Alice went home"])
    memo = GramMemo()
    first = ngram_features(texts, 101, 2, memo)
    seen = memo.count
    again = ngram_features(texts, 101, 2, memo)
    assert seen > 0 and memo.count == seen  # nothing new the second time
    for f in (again, ngram_features(texts, 101, 2)):
        assert np.array_equal(f.buckets, first.buckets) and np.array_equal(f.offsets, first.offsets)


def test_a_memo_doubles_as_it_fills_and_keeps_every_gram():
    from sqlsel.kernels.ngrams import GramMemo

    memo, sizes = GramMemo(bits=6), []
    keys = np.arange(1, 6001, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for chunk in np.array_split(keys, 60):
        memo.insert(chunk, (chunk % np.uint64(97)).astype(np.int32))
        sizes.append(len(memo.snapshot()[0]))
    assert sorted(set(sizes)) == [1 << b for b in range(8, 15)]  # at most half full, never larger than that needs
    slots = memo.snapshot()[0]
    used = slots[slots[:, 0] != 0]
    assert dict(zip(used[:, 0].tolist(), (used[:, 1] - 1).tolist())) == {k: k % 97 for k in keys.tolist()}
    texts = pa.array([f"word{i} other{i % 7}" for i in range(3000)])  # and a grown memo gives the same features
    assert np.array_equal(
        ngram_features(texts, 101, 2, GramMemo(bits=4)).buckets, ngram_features(texts, 101, 2).buckets
    )


def test_threads_inserting_while_the_memo_grows_lose_no_gram():
    from concurrent.futures import ThreadPoolExecutor

    from sqlsel.kernels.ngrams import GramMemo

    memo = GramMemo(bits=4)
    keys = np.arange(1, 40001, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    chunks = np.array_split(np.concatenate([keys, keys[::3]]), 400)  # some grams arrive twice
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda c: memo.insert(c, (c % np.uint64(97)).astype(np.int32)), chunks))
    slots = memo.snapshot()[0]
    used = slots[slots[:, 0] != 0]
    assert dict(zip(used[:, 0].tolist(), (used[:, 1] - 1).tolist())) == {k: k % 97 for k in keys.tolist()}
    assert 2 * len(used) <= len(slots)


def test_threads_sharing_a_growing_memo_get_the_features_of_no_memo():
    from concurrent.futures import ThreadPoolExecutor

    from sqlsel.kernels.ngrams import GramMemo

    texts = pa.array([f"word{i} other{i % 7} w{i * 31 % 1009}" for i in range(4000)])
    memo = GramMemo(bits=4)
    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(lambda a: ngram_features(texts.slice(a, 100), 101, 2, memo), range(0, 4000, 100)))
    assert np.array_equal(np.concatenate([p.buckets for p in parts]), ngram_features(texts, 101, 2).buckets)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=40)), max_size=8))
def test_token_lists_are_pythons_wordpunct_tokens_of_the_lowered_text(texts):
    from sqlsel.kernels.tokens import WORDPUNCT, token_lists

    expected = [re.findall(r"\w+|[^\w\s]+", t.lower()) if t is not None else [] for t in texts]
    assert token_lists(pa.array(texts, pa.string()), WORDPUNCT) == expected


def test_features_are_the_same_without_openssl(monkeypatch):
    texts = pa.array(["Alice went to the store", "the store, again!", "", None, "Ünïcode wörds"] * 3)
    linked = ngram_features(texts, 10000, 2)
    monkeypatch.setattr(_openssl, "AVAILABLE", False)
    fallback = ngram_features(texts, 10000, 2)
    assert linked.buckets.tolist() == fallback.buckets.tolist()
    assert linked.offsets.tolist() == fallback.offsets.tolist()

"""MinHash kernels: shingles as Python defines them, unbiased estimates, datasketch's LSH shape, components."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlsel.kernels.minhash import (
    band_hashes,
    components,
    estimated_jaccard,
    exact_jaccard,
    lsh_params,
    shingles,
    signatures,
)

_WORD = re.compile(r"\w+")


def python_shingles(text: str, n: int = 5) -> set[str]:
    """The definition: n consecutive lowercased \\w+ words; fewer words make one shingle."""
    toks = _WORD.findall(text.lower())
    return {" ".join(toks[i : i + n]) for i in range(max(len(toks) - n + 1, 1))} if toks else set()


def test_shingle_sets_are_pythons_on_real_documents(examples):
    texts = pq.read_table(examples / "pool.parquet").column("text").combine_chunks()
    sh = shingles(texts)
    for i, text in enumerate(texts.to_pylist()):
        mine = sh.hashes[sh.offsets[i] : sh.offsets[i + 1]]
        assert len(np.unique(mine)) == len(python_shingles(text)), text[:80]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="aAbBé ,.\n\u00c9x1_ΣσİßẞΩ—😀\u0301", max_size=60), min_size=2, max_size=6))
def test_exact_jaccard_is_the_jaccard_of_pythons_sets(texts):
    a, b = pa.array(texts[:-1]), pa.array(texts[1:])
    got = exact_jaccard(shingles(a, 2), shingles(b, 2))
    for x, y, j in zip(texts[:-1], texts[1:], got, strict=True):
        sx, sy = python_shingles(x, 2), python_shingles(y, 2)
        assert np.isnan(j) if not (sx and sy) else j == pytest.approx(len(sx & sy) / len(sx | sy))


def test_estimates_are_unbiased_with_the_expected_spread():
    words = [f"w{i}" for i in range(400)]
    base, other = " ".join(words[:300]), " ".join(words[60:360])  # 1-word shingles: J = 240 / 360
    errors = []
    for seed in range(200):
        sig = signatures(pa.array([base, other]), 128, 1, seed)
        errors.append(estimated_jaccard(sig.values[:1], sig.values[1:])[0] - 240 / 360)
    assert abs(np.mean(errors)) < 0.01
    assert np.std(errors) == pytest.approx(np.sqrt((2 / 3) * (1 / 3) / 128), rel=0.25)


def test_same_seed_same_signature_whatever_the_batch():
    texts = pa.array(["one two three four five six", "seven eight nine", None, ""])
    whole = signatures(texts, 64, 3, 9)
    alone = signatures(texts.slice(1, 1), 64, 3, 9)
    assert (whole.values[1] == alone.values[0]).all()
    assert whole.valid.tolist() == [True, True, False, False]
    assert not (signatures(texts, 64, 3, 10).values[0] == whole.values[0]).all()


def test_lsh_shape_is_datasketchs():
    lsh = pytest.importorskip("datasketch.lsh")
    for num_perm in (32, 128, 256):
        for threshold in (0.5, 0.7, 0.8, 0.9):
            assert lsh_params(threshold, num_perm) == tuple(lsh._optimal_param(threshold, num_perm, 0.5, 0.5))


def test_bands_differ_where_the_band_differs_and_never_across_bands():
    values = np.zeros((2, 8), np.uint32)
    values[1, 5] = 1
    b = band_hashes(values, 4, 2)
    assert (b[0, :2] == b[1, :2]).all() and b[0, 2] != b[1, 2] and len(set(b[0].tolist())) == 4
    with pytest.raises(ValueError, match="at most num_perm"):
        band_hashes(values, 3, 3)


def test_char_shingles_are_character_windows_of_the_spaced_lowercase_text():
    sh = shingles(pa.array(["AB  c", "ab c", "abc", "é"]), 3, "char")
    assert (sh.hashes[0:2] == sh.hashes[2:4]).all() and np.diff(sh.offsets).tolist() == [2, 2, 1, 1]


def test_components_name_their_smallest_node():
    assert components(np.array([3, 1, 5]), np.array([1, 4, 6]), 7).tolist() == [0, 1, 2, 1, 1, 5, 5]


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="num_perm must be in 1..1024; got 0"):
        signatures(pa.array(["x"]), 0)
    with pytest.raises(ValueError, match="unit must be one of word, char; got 'chars'"):
        shingles(pa.array(["x"]), 5, "chars")
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\]; got 1.5"):
        lsh_params(1.5, 128)

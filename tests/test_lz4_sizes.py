"""The compiled LZ4 sizes equal python-lz4's ``len(lz4.frame.compress(...))`` byte for byte."""

from __future__ import annotations

import subprocess
import sys

import lz4.frame
import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlsel.kernels import _lz4
from sqlsel.kernels.rows import Rows

# Small alphabets make matches, long runs make long literal and match lengths (255-byte extensions).
texts = st.one_of(
    st.binary(max_size=3000),
    st.text(alphabet="ab c\n", max_size=3000).map(str.encode),
    st.builds(lambda s, n: s * n, st.binary(min_size=1, max_size=40), st.integers(1, 300)),
)


def library(items):
    return [len(lz4.frame.compress(b, compression_level=0)) for b in items]


def frame_sizes(items):
    rows = Rows.of(items)
    return _lz4.frame_sizes(rows.data, rows.offsets).tolist()


def pair_sizes(xs, ts):
    x, t = Rows.of(xs), Rows.of(ts)
    return _lz4.pair_frame_sizes(x.data, x.offsets, t.data, t.offsets).tolist()


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, min_size=1, max_size=8))
def test_single_sizes_equal_the_library(items):
    assert frame_sizes(items) == library(items)


@settings(max_examples=200, deadline=None)
@given(st.lists(texts, min_size=1, max_size=4), st.lists(texts, min_size=1, max_size=5))
def test_pair_sizes_equal_the_library(xs, ts):
    assert pair_sizes(xs, ts) == [library([x + t for t in ts]) for x in xs]


def test_boundaries_empty_tiny_incompressible_and_64k():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, 70_000, dtype=np.uint8).tobytes()
    items = [b"", b"x", b"abcd" * 3, b"abcd" * 4, noise[:5000], bytes(65_536), noise[:65_536]]
    assert frame_sizes(items) == library(items)
    assert frame_sizes([bytes(65_537)]) == [-1]  # over one block: the caller asks the library


def test_real_documents(examples):
    docs = [t.encode() for t in pq.read_table(examples / "pool.parquet").column("text").to_pylist()[:300]]
    assert frame_sizes(docs) == library(docs)
    assert pair_sizes(docs[:40], docs[40:60]) == [library([x + t for t in docs[40:60]]) for x in docs[:40]]


GUARDED = """
import ctypes, mmap, sys
import numpy as np
from sqlsel.kernels import _lz4, compression

libc = ctypes.CDLL(None)
page = mmap.PAGESIZE
memory = mmap.mmap(-1, 2 * page)
address = ctypes.addressof(ctypes.c_char.from_buffer(memory))
assert libc.mprotect(ctypes.c_void_p(address + page), page, 0) == 0  # PROT_NONE: a read there faults
for text in (b"abcd" * 20 + b"abcdefgh" * 40, bytes(range(13)) * 30, b"x" * 13, b"the cat sat on the mat " * 50):
    memory[page - len(text) : page] = text  # the input ends where the readable memory ends
    data = np.frombuffer(memory, np.uint8, len(text), page - len(text))
    offsets = np.array([0, len(text)], np.int64)
    _lz4.frame_sizes(data, offsets)
    sketch = compression._build_sketch(data, offsets)
    compression._coverage(data, offsets, sketch, True)
print("no read past the input")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="mprotect is POSIX")
def test_the_parser_reads_no_byte_past_its_input():
    """Words are loaded straight from the input bytes: none may reach past its end (a guard page here)."""
    done = subprocess.run([sys.executable, "-c", GUARDED], capture_output=True, text=True)
    assert done.returncode == 0 and "no read past the input" in done.stdout, done.stderr[-2000:]


def test_levels_1_and_2_are_the_same_fast_parser(examples):
    docs = [t.encode() for t in pq.read_table(examples / "pool.parquet").column("text").to_pylist()[:50]]
    for level in (1, 2):
        assert [len(lz4.frame.compress(d, compression_level=level)) for d in docs] == library(docs)


def test_the_installed_lz4_parses_as_the_simulation_does():
    from sqlsel.kernels.compression import _lz4_sizes_match

    assert _lz4_sizes_match()


def test_the_lz4_check_runs_once_per_installation(tmp_path, monkeypatch):
    from sqlsel.kernels import compression

    monkeypatch.setenv("SQLSEL_CACHE_DIR", str(tmp_path))
    calls = []
    monkeypatch.setattr(compression, "_lz4_sizes_match", lambda: calls.append(1) or True)
    for _ in range(2):
        compression.lz4_simulation_matches.cache_clear()  # a new process
        assert compression.lz4_simulation_matches()
    assert calls == [1] and list((tmp_path / "checks").glob("*.json"))
    compression.lz4_simulation_matches.cache_clear()

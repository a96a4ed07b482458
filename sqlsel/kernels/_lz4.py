"""Exact LZ4 frame sizes without writing the output (numba, GIL released).

``lz4.frame.compress(data, compression_level=0..2)`` compresses an input of at most 64 KiB as one
block with LZ4's fast greedy parser (``LZ4_compress_generic``: 8192-entry 16-bit hash table of 4-byte
sequences, skip acceleration, backward catch-up, a 12-byte match-free tail, 5 trailing literals) into
a frame of a 15-byte header, a 4-byte block size, the block, and a 4-byte end mark; a block that does
not fit in ``len(data) - 1`` bytes is stored raw. This module re-implements that parser from its
published description to count the bytes it would write, so sizes equal python-lz4's (bundled LZ4
1.9.x) byte for byte; ``tests/test_lz4_sizes.py`` checks that against the library.

Why: ZIP-FIT needs C(x ‖ t) for every pool text x and target t. The parse of x ‖ t only depends on
t once it reads a byte of t, so the parser state (hash table and counters) at the last point where
it had read nothing beyond x is computed once per x and resumed for every target. Each pair then costs
a parse of t (plus x's last few bytes) instead of x and t, with no allocation or Python call.

Like LZ4's C code, the parser reads its 4-byte sequences and compares matches 8 bytes at a time with
unaligned loads straight from the input bytes (:func:`word_at`, :func:`_load64`): 1.5x faster per
pair than an array of precomputed words on real text, and about LZ4's own speed per byte. A match
compare may load bytes past the first difference, but only that difference decides, so the
resumable state (see ``parse_tracked``) still depends on the bytes it tracks, never past the input.
"""

from __future__ import annotations

import sys

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from sqlsel.kernels._jit import jit

HASH_LOG = 13  # LZ4_MEMORY_USAGE 14 -> 4096 U32 slots, doubled for 16-bit indexes below 64 KiB
MIN_MATCH = 4
MF_LIMIT = 12
LAST_LITERALS = 5
RUN_MASK = 15
SKIP_TRIGGER = 6
MAX_BLOCK = 65536  # lz4.frame's default block size: larger inputs are several linked blocks
FRAME_OVERHEAD = 23  # magic 4 + flags 2 + content size 8 + header checksum 1 + block size 4 + end mark 4
STORED = -1
RUNNING = -2  # parse() stopped at the requested loop top
NO_SPANS = np.zeros(0, np.int64)  # the spans argument of parsers that record none


@jit(inline="always")
def _hash(word):  # pragma: no cover - compiled
    return ((word * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)) >> np.uint64(32 - HASH_LOG)


def _unaligned_load(bits):
    """An intrinsic: the little-endian ``bits``-bit word at byte ``i`` of a uint8 array, as uint64.

    One unaligned load (a byte swap on a big-endian machine). No bounds check: the caller reads only
    words that lie inside the array.
    """

    @intrinsic
    def load(typingctx, data, i):
        if not (isinstance(data, types.Array) and data.ndim == 1 and data.layout == "C" and data.dtype == types.uint8):
            return None  # contiguous bytes only: the address is the array's start plus i

        def codegen(context, builder, signature, args):
            array = context.make_array(signature.args[0])(context, builder, args[0])
            address = builder.bitcast(builder.gep(array.data, [args[1]]), ir.IntType(bits).as_pointer())
            word = builder.load(address, align=1, typ=ir.IntType(bits))
            if sys.byteorder == "big":
                word = builder.bswap(word)
            return builder.zext(word, ir.IntType(64)) if bits < 64 else word

        return types.uint64(data, i), codegen

    return load


_load32 = _unaligned_load(32)
_load64 = _unaligned_load(64)


@intrinsic
def _trailing_zeros(typingctx, word):
    """An intrinsic: the number of trailing zero bits of a nonzero uint64 (one instruction)."""
    if word != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 1))

    return types.uint64(word), codegen


@jit(inline="always")
def word_at(b, i):  # pragma: no cover - compiled
    """The little-endian 32-bit word of the 4 bytes at ``b[i]`` (uint8 array ``b``; ``i + 3 < len(b)``)."""
    return _load32(b, i)


@jit(inline="always")
def unsigned_index(i):  # pragma: no cover - compiled
    """An index as unsigned: numba then skips the negative-index wraparound on every access."""
    return np.uint64(i)


def _make_parse(track_reads, record_spans):
    """The parser, compiled three ways: plain, with read tracking (to find a resumable state), and
    recording the spans it encodes as matches."""

    @jit
    def parse(b, n, table, ip, anchor, op, need, safe_end, stop_top, spans):  # pragma: no cover - compiled
        hi = 0  # one past the highest index a decision of the parse has depended on so far
        top = 0
        safe = 0
        found = 0
        mflimit_plus_one = n - MF_LIMIT + 1
        match_limit = n - LAST_LITERALS
        if ip == 0:
            if n < MF_LIMIT + 1:
                return _last_literals(n, anchor, op, need), op, need, ip, anchor, safe, found
            table[_hash(word_at(b, unsigned_index(0)))] = 0
            ip = 1
            hi = 4
        while True:
            if track_reads:
                top += 1
                if hi <= safe_end:
                    safe = top
                if top == stop_top:
                    return RUNNING, op, need, ip, anchor, safe, found
            # find a match, stepping faster the longer none is found
            forward = ip
            step = 1
            attempts = 1 << SKIP_TRIGGER
            h = _hash(word_at(b, unsigned_index(forward)))
            if track_reads:
                hi = max(hi, forward + 4)
            while True:
                current = forward
                candidate = np.int64(table[h])
                ip = forward
                forward += step
                step = attempts >> SKIP_TRIGGER
                attempts += 1
                if forward > mflimit_plus_one:
                    return _last_literals(n, anchor, op, need), op, need, ip, anchor, safe, found
                next_h = _hash(word_at(b, unsigned_index(forward)))
                if track_reads:
                    hi = max(hi, forward + 4, candidate + 4)
                table[h] = current
                h = next_h
                if word_at(b, unsigned_index(candidate)) == word_at(b, unsigned_index(ip)):
                    break
            match = candidate
            while ip > anchor and match > 0 and b[unsigned_index(ip - 1)] == b[unsigned_index(match - 1)]:
                ip -= 1
                match -= 1
            literals = ip - anchor
            op += 1  # token
            need = max(need, op + literals + 2 + 1 + LAST_LITERALS + literals // 255)
            if literals >= RUN_MASK:
                op += (literals - RUN_MASK) // 255 + 1
            op += literals
            while True:  # encode the match; a match may follow a match directly
                op += 2  # offset
                i, j = ip + MIN_MATCH, match + MIN_MATCH
                while i + 7 < match_limit:  # 8 bytes a step; the first differing byte ends the match
                    diff = _load64(b, unsigned_index(i)) ^ _load64(b, unsigned_index(j))
                    if diff != 0:
                        same = np.int64(_trailing_zeros(diff) >> np.uint64(3))
                        i += same
                        j += same
                        break
                    i += 8
                    j += 8
                while i < match_limit and b[unsigned_index(i)] == b[unsigned_index(j)]:
                    i += 1
                    j += 1
                length = i - ip - MIN_MATCH
                if record_spans:
                    spans[unsigned_index(2 * found)] = ip
                    spans[unsigned_index(2 * found + 1)] = i
                    found += 1
                if track_reads:
                    hi = max(hi, min(i + 4, match_limit))
                ip = i
                need = max(need, op + 1 + LAST_LITERALS + (length + 240) // 255)
                if length >= RUN_MASK:
                    op += (length - RUN_MASK) // 255 + 1
                anchor = ip
                if ip >= mflimit_plus_one:
                    return _last_literals(n, anchor, op, need), op, need, ip, anchor, safe, found
                table[_hash(word_at(b, unsigned_index(ip - 2)))] = ip - 2
                h = _hash(word_at(b, unsigned_index(ip)))
                if track_reads:
                    hi = max(hi, ip + 4)
                candidate = np.int64(table[h])
                table[h] = ip
                if word_at(b, unsigned_index(candidate)) == word_at(b, unsigned_index(ip)):
                    match = candidate
                    op += 1  # token of a sequence without literals
                    continue
                break
            ip += 1

    return parse


parse_tracked = _make_parse(True, False)
parse_spans = _make_parse(False, True)
parse = _make_parse(False, False)
parse.__doc__ = """Run LZ4's fast parser over the first ``n`` bytes of ``b`` (uint8) from a saved state.

The state is (``table``, ``ip``, ``anchor``, ``op``, ``need``): ``op`` counts output bytes,
``need`` is the largest output-budget requirement seen (LZ4 gives up, and the frame stores the
block raw, when a requirement exceeds ``n - 1``). Pass ``ip = 0`` to start fresh. Returns
``(block, op, need, ip, anchor, safe, found)`` where ``block`` is the block size or STORED.

``found`` is the number of spans ``parse_spans`` wrote to ``spans`` (pairs start, end: the input
bytes ``[start, end)`` are encoded as a match, so they repeat bytes before ``start``); the other
parsers leave ``spans`` alone (pass ``NO_SPANS``).

``parse_tracked`` also numbers the main loop's tops 1, 2, …: with ``stop_top > 0`` it stops at that
top (``block`` = RUNNING) and returns its state, and ``safe`` is the last top before which no byte at
or beyond ``safe_end`` was read.
"""


@jit
def _last_literals(n, anchor, op, need):  # pragma: no cover - compiled
    """Output size after the trailing literals, or STORED when the block does not fit in n - 1."""
    run = n - anchor
    need = max(need, op + run + 1 + (run + 255 - RUN_MASK) // 255)
    if need > n - 1:
        return STORED
    op += 1
    if run >= RUN_MASK:
        op += (run - RUN_MASK) // 255 + 1
    return op + run


@jit
def block_size(b, n, table):  # pragma: no cover - compiled
    """Bytes of LZ4's fast block for the first ``n`` bytes of ``b`` (n ≤ 64 KiB), or STORED."""
    _fill(table, 0)
    return parse(b, n, table, 0, 0, 0, 0, 0, 0, NO_SPANS)[0]


@jit
def block_size_spans(b, n, table, spans):  # pragma: no cover - compiled
    """:func:`block_size`, and the number of match spans it wrote to ``spans`` (see ``parse``).

    ``spans`` needs room for ``2 * (n // MIN_MATCH)`` entries.
    """
    _fill(table, 0)
    out = parse_spans(b, n, table, 0, 0, 0, 0, 0, 0, spans)
    return out[0], out[6]


@jit(inline="always")
def frame_size(n, block):  # pragma: no cover - compiled
    """``len(lz4.frame.compress(data))`` for ``n = len(data)`` ≤ 64 KiB and its block size."""
    if n == 0:
        return 11  # header without content size, end mark
    if block == STORED:
        return FRAME_OVERHEAD + n
    return FRAME_OVERHEAD + block


@jit
def frame_sizes(data, offsets):  # pragma: no cover - compiled
    """Frame size of every row ``data[offsets[i]:offsets[i+1]]``; -1 for rows over 64 KiB."""
    rows = len(offsets) - 1
    out = np.empty(rows, np.int64)
    table = np.zeros(1 << HASH_LOG, np.uint16)
    for r in range(rows):
        b = data[offsets[r] : offsets[r + 1]]
        n = len(b)
        if n > MAX_BLOCK:
            out[r] = -1
            continue
        out[r] = frame_size(n, block_size(b, n, table))
    return out


@jit
def pair_frame_sizes(xdata, xoffsets, tdata, toffsets):  # pragma: no cover - compiled
    """``len(lz4.frame.compress(x + t))`` for every pool row x and target t: an (rows, targets) array.

    Entries whose concatenation exceeds 64 KiB are -1 (the caller asks the library for those).
    """
    rows = len(xoffsets) - 1
    targets = len(toffsets) - 1
    out = np.empty((rows, targets), np.int64)
    longest = 0
    for j in range(targets):
        if toffsets[j + 1] - toffsets[j] > toffsets[longest + 1] - toffsets[longest]:
            longest = j
    longest_t = toffsets[longest + 1] - toffsets[longest] if targets else 0
    b = np.zeros(MAX_BLOCK + 8, np.uint8)
    saved = np.zeros(1 << HASH_LOG, np.uint16)
    table = np.zeros(1 << HASH_LOG, np.uint16)
    for r in range(rows):
        x0, x1 = xoffsets[r], xoffsets[r + 1]
        nx = x1 - x0
        if nx + 1 > MAX_BLOCK:
            out[r, :] = -1
            continue
        _copy(b, 0, xdata, x0, nx)
        # The state at the last main-loop top reached before any byte past x was read is the same
        # for every target of 16+ bytes: find it with the longest target behind x, then save it.
        resumable = False
        s_op = s_need = s_ip = s_anchor = 0
        if nx + 16 <= MAX_BLOCK and longest_t >= 16:
            n = min(nx + longest_t, MAX_BLOCK)
            _copy(b, nx, tdata, toffsets[longest], n - nx)
            _fill(saved, 0)
            safe = parse_tracked(b, n, saved, 0, 0, 0, 0, nx, 0, NO_SPANS)[5]
            if safe > 1:
                _fill(saved, 0)
                _, s_op, s_need, s_ip, s_anchor, _, _ = parse_tracked(b, n, saved, 0, 0, 0, 0, nx, safe, NO_SPANS)
                resumable = True
        for j in range(targets):
            t0, t1 = toffsets[j], toffsets[j + 1]
            n = nx + (t1 - t0)
            if n > MAX_BLOCK:
                out[r, j] = -1
                continue
            _copy(b, nx, tdata, t0, n - nx)
            if resumable and t1 - t0 >= 16:
                _copy(table, 0, saved, 0, len(saved))
                block = parse(b, n, table, s_ip, s_anchor, s_op, s_need, 0, 0, NO_SPANS)[0]
            else:
                block = block_size(b, n, table)
            out[r, j] = frame_size(n, block)
    return out


# Explicit loops: numba's slice assignment (``a[:] = b``) is ~10x slower than a plain loop, and these
# run once per (pool text, target) pair.
@jit(inline="always")
def _copy(dst, at, src, start, count):  # pragma: no cover - compiled
    d = dst[at : at + count]
    v = src[start : start + count]
    for i in range(count):  # a range index: no negative-index checks, so LLVM vectorises the loop
        d[i] = v[i]


@jit(inline="always")
def _fill(dst, value):  # pragma: no cover - compiled
    for i in range(len(dst)):
        dst[i] = value

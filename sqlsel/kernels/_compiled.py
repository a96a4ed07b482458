"""Compiled (numba) loops behind :mod:`sqlsel.kernels.ngrams`: one pass each, GIL released.

DuckDB calls Arrow UDFs on 2048-row batches from several threads; numpy code made of many small
array passes spends its time in memory traffic and holding the GIL. These loops tokenize,
fingerprint and look up n-grams in single passes with ``nogil=True``, so DuckDB threads run them
in parallel. They are plain functions of numpy arrays and are tested through ``ngrams``.
"""

from __future__ import annotations

import numpy as np

from sqlsel.kernels._jit import jit

MIX = np.uint64(0x9E3779B97F4A7C15)


@jit
def ascii_tokens(data, offsets, rows, classes):  # pragma: no cover - compiled
    """Maximal runs of one non-zero byte class in each of ``rows``: (starts, ends, row)."""
    count = 0
    for d in rows:
        prev = 0
        for i in range(offsets[d], offsets[d + 1]):
            c = classes[data[i]]
            if c != 0 and c != prev:
                count += 1
            prev = c
    starts = np.empty(count, np.int64)
    ends = np.empty(count, np.int64)
    doc = np.empty(count, np.int64)
    t = 0
    for d in rows:
        i, stop = offsets[d], offsets[d + 1]
        while i < stop:
            c = classes[data[i]]
            if c == 0:
                i += 1
                continue
            j = i + 1
            while j < stop and classes[data[j]] == c:
                j += 1
            starts[t] = i
            ends[t] = j
            doc[t] = d
            t += 1
            i = j
    return starts, ends, doc


@jit
def _find_slot(table_keys, shift, key):  # pragma: no cover - compiled
    """Linear probing from the key's home slot (the top bits of ``key * MIX``; ``shift`` =
    64 - log2(table size)) to the slot holding ``key`` or the first empty (0) slot."""
    mask = len(table_keys) - 1
    s = np.int64((key * MIX) >> shift)
    while table_keys[s] != 0 and table_keys[s] != key:
        s = (s + 1) & mask
    return s


@jit
def _grown(a, size):  # pragma: no cover - compiled
    b = np.empty(size, a.dtype)
    b[: len(a)] = a
    return b


@jit
def grams_to_buckets(  # pragma: no cover - compiled
    data, lower, starts, ends, doc, tok_start, out_base, ngrams, base, space, slots, shift, n_out
):
    """Bucket of every k-gram (k = 1..ngrams) of every document, from the fingerprint table.

    Bytes are read through ``lower`` (ASCII lowercasing; the identity on other bytes).

    A gram's key is the polynomial fingerprint ``sum(b[i] * base**i)`` (mod 2**64) of its bytes,
    space-joined as the reference joins n-grams, mixed with its byte length; it is computed from
    the tokens' fingerprints without building the string. Grams whose key is not in ``slots``
    are returned once each, as text, for hashing: ``(out, miss_pos, miss_idx, new_keys,
    new_offsets, new_bytes)`` with ``out[miss_pos] = bucket_of_new[miss_idx]`` left to the caller.
    """
    m = len(starts)
    fp = np.empty(m, np.uint64)
    power = np.empty(m, np.uint64)
    for t in range(m):
        h = np.uint64(0)
        p = np.uint64(1)
        for i in range(starts[t], ends[t]):
            h += np.uint64(lower[data[i]]) * p
            p *= base
        fp[t] = h
        power[t] = p

    table_keys = slots[:, 0]
    out = np.empty(n_out, np.int32)
    # misses are few once the table is warm: start small and double (keeps per-batch memory low)
    room = min(n_out, 4096)
    miss_pos = np.empty(room, np.int64)
    miss_key = np.empty(room, np.uint64)
    miss_first = np.empty(room, np.int64)
    miss_order = np.empty(room, np.int64)
    c = 0
    for t in range(m):
        d = doc[t]
        h = fp[t]
        p = power[t]
        ln = ends[t] - starts[t]
        for k in range(1, ngrams + 1):
            last = t + k - 1
            if last >= m or doc[last] != d:
                break
            if k > 1:
                # h(x + " " + y) = h(x) + base**len(x) * (space + base * h(y))
                h = h + p * (space + base * fp[last])
                p = p * base * power[last]
                ln = ln + 1 + ends[last] - starts[last]
            key = h + np.uint64(ln) * MIX
            if key == 0:
                key = np.uint64(1)
            pos = out_base[d, k - 1] + (t - tok_start[d])
            s = _find_slot(table_keys, shift, key)
            bucket = np.int64(slots[s, 1]) - 1 if table_keys[s] == key else -1  # stored +1; 0: being written
            if bucket >= 0:
                out[pos] = bucket
            else:
                if c == room:
                    room *= 2
                    miss_pos = _grown(miss_pos, room)
                    miss_key = _grown(miss_key, room)
                    miss_first = _grown(miss_first, room)
                    miss_order = _grown(miss_order, room)
                miss_pos[c] = pos
                miss_key[c] = key
                miss_first[c] = t
                miss_order[c] = k
                c += 1

    # distinct missing grams, in first-seen order
    cap_bits = 4
    while (1 << cap_bits) < 2 * c:
        cap_bits += 1
    cap = 1 << cap_bits
    local_shift = np.uint64(64 - cap_bits)
    local_key = np.zeros(cap, np.uint64)
    local_idx = np.empty(cap, np.int64)
    miss_idx = np.empty(c, np.int64)
    new_first = np.empty(c, np.int64)
    new_order = np.empty(c, np.int64)
    new_keys = np.empty(c, np.uint64)
    u = 0
    for i in range(c):
        key = miss_key[i]
        s = _find_slot(local_key, local_shift, key)
        if local_key[s] == 0:
            local_key[s] = key
            local_idx[s] = u
            new_keys[u] = key
            new_first[u] = miss_first[i]
            new_order[u] = miss_order[i]
            u += 1
        miss_idx[i] = local_idx[s]

    # their text: tokens first..first+order-1 joined by single spaces
    new_offsets = np.zeros(u + 1, np.int64)
    for j in range(u):
        t = new_first[j]
        size = 0
        for q in range(t, t + new_order[j]):
            size += ends[q] - starts[q]
        new_offsets[j + 1] = new_offsets[j] + size + new_order[j] - 1
    new_bytes = np.empty(new_offsets[u], np.uint8)
    for j in range(u):
        w = new_offsets[j]
        t = new_first[j]
        for q in range(t, t + new_order[j]):
            if q > t:
                new_bytes[w] = 32
                w += 1
            for i in range(starts[q], ends[q]):
                new_bytes[w] = lower[data[i]]
                w += 1
    return out, miss_pos[:c], miss_idx, new_keys[:u], new_offsets, new_bytes


@jit
def rehash(old, new, shift):  # pragma: no cover - compiled
    """Every used slot of ``old`` placed in the empty table ``new`` (whose home shift is ``shift``), in slot order.

    One pass over ``old``: a home is the top bits of a key's mix, so a grown table is written nearly in
    order. (Masking and gathering the used slots with numpy first cost more than the placing.)
    """
    keys = new[:, 0]
    for s in range(len(old)):
        key = old[s, 0]
        if key != 0:
            t = _find_slot(keys, shift, key)
            new[t, 1] = old[s, 1]
            new[t, 0] = key


@jit
def place(slots, shift, keys, buckets):  # pragma: no cover - compiled
    """Insert keys with their buckets (an existing key keeps its slot); writes the key last."""
    table_keys = slots[:, 0]
    for i in range(len(keys)):
        key = keys[i]
        s = _find_slot(table_keys, shift, key)
        slots[s, 1] = np.uint64(buckets[i] + 1)
        slots[s, 0] = key


SHA256_K = np.array(
    [
        0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
        0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
        0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
        0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
        0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
        0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
        0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
        0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
    ],
    np.uint64,
)  # fmt: skip
SHA256_H = np.array(
    [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19], np.uint64
)


_M32 = np.uint64(0xFFFFFFFF)


@jit(inline="always")
def _rotr(x, n):  # pragma: no cover - compiled
    """Rotate the 32-bit value ``x`` (held in a uint64) right by ``n``."""
    return ((x >> np.uint64(n)) | (x << np.uint64(32 - n))) & _M32


@jit
def _compress(h, w, k):  # pragma: no cover - compiled
    """One SHA-256 block: ``w[0:16]`` holds the block's big-endian words; updates ``h`` in place.

    Words are uint64 holding 32-bit values, every sum masked back to 32 bits.
    """
    for t in range(16, 64):
        s0 = _rotr(w[t - 15], 7) ^ _rotr(w[t - 15], 18) ^ (w[t - 15] >> np.uint64(3))
        s1 = _rotr(w[t - 2], 17) ^ _rotr(w[t - 2], 19) ^ (w[t - 2] >> np.uint64(10))
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) & _M32
    a, b, c, d, e, f, g, hh = h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
    for t in range(64):
        choose = (e & f) ^ ((~e & _M32) & g)
        t1 = (hh + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + choose + k[t] + w[t]) & _M32
        t2 = ((_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & _M32
        hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & _M32, c, b, a, (t1 + t2) & _M32
    h[0] = (h[0] + a) & _M32
    h[1] = (h[1] + b) & _M32
    h[2] = (h[2] + c) & _M32
    h[3] = (h[3] + d) & _M32
    h[4] = (h[4] + e) & _M32
    h[5] = (h[5] + f) & _M32
    h[6] = (h[6] + g) & _M32
    h[7] = (h[7] + hh) & _M32


@jit
def sha256_mod(data, offsets, buckets, k, h0):  # pragma: no cover - compiled
    """``int(sha256(data[offsets[i]:offsets[i+1]]).hexdigest(), 16) % buckets`` for every i.

    The digest's eight 32-bit words are reduced by Horner's rule, so no 256-bit number is formed.
    """
    n = len(offsets) - 1
    out = np.empty(n, np.int64)
    h = np.empty(8, np.uint64)
    w = np.empty(64, np.uint64)
    block = np.empty(64, np.uint8)
    m = np.uint64(buckets)
    for i in range(n):
        start, stop = offsets[i], offsets[i + 1]
        length = stop - start
        h[:] = h0
        blocks = (length + 9 + 63) // 64  # message, 0x80, 8 length bytes, padded to 64
        for b in range(blocks):
            for j in range(64):
                pos = b * 64 + j
                if pos < length:
                    block[j] = data[start + pos]
                elif pos == length:
                    block[j] = 0x80
                else:
                    block[j] = 0
            if b == blocks - 1:
                bits = np.uint64(length) * np.uint64(8)
                for j in range(8):
                    block[63 - j] = np.uint8((bits >> np.uint64(8 * j)) & np.uint64(0xFF))
            for j in range(16):
                w[j] = (
                    (np.uint64(block[4 * j]) << np.uint64(24))
                    | (np.uint64(block[4 * j + 1]) << np.uint64(16))
                    | (np.uint64(block[4 * j + 2]) << np.uint64(8))
                    | np.uint64(block[4 * j + 3])
                )
            _compress(h, w, k)
        acc = np.uint64(0)
        for j in range(8):
            acc = ((acc << np.uint64(32)) | h[j]) % m
        out[i] = acc
    return out

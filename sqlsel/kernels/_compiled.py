"""Compiled (numba) loops behind :mod:`sqlsel.kernels.ngrams`: one pass each, GIL released.

DuckDB calls Arrow UDFs on 2048-row batches from several threads; numpy code made of many small
array passes spends its time in memory traffic and holding the GIL. These loops tokenize,
fingerprint and look up n-grams in single passes with ``nogil=True``, so DuckDB threads run them
in parallel. They are plain functions of numpy arrays and are tested through ``ngrams``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MIX = np.uint64(0x9E3779B97F4A7C15)


@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
def _find_slot(table_keys, shift, key):  # pragma: no cover - compiled
    """Linear probing from the key's home slot (the top bits of ``key * MIX``; ``shift`` =
    64 - log2(table size)) to the slot holding ``key`` or the first empty (0) slot."""
    mask = len(table_keys) - 1
    s = np.int64((key * MIX) >> shift)
    while table_keys[s] != 0 and table_keys[s] != key:
        s = (s + 1) & mask
    return s


@njit(nogil=True, cache=True)
def _grown(a, size):  # pragma: no cover - compiled
    b = np.empty(size, a.dtype)
    b[: len(a)] = a
    return b


@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
def hex_digest_mod(hex_digits, buckets):  # pragma: no cover - compiled
    """``int(hexdigest, 16) % buckets`` for consecutive 64-character lowercase hex digests."""
    n = len(hex_digits) // 64
    out = np.empty(n, np.int64)
    m = np.uint64(buckets)
    for j in range(n):
        acc = np.uint64(0)
        for w in range(8):
            word = np.uint64(0)
            for q in range(8):
                ch = hex_digits[64 * j + 8 * w + q]
                v = ch - 48 if ch < 58 else ch - 87
                word = (word << np.uint64(4)) | np.uint64(v)
            acc = ((acc << np.uint64(32)) | word) % m
        out[j] = acc
    return out


@njit(nogil=True, cache=True)
def place(slots, shift, keys, buckets):  # pragma: no cover - compiled
    """Insert keys with their buckets (an existing key keeps its slot); writes the key last."""
    table_keys = slots[:, 0]
    for i in range(len(keys)):
        key = keys[i]
        s = _find_slot(table_keys, shift, key)
        slots[s, 1] = np.uint64(buckets[i] + 1)
        slots[s, 0] = key

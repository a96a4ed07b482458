"""SHA-256 by OpenSSL's libcrypto (SHA-NI where the CPU has it) from compiled code, where it can be found.

DSIR buckets every n-gram it has not seen by SHA-256, as its reference does: 4.7 million first-seen
grams in the 181k benchmark corpus. Python's ``hashlib`` costs ~480 ns a call, most of it the call;
the hand-written compiled SHA-256 (:func:`sqlsel.kernels._compiled.sha256_mod`) ~440 ns a gram;
libcrypto's ``SHA256_Init/Update/Final`` called from a compiled loop ~60 ns a gram on this machine.

The libcrypto used is the one Python's own ``_hashlib`` loaded (found in ``/proc/self/maps``), made
visible to numba's linker by name, so the compiled loop stays in numba's on-disk cache (a ctypes
pointer would not). Where that is not possible (no ``/proc``, a libcrypto built without the
``SHA256_*`` functions), :data:`AVAILABLE` is False and callers use the compiled SHA-256; both
are tested against ``hashlib``.
"""

from __future__ import annotations

import ctypes
import re

import numpy as np
from numba import types

from sqlsel.kernels._jit import jit

__all__ = ["AVAILABLE", "sha256_mod"]

_SYMBOLS = ("SHA256_Init", "SHA256_Update", "SHA256_Final")
_CTX_BYTES = 128  # sizeof(SHA256_CTX) is 112 on every platform OpenSSL supports


def loaded_libcrypto() -> str | None:
    """The path of the libcrypto this process loaded for ``hashlib`` (Linux), or None."""
    try:
        import _hashlib  # noqa: F401  (loads libcrypto)

        with open("/proc/self/maps") as maps:
            for line in maps:
                found = re.search(r"(/\S*/libcrypto[^/\s]*\.so[^/\s]*)$", line.rstrip())
                if found:
                    return found.group(1)
    except (ImportError, OSError):
        pass
    return None


def _link() -> bool:
    path = loaded_libcrypto()
    if path is None:
        return False
    try:
        library = ctypes.CDLL(path)
        if not all(hasattr(library, name) for name in _SYMBOLS):
            return False
        import llvmlite.binding as llvm

        llvm.load_library_permanently(path)
    except (OSError, RuntimeError):
        return False
    return True


#: Whether :func:`sha256_mod` may be called in this process.
AVAILABLE = _link()

_init = types.ExternalFunction("SHA256_Init", types.intc(types.voidptr))
_update = types.ExternalFunction("SHA256_Update", types.intc(types.voidptr, types.voidptr, types.uintp))
_final = types.ExternalFunction("SHA256_Final", types.intc(types.voidptr, types.voidptr))


@jit
def sha256_mod(data, offsets, buckets):  # pragma: no cover - compiled
    """``int(sha256(data[offsets[i]:offsets[i+1]]).hexdigest(), 16) % buckets`` for every i.

    Only when :data:`AVAILABLE`. The digest's eight big-endian 32-bit words are reduced by
    Horner's rule, as :func:`sqlsel.kernels._compiled.sha256_mod` does.
    """
    n = len(offsets) - 1
    out = np.empty(n, np.int64)
    ctx = np.empty(_CTX_BYTES, np.uint8)
    digest = np.empty(32, np.uint8)
    m = np.uint64(buckets)
    for i in range(n):
        _init(ctx.ctypes.data)
        _update(ctx.ctypes.data, data[offsets[i] :].ctypes.data, offsets[i + 1] - offsets[i])
        _final(digest.ctypes.data, ctx.ctypes.data)
        acc = np.uint64(0)
        for j in range(8):
            word = (
                (np.uint64(digest[4 * j]) << np.uint64(24))
                | (np.uint64(digest[4 * j + 1]) << np.uint64(16))
                | (np.uint64(digest[4 * j + 2]) << np.uint64(8))
                | np.uint64(digest[4 * j + 3])
            )
            acc = ((acc << np.uint64(32)) | word) % m
        out[i] = acc
    return out

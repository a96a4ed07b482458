"""``@jit`` loads sqlsel's cached kernels without numba's compiler registries, and compiles as usual."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np

from sqlsel.kernels._jit import jit

# A kernel module of its own (numba caches functions defined in files), called in fresh processes.
KERNEL = """
import numpy as np
from sqlsel.kernels._jit import jit

@jit(inline="always")
def _twice(x):
    return 2 * x

@jit
def doubled_total(values):
    total = 0
    for v in values:
        total += _twice(v)
    return total
"""

CALL = textwrap.dedent("""
    import sys, numpy as np, kernel_module
    print(kernel_module.doubled_total(np.arange(10)), kernel_module.doubled_total(np.arange(4.0)),
          "numba.np.npyimpl" in sys.modules)
""")


def _call(tmp_path, *extra):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", CALL, *extra], env=env, capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_a_cached_kernel_loads_without_the_compilers_registries(tmp_path):
    (tmp_path / "kernel_module.py").write_text(KERNEL)
    assert _call(tmp_path) == ["90", "12.0", "True"]  # compiled: the compiler imports its registries
    assert _call(tmp_path) == ["90", "12.0", "False"]  # loaded from the cache: numba's runtime only


def test_a_new_signature_after_a_cached_load_compiles(tmp_path):
    (tmp_path / "kernel_module.py").write_text(KERNEL)
    _call(tmp_path)
    code = CALL + "print(kernel_module.doubled_total(np.arange(3, dtype=np.int8)))"  # not in the cache
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["90", "12.0", "False", "6"]


def test_jit_compiles_in_process_with_or_without_options():
    @jit(inline="always")
    def plus_one(x):
        return x + 1

    @jit
    def plus_two(values):
        return plus_one(plus_one(values.sum()))

    assert plus_two(np.arange(3)) == 5


LOAD = textwrap.dedent("""
    import kernel_module
    from sqlsel.kernels._jit import load_cached
    print(load_cached(kernel_module.doubled_total), len(kernel_module.doubled_total.signatures))
""")


def test_load_cached_loads_every_cached_signature_and_compiles_none(tmp_path):
    (tmp_path / "kernel_module.py").write_text(KERNEL)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONPATH": str(tmp_path)}
    nothing = subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True, text=True, check=True)
    assert nothing.stdout.split() == ["0", "0"]  # an empty cache: nothing loaded, nothing compiled
    _call(tmp_path)  # compiles and caches two signatures
    done = subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["2", "2"]

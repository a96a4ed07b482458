"""A run loads its functions' cached kernels in the background before its first statement, and compiles nothing there."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import EXAMPLES, own_cache_env

# After preload_kernels has finished: how many kernels each statement of a run still loads from the cache.
LOADS_LEFT = textwrap.dedent("""
    import gc, json, sys, threading
    from numba.core.registry import CPUDispatcher
    import sqlsel
    from sqlsel.runner import preload_kernels

    def hits():
        return {f"{d.py_func.__module__}.{d.py_func.__name__}": sum(d._cache_hits.values())
                for d in gc.get_objects() if isinstance(d, CPUDispatcher)}

    recipe, params = sys.argv[1], json.loads(sys.argv[2])
    if sys.argv[3] == "preload":
        preload_kernels(recipe)
        for thread in threading.enumerate():
            if thread.name == "sqlsel-preload":
                thread.join()
    before = hits()
    sqlsel.run_recipe(recipe, params)
    print(json.dumps({"preloaded": sum(before.values()),
                      "loaded_by_the_run": {k: v - before.get(k, 0) for k, v in hits().items() if v > before.get(k, 0)}}))
""")


def _loads(tmp_path, recipe: str, params: dict, mode: str) -> dict:
    env = own_cache_env(tmp_path / "cache")
    done = subprocess.run(
        [sys.executable, "-c", LOADS_LEFT, recipe, json.dumps(params), mode],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("extra", [{}, {"mode": "fast"}], ids=["dsir_select", "zipfit_select fast"])
def test_after_preload_a_run_loads_no_kernel_itself(tmp_path, extra):
    recipe = "zipfit_select" if extra else "dsir_select"
    params = {"pool": str(EXAMPLES / "pool.parquet"), "target": str(EXAMPLES / "target.jsonl"), "k": 10, **extra}
    _loads(tmp_path, recipe, params, "compile")  # an empty cache: the statements compile, and cache
    assert _loads(tmp_path, recipe, params, "run")["loaded_by_the_run"]  # without preload they load
    done = _loads(tmp_path, recipe, params, "preload")
    assert done["preloaded"] > 0 and done["loaded_by_the_run"] == {}


def test_preload_compiles_nothing(tmp_path):
    env = own_cache_env(tmp_path / "cache")
    code = (
        "from numba.core import event\n"
        "from sqlsel.functions import preload\n"
        "compiles = []\n"
        "class Heard(event.Listener):\n"
        "    def on_start(self, ev): compiles.append(ev)\n"
        "    def on_end(self, ev): pass\n"
        "event.register('numba:compile', Heard())\n"
        "preload(['sel_ngram_buckets', 'sel_zipfit', 'sel_not_a_function']).join()\n"
        "print(len(compiles))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0"]
    assert not list((tmp_path / "cache").rglob("*.nbi"))


def test_every_declared_kernel_is_a_sqlsel_kernel_that_loads_without_compiling():
    from sqlsel.functions import load_families
    from sqlsel.kernels._jit import LOADS_WITHOUT_REGISTRIES

    kernels = [kernel for spec in load_families().values() for kernel in spec.kernels]
    assert len(kernels) > 20
    for kernel in kernels:
        assert kernel.py_func.__module__.startswith("sqlsel.kernels.")
        assert not LOADS_WITHOUT_REGISTRIES or kernel._cache.load_overload.func.__name__ == "_load_cached"


def test_a_pickled_function_travels_without_its_kernels():
    import pickle

    from sqlsel.functions import load_families

    spec = load_families()["sel_ngram_buckets"]
    copy = pickle.loads(pickle.dumps(spec))
    assert spec.kernels and copy.kernels == ()
    assert (copy.name, copy.impl, copy.params) == (spec.name, spec.impl, spec.params)


def test_a_recipe_preloads_what_its_library_macros_call():
    from sqlsel.recipe import load_recipe

    called = load_recipe("semdedup").functions_called()  # sel_hash_embed only through sel_recipe_embedding
    assert {"sel_recipe_embedding", "sel_hash_embed", "sel_semdedup", "sel_kmeans_fit"} <= called
    assert "sel_ngram_buckets" in load_recipe("dsir_select").functions_called()

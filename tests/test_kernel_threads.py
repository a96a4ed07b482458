"""Kernels split a batch over the connection's threads, so a pool in one row group still uses every core."""

from __future__ import annotations

import threading

import duckdb
import pytest

import sqlsel
from sqlsel.functions import function_context


def test_map_rows_splits_a_batch_in_order_on_several_threads(con):
    con.execute("SET threads = 2")
    ctx = function_context(con)
    seen = set()

    def work(start, stop):
        seen.add(threading.get_ident())
        threading.Event().wait(0.01)  # long enough for both workers to take a piece
        return list(range(start, stop))

    parts = ctx.map_rows(work, 1000, min_rows=64)
    assert [i for p in parts for i in p] == list(range(1000)) and len(parts) == 4 and len(seen) == 2
    con.execute("SET threads = 1")
    with ctx.models_fixed():  # a statement reads the setting afresh
        assert ctx.map_rows(work, 1000) == [list(range(1000))]


def test_with_threads_gives_a_call_its_share_of_the_threads(con):
    con.execute("SET threads = 2")
    ctx = function_context(con)
    with ctx.models_fixed():
        assert ctx.with_threads(lambda n: n) == 2
        assert ctx.with_threads(lambda n: (n, ctx.with_threads(lambda m: m))) == (2, 1)  # two calls in flight
        on_kernel_threads = ctx.map_rows(lambda a, b: ctx.with_threads(lambda n: n), 1000, min_rows=64)
        assert set(on_kernel_threads) == {1}


@pytest.fixture
def one_row_group(tmp_path):
    path = tmp_path / "pool.parquet"
    duckdb.sql(
        f"COPY (SELECT i AS id, 'row ' || i || ' of topic ' || (i % 13) || ' ünïcode ' || repeat('w' || (i % 7) || ' ', i % 40) "
        f"AS text FROM range(6000) t(i)) TO '{path}'"
    )
    return path


@pytest.mark.parametrize(
    "expression",
    [
        "sel_ngram_buckets(text, 10000, 2)",
        "sel_dsir_weight(text, 'dw')",
        "sel_hash_embed(text, 32)",
        "sel_zipfit(text, 'zt')",
        "sel_zipfit_fast(text, 'zt')",
        "sel_cluster(sel_hash_embed(text, 8), 'km')",
        "sel_centroid_distance(sel_hash_embed(text, 8), 'km')",
    ],
)
def test_split_batches_give_the_same_values_at_1_and_2_threads(one_row_group, expression):
    values = []
    for threads in (1, 2):
        con = sqlsel.connect(threads=threads)
        con.execute("SELECT sel_zipfit_target('zt', ['a row of topic 3', 'row 7 of topic 7'], 'lz4', 0)").fetchall()
        con.execute(
            "CREATE TABLE sel_scratch.v AS SELECT i AS id, sel_hash_embed('row ' || i, 8) AS embedding FROM range(50) t(i)"
        )
        con.execute("SELECT sel_kmeans_fit('km', 'sel_scratch.v', '3')").fetchall()
        ratios = "[0.5, -1.25, 2.0, 0.0, -0.75, 1.5, -2.0, 0.25]"
        con.execute(f"SELECT sel_dsir_store('dw', 8, 2, 1.0, false, range(8), range(8), {ratios})").fetchall()
        values.append(con.execute(f"SELECT id, {expression} FROM '{one_row_group}' ORDER BY id").fetchall())
        con.close()
    assert values[0] == values[1]


def test_kernels_never_outnumber_the_threads_whoever_calls():
    from concurrent.futures import ThreadPoolExecutor

    from sqlsel.functions import KernelPool

    pool, lock, active, most = KernelPool(), threading.Lock(), [0], [0]

    def work(start, stop):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        threading.Event().wait(0.005)
        with lock:
            active[0] -= 1
        return stop - start

    def caller(_):  # like DuckDB threads, each with a batch
        return sum(pool.map(work, 2048, 3, 64, 4))

    with ThreadPoolExecutor(6) as duckdb_threads:
        assert list(duckdb_threads.map(caller, range(12))) == [2048] * 12
    assert most[0] <= 3

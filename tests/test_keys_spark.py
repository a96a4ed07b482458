"""The key hash and seeded uniform in plain Spark SQL (ANSI mode), equal to numpy bit for bit.

Spark has no unsigned or 128-bit integers: values in [0, 2^64) are DECIMAL(20, 0), products mod 2^64
split the constant into 32-bit halves so they fit DECIMAL(38), and xor-shifts run on the BIGINT with
the same bits. Each step's input is bound once with transform(array(x), a -> …)[0]. Marked slow: it
needs pyspark and Java (`pip install pyspark`), which the default test run does not install.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sqlsel.kernels.keys import key_hashes
from sqlsel.kernels.sampling import GOLDEN, MIX_M1, MIX_M2, uniform
from tests.conftest import need

T64 = "18446744073709551616"


def signed(z: str) -> str:
    return f"CAST(IF({z} >= 9223372036854775808, {z} - {T64}, {z}) AS BIGINT)"


def unsigned(b: str) -> str:
    return f"IF({b} < 0, CAST({b} AS DECIMAL(20,0)) + {T64}, CAST({b} AS DECIMAL(20,0)))"


def xorshift(z: str, n: int) -> str:
    return unsigned(f"({signed(z)} ^ shiftrightunsigned({signed(z)}, {n}))")


def mul(z: str, m: int) -> str:
    hi, lo = m >> 32, m & 0xFFFFFFFF
    return f"CAST(pmod({z} * {lo} + pmod({z} * {hi}, 4294967296) * 4294967296, {T64}) AS DECIMAL(20,0))"


def bound(expr: str, body) -> str:
    return f"transform(array({expr}), a -> {body('a')})[0]"


def mix(z: str) -> str:
    z = bound(z, lambda a: mul(xorshift(a, 30), int(MIX_M1)))
    z = bound(z, lambda a: mul(xorshift(a, 27), int(MIX_M2)))
    return bound(z, lambda a: xorshift(a, 31))


def key_hash(key: str, string: bool) -> str:
    if string:
        return f"CAST(conv(substr(md5({key}), 1, 16), 16, 10) AS DECIMAL(20,0))"
    return f"CAST(pmod(CAST({key} AS DECIMAL(21,0)), {T64}) AS DECIMAL(20,0))"


def uniform_sql(h: str, seed: int) -> str:
    s = f"CAST(pmod(CAST({seed} AS DECIMAL(21,0)), {T64}) AS DECIMAL(20,0))"
    z = mix(f"CAST(pmod({mix(h)} + {mul(s, int(GOLDEN))} + {int(GOLDEN)}, {T64}) AS DECIMAL(20,0))")
    return f"((CAST(floor({z} / 2048) AS DOUBLE) + 0.5) / 9007199254740992.0)"


@pytest.fixture(scope="module")
def spark():
    session = need("pyspark.sql").SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
    spark = session.getOrCreate()
    yield spark
    spark.stop()


@pytest.mark.slow
def test_integer_and_string_keys_give_numpys_uniform_in_spark_sql(spark):
    keys = [0, 1, -1, 2**63 - 1, -(2**63), 123456789]
    rows = ", ".join(f"(CAST({k} AS BIGINT))" for k in keys)
    for seed in (0, 7, -3):
        got = [
            r[0]
            for r in spark.sql(f"SELECT {uniform_sql(key_hash('k', False), seed)} FROM VALUES {rows} AS t(k)").collect()
        ]
        assert got == uniform(key_hashes(np.array(keys)), seed).tolist()
    texts = ["doc-17", "straße", "", "日本語"]
    query = f"SELECT {uniform_sql(key_hash('k', True), 5)} FROM VALUES {', '.join(repr(t) for t in texts)} AS t(k)"
    assert [r[0] for r in spark.sql(query).collect()] == uniform(key_hashes(pa.array(texts)), 5).tolist()

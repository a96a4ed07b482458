"""The key hash: one definition in numpy and in DuckDB SQL, integers by value, strings by their UTF-8 bytes."""

from __future__ import annotations

import hashlib
import re
import uuid

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlsel.kernels.keys import key_hashes
from sqlsel.kernels.sampling import gumbel, uniform


def test_integers_hash_by_value_modulo_2_64():
    assert key_hashes(pa.array([0, 17, -1], pa.int64())).tolist() == [0, 17, 2**64 - 1]
    assert key_hashes(pa.array([2**64 - 1], pa.uint64())).tolist() == [2**64 - 1]
    assert key_hashes(np.array([5], np.int8)).tolist() == [5]


def test_strings_hash_by_the_md5_of_their_utf8_bytes():
    expected = int.from_bytes(hashlib.md5("straße".encode()).digest()[:8], "big")
    assert key_hashes(pa.array(["straße"])).tolist() == [expected]


@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=20), st.integers(-(2**63), 2**63 - 1))
@settings(max_examples=25, deadline=None)
def test_sql_key_hash_and_gumbel_equal_numpy_for_integers(keys, seed):
    import sqlsel

    con = sqlsel.connect()
    rows = con.execute(
        "SELECT sel_key_hash(k), sel_gumbel(k, $2) FROM unnest($1::BIGINT[]) t(k)", [keys, seed]
    ).fetchall()
    con.close()
    hashes = key_hashes(np.array(keys, np.int64))
    assert [r[0] for r in rows] == hashes.tolist()
    assert [r[1] for r in rows] == gumbel(hashes, seed).tolist()


@given(st.lists(st.text(max_size=30), min_size=1, max_size=20))
@settings(max_examples=25, deadline=None)
def test_sql_key_hash_equals_numpy_for_strings(keys):
    import sqlsel

    con = sqlsel.connect()
    rows = con.execute("SELECT sel_key_hash(k) FROM unnest($1::VARCHAR[]) t(k)", [keys]).fetchall()
    con.close()
    assert [r[0] for r in rows] == key_hashes(pa.array(keys, pa.string())).tolist()


def test_uuid_and_unsigned_keys_hash_like_their_text_and_value(con):
    u = uuid.UUID(int=12345678901234567890)
    row = con.execute("SELECT sel_key_hash($1::UUID), sel_key_hash(18446744073709551615::UBIGINT)", [str(u)]).fetchall()
    assert row == [(key_hashes(pa.array([str(u)]))[0], 2**64 - 1)]


def test_floating_point_keys_are_refused(con):
    with pytest.raises(Exception, match="a row key must be an integer or a string .* not DOUBLE"):
        con.execute("SELECT sel_gumbel(1.5::DOUBLE, 0)").fetchall()


def test_uniform_is_expressible_in_plain_duckdb_sql(con):
    """The noise needs no Python: udfs/shell.sql's sqlsel_uniform gives the same bits (integers and strings alike)."""
    keys = [0, 1, -1, 2**63 - 1, -(2**63), 123456789]
    for seed in (0, 7, -3):
        sql = con.execute("SELECT sqlsel_uniform(k, $2) FROM unnest($1::BIGINT[]) t(k)", [keys, seed])
        assert [r[0] for r in sql.fetchall()] == uniform(key_hashes(np.array(keys)), seed).tolist()
    text = con.execute("SELECT sqlsel_uniform('doc-17', 5)").fetchall()[0][0]
    assert text == uniform(key_hashes(pa.array(["doc-17"])), 5)[0]


def test_the_sql_macro_and_the_kernel_know_the_same_key_types():
    from sqlsel.kernels.keys import INTEGER_TYPES, STRING_TYPES
    from sqlsel.resources import resource_dir

    macro = (resource_dir("udfs") / "keys.sql").read_text()
    named = set(re.findall(r"'([A-Z]+)'", macro)) - {"NULL"}
    assert named == set(INTEGER_TYPES) | set(STRING_TYPES)


def test_unsigned_128_bit_keys_hash_modulo_2_64(con):
    assert con.execute("SELECT sel_key_hash((2::UHUGEINT ** 127)::UHUGEINT + 5)").fetchall() == [(5,)]

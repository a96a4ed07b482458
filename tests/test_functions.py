"""Conformance of every declared SQL function: naming, NULLs, empty input, documentation."""

from __future__ import annotations

import pyarrow as pa
import pytest
from sqlglot.dialects.duckdb import DuckDB

from sqlsel.functions import arrow_type, call_impl, load_families
from tests.conftest import ROOT

SPECS = sorted(load_families().values(), key=lambda s: s.name)
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_name_is_prefixed_and_unknown_to_sqlglot(spec):
    assert spec.name.startswith("sel_")
    assert spec.name.upper() not in DuckDB.Parser.FUNCTIONS


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_documented_in_readme_with_an_example(spec):
    assert spec.name in README
    assert spec.summary and spec.example


def test_null_in_null_out(con):
    row = con.execute(
        "SELECT sel_token_count(NULL), sel_ngram_buckets(NULL, 10, 2), sel_gumbel(NULL, 1), "
        "sel_dsir_weight(NULL, 'no_model_needed_for_null')"
    ).fetchall()
    assert row == [(None, None, None, None)]


def test_empty_input(con):
    assert con.execute("SELECT sel_token_count(text) FROM (SELECT 'x' AS text) WHERE false").fetchall() == []


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_no_rows_in_no_rows_out_without_any_work(spec):
    """Either engine may call a function with an empty batch: it gets no rows of its type, and no
    catalog, model or relation is touched (the context is None)."""
    empty = [pa.array([], arrow_type(t)) for t in spec.udf_types]
    result = call_impl(spec, None, empty)
    assert len(result) == 0 and result.type == arrow_type(spec.returns)


@pytest.mark.parametrize("buckets,ngrams", [(0, 2), (10, 0), (10, 99)])
def test_bad_feature_shape_is_a_clear_error(con, buckets, ngrams):
    with pytest.raises(Exception, match="must be an integer in"):
        con.execute(f"SELECT sel_ngram_buckets('a b', {buckets}, {ngrams})").fetchall()


def test_huge_row(con):
    text = "word " * 2_000_000  # 10 MB
    assert con.execute("SELECT sel_token_count(?)", [text]).fetchall() == [(2_000_000,)]

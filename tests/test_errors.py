"""Error helpers: suggestions that help."""

from __future__ import annotations

from sqlsel.errors import UnknownFunctionError, UnknownIndexError, UnknownModelError, did_you_mean


def test_a_prefix_every_option_shares_does_not_make_names_look_alike():
    functions = ["sel_token_count", "sel_ot_fit", "sel_minhash"]
    assert did_you_mean("sel_short", functions) == ""
    assert did_you_mean("sel_minhsh", functions) == " Did you mean 'sel_minhash'?"
    assert did_you_mean("lz", ["lz4", "gzip", "zstd"]) == " Did you mean 'lz4'?"
    assert did_you_mean("lz", ["lz4"]) == " Did you mean 'lz4'?"


def test_a_long_list_of_known_names_gives_their_number_and_where_to_see_them():
    functions = [f"sel_f{i:02d}" for i in range(40)]
    message = str(UnknownFunctionError("unlike", functions))
    assert message == "Unknown function 'unlike'. Known functions: 40 (`sqlsel functions` lists them)."
    indexes = str(UnknownIndexError("ix", [f"i{i:02d}" for i in range(13)]))  # no command lists them: the first 12
    assert indexes.endswith("Known vector indexes: 13: 'i00', 'i01', 'i02', 'i03', 'i04', 'i05', 'i06', 'i07', "
                            "'i08', 'i09', 'i10', 'i11', ….")  # fmt: skip
    assert str(UnknownModelError("m", ["a", "b"], "Fit one.")) == "Unknown model 'm'. Known models: 'a', 'b'. Fit one."

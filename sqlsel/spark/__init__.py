"""sqlsel on Apache Spark: the row-level ``sel_`` functions in a user's own Spark SQL, and recipes run on Spark.

>>> import sqlsel.spark                                            # doctest: +SKIP
>>> names = sqlsel.spark.register(spark, db="sqlsel.duckdb")       # doctest: +SKIP
>>> spark.sql("SELECT id, sel_dsir_weight(text, 'dsir_select') AS w FROM pool").show()   # doctest: +SKIP

:func:`register` is to a Spark session what :func:`sqlsel.register` is to a DuckDB connection for
functions computed row by row: the same kernels as Arrow UDFs, with the catalog's models carried
inside the registered functions (so they work in cluster deploy mode and over Spark Connect).
Fits and set-level functions run in recipes (``sqlsel run RECIPE --engine spark``), whose driver
statements write the catalog. Needs ``pip install 'sqlsel[spark]'`` (pyspark >= 4.1) and, for a
local session, Java 17+.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["register", "spark_session"]


def register(spark: Any, db: str | Path | None = None, *, models: list[str] | None = None) -> list[str]:
    """Register every row-level ``sel_`` function on ``spark``; returns their names.

    ``db`` is the catalog whose models the functions may read (opened read-only; None: no models);
    ``models`` limits them to these names (default: every model in it). Register again after a
    refit: a function carries the models as they were when it was registered.
    """
    from sqlsel.connection import connect
    from sqlsel.errors import UnknownModelError
    from sqlsel.functions import function_context
    from sqlsel.spark.functions import ModelSnapshot, model_snapshot, register_row_functions
    from sqlsel.spark.session import require_pyspark

    require_pyspark()
    if db is None:
        return register_row_functions(spark, ModelSnapshot())
    con = connect(db, read_only=True)
    try:
        ctx = function_context(con)
        assert ctx is not None
        have = [r[0] for r in con.execute("SELECT name FROM sel_models ORDER BY name").fetchall()]
        for name in models or []:
            if name not in have:
                raise UnknownModelError(name, have, f"The catalog {str(db)!r} holds the models listed.")
        return register_row_functions(spark, model_snapshot(ctx, models))
    finally:
        con.close()


def spark_session(master: str | None = None, threads: int | None = None) -> Any:
    """A Spark session for ``master`` (see :func:`sqlsel.spark.session.spark_session`)."""
    from sqlsel.spark.session import spark_session as session

    return session(master, threads)

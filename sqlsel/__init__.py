"""sqlsel: training-data selection as SQL over DuckDB.

>>> import sqlsel
>>> con = sqlsel.connect()          # every sel_ function, macro and the catalog in place
>>> con.sql("SELECT sel_ngram_buckets('Alice went', 10000, 2)").fetchall()
[([6720, 5816, 114],)]
>>> con.close()
"""

from __future__ import annotations

from sqlsel.connection import connect, register
from sqlsel.errors import SqlselError
from sqlsel.report import Report, report
from sqlsel.runner import RunResult, run_recipe

__version__ = "0.1.0"

__all__ = ["connect", "register", "run_recipe", "RunResult", "report", "Report", "SqlselError", "__version__"]

"""A Spark session for a run: local[N], a cluster master, or Spark Connect; with clear errors when Spark is missing.

``pyspark`` (extra ``spark``) and Java 17+ are needed; neither is imported or started before a run
asks for ``--engine spark``.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from sqlsel.errors import MissingExtraError, SqlselError

__all__ = ["spark_session", "require_pyspark", "is_connect"]

MIN_VERSION = (4, 1)


def require_pyspark() -> Any:
    """The pyspark module, or MissingExtraError naming the pip install line."""
    try:
        import pyspark
    except ImportError:
        raise MissingExtraError("The Spark engine", "spark") from None
    version = tuple(int(p) for p in pyspark.__version__.split(".")[:2] if p.isdigit())
    if version < MIN_VERSION:
        needed = ".".join(map(str, MIN_VERSION))
        raise MissingExtraError(f"The Spark engine (pyspark >= {needed}; found {pyspark.__version__})", "spark")
    return pyspark


def _require_java() -> None:
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and os.path.exists(os.path.join(java_home, "bin", "java"))):
        raise SqlselError(
            "Spark needs Java 17 or later, and no java is on PATH (nor JAVA_HOME set): install a JDK "
            "(e.g. apt-get install openjdk-17-jre-headless) or run on a cluster with --master."
        )


def spark_session(master: str | None = None, threads: int | None = None) -> Any:
    """A Spark session for ``master``: ``local[N]`` (default: ``threads`` or every core), ``spark://…``,
    ``yarn``, or ``sc://HOST`` (Spark Connect). An existing session of the process is reused.

    Local masters run the executors' Python with this interpreter (where sqlsel is installed), keep
    Spark's UI off, use a few shuffle partitions per core instead of 200, and give the JVM half the
    machine's memory (``SQLSEL_SPARK_MEMORY``, e.g. ``8g``, overrides) instead of Spark's 1g.
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    if master is not None and master.startswith("sc://"):
        return SparkSession.builder.remote(master).getOrCreate()
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    _require_java()
    local = master is None or master.startswith("local")
    if master is None:
        master = f"local[{threads or os.cpu_count() or 1}]"
    builder = SparkSession.builder.master(master).appName("sqlsel")
    if local:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        cores = _local_cores(master)
        builder = builder.config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", str(2 * cores))
        # a local master's executors live in the driver's JVM, whose default heap (1g) a 200 MB corpus outgrows
        builder = builder.config("spark.driver.memory", os.environ.get("SQLSEL_SPARK_MEMORY", _half_of_memory()))
    builder = builder.config("spark.sql.session.timeZone", "UTC").config("spark.ui.showConsoleProgress", "false")
    spark = builder.getOrCreate()
    if local:  # sqlsel reports a failed statement in one line; Spark would log it again with its JVM stack
        spark.sparkContext.setLogLevel("FATAL")
    return spark


def _half_of_memory() -> str:
    """Half the machine's physical memory, as a JVM heap size (e.g. '12g'); '4g' where it cannot be read."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "4g"
    return f"{max(1, total // 2 // (1 << 30))}g"


def _local_cores(master: str) -> int:
    inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
    if inside == "*":
        return os.cpu_count() or 1
    try:
        return max(1, int(inside.split(",")[0]))
    except ValueError:
        expected = "local, local[N], local[*], spark://HOST:PORT or sc://HOST"
        raise SqlselError(f"--master {master!r}: expected {expected}") from None


def is_connect(spark: Any) -> bool:
    """Whether ``spark`` is a Spark Connect session (no SparkContext, no RDDs)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")

"""The function table: one declaration per SQL function drives registration, `sqlsel functions` and docs.

A family module (``sqlsel/udfs/<family>.py``) declares its functions with :func:`sql_function`::

    @sql_function("sel_token_count", params={"text": "VARCHAR"}, returns="BIGINT",
                  doc="Number of wordpunct tokens of a text.")
    def token_count(ctx, text):
        return pa.array(token_counts(text))

The implementation receives a :class:`FunctionContext` (catalog access for fitted models) and one
``pyarrow.Array`` per parameter, and returns an Array of the same length. :func:`register_functions`
registers every declaration on a DuckDB connection as a vectorised Arrow UDF.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlsel.catalog import STAGED, staged_name
from sqlsel.duck import run_sql
from sqlsel.errors import ReadOnlyCatalogError, SqlselError, UnknownModelError
from sqlsel.resources import KEY_MACROS, macro_files

__all__ = [
    "FunctionSpec",
    "FunctionContext",
    "FUNCTIONS",
    "FAMILIES",
    "KEY",
    "sql_function",
    "register_functions",
    "function_macros",
    "preload",
    "load_families",
    "row_functions",
    "driver_functions",
    "constant_argument",
    "models_fixed",
    "function_context",
    "concatenated",
    "KernelPool",
    "call_impl",
    "arrow_type",
]

#: The pseudo-type of a parameter that takes a row key of any integer or string type (see kernels/keys.py).
KEY = "KEY"
#: Built-in function families, in registration order (``sqlsel/udfs/<family>.py``).
FAMILIES = (
    "sampling",
    "dsir",
    "zipfit",
    "embed",
    "kmeans",
    "quotas",
    "vectors",
    "diversity",
    "dedup",
    "minhash",
    "quality",
    "langid",
    "transport",
    "mig",
)


@dataclass(frozen=True)
class FunctionSpec:
    """One SQL function: its signature, documentation and Arrow implementation."""

    name: str
    params: dict[str, str]
    returns: str
    doc: str
    impl: Callable[..., Any]
    side_effects: bool = False  # random, or writes: DuckDB must call it for every row, never fold or cache it
    null_handling: str = "default"  # "default": the impl never sees NULL rows; NULL in, NULL out
    example: str = ""
    model_param: str | None = None  # the parameter naming a catalog model, checked before a recipe runs
    defaults: dict[str, str] | None = None  # trailing parameters that may be left out: name -> SQL literal
    # takes a whole (small) relation's values as lists, e.g. list(size ORDER BY leaf): on Spark, whose
    # collect_list has no order, its statement runs on the driver's DuckDB
    on_driver: bool = False
    # the compiled kernels (numba dispatchers) its calls run, which preload() loads ahead of them
    kernels: tuple[Any, ...] = ()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its kernels: Spark ships a spec with each function, and an executor loads its own."""
        return {**self.__dict__, "kernels": ()}

    @property
    def keys(self) -> list[str]:
        """Parameters of type KEY: a row key of any integer or string type, passed on as its key hash."""
        return [n for n, t in self.params.items() if t == KEY]

    @property
    def signature(self) -> str:
        defaults = self.defaults or {}
        args = ", ".join(f"{n} {t}" + (f" := {defaults[n]}" if n in defaults else "") for n, t in self.params.items())
        return f"{self.name}({args}) -> {self.returns}"

    @property
    def udf_name(self) -> str:
        """The registered Python function; a function with defaults or KEY parameters is a SQL macro over it."""
        return f"{self.name}_full" if self.defaults or self.keys else self.name

    @property
    def udf_types(self) -> list[str]:
        """The registered function's parameter types: a KEY arrives as its UBIGINT key hash."""
        return ["UBIGINT" if t == KEY else t for t in self.params.values()]

    def macro_sql(self) -> str | None:
        """``CREATE MACRO`` giving optional parameters their defaults and hashing KEY parameters (or None)."""
        if not self.defaults and not self.keys:
            return None
        defaults = self.defaults or {}
        args = ", ".join(f"{n} := {defaults[n]}" if n in defaults else n for n in self.params)
        calls = ", ".join(f"sel_key_hash({n})" if n in self.keys else n for n in self.params)
        return f"CREATE OR REPLACE MACRO {self.name}({args}) AS {self.udf_name}({calls})"

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0]


FUNCTIONS: dict[str, FunctionSpec] = {}


def sql_function(
    name: str,
    *,
    params: dict[str, str],
    returns: str,
    doc: str,
    side_effects: bool = False,
    null_handling: str = "default",
    example: str = "",
    model_param: str | None = None,
    defaults: dict[str, str] | None = None,
    on_driver: bool = False,
    kernels: tuple[Any, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a SQL function; returns the implementation unchanged.

    ``defaults`` lets callers leave out trailing parameters (``sel_cluster(e, 'topics')`` means
    level 1): DuckDB Python functions take no optional arguments, so the function is registered as
    ``<name>_full`` with every argument and ``<name>`` becomes a macro over it. ``kernels`` are the
    compiled kernels its calls run (see :func:`preload`).
    """
    if not name.startswith("sel_"):
        raise ValueError(f"sqlsel SQL functions carry the sel_ prefix; got {name!r}")

    def decorate(impl: Callable[..., Any]) -> Callable[..., Any]:
        if name in FUNCTIONS and FUNCTIONS[name].impl is not impl:
            raise ValueError(f"SQL function {name!r} is declared twice")
        if model_param is not None and model_param not in params:
            raise ValueError(f"{name}: model_param {model_param!r} is not one of its parameters")
        if defaults and list(params)[-len(defaults) :] != list(defaults):
            raise ValueError(f"{name}: only trailing parameters can have defaults; got {list(defaults)}")
        FUNCTIONS[name] = FunctionSpec(
            name,
            params,
            returns,
            doc,
            impl,
            side_effects,
            null_handling,
            example,
            model_param,
            defaults,
            on_driver,
            kernels,
        )
        return impl

    return decorate


def load_families() -> dict[str, FunctionSpec]:
    """Import every built-in family so its declarations are in :data:`FUNCTIONS`."""
    for family in FAMILIES:
        importlib.import_module(f"sqlsel.udfs.{family}")
    return FUNCTIONS


def preload(names: Iterable[str]) -> threading.Thread:
    """Load the cached kernels of the functions ``names`` (others are ignored) on a background thread.

    A run starts it before it opens its catalog: loading machine code (10-20 ms a kernel, mostly in
    LLVM, which releases the GIL) then overlaps the connect, the checks and the inputs instead of
    delaying the first statement (the bundled example's ``sqlsel run dsir_select``: ~0.06 s of ~0.8 s).
    Nothing compiles here (:func:`sqlsel.kernels._jit.load_cached`): a first run's statements compile
    what they call, and say so. An error ends the thread silently; a statement meets it again.
    """
    wanted = sorted({name.lower() for name in names})

    def load() -> None:
        from sqlsel.kernels._jit import load_cached

        specs = load_families()
        kernels = {id(k): k for name in wanted if name in specs for k in specs[name].kernels}
        for kernel in kernels.values():
            with contextlib.suppress(Exception):
                load_cached(kernel)

    thread = threading.Thread(target=load, name="sqlsel-preload", daemon=True)
    thread.start()
    return thread


def constant_argument(arr: pa.Array, what: str) -> Any:
    """The single value of an argument that must be the same on every row of a query."""
    values = pc.unique(arr).to_pylist()
    if len(values) != 1:
        raise SqlselError(f"{what} must be the same for every row of a query; got {values[:5]}")
    return values[0]


KERNEL_THREAD = "sqlsel-kernel"


def concatenated(parts: list[Any]) -> Any:
    """The results of :meth:`FunctionContext.map_rows` joined: arrays end to end, tuples of arrays column by column."""
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(column) for column in zip(*parts, strict=True))
    return np.concatenate(parts)


class KernelPool:
    """Threads for kernels that split a batch, shared by every call of a connection's functions.

    DuckDB calls a function from one thread per row group, so a pool stored in one row group would
    use one core whatever ``threads`` says; a kernel that releases the GIL splits its batch instead,
    into ``per_thread`` pieces per thread it may use (several even out rows of unequal cost). A call
    gets ``threads`` divided by the calls in flight, so concurrent DuckDB threads split little or not
    at all, and every kernel, run by a pool worker or inline by its caller, holds one of ``threads``
    slots: kernels never outnumber the threads. A kernel thread never splits again (no worker waits
    on pieces queued behind it). The pool only grows; it is never shut down under a caller.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._size = 0
        self._slots: dict[int, threading.BoundedSemaphore] = {}
        self._callers = 0

    def run(self, work: Callable[[int, int], Any], rows: int, threads: int) -> Any:
        """``work(0, rows)`` on the calling thread, holding a slot (a kernel thread holds one already)."""
        if threading.current_thread().name.startswith(KERNEL_THREAD):
            return work(0, rows)
        with self._semaphore(threads):
            return work(0, rows)

    def map(
        self, work: Callable[[int, int], Any], rows: int, threads: int, min_rows: int, per_thread: int
    ) -> list[Any]:
        if threads <= 1 or threading.current_thread().name.startswith(KERNEL_THREAD):
            return [self.run(work, rows, threads)]
        with self.share(threads) as share:
            pieces = min(rows // min_rows, share * per_thread)
            if share <= 1 or pieces <= 1:
                return [self.run(work, rows, threads)]
            bounds = np.linspace(0, rows, pieces + 1).astype(np.int64)
            slots = self._semaphore(threads)

            def piece(i: int) -> Any:
                with slots:
                    return work(int(bounds[i]), int(bounds[i + 1]))

            return list(self._executor(threads).map(piece, range(pieces)))

    @contextlib.contextmanager
    def share(self, threads: int) -> Iterator[int]:
        """This call's share of ``threads`` while it runs: ``threads`` divided by the calls in flight (at least 1)."""
        with self._lock:
            self._callers += 1
            share = max(1, threads // self._callers)
        try:
            yield share
        finally:
            with self._lock:
                self._callers -= 1

    def _semaphore(self, threads: int) -> threading.BoundedSemaphore:
        with self._lock:
            return self._slots.setdefault(threads, threading.BoundedSemaphore(threads))

    def _executor(self, threads: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None or self._size < threads:  # a larger setting: a larger pool beside the old one
                self._pool = ThreadPoolExecutor(threads, thread_name_prefix=KERNEL_THREAD)
                self._size = threads
            return self._pool


#: Models a connection keeps loaded (each read again from the catalog when it is needed after eviction).
MODEL_CACHE_ENTRIES = 8


class FunctionContext:
    """What a function implementation may use besides its arguments: read access to the catalog.

    Reads go through a cursor of the registering connection (a second connection to the same
    database), so they work while the calling query runs. Fitted models are cached by model id, the
    ``MODEL_CACHE_ENTRIES`` most recently used; a set-level function keeps its last answer per slot
    (:meth:`latest`). Both go with the connection.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, catalog_path: str | None = None, read_only: bool = False
    ) -> None:
        self._con = con
        self.catalog_path = catalog_path  # the catalog file (None: in memory); its LanceDB folder is beside it
        self.read_only = read_only
        self._local = threading.local()
        self._cache: OrderedDict[Any, Any] = OrderedDict()
        self._latest: dict[str, tuple[Any, Any]] = {}
        self.lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._fixed: dict[tuple[str, str], tuple[int, dict[str, Any]]] | None = None
        self._fixed_lock = threading.Lock()
        self._stage_run: int | None = None
        self.staged: dict[str, str] = {}  # name asked for -> name written, while a run stages its writes
        self.rows_done: dict[str, int] = {}  # rows each function was handed since reset_progress()
        self.kernels = KernelPool()  # threads for kernels that split a batch (see map_rows)
        self._threads_fixed: int | None = None
        self._threads_read: tuple[int, float] = (1, -1e9)  # the setting and when it was read
        self.interrupted = False  # set by the runner on Ctrl-C; long set-level work stops at check_interrupt()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The connection the functions were registered on (what owns an in-memory catalog's files)."""
        return self._con

    def reset_progress(self) -> None:
        with self.lock:
            self.rows_done = {}

    def count_rows(self, function: str, rows: int) -> None:
        with self.lock:
            self.rows_done[function] = self.rows_done.get(function, 0) + rows

    def threads(self) -> int:
        """The connection's DuckDB ``threads`` setting: how many cores one function call may use.

        Read once per statement inside :meth:`models_fixed`, and at most once a second otherwise.
        """
        if self._threads_fixed is not None:
            return self._threads_fixed
        value, read_at = self._threads_read
        return value if time.monotonic() - read_at <= 1.0 else self._read_threads()

    def _read_threads(self) -> int:
        value = max(1, int(self.query("SELECT current_setting('threads')")[0][0]))
        self._threads_read = (value, time.monotonic())
        return value

    def map_rows(
        self, work: Callable[[int, int], Any], rows: int, min_rows: int = 64, per_thread: int = 2
    ) -> list[Any]:
        """``work(start, stop)`` over consecutive slices of ``rows`` rows, on the threads DuckDB leaves idle.

        See :class:`KernelPool`. Results come back in row order. Two pieces per thread: against four,
        as fast or faster for every splitting function (DSIR features 1.48× → 1.65× on two threads,
        ZIP-FIT fast 1.22× → 1.34×; ``benchmarks/threads.py``), since each piece pays its own setup.
        """
        if rows < 2 * min_rows:
            return [self.kernels.run(work, rows, 1)]
        return self.kernels.map(work, rows, self.threads(), min_rows, per_thread)

    def with_threads(self, work: Callable[[int], Any]) -> Any:
        """``work(n)`` for a library that parallelises a batch itself (faiss's OpenMP), ``n`` this call's threads.

        ``n`` is the connection's ``threads`` divided by the calls in flight, as :meth:`map_rows` shares
        them; 1 on a kernel thread. Prefer this to ``map_rows`` where splitting a batch costs more than
        it saves: faiss searches a 2,048-row batch against 200 centroids in 1.8 ms on one thread and
        0.9 ms on two, while two 1,024-row halves on two Python threads took 3.5 ms.
        """
        if threading.current_thread().name.startswith(KERNEL_THREAD):
            return work(1)
        with self.kernels.share(self.threads()) as n:
            return work(n)

    def check_interrupt(self) -> None:
        """Stop long work inside a function when the run was interrupted (DuckDB only stops between batches)."""
        if self.interrupted:
            raise SqlselError("interrupted")

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self._new_cursor()
        return cur

    def _new_cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of the registering connection. Settings are per cursor: a long read through it must
        not print DuckDB's own progress bar into the caller's terminal."""
        cur = self._con.cursor()
        with contextlib.suppress(duckdb.Error):  # refused in a Jupyter kernel without ipywidgets
            run_sql(cur, "SET enable_progress_bar_print = false")
        return cur

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self._cursor().execute(sql, params or []).fetchall()

    def arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        return self._cursor().sql(sql, params=params or []).to_arrow_table()

    def columns(self, sql: str) -> list[str]:
        """The column names ``sql`` would return, without running it to the end."""
        return [str(d[0]) for d in self._cursor().execute(f"SELECT * FROM ({sql}) LIMIT 0").description or []]

    def stream(self, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The rows of ``sql`` in batches of up to ``batch_rows``, without materialising them.

        The stream has a cursor of its own: functions inside ``sql`` (``sel_cluster(embedding, 'm')``)
        can still read the catalog through this thread's cursor while it runs.
        """
        cur = self._new_cursor()
        try:
            yield from cur.sql(sql).to_arrow_reader(batch_rows)
        finally:
            cur.close()

    def sorted_stream(self, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """:meth:`stream` for a query with ORDER BY whose ties may come in any order.

        DuckDB's ``preserve_insertion_order`` (a database-wide setting) is off while the query is
        planned and its first batch is made: sorting 4M × 256 vectors under memory_limit took 126 MB
        beside the limit instead of 291 MB, and 20 s instead of 28 s. The caller's value is back
        before any row is handed on.
        """
        cur, settings = self._new_cursor(), self._cursor()
        try:
            before = settings.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
            run_sql(settings, "SET preserve_insertion_order = false")
            try:
                reader = cur.sql(sql).to_arrow_reader(batch_rows)
                first = next(iter(reader), None)
            finally:
                run_sql(settings, f"SET preserve_insertion_order = {'true' if before else 'false'}")
            if first is not None:
                yield first
                yield from reader
        finally:
            cur.close()

    def model(self, name: str, kind: str, fix: str) -> tuple[int, dict[str, Any]]:
        """``(model_id, params)`` of the catalog model ``name`` of this kind, or UnknownModelError with ``fix``.

        A function calls this once per 2,048-row batch; inside :meth:`models_fixed` the catalog is
        asked once per statement instead (a lookup costs 0.7-2 ms, a cheap batch not much more).
        """
        fixed = self._fixed
        if fixed is None:
            return self._lookup(name, kind, fix)
        if (name, kind) not in fixed:
            with self._fixed_lock:  # DuckDB threads of one statement: one of them asks, the others wait
                if (name, kind) not in fixed:
                    fixed[name, kind] = self._lookup(name, kind, fix)
        return fixed[name, kind]

    def _lookup(self, name: str, kind: str, fix: str) -> tuple[int, dict[str, Any]]:
        rows = self.query("SELECT model_id, kind, params FROM sel_models WHERE name = ?", [self.read_name(name)])
        if not rows or rows[0][1] != kind:
            known = [r[0] for r in self.query("SELECT name FROM sel_models WHERE kind = ? ORDER BY name", [kind])]
            raise UnknownModelError(name, [k for k in known if STAGED not in k], fix)
        model_id, _, params = rows[0]
        return int(model_id), json.loads(params) if isinstance(params, str) else params

    @contextlib.contextmanager
    def models_fixed(self) -> Iterator[None]:
        """Remember model lookups while the caller runs one statement.

        A model changes during a statement only if that statement writes it: through a function
        (:meth:`writing`, which forgets what was remembered), or in SQL, which the bundled recipes
        do in statements of their own. A statement that rewrites ``sel_models`` in SQL and reads the
        model back must run outside this block.
        """
        outer = self._fixed, self._threads_fixed
        threads = self._threads_fixed or self._read_threads()  # the thread setting, too, once per statement
        self._fixed, self._threads_fixed = {}, threads
        try:
            yield
        finally:
            self._fixed, self._threads_fixed = outer

    def cached(self, key: Any, build: Callable[[], Any]) -> Any:
        """The value cached under ``key``, built on first use: models are cached by id (a refit gets a new
        id), the ``MODEL_CACHE_ENTRIES`` most recently used kept."""
        with self.lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = build()
        with self.lock:
            self._cache[key] = value
            self._cache.move_to_end(key)
            while len(self._cache) > MODEL_CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return value

    def latest(self, slot: str, key: Any, build: Callable[[], Any]) -> Any:
        """The last value built in ``slot`` if it was built for ``key``, else a new one that replaces it.

        For large answers worth keeping once (SemDeDup's neighbours while eps is tuned), not per key.
        """
        with self.lock:
            kept = self._latest.get(slot)
        if kept is not None and kept[0] == key:
            return kept[1]
        with self.lock:
            self._latest.pop(slot, None)  # free the old answer before building the new one
        value = build()
        with self.lock:
            self._latest[slot] = (key, value)
        return value

    @contextlib.contextmanager
    def staging(self, run_id: int) -> Iterator[None]:
        """Write catalog objects under staged names while a run is going (see :func:`sqlsel.catalog.publish`).

        Inside the block, a function that stores ``name`` writes ``name~staged-run<id>`` instead
        (:meth:`write_name`), and lookups of ``name`` find that staged object first (:meth:`read_name`).
        Only a run that succeeds renames its staged objects over the old ones, so a failed or
        interrupted run leaves every model as it was.
        """
        self._stage_run, self.staged = run_id, {}
        try:
            yield
        finally:
            self._stage_run = None
            self.staged = {}

    @property
    def staging_run(self) -> int | None:
        """The run whose writes are staged now (None outside a run)."""
        return self._stage_run

    def write_name(self, name: str) -> str:
        """The catalog name a function stores ``name`` under: staged while a run is going."""
        if self._stage_run is None:
            return name
        with self.lock:
            self.staged[name] = staged_name(name, self._stage_run)
        return self.staged[name]

    def read_name(self, name: str) -> str:
        """The catalog name a lookup of ``name`` reads: what the current run staged for it, if anything."""
        return self.staged.get(name, name)

    def check_writable(self, catalog_object: str) -> None:
        """Refuse to store ``catalog_object`` in a read-only catalog (call it before expensive work)."""
        if self.read_only:
            raise ReadOnlyCatalogError(catalog_object)

    @contextlib.contextmanager
    def writing(self, catalog_object: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor in its own transaction: committed when the block succeeds, rolled back otherwise.

        Writes are serialised: DuckDB threads calling a writing function for several rows of one
        query would otherwise conflict on the same catalog rows. The transaction is the function's
        own: a caller's ROLLBACK does not undo it. ``catalog_object`` names what the write stores in
        the catalog (a model, a vector table); such writes are refused on a read-only catalog.
        """
        if catalog_object is not None:
            self.check_writable(catalog_object)
        with self._write_lock:
            try:
                yield from self._write_transaction()
            finally:
                if self._fixed is not None:
                    self._fixed = {}  # a fresh dict: a lookup racing this write fills the old one

    def _write_transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self._new_cursor()
        try:
            run_sql(cur, "BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                run_sql(cur, "ROLLBACK")
                raise
            run_sql(cur, "COMMIT")
        finally:
            cur.close()


# The context of each connection's registered functions, for models_fixed; weak, so that a closed
# connection's context goes with it (the functions registered on the connection hold it).
_CONTEXTS: weakref.WeakValueDictionary[int, FunctionContext] = weakref.WeakValueDictionary()


@contextlib.contextmanager
def models_fixed(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """:meth:`FunctionContext.models_fixed` for the functions registered on ``con`` (none: no effect)."""
    ctx = function_context(con)
    if ctx is None:
        yield
        return
    with ctx.models_fixed():
        yield


_ARROW_TYPES: dict[str, pa.DataType] = {
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "FLOAT": pa.float32(),
    "VARCHAR": pa.string(),
    "BOOLEAN": pa.bool_(),
    "UBIGINT": pa.uint64(),
}


def arrow_type(duckdb_type: str) -> pa.DataType:
    """The Arrow type DuckDB hands a function for ``duckdb_type`` (``FLOAT[]`` is a list of float32)."""
    if duckdb_type.endswith("[]"):
        return pa.list_(arrow_type(duckdb_type[:-2]))
    if duckdb_type.startswith("STRUCT("):
        fields = [f.strip().split(" ", 1) for f in duckdb_type[len("STRUCT(") : -1].split(",")]
        return pa.struct([(name, arrow_type(kind.strip())) for name, kind in fields])
    return _ARROW_TYPES[duckdb_type]


def call_impl(spec: FunctionSpec, ctx: FunctionContext, arrays: list[pa.Array]) -> Any:
    """``spec``'s implementation on ``arrays``, a ValueError or TypeError of it as a SqlselError naming the function.

    Both engines call implementations through this: DuckDB's adapter and Spark's UDF body. A call
    with no rows (an empty batch, or a set-level statement over an empty relation) returns no rows of
    the function's type without calling it: a set-level function reads and writes nothing then.
    """
    if arrays and len(arrays[0]) == 0:
        return pa.array([], arrow_type(spec.returns))
    try:
        return spec.impl(ctx, *arrays)
    except SqlselError:
        raise
    except (ValueError, TypeError) as exc:
        raise SqlselError(f"{spec.name}: {exc}") from exc


def _adapter(spec: FunctionSpec, ctx: FunctionContext) -> Callable[..., Any]:
    """The callable DuckDB sees: one positional parameter per SQL argument, Arrow in and out."""

    def call(*args: Any) -> Any:
        arrays = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in args]
        if arrays:
            ctx.count_rows(spec.name, len(arrays[0]))
        return call_impl(spec, ctx, arrays)

    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY) for n in spec.params]
    call.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    call.__name__ = spec.name
    return call


def function_context(con: duckdb.DuckDBPyConnection) -> FunctionContext | None:
    """The context of the functions registered on ``con`` (None: sqlsel is not registered there)."""
    ctx = _CONTEXTS.get(id(con))
    return ctx if ctx is not None and ctx._con is con else None  # an id can be reused by a later connection


def register_functions(
    con: duckdb.DuckDBPyConnection,
    specs: dict[str, FunctionSpec] | None = None,
    *,
    catalog_path: str | None = None,
    read_only: bool = False,
) -> FunctionContext:
    """Register every declared function on ``con`` as an Arrow UDF (idempotent: existing ones are replaced).

    A function with defaults or KEY parameters is registered as ``<name>_full``; the macro that
    makes ``<name>`` call it is in :func:`function_macros`, which :func:`sqlsel.register` creates.
    """
    specs = specs if specs is not None else load_families()
    ctx = FunctionContext(con, catalog_path, read_only)
    _CONTEXTS[id(con)] = ctx
    types = {t: con.sqltype(t) for spec in specs.values() for t in [*spec.udf_types, spec.returns]}
    for spec in specs.values():
        with contextlib.suppress(duckdb.Error):
            con.remove_function(spec.udf_name)
        con.create_function(
            spec.udf_name,
            _adapter(spec, ctx),
            [types[t] for t in spec.udf_types],
            types[spec.returns],
            type="arrow",
            null_handling=spec.null_handling,
            side_effects=spec.side_effects,
        )
    return ctx


def function_macros(specs: dict[str, FunctionSpec] | None = None) -> list[str]:
    """The macros the function table needs: the key macros (``udfs/keys.sql``), then one per
    function with defaults or KEY parameters, over its ``<name>_full``."""
    specs = specs if specs is not None else load_families()
    keys = macro_files()[KEY_MACROS]
    return [keys] + [macro for macro in (spec.macro_sql() for spec in specs.values()) if macro is not None]


def row_functions(specs: dict[str, FunctionSpec] | None = None) -> dict[str, FunctionSpec]:
    """Functions computed row by row without writing anything: what Spark runs on its executors."""
    specs = specs if specs is not None else load_families()
    return {name: spec for name, spec in specs.items() if not (spec.side_effects or spec.on_driver)}


def driver_functions(specs: dict[str, FunctionSpec] | None = None) -> dict[str, FunctionSpec]:
    """Functions that write the catalog, read whole relations or take them as lists: run on the driver."""
    specs = specs if specs is not None else load_families()
    return {name: spec for name, spec in specs.items() if spec.side_effects or spec.on_driver}

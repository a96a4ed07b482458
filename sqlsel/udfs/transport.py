"""Optimal transport from SQL: GOT-D's gradient scores and TAROT's selection toward a target.

``sel_ot_gradients`` reads the pool's and the target's embeddings, solves the entropic OT problem
between them once and writes each pool row's centred potential and calibrated gradient to a table:
a catalog table keeps them for later queries, ``sel_scratch`` for the run. ``sel_tarot`` writes
TAROT's picks (and, choosing the size, its OT-distance curve); ``sel_ot_distance`` measures a
selection. The kernels are in :mod:`sqlsel.kernels.transport` and :mod:`sqlsel.kernels.tarot`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sqlsel.catalog import store_model
from sqlsel.errors import ParameterError
from sqlsel.functions import FunctionContext, constant_argument, sql_function
from sqlsel.kernels.tarot import tarot_select
from sqlsel.kernels.transport import OTFit, c_transform, ot_distance, ot_potentials, transport_bytes
from sqlsel.kernels.vectors import list_array, unit_rows
from sqlsel.relations import Vectors, key_array, memory_budget, model_vectors, read_vectors, write_rows, write_table


def _number(arg: pa.Array, name: str) -> float:
    """A constant DOUBLE argument as a float (NaN for NULL, which every range check then refuses)."""
    given = constant_argument(arg, name)
    return float(given) if given is not None else float("nan")


def _positive(arg: pa.Array, name: str, what: str, example: str) -> float:
    """A constant DOUBLE argument that must be positive (eps, ridge), refused naming it otherwise."""
    value = _number(arg, name)
    if not value > 0:
        raise ParameterError(f"{what}: {name} must be positive (e.g. {example}); got {value}")
    return value


#: The example pool and target of the functions below, as their source and target_source arguments.
_EXAMPLE_PAIR = (
    "'SELECT id, sel_hash_embed(text, 64) AS embedding FROM ''examples/pool.parquet''', "
    "'SELECT row_number() OVER (ORDER BY text) AS id, sel_hash_embed(text, 64) AS embedding "
    "FROM read_json(''examples/target.jsonl'')'"
)


def _pool_and_target(
    ctx: FunctionContext, pool: pa.Array, target: pa.Array, what: str, whole_target: bool = True
) -> tuple[Vectors, Vectors]:
    """The pool's and the target's vectors, refused past the memory share or with other dimensions.

    ``whole_target``: the solver holds pool × target matrices (GOT-D); else (TAROT) the pool's
    whitened copy and a block of similarities.
    """
    source = read_vectors(ctx, str(constant_argument(pool, "source")), f"{what} (pool)")
    goal = read_vectors(ctx, str(constant_argument(target, "target_source")), f"{what} (target)")
    n, m, d = len(source.x), len(goal.x), source.x.shape[1]
    # TAROT: the whitened float32 rows, and a block of 8,192 pool rows in float64 with its similarities and rows
    needed = transport_bytes(n, m) if whole_target else 4 * (n + m) * d + 8 * 8192 * (d + 3 * m)
    budget = memory_budget(ctx)
    if needed > budget:
        raise ParameterError(
            f"{what}: {n:,} pool × {m:,} target rows need {needed / 1e9:.1f} GB, "
            f"more than a quarter of memory_limit ({budget / 1e9:.1f} GB). Select from a sample of the pool or "
            "the target (e.g. USING SAMPLE), or raise memory_limit."
        )
    if source.x.shape[1] != goal.x.shape[1]:
        raise ParameterError(
            f"{what}: pool embeddings have {source.x.shape[1]} dimensions, target embeddings "
            f"{goal.x.shape[1]}: embed both the same way."
        )
    return source, goal


@sql_function(
    "sel_ot_gradients",
    params={"into_table": "VARCHAR", "source": "VARCHAR", "target_source": "VARCHAR", "eps": "DOUBLE"},
    returns="BIGINT",
    doc="""GOT-D (Kang et al. 2024): each pool row's optimal-transport gradient toward the target.

    source (the pool) and target_source are tables, views or queries of id and embedding. Entropic OT
    between uniform masses on them, cost ||x̂ − ŷ||² of unit-length embeddings (2 − 2·cosine),
    regularisation eps (POT's log-domain Sinkhorn; pip install 'sqlsel[ot]'). Writes table into_table
    (id in the pool's key type; potential: the dual potential, centred to mean 0; gradient: the
    calibrated gradient f_i − mean of the others, the most negative first to select) and returns its
    row count. The solver holds about 10 × pool × target doubles: past a quarter of memory_limit the
    call is refused (select from a sample of the pool or the target). It writes in a transaction of its
    own: a caller's ROLLBACK does not undo it.""",
    example=f"SELECT sel_ot_gradients('sel_scratch.ot', {_EXAMPLE_PAIR})",
    side_effects=True,
    null_handling="special",
    defaults={"eps": "0.1"},
)
def sel_ot_gradients(ctx: FunctionContext, into: pa.Array, pool: pa.Array, target: pa.Array, eps: pa.Array) -> pa.Array:
    regularisation = _positive(eps, "eps", "sel_ot_gradients", "0.1")
    source, goal = _pool_and_target(ctx, pool, target, "sel_ot_gradients")
    fit = _solved(source, goal, regularisation, "sel_ot_gradients")
    table = pa.table(
        {
            "id": key_array(source, np.arange(len(source.x))),
            "potential": pa.array(fit.potential),
            "gradient": pa.array(fit.gradient),
        }
    )
    count = write_rows(ctx, str(constant_argument(into, "into_table")), table, source.key_type, ("id",))
    return pa.array([count] * len(pool), pa.int64())


@sql_function(
    "sel_ot_distance",
    params={"source": "VARCHAR", "target_source": "VARCHAR", "eps": "DOUBLE"},
    returns="DOUBLE",
    doc="""Optimal-transport distance between two sets of embeddings (uniform masses, cost 2 − 2·cosine).

    source and target_source are tables, views or queries of id and embedding. eps = 0 (the default)
    solves it exactly (POT's network simplex); eps > 0 gives the entropic plan's transport cost, as
    sel_ot_gradients solves it. Refused past a quarter of memory_limit, as sel_ot_gradients is. Use it
    to compare selections: the lower, the closer a selection's embeddings are to the target's.""",
    example=(
        "SELECT sel_ot_distance('SELECT id, sel_hash_embed(text, 64) AS embedding FROM ''examples/pool.parquet'' "
        "WHERE id < 100', 'SELECT row_number() OVER (ORDER BY text) AS id, sel_hash_embed(text, 64) AS embedding "
        "FROM read_json(''examples/target.jsonl'')')"
    ),
    side_effects=True,
    null_handling="special",
    defaults={"eps": "0.0"},
)
def sel_ot_distance(ctx: FunctionContext, pool: pa.Array, target: pa.Array, eps: pa.Array) -> pa.Array:
    regularisation = _number(eps, "eps")
    if not regularisation >= 0:
        raise ParameterError(f"sel_ot_distance: eps must be 0 (exact) or positive; got {regularisation}")
    source, goal = _pool_and_target(ctx, pool, target, "sel_ot_distance")
    try:
        distance = ot_distance(source.x, goal.x, regularisation)
    except ValueError as exc:
        raise ParameterError(f"sel_ot_distance: {exc}") from None
    return pa.array([distance] * len(pool), pa.float64())


_CURVE = pa.schema([("fold", pa.int32()), ("layers", pa.int32()), ("rows", pa.int64()), ("distance", pa.float64())])


@sql_function(
    "sel_tarot",
    params={
        "into_table": "VARCHAR",
        "source": "VARCHAR",
        "target_source": "VARCHAR",
        "k": "BIGINT",
        "folds": "INTEGER",
        "ridge": "DOUBLE",
        "seed": "BIGINT",
        "curve_table": "VARCHAR",
    },
    returns="BIGINT",
    doc="""TAROT (Feng et al. 2024): the pool rows nearest the target in whitened embedding space (k, or chosen by OT).

    source (the pool) and target_source are tables, views or queries of id and embedding. Both are
    whitened by their joint covariance (plus ridge × the mean variance on the diagonal, so a target
    or pool with fewer rows than dimensions still works) and scaled to unit length. k ≥ 1: every
    target row in turn takes its next most similar pool row (layer by layer) until k rows are taken.
    k = 0: the size is chosen: the target is split into folds seeded parts, each part's layers are
    added while the exact OT distance (2 − 2·cosine, POT's network simplex; pip install 'sqlsel[ot]')
    from the selection to the other parts falls, and the best prefixes are united. Writes table
    into_table (id in the pool's key type, rank from 1, layer: the layer it entered at, similarity:
    its whitened cosine to the target row that took it) and returns its row count; with a curve_table,
    writes the curve there too (fold, layers, rows, distance; no rows unless k = 0).""",
    example=f"SELECT sel_tarot('sel_scratch.picks', {_EXAMPLE_PAIR}, 20)",
    side_effects=True,
    null_handling="special",
    defaults={"folds": "5", "ridge": "1e-5", "seed": "0", "curve_table": "''"},
)
def sel_tarot(
    ctx: FunctionContext,
    into: pa.Array,
    pool: pa.Array,
    target: pa.Array,
    k: pa.Array,
    folds: pa.Array,
    ridge: pa.Array,
    seed: pa.Array,
    curve_table: pa.Array,
) -> pa.Array:
    count = constant_argument(k, "k")
    if count is None or count < 0:
        raise ParameterError(f"sel_tarot: k must be 0 (choose the size) or a positive number of rows; got {count}")
    parts = constant_argument(folds, "folds")
    if parts is None or parts < 2:
        raise ParameterError(f"sel_tarot: folds must be at least 2 (parts of the target held out in turn); got {parts}")
    regularisation = _positive(ridge, "ridge", "sel_tarot", "1e-5")
    source, goal = _pool_and_target(ctx, pool, target, "sel_tarot", whole_target=False)
    try:
        picked = tarot_select(
            source.x, goal.x, int(count), int(parts), regularisation, int(constant_argument(seed, "seed") or 0)
        )
    except ValueError as exc:
        raise ParameterError(f"sel_tarot: {exc}") from None
    curve_into = str(constant_argument(curve_table, "curve_table") or "")
    if curve_into:
        write_table(ctx, curve_into, pa.Table.from_pylist([vars(p) for p in picked.curve], schema=_CURVE))
    table = pa.table(
        {
            "id": key_array(source, picked.rows),
            "rank": pa.array(np.arange(1, len(picked.rows) + 1, dtype=np.int64)),
            "layer": pa.array(picked.layers),
            "similarity": pa.array(picked.similarities.astype(np.float64)),
        }
    )
    written = write_rows(ctx, str(constant_argument(into, "into_table")), table, source.key_type, ("id",))
    return pa.array([written] * len(pool), pa.int64())


#: The kind of a stored optimal-transport model, and how to make one.
OT = "ot"
OT_FIT_HINT = "Fit one with SELECT sel_ot_fit('name', 'pool_source', 'target_source')."


@dataclass(frozen=True)
class StoredOT:
    """A stored OT model's target side: unit target rows, their potentials, eps and the fitted pool's rows."""

    target: np.ndarray
    potential: np.ndarray
    eps: float
    pool_rows: int

    @property
    def dim(self) -> int:
        return self.target.shape[1]


def load_ot_model(ctx: FunctionContext, name: str) -> StoredOT:
    model_id, params = ctx.model(name, OT, OT_FIT_HINT)

    def build() -> StoredOT:
        rows = ctx.arrow("SELECT potential, embedding FROM sel_ot_targets WHERE model_id = ? ORDER BY row", [model_id])
        values = rows.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        target = np.asarray(values, np.float64).reshape(rows.num_rows, int(params["dim"]))
        potential = rows.column("potential").to_numpy()
        return StoredOT(target, potential, float(params["eps"]), int(params["pool_rows"]))

    return ctx.cached((OT, model_id), build)


def _solved(source: Vectors, goal: Vectors, eps: float, what: str) -> OTFit:
    """The entropic OT solution, refused (naming eps) when Sinkhorn does not converge."""
    try:
        fit = ot_potentials(source.x, goal.x, eps)
    except ValueError as exc:
        raise ParameterError(f"{what}: {exc}") from None
    if not fit.converged:
        raise ParameterError(
            f"{what}: Sinkhorn did not converge in {fit.iterations:,} iterations at eps {eps}; "
            "a larger eps (e.g. 0.1) converges faster."
        )
    return fit


@sql_function(
    "sel_ot_fit",
    params={"name": "VARCHAR", "source": "VARCHAR", "target_source": "VARCHAR", "eps": "DOUBLE"},
    returns="BIGINT",
    doc="""Solve the entropic OT problem between a pool and a target once and store it as model name (kind ot).

    source (the pool, or a sample of it) and target_source are tables, views or queries of id and
    embedding; the problem is sel_ot_gradients': uniform masses, cost 2 − 2·cosine, regularisation
    eps. The model keeps the target side (unit-length target rows and their potentials, shifted so
    the pool's have mean 0) in sel_ot_targets; sel_ot_gradient scores any row with it, the fitted
    rows to the solver's tolerance. Fit on a sample when the pool is too large for one problem
    (about 10 × pool × target doubles). Returns the pool rows fitted. It writes in a transaction of
    its own: a caller's ROLLBACK does not undo it.""",
    example=f"SELECT sel_ot_fit('toward_docs', {_EXAMPLE_PAIR})",
    side_effects=True,
    null_handling="special",
    defaults={"eps": "0.1"},
)
def sel_ot_fit(ctx: FunctionContext, name: pa.Array, pool: pa.Array, target: pa.Array, eps: pa.Array) -> pa.Array:
    model = str(constant_argument(name, "name") or "")
    if not model:
        raise ParameterError("sel_ot_fit: name must name the model to store, e.g. 'toward_docs'")
    regularisation = _positive(eps, "eps", "sel_ot_fit", "0.1")
    source, goal = _pool_and_target(ctx, pool, target, "sel_ot_fit")
    fit = _solved(source, goal, regularisation, "sel_ot_fit")
    params = {"eps": regularisation, "dim": int(goal.x.shape[1]), "pool_rows": len(source.x)}
    params |= {"target_rows": len(goal.x), "iterations": fit.iterations}
    payload = pa.table(
        {
            "row": pa.array(np.arange(len(goal.x), dtype=np.int32)),
            "potential": pa.array(fit.target_potential),
            "embedding": list_array(unit_rows(goal.x.astype(np.float64))),
        }
    )
    with ctx.writing(f"OT model {model!r}") as cur:
        store_model(cur, ctx.write_name(model), OT, json.dumps(params), "sel_ot_targets", payload)
    return pa.array([len(source.x)] * len(pool), pa.int64())


@sql_function(
    "sel_ot_gradient",
    params={"embedding": "FLOAT[]", "model": "VARCHAR"},
    returns="DOUBLE",
    doc="""A row's calibrated OT gradient toward a stored model's target (sel_ot_fit): the most negative first.

    f(x)·N/(N − 1), f the c-transform of the stored target potentials (−ε log Σ_j exp((g_j − C(x, y_j))/ε)
    − ε log N, N the fitted pool's rows): for a fitted row its own gradient (as sel_ot_gradients gives
    it), for any other row the one it would have had. NULL embedding in, NULL out.""",
    example="SELECT id, sel_ot_gradient(sel_hash_embed(text, 64), 'toward_docs') AS g "
    "FROM 'examples/pool.parquet' LIMIT 5",
    model_param="model",
)
def sel_ot_gradient(ctx: FunctionContext, embedding: pa.Array, model: pa.Array) -> pa.Array:
    name = str(constant_argument(model, "model"))
    stored = load_ot_model(ctx, name)
    x = model_vectors(embedding, stored.dim, "sel_ot_gradient", name, "the model's target")
    potential = c_transform(x, stored.target, stored.potential, stored.eps, stored.pool_rows)
    return pa.array(potential * stored.pool_rows / max(stored.pool_rows - 1, 1))

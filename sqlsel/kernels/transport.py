"""Optimal transport between a pool and a target in embedding space: entropic potentials and their gradients.

GOT-D ("Get more for less", Kang et al. 2024) selects the pool rows that move the pool's distribution
toward the target's most. The entropic OT problem between the pool (N rows, uniform mass) and the
target (M rows, uniform mass) with cost C_ij = ||x̂_i − ŷ_j||² between unit-length embeddings (2 − 2
cosine, in [0, 4]) and regularisation ε has dual potentials (f, g); f_i is how the transport cost
changes with row i's mass. Potentials are unique up to f + c, g − c: here f is centred (mean 0) and g
shifted to match. The calibrated gradient of LAVA / GOT-D, f_i − Σ_{j≠i} f_j / (N − 1), is then
f_i · N / (N − 1): the rows with the most negative gradient are those whose extra mass lowers the
cost most.

The solver is POT's log-domain Sinkhorn (``pip install 'sqlsel[ot]'``). It holds a few N × M float64
matrices: :func:`transport_bytes` says how much, so callers can refuse a problem past their memory.

Example:
    >>> import numpy as np
    >>> pool = np.array([[1, 0], [0, 1], [0.9, 0.1]], np.float32)
    >>> target = np.array([[1, 0.05]], np.float32)
    >>> fit = ot_potentials(pool, target, eps=0.1)
    >>> int(np.argmin(fit.gradient)) in (0, 2), int(np.argmax(fit.gradient))
    (True, 1)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from sqlsel.kernels.vectors import unit_rows

__all__ = ["OTFit", "c_transform", "ot_distance", "ot_potentials", "transport_bytes", "unit_cost"]

#: N × M float64 matrices the solver holds at once (cost, POT's scaled copies and log-sum-exp work, the
#: plan): peak RSS grew by 4.3 GB for 181,164 × 300 (benchmarks/README.md, "Optimal transport").
_MATRICES = 10

#: Rows whose potentials :func:`c_transform` computes at once (block × target doubles a few times over).
_C_BLOCK = 4096


@dataclass(frozen=True)
class OTFit:
    potential: np.ndarray  # f, centred: mean 0 over the pool
    target_potential: np.ndarray  # g, shifted by f's mean
    gradient: np.ndarray  # f_i · N / (N − 1): the calibrated gradient
    cost: float  # <P, C> of the entropic plan
    iterations: int
    converged: bool


def _ot() -> Any:
    try:
        import ot
    except ImportError:  # pragma: no cover - depends on the installation
        from sqlsel.errors import SqlselError

        raise SqlselError("optimal transport needs POT: pip install 'sqlsel[ot]' (or pip install pot)") from None
    return ot


def transport_bytes(pool_rows: int, target_rows: int) -> int:
    """Bytes the solver holds for a pool × target problem."""
    return _MATRICES * 8 * pool_rows * target_rows


def unit_cost(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """||x̂_i − ŷ_j||² of unit-length rows (2 − 2 cosine); a zero row is at cost 2 from everything."""
    c = 2.0 - 2.0 * (unit_rows(x) @ unit_rows(y).T)
    np.maximum(c, 0.0, out=c)
    return c


def ot_potentials(
    x: np.ndarray, y: np.ndarray, eps: float = 0.1, iterations: int = 10_000, tolerance: float = 1e-9
) -> OTFit:
    """Entropic OT between uniform masses on ``x`` (pool) and ``y`` (target): centred potentials, gradients."""
    n, m = len(x), len(y)
    if n < 2 or m < 1:
        raise ValueError(f"optimal transport needs at least 2 pool rows and 1 target row; got {n} and {m}")
    if not eps > 0:
        raise ValueError(f"eps must be positive; got {eps}")
    ot = _ot()
    cost = unit_cost(x, y)
    a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    with warnings.catch_warnings():  # POT warns when it stops unconverged; OTFit.converged says so instead
        warnings.simplefilter("ignore", UserWarning)
        plan, log = ot.sinkhorn(
            a, b, cost, reg=eps, method="sinkhorn_log", numItermax=iterations, stopThr=tolerance, log=True
        )
    f, g = eps * np.asarray(log["log_u"]), eps * np.asarray(log["log_v"])
    shift = f.mean()
    f, g = f - shift, g + shift
    errors = log.get("err") or [np.inf]
    return OTFit(
        f,
        g,
        f * n / (n - 1),
        float((plan * cost).sum()),
        int(log.get("niter", iterations)),
        bool(errors[-1] <= tolerance),
    )


def ot_distance(x: np.ndarray, y: np.ndarray, eps: float = 0.0) -> float:
    """The optimal-transport cost between uniform masses on ``x`` and ``y`` under :func:`unit_cost`.

    ``eps = 0``: exact (POT's network simplex, ``ot.emd2``); ``eps > 0``: the transport cost <P, C> of
    the entropic plan, as :func:`ot_potentials` reports it.
    """
    if len(x) < 1 or len(y) < 1:
        raise ValueError(f"optimal transport needs rows on both sides; got {len(x)} and {len(y)}")
    if eps < 0:
        raise ValueError(f"eps must be 0 (exact) or positive; got {eps}")
    if eps > 0:
        return ot_potentials(x, y, eps).cost if len(x) > 1 else float(unit_cost(x, y).mean())
    ot = _ot()
    return float(ot.emd2(np.full(len(x), 1.0 / len(x)), np.full(len(y), 1.0 / len(y)), unit_cost(x, y)))


def c_transform(x: np.ndarray, target: np.ndarray, potential: np.ndarray, eps: float, pool_rows: int) -> np.ndarray:
    """The pool-side potential of any rows ``x`` from the target side of a fitted problem (:func:`ot_potentials`).

    f(x) = −ε log Σ_j exp((g_j − C(x, y_j)) / ε) − ε log N, with ``target`` the unit-length target rows,
    ``potential`` their g (shifted as :class:`OTFit` keeps it) and N the fitted pool's rows: at
    convergence this is the fitted row's own f, and for a new row the potential it would have had.
    """
    out = np.empty(len(x))
    for start in range(0, len(x), _C_BLOCK):
        z = (potential[None, :] - unit_cost(x[start : start + _C_BLOCK], target)) / eps
        top = z.max(axis=1)
        log_sum = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
        out[start : start + _C_BLOCK] = -eps * log_sum - eps * np.log(pool_rows)
    return out

"""Bradley-Terry strengths by maximum likelihood, for many data sets at once (the bootstrap replicates).

Two ways of counting ties (both fitted; ``ranking`` states which is the headline):

- **Davidson (1970)**: a third outcome with P(s beats t) = pi_s / D, P(tie) = nu sqrt(pi_s pi_t) / D,
  D = pi_s + pi_t + nu sqrt(pi_s pi_t). Given that a comparison was decisive, s wins with the plain
  Bradley-Terry probability pi_s / (pi_s + pi_t); nu measures how often judges call a tie.
- **Half-wins**: a tie counts as half a win for each side in the plain Bradley-Terry likelihood (what
  ``choix`` fits when given a comparison matrix with 0.5 per tie).

Both likelihoods depend on the data only through per-system scores (wins + ties / 2), the number of ties
and the number of comparisons per pair, so a bootstrap replicate is three small count arrays and the fit
never loops over comparisons. Strengths are theta = log(pi), normalised to mean zero within a connected
component (choix's normalisation). The fit is Newton's method on all replicates together (batched K x K
solves); replicates start from the full-data estimate and first take steps with its (fixed) Hessian, which
costs one matrix product per iteration, and only replicates that have not converged after that get exact
Newton steps. A replicate whose Newton steps do not shrink below ``tol`` has no finite maximum (some group
of systems never lost to the rest) and is reported as not converged, never as a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
import numpy.typing as npt
from scipy.special import expit

MAX_STEP = 2.0
"""Largest change of any log-strength in one Newton step (keeps early steps from overshooting)."""
MAX_LOG_NU = 50.0
"""Cap on log(nu) so exp() stays finite when every comparison of a replicate is a tie (reported undefined)."""
BLOCK_CELLS = 120_000
"""Rows x pairs fitted at once. Each iteration streams a dozen (rows, pairs) temporaries; blocks of about a
megabyte each stay in cache, which made the 1,000-replicate, 50-system fit 3x cheaper than one big block
(bench/ranking.py). Rows are independent, so blocking does not change any result."""


@dataclass(frozen=True)
class Tallies:
    """Sufficient statistics of one or more data sets (rows): everything the likelihoods depend on.

    ``score`` (rows, K): wins + ties / 2 per system; ``ties`` (rows,): number of tied comparisons;
    ``n`` (rows, P): comparisons per pair (pairs in ``low``/``high`` order).
    """

    score: np.ndarray
    ties: np.ndarray
    n: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def n_systems(self) -> int:
        return int(self.score.shape[1])

    @property
    def n_rows(self) -> int:
        return int(self.score.shape[0])

    def take(self, rows: np.ndarray) -> Tallies:
        return Tallies(self.score[rows], self.ties[rows], self.n[rows], self.low, self.high)


@dataclass(frozen=True)
class Fit:
    """Log-strengths (rows, K) with mean zero, log(nu) (rows,) for Davidson, and which rows converged."""

    theta: np.ndarray
    log_nu: np.ndarray
    converged: np.ndarray
    iterations: int


def _incidence(low: np.ndarray, high: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    eye = np.eye(k)
    return eye[low], eye[high]


def _base(t: Tallies, e_high: np.ndarray) -> np.ndarray:
    """score - n @ E_high: the part of the theta gradient that does not depend on theta.

    Both gradients have the form score - sum over pairs of n * (share of the low side) to the low system and
    n * (1 - that share) to the high one, so one product with the signed incidence E_low - E_high remains.
    """
    base: npt.NDArray[np.float64] = t.score - t.n @ e_high
    return base


@overload
def _derivatives(
    model: str,
    x: np.ndarray,
    t: Tallies,
    base: np.ndarray,
    e_low: np.ndarray,
    e_high: np.ndarray,
    hessian: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def _derivatives(
    model: str,
    x: np.ndarray,
    t: Tallies,
    base: np.ndarray,
    e_low: np.ndarray,
    e_high: np.ndarray,
    hessian: Literal[False],
) -> tuple[np.ndarray, None]: ...
def _derivatives(
    model: str,
    x: np.ndarray,
    t: Tallies,
    base: np.ndarray,
    e_low: np.ndarray,
    e_high: np.ndarray,
    hessian: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Gradient of the log-likelihood and (optionally) its negated Hessian plus the all-ones matrix.

    Adding 11' fixes the free shift of theta (the likelihood only sees differences); since the gradient
    sums to zero, the Newton step then keeps the mean of theta at zero.
    """
    k = t.n_systems
    theta = x[:, :k]
    n = t.n
    rows = x.shape[0]
    diff = theta[:, t.low] - theta[:, t.high]
    if model == "half_wins":
        p = expit(diff)
        n_p = n * p
        grad = base - n_p @ (e_low - e_high)
        if not hessian:
            return grad, None
        w = n_p * (1 - p)
        mat = np.ones((rows, k, k))
        mat[:, t.low, t.high] -= w
        mat[:, t.high, t.low] -= w
        idx = np.arange(k)
        mat[:, idx, idx] += w @ e_low + w @ e_high
        return grad, mat
    # Divide pi_a, pi_b and nu sqrt(pi_a pi_b) by the larger of pi_a, pi_b: one exp, no overflow.
    root = np.exp(-0.5 * np.abs(diff))
    z = root * root
    tie = np.exp(x[:, k])[:, None] * root
    ahead = diff > 0
    d = 1.0 + z + tie
    pc = tie / d
    qa = (np.where(ahead, 1.0, z) + tie / 2) / d  # P(low wins) + P(tie) / 2
    grad = np.empty_like(x)
    grad[:, :k] = base - (n * qa) @ (e_low - e_high)
    grad[:, k] = t.ties - (n * pc).sum(axis=1)
    if not hessian:
        return grad, None
    pa = np.where(ahead, 1.0, z) / d
    pb = np.where(ahead, z, 1.0) / d
    qb = 1 - qa
    mat = np.zeros((rows, k + 1, k + 1))
    mat[:, :k, :k] = 1.0
    w_ab = n * (pc / 4 - qa * qb)
    mat[:, t.low, t.high] += w_ab
    mat[:, t.high, t.low] += w_ab
    idx = np.arange(k)
    mat[:, idx, idx] += (n * (pa + pc / 4 - qa * qa)) @ e_low + (n * (pb + pc / 4 - qb * qb)) @ e_high
    cross = (n * (pc / 2 - qa * pc)) @ e_low + (n * (pc / 2 - qb * pc)) @ e_high
    mat[:, :k, k] = cross
    mat[:, k, :k] = cross
    mat[:, k, k] = (n * (pc - pc * pc)).sum(axis=1)
    return grad, mat


def _capped(step: np.ndarray) -> np.ndarray:
    size = np.abs(step).max(axis=1, keepdims=True)
    capped: npt.NDArray[np.float64] = step * np.minimum(1.0, MAX_STEP / np.maximum(size, 1e-300))
    return capped


def _solve(mat: np.ndarray, grad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched solve; rows whose matrix is singular (no information on some system) come back as NaN."""
    try:
        return np.linalg.solve(mat, grad[:, :, None])[:, :, 0], np.ones(len(grad), dtype=bool)
    except np.linalg.LinAlgError:
        out = np.full_like(grad, np.nan)
        ok = np.zeros(len(grad), dtype=bool)
        for r in range(len(grad)):  # only after a singular batch: rare, small
            try:
                out[r] = np.linalg.solve(mat[r], grad[r])
                ok[r] = True
            except np.linalg.LinAlgError:
                pass
        return out, ok


def fit(
    model: str,
    tallies: Tallies,
    start: np.ndarray | None = None,
    *,
    fixed_inverse: np.ndarray | None = None,
    fixed_iterations: int = 40,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> Fit:
    """Maximum-likelihood strengths for every row of ``tallies`` (one connected component of systems).

    ``model`` is "davidson" or "half_wins". ``start`` (rows, K [+1]) defaults to equal strengths (and, for
    Davidson, the nu that equal strengths need to match the share of ties). With ``fixed_inverse`` (the
    inverse of the full-data negated Hessian from ``hessian_inverse``), rows first iterate with that fixed
    matrix and then switch to exact Newton steps if they have not converged.
    """
    if model not in ("davidson", "half_wins"):
        raise ValueError(f"unknown model {model!r}: use 'davidson' or 'half_wins'")
    k = tallies.n_systems
    rows = tallies.n_rows
    block = max(1, BLOCK_CELLS // max(tallies.n.shape[1], 1))
    if rows > block:
        parts = [
            fit(
                model,
                tallies.take(np.arange(first, min(first + block, rows))),
                None if start is None else np.asarray(start, dtype=np.float64).reshape(rows, -1)[first : first + block],
                fixed_inverse=fixed_inverse,
                fixed_iterations=fixed_iterations,
                tol=tol,
                max_iter=max_iter,
            )
            for first in range(0, rows, block)
        ]
        return Fit(
            np.concatenate([part.theta for part in parts]),
            np.concatenate([part.log_nu for part in parts]),
            np.concatenate([part.converged for part in parts]),
            max(part.iterations for part in parts),
        )
    dim = k + (model == "davidson")
    e_low, e_high = _incidence(tallies.low, tallies.high, k)
    base = _base(tallies, e_high)
    if start is None:
        x = np.zeros((rows, dim))
        if model == "davidson":
            total = tallies.n.sum(axis=1)
            share = np.clip(tallies.ties / np.maximum(total, 1), 1e-6, 1 - 1e-6)
            x[:, k] = np.log(2 * share / (1 - share))
    else:
        x = np.array(start, dtype=np.float64).reshape(rows, dim)
    converged = np.zeros(rows, dtype=bool)
    active = np.arange(rows)
    iterations = 0
    if fixed_inverse is not None:
        # All rows step together (no copies) until few are left; converged rows take zero steps.
        moving = np.ones(rows, dtype=bool)
        for _ in range(fixed_iterations):
            if not moving.any():
                break
            iterations += 1
            grad, _ = _derivatives(model, x, tallies, base, e_low, e_high, False)
            step = _capped(grad @ fixed_inverse) * moving[:, None]
            x += step
            if model == "davidson":
                np.minimum(x[:, k], MAX_LOG_NU, out=x[:, k])
            moving &= np.abs(step).max(axis=1) >= tol
        converged = ~moving
        active = np.flatnonzero(moving)
    for _ in range(max_iter):
        if active.size == 0:
            break
        iterations += 1
        grad, mat = _derivatives(model, x[active], tallies.take(active), base[active], e_low, e_high, True)
        step, ok = _solve(mat, grad)
        step = _capped(np.where(ok[:, None], step, 0.0))
        x[active] += step
        if model == "davidson":
            np.minimum(x[:, k], MAX_LOG_NU, out=x[:, k])
        done = ok & (np.abs(step).max(axis=1) < tol)
        converged[active[done]] = True
        active = active[ok & ~done]
    theta = x[:, :k] - x[:, :k].mean(axis=1, keepdims=True)
    log_nu = x[:, k] if model == "davidson" else np.full(rows, -np.inf)
    return Fit(theta, log_nu, converged, iterations)


def hessian_inverse(model: str, tallies: Tallies, point: Fit) -> np.ndarray:
    """Inverse of the negated Hessian (plus 11') at a one-row fit, for ``fit(..., fixed_inverse=...)``."""
    x = point.theta if model == "half_wins" else np.concatenate([point.theta, point.log_nu[:, None]], axis=1)
    e_low, e_high = _incidence(tallies.low, tallies.high, tallies.n_systems)
    _, mat = _derivatives(model, x, tallies, _base(tallies, e_high), e_low, e_high, True)
    inverse: npt.NDArray[np.float64] = np.linalg.inv(mat[0])
    return inverse


def log_likelihood(model: str, tallies: Tallies, result: Fit) -> np.ndarray:
    """Log-likelihood of each row at its fit, up to the multinomial constant (for tests and reports)."""
    theta = result.theta
    n = tallies.n
    if model == "half_wins":
        base = (tallies.score * theta).sum(axis=1)
        half: npt.NDArray[np.float64] = base - (n * (np.logaddexp(theta[:, tallies.low], theta[:, tallies.high]))).sum(
            axis=1
        )
        return half
    pair_sum = np.logaddexp(theta[:, tallies.low], theta[:, tallies.high])
    log_d = np.logaddexp(pair_sum, result.log_nu[:, None] + (theta[:, tallies.low] + theta[:, tallies.high]) / 2)
    davidson: npt.NDArray[np.float64] = (
        (tallies.score * theta).sum(axis=1) + tallies.ties * result.log_nu - (n * log_d).sum(axis=1)
    )
    return davidson

"""Ranking K systems from pairwise judgments: Bradley-Terry strengths, bootstrap and rank intervals, Kendall's tau.

Entry point ``compute_ranking_statistics`` (long arrays in, JSON-serialisable dict out). The bootstrap
resamples items (every judgment of a drawn item comes along) by drawing item indices, like the two-system
engine: ``ranking_replicates(features, indices)`` turns given indices into replicates, so tests replay
the same indices through a naive per-replicate ``choix`` fit. Per replicate, the likelihood needs only
the summed per-item counts (wins and ties per system, comparisons per pair), which for all replicates
is one matrix product of the (replicates x items) resampling counts with the (items x counts) features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from scipy import sparse, stats
from scipy.sparse.csgraph import connected_components
from threadpoolctl import threadpool_limits

from analysis.stats.bootstrap import index_weights, percentile_interval
from analysis.stats.bradley_terry import Fit, Tallies, fit, hessian_inverse
from analysis.stats.coding import MISSING
from analysis.stats.pairwise import (
    LOW_WINS,
    TIED,
    Comparisons,
    accuracy_by_system,
    answer_counts,
    pair_systems,
    pairwise_statistics,
    prepare_comparisons,
)

HEADLINE = "davidson"
"""The headline model. Davidson's tie model keeps the Bradley-Terry meaning of a strength difference (the
log-odds of winning a decisive comparison), so with two systems exp(theta_a - theta_b) is exactly A's wins
over B's wins, the win rate the two-system page reports (ties left out); half-wins is shown beside it."""
MODELS = ("davidson", "half_wins")
DENSE_LIMIT = 40_000_000
"""Items x feature columns up to which replicate sums use a dense (BLAS) product instead of a sparse one."""
INDEX_CHUNK = 4_000_000
"""Resampled item indices drawn at once (bounds memory; the result does not depend on it)."""

RULES: tuple[str, ...] = (
    "Control items are left out of every figure.",
    "Accuracy per system: every label of a system's answer counts, from whichever pair it was shown in. "
    "'Correct' counts correct only, 'lenient' counts correct or partial; by majority (strict plurality of the "
    "answer's labels; tied answers are counted and left out) and by judgment; Wilson {level} intervals.",
    "Pairs: 'a' is the first system of the pair. Win/tie/loss by judgment and by item (the system preferred by "
    "more of the item's judges wins; equal votes tie). The sign test is on items (ties left out); McNemar's "
    "exact test and the majority accuracy difference use items where both answers have a majority label. "
    "P-values are Holm-adjusted within each test over all pairs where the test is defined.",
    "Ranking: Bradley-Terry strengths theta = log(pi), mean zero, fitted by maximum likelihood. Headline: "
    "Davidson's tie model (P(tie) = nu sqrt(pi_a pi_b) / (pi_a + pi_b + nu sqrt(pi_a pi_b))); also shown: ties "
    "as half a win for each side. exp(theta_a - theta_b) is the odds that a beats b in a decisive comparison.",
    "Rank 1 is the strongest. Intervals are {level} percentile bootstrap intervals over items (seeded; every "
    "judgment of a drawn item comes along); the rank interval holds the ranks a system takes in the central "
    "{level} of the replicates. Replicates in which some systems never lost to the others have no finite "
    "strengths; they are counted and left out of the intervals.",
    "Systems never compared with each other (directly or through others) are in different components: each "
    "component is ranked on its own and nothing is said across components.",
    "When a group of systems never lost to the rest of its component, the maximum-likelihood strengths are "
    "unbounded: no strengths are reported for that component, only the evidence and the rank bounds that the "
    "wins alone imply.",
    "Kendall's tau-b between the human strengths and each automatic metric's per-system mean (over the "
    "resampled items), with a bootstrap interval from the same resampled items.",
)


Point = tuple[np.ndarray, Tallies, dict[str, Fit | None]]
"""A finite component's (members, point tallies, point fits per model)."""


@dataclass(frozen=True)
class ItemFeatures:
    """Per resampled item, the counts the likelihoods need: columns wins (K), ties (K) per system, then
    comparisons per pair (P). Resampled items are the main items with at least one preference."""

    items: np.ndarray
    n_systems: int
    dense: np.ndarray | None
    """(items, columns) float32 counts when small enough for a dense product, else None."""
    matrix: sparse.csr_matrix | None
    """The same counts as a sparse matrix when ``dense`` is None."""

    @property
    def n_items(self) -> int:
        return len(self.items)

    def totals(self) -> np.ndarray:
        """(1, columns) column sums over all items: the full-data tallies."""
        source = self.dense if self.dense is not None else self._sparse()
        return np.asarray(source.sum(axis=0, dtype=np.float64)).reshape(1, -1)

    def _sparse(self) -> sparse.csr_matrix:
        if self.matrix is None:
            raise ValueError("ItemFeatures holds neither dense nor sparse counts")
        return self.matrix

    def sums(self, weights: np.ndarray) -> np.ndarray:
        """(replicates, columns) weighted column sums, exact: float32 BLAS only while every sum is below 2^24."""
        if self.dense is not None:
            bound = float(weights.sum(axis=1).max(initial=0)) * float(self.dense.max(initial=0))
            dtype = np.float32 if bound < 2**24 else np.float64
            exact: npt.NDArray[np.float64] = (weights.astype(dtype) @ self.dense.astype(dtype, copy=False)).astype(
                np.float64
            )
            return exact
        return np.asarray((self._sparse().T @ weights.T).T, dtype=np.float64)


def item_features(comp: Comparisons) -> ItemFeatures:
    k, p = comp.n_systems, comp.n_pairs
    voted = comp.outcome != MISSING
    present = np.bincount(comp.item[voted], minlength=comp.n_items) > 0
    items = np.flatnonzero(present)
    row_of = np.cumsum(present) - 1
    row = row_of[comp.item[voted]]
    outcome, low, high = comp.outcome[voted], comp.low[voted], comp.high[voted]
    decisive = outcome != TIED
    winner = np.where(outcome == LOW_WINS, low, high)
    tied = ~decisive
    rows = np.concatenate([row[decisive], row[tied], row[tied], row])
    cols = np.concatenate([winner[decisive], k + low[tied], k + high[tied], 2 * k + comp.pair[voted]])
    width = 2 * k + p
    if len(items) * width <= DENSE_LIMIT:
        dense = np.bincount(rows * width + cols, minlength=len(items) * width).reshape(len(items), width)
        return ItemFeatures(items, k, dense.astype(np.float32), None)
    matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(items), width))
    matrix.sum_duplicates()
    return ItemFeatures(items, k, None, matrix)


def tallies_from_sums(sums: np.ndarray, k: int, systems: np.ndarray) -> Tallies:
    """Tallies of the (sorted) ``systems`` of one component from summed ``ItemFeatures`` columns, re-indexed."""
    low, high = pair_systems(k)
    local = np.full(k, -1, dtype=np.int64)
    local[systems] = np.arange(len(systems))
    keep = (local[low] >= 0) & (local[high] >= 0)
    wins, ties = sums[:, systems], sums[:, k + systems]
    n = sums[:, 2 * k :][:, keep]
    return Tallies(wins + ties / 2, ties.sum(axis=1) / 2, n, local[low[keep]], local[high[keep]])


@dataclass(frozen=True)
class Structure:
    """The comparison graph: connected components, and whether strengths are finite in each."""

    component: np.ndarray
    """(K,) component label of each system."""
    strong: np.ndarray
    """(K,) strongly connected component of each system in the 'beat or tied' graph."""
    wins: np.ndarray
    """(K, K) wins[s, t]: judgments where s beat t."""
    ties: np.ndarray
    """(K, K) ties between s and t (symmetric)."""

    def members(self, label: int) -> np.ndarray:
        return np.flatnonzero(self.component == label)

    def finite(self, label: int) -> bool:
        members = self.members(label)
        return len(members) >= 2 and len(np.unique(self.strong[members])) == 1


def comparison_structure(comp: Comparisons) -> Structure:
    k = comp.n_systems
    voted = comp.outcome != MISSING
    outcome, low, high = comp.outcome[voted], comp.low[voted], comp.high[voted]
    winner = np.where(outcome == LOW_WINS, low, high)
    loser = np.where(outcome == LOW_WINS, high, low)
    decisive = outcome != TIED
    wins = np.bincount(winner[decisive] * k + loser[decisive], minlength=k * k).reshape(k, k)
    ties = np.bincount(low[~decisive] * k + high[~decisive], minlength=k * k).reshape(k, k)
    ties = ties + ties.T
    met = (wins + wins.T + ties) > 0
    _, component = connected_components(sparse.csr_matrix(met), directed=False)
    _, strong = connected_components(sparse.csr_matrix((wins + ties) > 0), directed=True, connection="strong")
    return Structure(component.astype(np.int64), strong.astype(np.int64), wins, ties)


def unbounded_evidence(structure: Structure, members: np.ndarray, names: Sequence[str]) -> dict[str, object]:
    """Why a component has no finite strengths: which groups never lost to which, and the implied rank bounds.

    Groups are the strongly connected parts of the 'beat or tied' graph. If group X beat group Y (directly or
    through others) and Y never beat or tied X, every maximum-likelihood sequence sends X's strength to
    infinity relative to Y, so only the order survives: X ranks above Y.
    """
    groups = np.unique(structure.strong[members])
    size = np.array([(structure.strong[members] == g).sum() for g in groups])
    sub = structure.strong[members]
    gi = np.searchsorted(groups, sub)
    n_g = len(groups)
    beat = structure.wins[np.ix_(members, members)]
    tie = structure.ties[np.ix_(members, members)]
    onehot = np.eye(n_g, dtype=np.int64)[gi]
    g_wins = onehot.T @ beat @ onehot
    reach = (g_wins > 0) | np.eye(n_g, dtype=bool)
    for _ in range(int(np.ceil(np.log2(max(n_g, 2)))) + 1):
        reach = (reach.astype(np.int64) @ reach.astype(np.int64)) > 0
    above = (reach & ~np.eye(n_g, dtype=bool)).T  # above[x, y]: y reaches x, so y ranks above x
    out_groups = []
    for x in range(n_g):
        in_x = gi == x
        rest = ~in_x
        out_groups.append(
            {
                "systems": [names[members[i]] for i in np.flatnonzero(in_x)],
                "against_rest_of_component": {
                    "wins": int(beat[np.ix_(in_x, rest)].sum()),
                    "ties": int(tie[np.ix_(in_x, rest)].sum()),
                    "losses": int(beat[np.ix_(rest, in_x)].sum()),
                },
                "rank_bounds": [
                    int(1 + size[above[x]].sum()),
                    int(len(members) - size[above[:, x]].sum()),
                ],
            }
        )
    facts = []
    for x in range(n_g):
        for y in range(n_g):
            if x != y and g_wins[x, y] > 0 and g_wins[y, x] == 0:
                tied_xy = int(tie[np.ix_(gi == x, gi == y)].sum())
                if tied_xy == 0:
                    facts.append(
                        f"{', '.join(out_groups[x]['systems'])} won all {int(g_wins[x, y])} comparisons with "
                        f"{', '.join(out_groups[y]['systems'])}"
                    )
    return {"groups": out_groups, "evidence": facts}


def _ranks(theta: np.ndarray) -> np.ndarray:
    """Rank 1 = strongest; equal strengths share the better rank."""
    ranks: npt.NDArray[np.int64] = 1 + (theta[:, None, :] > theta[:, :, None]).sum(axis=2)
    return ranks


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each row of x with the same row of y (rows, K), vectorised over rows.

    tau-b = sum sign(dx) sign(dy) / sqrt(#pairs untied in x * #pairs untied in y), scipy's default; NaN
    where a row has a NaN or either side is constant.
    """
    x = np.atleast_2d(x)
    y = np.atleast_2d(y)
    i, j = np.triu_indices(x.shape[1], 1)
    sx, sy = np.sign(x[:, i] - x[:, j]), np.sign(y[:, i] - y[:, j])
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = (sx * sy).sum(axis=1) / np.sqrt((sx != 0).sum(axis=1) * (sy != 0).sum(axis=1))
    bad = np.isnan(x).any(axis=1) | np.isnan(y).any(axis=1)
    return np.where(bad, np.nan, tau)


def fit_point(t: Tallies) -> dict[str, Fit | None]:
    """Both models on the full data of one finite component (Davidson with no ties is nu = 0: half-wins)."""
    half = fit("half_wins", t)
    ties, total = float(t.ties[0]), float(t.n.sum())
    if ties == 0:
        davidson: Fit | None = Fit(half.theta, np.array([-np.inf]), half.converged, half.iterations)
    elif ties >= total:
        davidson = None  # every comparison a tie: nu is unbounded and the strengths are not identified
    else:
        davidson = fit("davidson", t)
    return {"half_wins": half, "davidson": davidson}


def _fit_replicates(reps: Tallies, point_t: Tallies, point: dict[str, Fit | None]) -> dict[str, np.ndarray]:
    """(replicates, members) log-strengths per model (NaN where no finite maximum), plus Davidson's log(nu)."""
    rows = reps.n_rows
    half_point = point["half_wins"]
    if half_point is None:
        raise ValueError("the point fit has no half-wins strengths")  # fit_point always fits half wins
    half = fit(
        "half_wins",
        reps,
        np.repeat(half_point.theta, rows, 0),
        fixed_inverse=hessian_inverse("half_wins", point_t, half_point),
    )
    out = {"half_wins": np.where(half.converged[:, None], half.theta, np.nan)}
    theta = np.full_like(half.theta, np.nan)
    log_nu = np.full(rows, np.nan)
    dav_point = point["davidson"]
    if dav_point is not None:
        no_ties = reps.ties == 0
        theta[no_ties] = out["half_wins"][no_ties]
        log_nu[no_ties] = -np.inf
        todo = np.flatnonzero(~no_ties & (reps.ties < reps.n.sum(axis=1)))
        if todo.size:
            if np.isfinite(dav_point.log_nu[0]):
                start = np.concatenate([dav_point.theta, dav_point.log_nu[:, None]], axis=1)
                dav = fit(
                    "davidson",
                    reps.take(todo),
                    np.repeat(start, len(todo), 0),
                    fixed_inverse=hessian_inverse("davidson", point_t, dav_point),
                )
            else:
                dav = fit("davidson", reps.take(todo))
            theta[todo] = np.where(dav.converged[:, None], dav.theta, np.nan)
            log_nu[todo] = np.where(dav.converged, dav.log_nu, np.nan)
    out["davidson"] = theta
    out["davidson_log_nu"] = log_nu
    return out


def ranking_replicates(
    features: ItemFeatures, indices: np.ndarray, points: Mapping[int, Point]
) -> dict[int, dict[str, np.ndarray]]:
    """Replicate fits of every finite component for given resampled item indices (replicates, items).

    ``points`` maps a component label to ``(members, point tallies, point fits)``. Tests call this with the
    same indices they feed a naive resample-and-refit loop.
    """
    weights = index_weights(np.arange(features.n_items), features.n_items, indices)
    sums = features.sums(weights)
    k = features.n_systems
    return {
        label: _fit_replicates(tallies_from_sums(sums, k, members), point_t, fits)
        for label, (members, point_t, fits) in points.items()
    }


def _stack(chunks: list[dict[int, dict[str, np.ndarray]]]) -> dict[int, dict[str, np.ndarray]]:
    if not chunks:
        return {}
    return {
        label: {key: np.concatenate([c[label][key] for c in chunks]) for key in chunks[0][label]} for label in chunks[0]
    }


def _interval_of_ranks(ranks: np.ndarray, confidence: float) -> list[int] | None:
    if ranks.size == 0:
        return None
    tail = (1 - confidence) / 2
    low, high = np.quantile(ranks, [tail, 1 - tail], method="inverted_cdf")
    return [int(low), int(high)]


def _value(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def rank_systems(
    comp: Comparisons,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    metrics: Mapping[str, np.ndarray] | None = None,
) -> dict[str, object]:
    """The ranking section: per component, both models with intervals; Kendall's tau against metrics.

    ``metrics`` maps a metric name to per-answer values (items, K) (NaN where missing) or per-system
    values (K,). Per-answer metrics are averaged over the resampled items and resampled with them.

    BLAS runs on one thread here: the products are small (K x K solves, blocks of ~100 replicates), and
    OpenBLAS's extra threads spin-wait on a shared 2-core machine, which tripled the CPU time and the wall
    time of the 50-system bench (bench/ranking.py) instead of saving any.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _rank_systems(comp, n_boot=n_boot, seed=seed, confidence=confidence, metrics=metrics)


def _rank_systems(
    comp: Comparisons,
    *,
    n_boot: int,
    seed: int,
    confidence: float,
    metrics: Mapping[str, np.ndarray] | None,
) -> dict[str, object]:
    k = comp.n_systems
    names = comp.system_names
    features = item_features(comp)
    structure = comparison_structure(comp)
    point_sums = features.totals()
    labels = np.unique(structure.component)
    points: dict[int, Point] = {}
    components = []
    for label in labels.tolist():
        members = structure.members(label)
        entry: dict[str, object] = {"systems": [names[s] for s in members]}
        if len(members) < 2:
            entry["status"] = "not compared"
        elif structure.finite(label):
            point_t = tallies_from_sums(point_sums, k, members)
            points[label] = (members, point_t, fit_point(point_t))
            entry["status"] = "finite"
        else:
            entry["status"] = "unbounded"
            entry.update(unbounded_evidence(structure, members, names))
        components.append(entry)

    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(1)]
    chunk = max(1, INDEX_CHUNK // max(features.n_items, 1))
    chunks, metric_chunks = [], []
    metric_values = _metric_values(metrics, comp, features)
    done = 0
    while done < n_boot and features.n_items and points:
        size = min(chunk, n_boot - done)
        indices = rngs[0].integers(0, features.n_items, size=(size, features.n_items))
        chunks.append(ranking_replicates(features, indices, points))
        if metric_values:
            weights = index_weights(np.arange(features.n_items), features.n_items, indices)
            metric_chunks.append({name: _weighted_means(weights, v) for name, v in metric_values.items()})
        done += size
    reps = _stack(chunks)

    ranked: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}
    for label, by_model in reps.items():
        for model in MODELS:
            ok = np.isfinite(by_model[model]).all(axis=1)
            ranked[label, model] = (by_model[model][ok], _ranks(by_model[model][ok]))
    systems = []
    for s, name in enumerate(names):
        label = int(structure.component[s])
        component = int(np.searchsorted(labels, label))
        row: dict[str, object] = {"system": name, "component": component}
        status = components[component]["status"]
        row["status"] = status
        if status == "unbounded":
            groups = cast("list[dict[str, Any]]", components[component]["groups"])  # built by _components above
            group = next(g for g in groups if name in g["systems"])
            row["rank_bounds"] = group["rank_bounds"]
        if label in points:
            members, _, fits = points[label]
            at = int(np.flatnonzero(members == s)[0])
            for model in MODELS:
                point_fit = fits[model]
                if point_fit is None:
                    row[model] = None
                    continue
                theta = point_fit.theta[0]
                model_row: dict[str, object] = {
                    "strength": float(theta[at]),
                    "strength_ci": None,
                    "rank": int(_ranks(theta[None])[0, at]),
                    "rank_interval": None,
                }
                if (label, model) in ranked:
                    finite, ranks = ranked[label, model]
                    model_row["strength_ci"] = percentile_interval(finite[:, at], confidence)
                    model_row["rank_interval"] = _interval_of_ranks(ranks[:, at], confidence)
                row[model] = model_row
        systems.append(row)

    for label, (_, _, fits) in points.items():
        entry = components[int(np.searchsorted(labels, label))]
        replicate = reps.get(label, {})
        entry["replicates"] = {
            model: {
                "finite": int(np.isfinite(replicate[model]).all(axis=1).sum()) if model in replicate else 0,
                "total": n_boot,
            }
            for model in MODELS
        }
        dav = fits["davidson"]
        nu_reps = replicate.get("davidson_log_nu")
        entry["davidson_nu"] = (
            None
            if dav is None
            else {
                "estimate": float(np.exp(dav.log_nu[0])),
                "ci": None if nu_reps is None else percentile_interval(np.exp(nu_reps[~np.isnan(nu_reps)]), confidence),
            }
        )
        if dav is None:
            entry["davidson_note"] = "every comparison was a tie: Davidson's strengths are not identified"

    result: dict[str, object] = {
        "headline": HEADLINE,
        "models": list(MODELS),
        "connected": len(labels) == 1,
        "components": components,
        "systems": systems,
        "bootstrap": {"replicates": n_boot, "seed": seed, "confidence": confidence, "resampling": "items"},
        "n_items_resampled": features.n_items,
    }
    result["metric_agreement"] = _metric_agreement(
        metric_values, metric_chunks, structure, points, reps, names, confidence
    )
    return result


def _metric_values(
    metrics: Mapping[str, np.ndarray] | None, comp: Comparisons, features: ItemFeatures
) -> dict[str, np.ndarray]:
    """Per metric, (resampled items, K) values (NaN missing); per-system metrics become a constant column."""
    out = {}
    for name, values in (metrics or {}).items():
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape == (comp.n_systems,):
            out[name] = np.broadcast_to(arr, (features.n_items, comp.n_systems))
        elif arr.shape == (comp.n_items, comp.n_systems):
            out[name] = arr[features.items]
        else:
            raise ValueError(
                f"metric {name!r} must have shape ({comp.n_systems},) or ({comp.n_items}, {comp.n_systems}), "
                f"got {arr.shape}"
            )
        if np.isinf(out[name]).any():
            raise ValueError(f"metric {name!r} has an infinite value")
    return out


def _weighted_means(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    present = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        means: npt.NDArray[np.float64] = (weights @ np.where(present, values, 0.0)) / (weights @ present)
    return means


def _metric_agreement(
    metric_values: dict[str, np.ndarray],
    metric_chunks: list[dict[str, np.ndarray]],
    structure: Structure,
    points: dict[int, Point],
    reps: dict[int, dict[str, np.ndarray]],
    names: Sequence[str],
    confidence: float,
) -> dict[str, object]:
    if not metric_values:
        return {}
    if len(points) != 1 or len(next(iter(points.values()))[0]) != len(names):
        reason = "the systems are not all ranked together (disconnected comparisons or unbounded strengths)"
        return {name: {"tau": None, "reason": reason} for name in metric_values}
    label = next(iter(points))
    fits = points[label][2]
    headline = fits[HEADLINE]
    if headline is None:
        return {name: {"tau": None, "reason": "the headline model has no strengths"} for name in metric_values}
    human = headline.theta[0]
    human_reps = reps.get(label, {}).get(HEADLINE)
    out: dict[str, object] = {}
    for name, values in metric_values.items():
        ones = np.ones((1, values.shape[0]))
        per_system = _weighted_means(ones, values)[0]
        usable = np.isfinite(per_system)
        entry: dict[str, object] = {
            "per_system": {n: _value(v) for n, v in zip(names, per_system, strict=True)},
            "n_systems": int(usable.sum()),
            "tau": None,
            "p_value": None,
            "ci": None,
        }
        if usable.sum() >= 2:
            tau, p = stats.kendalltau(human[usable], per_system[usable])
            entry["tau"], entry["p_value"] = _value(tau), _value(p)
            if human_reps is not None and metric_chunks:
                metric_reps = np.concatenate([c[name] for c in metric_chunks])
                taus = kendall_tau_b(human_reps[:, usable], metric_reps[:, usable])
                entry["ci"] = percentile_interval(taus, confidence) if entry["tau"] is not None else None
        out[name] = entry
    return out


def compute_ranking_statistics(
    item: object,
    system_a: object,
    system_b: object,
    *,
    preference: object | None = None,
    label_a: object | None = None,
    label_b: object | None = None,
    judge: object | None = None,
    control: object | None = None,
    n_items: int | None = None,
    system_names: Sequence[str] | None = None,
    metrics: Mapping[str, np.ndarray] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, object]:
    """Every figure of a K-system session from long arrays (one row per judgment); a JSON-serialisable dict.

    Arrays (``n`` judgments): ``item`` (item index), ``system_a`` / ``system_b`` (system indices shown),
    ``preference`` (0 = system_a, 1 = tie, 2 = system_b, -1 = none), ``label_a`` / ``label_b`` (label codes
    of ``coding.LABELS``, -1 = none), ``judge`` (judge index); ``control`` is one flag per item. See
    ``RULES`` for how each figure is counted.
    """
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    comp = prepare_comparisons(
        item,
        system_a,
        system_b,
        preference=preference,
        label_a=label_a,
        label_b=label_b,
        judge=judge,
        control=control,
        n_items=n_items,
        system_names=system_names,
    )
    counts = answer_counts(comp)
    return {
        "rules": [rule.replace("{level}", f"{confidence:.0%}") for rule in RULES],
        "systems": list(comp.system_names),
        "counts": {
            "n_items": comp.n_items,
            "n_control_items": int(comp.control.sum()),
            "n_judgments": int(len(comp.item)),
            "n_judges": int(len(np.unique(comp.judge))),
        },
        "accuracy": accuracy_by_system(counts, comp.system_names, confidence),
        "pairwise": pairwise_statistics(comp, counts, confidence),
        "ranking": rank_systems(comp, n_boot=n_boot, seed=seed, confidence=confidence, metrics=metrics),
    }

"""Bradley-Terry ranking: choix and a direct likelihood maximisation as references, a published example,
the same-index bootstrap, and the edge cases (disconnected systems, a system that always wins, K = 2)."""

from __future__ import annotations

import json

import choix
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from analysis.stats.bradley_terry import Tallies, fit
from analysis.stats.pairwise import pair_systems, prepare_comparisons
from analysis.stats.ranking import (
    comparison_structure,
    compute_ranking_statistics,
    fit_point,
    item_features,
    kendall_tau_b,
    ranking_replicates,
    tallies_from_sums,
)
from analysis.stats.synthetic_ranking import synthetic_comparisons

TOL = 1e-6


def tallies_of(wins: np.ndarray, ties: np.ndarray | None = None) -> Tallies:
    """Tallies from a (K, K) wins matrix and a symmetric ties matrix."""
    k = wins.shape[0]
    ties = np.zeros((k, k)) if ties is None else ties
    low, high = pair_systems(k)
    n = wins[low, high] + wins[high, low] + ties[low, high]
    score = wins.sum(axis=1) + ties.sum(axis=1) / 2
    return Tallies(score[None], np.array([ties[low, high].sum()]), n[None], low, high)


def random_tournament(k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    wins = rng.integers(1, 30, size=(k, k)).astype(float)
    np.fill_diagonal(wins, 0)
    ties = np.triu(rng.integers(0, 8, size=(k, k)), 1).astype(float)
    return wins, ties + ties.T


@pytest.mark.parametrize(("k", "seed"), [(2, 0), (5, 1), (12, 2), (30, 3)])
def test_half_wins_strengths_equal_choix_after_mean_zero_normalisation(k, seed):
    wins, ties = random_tournament(k, seed)
    ours = fit("half_wins", tallies_of(wins, ties))
    reference = choix.ilsr_pairwise_dense(wins + ties / 2, tol=1e-12, max_iter=10_000)
    assert ours.converged.all()
    np.testing.assert_allclose(ours.theta[0], reference - reference.mean(), atol=TOL)
    # choix's optimiser on the same comparisons listed one by one (no ties: half a win needs weights)
    pairs = [(i, j) for i in range(k) for j in range(k) for _ in range(int(wins[i, j]))]
    plain = fit("half_wins", tallies_of(wins))
    opt = choix.opt_pairwise(k, pairs, alpha=0.0, method="BFGS", tol=1e-12)
    np.testing.assert_allclose(plain.theta[0], opt - opt.mean(), atol=TOL)


@pytest.mark.parametrize(("k", "seed"), [(2, 4), (4, 5), (9, 6)])
def test_davidson_equals_a_direct_maximisation_of_its_likelihood(k, seed):
    wins, ties = random_tournament(k, seed)
    low, high = pair_systems(k)

    def negative_log_likelihood(x: np.ndarray) -> float:  # one term per outcome of every pair, as written
        total = 0.0
        for s, t in zip(low, high, strict=True):
            a, b, nu = np.exp(x[s]), np.exp(x[t]), np.exp(x[k])
            d = a + b + nu * np.sqrt(a * b)
            total += wins[s, t] * np.log(a / d) + wins[t, s] * np.log(b / d)
            total += ties[s, t] * np.log(nu * np.sqrt(a * b) / d)
        return -total

    reference = optimize.minimize(negative_log_likelihood, np.zeros(k + 1), method="BFGS", options={"gtol": 1e-9}).x
    ours = fit("davidson", tallies_of(wins, ties))
    np.testing.assert_allclose(ours.theta[0], reference[:k] - reference[:k].mean(), atol=1e-5)
    assert ours.log_nu[0] == pytest.approx(reference[k], abs=1e-5)


def test_published_example_stigler_journal_citations():
    """Stigler (1994), cross-citations among four statistics journals, 1987-89, fitted in the BradleyTerry2
    R package's vignette (Turner & Firth 2012, "Bradley-Terry models in R", J. Stat. Softw. 48(9)):
    abilities relative to Biometrika are Comm Statist -2.9491, JASA -0.4796, JRSS-B 0.2690.
    A citation of journal i by journal j is a win for i."""
    cited_by = np.array(
        [[714, 730, 498, 221], [33, 425, 68, 17], [320, 813, 1072, 142], [284, 276, 325, 188]], dtype=float
    )
    np.fill_diagonal(cited_by, 0)  # self-citations are not comparisons
    theta = fit("half_wins", tallies_of(cited_by)).theta[0]
    np.testing.assert_allclose(theta[1:] - theta[0], [-2.9491, -0.4796, 0.2690], atol=5e-5)


def long_rows(data: dict) -> dict:
    return {key: data[key] for key in ("item", "system_a", "system_b", "preference", "label_a", "label_b", "judge")}


def test_bootstrap_replicates_equal_a_choix_refit_on_the_same_resampled_items():
    data = synthetic_comparisons(6, 3000, 150, n_judges=40, seed=7)
    comp = prepare_comparisons(**long_rows(data), n_items=150)
    features = item_features(comp)
    structure = comparison_structure(comp)
    members = np.arange(6)
    point_t = tallies_from_sums(features.totals(), 6, members)
    points = {0: (members, point_t, fit_point(point_t))}
    indices = np.random.default_rng(11).integers(0, features.n_items, size=(15, features.n_items))
    fast = ranking_replicates(features, indices, points)[0]
    assert structure.finite(0)
    for r, row in enumerate(indices):
        drawn = features.items[row]
        per_item = np.bincount(drawn, minlength=comp.n_items)
        weight = per_item[comp.item] * (comp.outcome >= 0)  # each judgment of an item drawn m times counts m times
        mat = np.zeros((6, 6))
        for s, t, outcome, w in zip(comp.low, comp.high, comp.outcome, weight, strict=True):
            if w == 0:
                continue
            if outcome == 1:
                mat[s, t] += w / 2
                mat[t, s] += w / 2
            else:
                winner, loser = (s, t) if outcome == 0 else (t, s)
                mat[winner, loser] += w
        reference = choix.ilsr_pairwise_dense(mat, tol=1e-12, max_iter=10_000)
        np.testing.assert_allclose(fast["half_wins"][r], reference - reference.mean(), atol=TOL)


def test_two_systems_davidson_strength_gap_is_the_log_odds_of_the_win_rate():
    rng = np.random.default_rng(3)
    n = 500
    preference = rng.choice(3, size=n, p=[0.5, 0.2, 0.3])
    result = compute_ranking_statistics(
        np.arange(n), np.zeros(n, dtype=int), np.ones(n, dtype=int), preference=preference, n_boot=50
    )
    a_wins, b_wins, ties = (int((preference == c).sum()) for c in (0, 2, 1))
    rows = result["ranking"]["systems"]
    gap = rows[0]["davidson"]["strength"] - rows[1]["davidson"]["strength"]
    assert gap == pytest.approx(np.log(a_wins / b_wins), abs=1e-9)
    rate = result["pairwise"]["pairs"][0]["preference"]["by_judgment"]["win_rate_a"]["rate"]
    assert gap == pytest.approx(np.log(rate / (1 - rate)), abs=1e-9)
    half_gap = rows[0]["half_wins"]["strength"] - rows[1]["half_wins"]["strength"]
    assert half_gap == pytest.approx(np.log((a_wins + ties / 2) / (b_wins + ties / 2)), abs=1e-9)
    # Davidson with two systems is saturated: P(tie) = nu / (2 cosh(gap / 2) + nu) is the share of ties
    nu = result["ranking"]["components"][0]["davidson_nu"]["estimate"]
    assert nu / (2 * np.cosh(gap / 2) + nu) == pytest.approx(ties / n, abs=1e-9)


def test_systems_never_compared_across_groups_are_ranked_per_component_only():
    # systems 0-1-2 compared among themselves, 3-4 among themselves
    rng = np.random.default_rng(4)
    rows = [(0, 1), (1, 2), (0, 2), (3, 4)] * 60
    a, b = np.array(rows).T
    preference = rng.choice(3, size=len(rows), p=[0.45, 0.1, 0.45])
    result = compute_ranking_statistics(np.arange(len(rows)), a, b, preference=preference, n_boot=100, seed=1)
    ranking = result["ranking"]
    assert ranking["connected"] is False
    assert [c["systems"] for c in ranking["components"]] == [["0", "1", "2"], ["3", "4"]]
    assert sorted(row["davidson"]["rank"] for row in ranking["systems"][:3]) == [1, 2, 3]
    assert sorted(row["davidson"]["rank"] for row in ranking["systems"][3:]) == [1, 2]
    assert {row["component"] for row in ranking["systems"][3:]} == {1}
    for component in ranking["components"]:
        strengths = [r["davidson"]["strength"] for r in ranking["systems"] if r["system"] in component["systems"]]
        assert sum(strengths) == pytest.approx(0, abs=1e-9)  # normalised within its own component


def test_a_system_that_always_wins_is_reported_unbounded_with_the_evidence():
    rows = [(0, 1)] * 20 + [(0, 2)] * 15 + [(1, 2)] * 30
    a, b = np.array(rows).T
    preference = np.r_[np.zeros(35, dtype=int), np.tile([0, 2, 1], 10)]  # 0 always wins; 1 and 2 trade wins
    result = compute_ranking_statistics(np.arange(len(rows)), a, b, preference=preference, n_boot=100)
    text = json.dumps(result, allow_nan=False)  # no NaN or infinity anywhere
    ranking = result["ranking"]
    component = ranking["components"][0]
    assert component["status"] == "unbounded"
    assert "0 won all 35 comparisons with 1, 2" in component["evidence"]
    top = next(g for g in component["groups"] if g["systems"] == ["0"])
    assert top["against_rest_of_component"] == {"wins": 35, "ties": 0, "losses": 0}
    assert top["rank_bounds"] == [1, 1]
    rest = next(g for g in component["groups"] if g["systems"] == ["1", "2"])
    assert rest["rank_bounds"] == [2, 3]
    for row in ranking["systems"]:
        assert row["status"] == "unbounded"
        assert "davidson" not in row and "half_wins" not in row
    assert "1e+" not in text


def test_replicates_without_a_finite_maximum_are_counted_and_left_out():
    # system 0 lost exactly once: resamples that drop that item make it unbeaten
    rows = [(0, 1)] * 30 + [(1, 2)] * 30 + [(0, 2)] * 30
    a, b = np.array(rows).T
    rng = np.random.default_rng(8)
    preference = np.r_[np.zeros(29, dtype=int), [2], rng.choice([0, 2], 30), np.zeros(30, dtype=int)]
    ranking = compute_ranking_statistics(np.arange(90), a, b, preference=preference, n_boot=300, seed=2)["ranking"]
    counted = ranking["components"][0]["replicates"]["half_wins"]
    assert 0 < counted["total"] - counted["finite"] < counted["total"]
    assert ranking["systems"][0]["half_wins"]["rank_interval"] == [1, 1]


def test_same_seed_same_figures_and_intervals_cover_the_truth():
    data = synthetic_comparisons(8, 20_000, 400, n_judges=60, seed=9)
    truth = data["strengths"]
    first = compute_ranking_statistics(**long_rows(data), n_items=400, n_boot=300, seed=5)
    again = compute_ranking_statistics(**long_rows(data), n_items=400, n_boot=300, seed=5)
    assert first == again
    rows = first["ranking"]["systems"]
    covered = sum(
        r["davidson"]["strength_ci"][0] <= t <= r["davidson"]["strength_ci"][1]
        for r, t in zip(rows, truth, strict=True)
    )
    assert covered >= 6  # 95% intervals: all but a chance miss or two
    true_rank = 1 + (truth[None, :] > truth[:, None]).sum(axis=1)
    inside = sum(
        r["davidson"]["rank_interval"][0] <= t <= r["davidson"]["rank_interval"][1]
        for r, t in zip(rows, true_rank, strict=True)
    )
    assert inside >= 6


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(-5, 5)), min_size=2, max_size=12))
def test_vectorised_kendall_tau_b_equals_scipy(pairs):
    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs])
    expected = stats.kendalltau(x, y).statistic
    ours = kendall_tau_b(x[None], y[None])[0]
    if np.isnan(expected):
        assert np.isnan(ours)
    else:
        assert ours == pytest.approx(expected, abs=1e-12)


def test_metric_agreement_is_kendall_tau_of_human_strengths_and_metric_means():
    data = synthetic_comparisons(6, 6000, 300, n_judges=40, seed=12)
    rng = np.random.default_rng(0)
    per_answer = data["strengths"][None, :] * 0.05 + rng.normal(0, 0.2, size=(300, 6))
    per_answer[rng.random((300, 6)) < 0.1] = np.nan
    result = compute_ranking_statistics(
        **long_rows(data), n_items=300, n_boot=200, metrics={"bertscore": per_answer, "size": np.arange(6.0)}
    )
    agreement = result["ranking"]["metric_agreement"]
    strengths = [row["davidson"]["strength"] for row in result["ranking"]["systems"]]
    features_items = np.unique(data["item"])
    means = np.nanmean(per_answer[features_items], axis=0)
    assert list(agreement["bertscore"]["per_system"].values()) == pytest.approx(means.tolist(), abs=1e-12)
    assert agreement["bertscore"]["tau"] == pytest.approx(stats.kendalltau(strengths, means).statistic, abs=1e-12)
    low, high = agreement["bertscore"]["ci"]
    assert -1 <= low <= agreement["bertscore"]["tau"] <= high <= 1
    assert agreement["size"]["tau"] == pytest.approx(stats.kendalltau(strengths, np.arange(6)).statistic)

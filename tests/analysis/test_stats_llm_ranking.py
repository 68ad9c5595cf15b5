"""The engine's comparison of a human and an LLM ranking of K systems (analysis.stats.llm_ranking), on constructed
judgments: Kendall's tau against SciPy on the fitted strengths, the win-share fallback when strengths are
unbounded, and per-pair conclusions from the Holm-adjusted sign tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.stats.llm_ranking import compare_rankings, win_shares
from analysis.stats.ranking import compute_ranking_statistics

NAMES = ["s0", "s1", "s2", "s3"]


def judgments(strengths, n_items: int, judges: int, seed: int) -> dict[str, np.ndarray]:
    """Every pair of systems on every item, by each judge, preferences drawn from Bradley-Terry probabilities."""
    rng = np.random.default_rng(seed)
    rows = []
    for item in range(n_items):
        for a in range(len(strengths)):
            for b in range(a + 1, len(strengths)):
                for judge in range(judges):
                    p_a = 1 / (1 + np.exp(strengths[b] - strengths[a]))
                    rows.append((item, a, b, 0 if rng.random() < p_a else 2, judge))
    item, a, b, pref, judge = (np.array(col) for col in zip(*rows, strict=True))
    return {"item": item, "system_a": a, "system_b": b, "preference": pref, "judge": judge, "n_items": n_items}


def ranked(data: dict[str, np.ndarray], n_boot: int = 0) -> dict:
    return compute_ranking_statistics(**data, system_names=NAMES, n_boot=n_boot, seed=1)


def headline_strengths(result: dict) -> np.ndarray:
    model = result["ranking"]["headline"]
    return np.array([row[model]["strength"] for row in result["ranking"]["systems"]])


def test_tau_is_kendalls_tau_of_the_two_fitted_strengths():
    human = ranked(judgments([1.0, 0.5, 0.0, -1.5], n_items=40, judges=3, seed=0))
    llm = ranked(judgments([0.2, 1.0, 0.0, -1.5], n_items=40, judges=1, seed=1))

    out = compare_rankings(human, llm)

    assert out["basis"] == "strength"
    expected = stats.kendalltau(headline_strengths(human), headline_strengths(llm))
    assert out["kendall_tau"]["tau"] == pytest.approx(expected.statistic)
    assert out["kendall_tau"]["p_value"] == pytest.approx(expected.pvalue)
    assert out["best"]["human"] == [NAMES[int(np.argmax(headline_strengths(human)))]]
    assert out["best"]["llm"] == [NAMES[int(np.argmax(headline_strengths(llm)))]]


def test_pair_conclusions_follow_the_holm_adjusted_sign_tests():
    human = ranked(judgments([1.0, 0.5, 0.0, -1.5], n_items=40, judges=3, seed=2))
    llm = ranked(judgments([1.0, 0.5, 0.0, -1.5], n_items=40, judges=1, seed=3))

    out = compare_rankings(human, llm)

    for row, pair in zip(out["pairs"], human["pairwise"]["pairs"], strict=True):
        by_item = pair["preference"]["by_item"]
        p = by_item["sign_test_p_holm"]
        expected = "none" if p >= 0.05 else ("a" if by_item["a_wins"] > by_item["b_wins"] else "b")
        assert row["human"]["conclusion"] == expected
        assert row["same_conclusion"] == (row["human"]["conclusion"] == row["llm"]["conclusion"])
    assert out["n_pairs_compared"] == 6
    assert out["n_pairs_same_conclusion"] == sum(row["same_conclusion"] for row in out["pairs"])


def test_a_judge_whose_verdicts_never_vary_is_compared_on_win_shares():
    human = ranked(judgments([1.0, 0.5, 0.0, -1.5], n_items=30, judges=3, seed=4))
    perfect = ranked(judgments([90.0, 60.0, 30.0, 0.0], n_items=10, judges=1, seed=5))  # s0 never loses: unbounded

    out = compare_rankings(human, perfect)

    assert out["basis"] == "win_share"
    shares = win_shares(perfect)
    assert shares == {"s0": 1.0, "s1": pytest.approx(2 / 3), "s2": pytest.approx(1 / 3), "s3": 0.0}
    human_shares = [win_shares(human)[name] for name in NAMES]
    assert out["kendall_tau"]["tau"] == pytest.approx(stats.kendalltau(human_shares, list(shares.values())).statistic)
    assert out["best"]["llm"] == ["s0"]


def test_rankings_of_different_systems_are_refused():
    human = ranked(judgments([1.0, 0.5, 0.0, -1.5], n_items=10, judges=1, seed=6))
    other = dict(human, systems=["x", "y", "z", "w"])
    with pytest.raises(ValueError, match="different systems"):
        compare_rankings(human, other)

"""LLM judge vs human judges: every figure equals scikit-learn / statsmodels (or a direct count) on constructed
sessions, bootstrap replicates equal naive resampling, and the LLM never changes a human figure."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix
from statsmodels.stats.proportion import proportion_confint

from analysis.stats.accuracy import system_accuracy
from analysis.stats.coding import MISSING, PREFER_A, PREFER_B, PREFER_TIE, TIE, category_counts, plurality
from analysis.stats.llm_agreement import (
    _grouped,
    cluster_sums,
    compute_llm_agreement,
    item_features,
    majority_preference,
    position_bias,
)

TOL = 1e-9


def session(seed: int, n: int = 150, m: int = 3, llm_skill: float = 0.7, missing: float = 0.1):
    """Humans copy a hidden label with probability 0.7, the LLM with ``llm_skill``; some LLM labels missing."""
    rng = np.random.default_rng(seed)
    truth_a, truth_b = rng.integers(0, 3, n), rng.integers(0, 3, n)

    def noisy(truth, p, shape):
        copied = truth.reshape(truth.shape + (1,) * (len(shape) - 1))
        return np.where(rng.random(shape) < p, copied, rng.integers(0, 3, shape))

    la, lb = noisy(truth_a, 0.7, (n, m)), noisy(truth_b, 0.7, (n, m))
    la = np.where(rng.random((n, m)) < missing, MISSING, la)
    lb = np.where(rng.random((n, m)) < missing, MISSING, lb)
    pref = np.where(la > lb, PREFER_A, np.where(lb > la, PREFER_B, PREFER_TIE))
    pref = np.where((la == MISSING) | (lb == MISSING), MISSING, pref)
    llm_a, llm_b = noisy(truth_a, llm_skill, (n,)), noisy(truth_b, llm_skill, (n,))
    llm_a = np.where(rng.random(n) < missing, MISSING, llm_a)
    llm_b = np.where(rng.random(n) < missing, TIE, llm_b)  # TIE: labels inconsistent across orders
    llm_pref = rng.integers(-1, 3, n)
    lengths = rng.integers(1, 40, (2, n)).astype(float)
    return la, lb, pref, llm_a, llm_b, llm_pref, lengths


def compute(seed: int, n_boot: int = 0, **kwargs):
    la, lb, pref, llm_a, llm_b, llm_pref, (len_a, len_b) = session(seed, **kwargs)
    result = compute_llm_agreement(
        la, lb, llm_a, llm_b, preference=pref, llm_preference=llm_pref, length_a=len_a, length_b=len_b, n_boot=n_boot
    )
    return result, (la, lb, pref, llm_a, llm_b, llm_pref, len_a, len_b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_labels_against_the_human_majority_match_sklearn(seed):
    result, (la, lb, _, llm_a, llm_b, *_) = compute(seed)
    human = np.concatenate([plurality(category_counts(la, 3)), plurality(category_counts(lb, 3))])
    llm = np.concatenate([llm_a, np.where(llm_b == TIE, MISSING, llm_b)])
    both = (human >= 0) & (llm >= 0)
    figures = result["vs_human_majority"]["labels"]
    assert figures["n_answers"] == both.sum()
    assert figures["confusion"]["matrix"] == confusion_matrix(human[both], llm[both], labels=[0, 1, 2]).tolist()
    assert figures["accuracy"]["estimate"] == pytest.approx(np.mean(human[both] == llm[both]), abs=TOL)
    assert figures["cohen_kappa"]["estimate"] == pytest.approx(cohen_kappa_score(human[both], llm[both]), abs=TOL)
    for code, label in enumerate(("incorrect", "partial", "correct")):
        expected = cohen_kappa_score(human[both] == code, llm[both] == code)
        assert figures["cohen_kappa_per_label"][label]["estimate"] == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize("seed", [0, 3])
def test_preference_agreement_matches_sklearn_on_item_majorities(seed):
    result, (_, _, pref, _, _, llm_pref, *_) = compute(seed)

    def majority(row):
        a, b = (row == PREFER_A).sum(), (row == PREFER_B).sum()
        return MISSING if not (row >= 0).any() else PREFER_A if a > b else PREFER_B if b > a else PREFER_TIE

    human = np.array([majority(row) for row in pref])
    np.testing.assert_array_equal(majority_preference(category_counts(pref, 3)), human)
    both = (human >= 0) & (llm_pref >= 0)
    figures = result["vs_human_majority"]["preference"]
    assert figures["confusion"]["matrix"] == confusion_matrix(human[both], llm_pref[both], labels=[0, 1, 2]).tolist()
    assert figures["agreement"]["estimate"] == pytest.approx(np.mean(human[both] == llm_pref[both]), abs=TOL)
    assert figures["cohen_kappa"]["estimate"] == pytest.approx(cohen_kappa_score(human[both], llm_pref[both]), abs=TOL)


def test_the_llm_is_placed_among_the_human_pairwise_kappas():
    result, (la, lb, _, llm_a, llm_b, *_) = compute(4, m=4)
    units = np.concatenate([la, lb])
    llm = np.concatenate([llm_a, np.where(llm_b == TIE, MISSING, llm_b)])

    def kappa(x, y):
        ok = (x >= 0) & (y >= 0)
        return cohen_kappa_score(x[ok], y[ok])

    human_pairs = [kappa(units[:, i], units[:, j]) for i in range(4) for j in range(i + 1, 4)]
    placed = result["among_humans"]
    assert [p["kappa"] for p in placed["human_pairs"]] == pytest.approx(human_pairs, abs=TOL)
    assert placed["human_range"] == pytest.approx([min(human_pairs), max(human_pairs)])
    for j, judge in enumerate(placed["judges"]):
        k = kappa(units[:, j], llm)
        assert judge["kappa_with_llm"]["estimate"] == pytest.approx(k, abs=TOL)
        assert judge["inside_human_range"] == (min(human_pairs) <= k <= max(human_pairs))
    assert placed["llm_mean_kappa"] == pytest.approx(np.mean([kappa(units[:, j], llm) for j in range(4)]), abs=TOL)


def test_a_random_llm_falls_below_the_human_range_and_a_perfect_copy_of_a_judge_above_it():
    la, lb, pref, *_ = session(5, m=3)
    rng = np.random.default_rng(9)
    noise = compute_llm_agreement(la, lb, rng.integers(0, 3, len(la)), rng.integers(0, 3, len(la)), n_boot=0)
    assert noise["among_humans"]["llm_mean_inside_human_range"] is False
    assert all(j["inside_human_range"] is False for j in noise["among_humans"]["judges"])
    copy = compute_llm_agreement(la, lb, la[:, 0], lb[:, 0], n_boot=0)
    assert copy["among_humans"]["judges"][0]["kappa_with_llm"]["estimate"] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 6])
def test_human_conclusions_equal_the_session_engine_and_llm_ones_a_direct_count(seed):
    result, (la, lb, _, llm_a, llm_b, *_) = compute(seed)
    counts_a, counts_b = category_counts(la, 3), category_counts(lb, 3)
    for criterion, ok in (("correct", (2,)), ("lenient", (1, 2))):
        conclusion = result["conclusions"][criterion]
        for name, counts in (("A", counts_a), ("B", counts_b)):
            human = system_accuracy(counts)["by_majority"][criterion]["rate"]
            assert conclusion["accuracy"]["human"][name]["estimate"] == pytest.approx(human, abs=TOL)
        la_llm, lb_llm = llm_a, np.where(llm_b == TIE, MISSING, llm_b)
        paired = (la_llm >= 0) & (lb_llm >= 0)
        diff = np.isin(la_llm[paired], ok).mean() - np.isin(lb_llm[paired], ok).mean()
        assert conclusion["difference"]["llm"]["estimate"] == pytest.approx(diff, abs=TOL)
        assert conclusion["n_items_paired"]["llm"] == paired.sum()
        maj_a, maj_b = plurality(counts_a), plurality(counts_b)
        hp = (maj_a >= 0) & (maj_b >= 0)
        hdiff = np.isin(maj_a[hp], ok).mean() - np.isin(maj_b[hp], ok).mean()
        assert conclusion["difference"]["human"]["estimate"] == pytest.approx(hdiff, abs=TOL)
        assert conclusion["same_sign"] == (np.sign(diff) == np.sign(hdiff))


def test_an_llm_that_reverses_the_systems_reaches_the_opposite_conclusion():
    n = 120
    la = np.tile(np.array([[2], [2], [0]]), (n // 3, 2))  # humans: A mostly correct
    lb = np.tile(np.array([[0], [0], [2]]), (n // 3, 2))
    result = compute_llm_agreement(la, lb, lb[:, 0], la[:, 0], n_boot=500, seed=1)
    conclusion = result["conclusions"]["correct"]
    assert conclusion["difference"]["human"]["estimate"] == pytest.approx(1 / 3)
    assert conclusion["difference"]["llm"]["estimate"] == pytest.approx(-1 / 3)
    assert conclusion["same_sign"] is False and conclusion["intervals_overlap"] is False
    same = compute_llm_agreement(la, lb, la[:, 0], lb[:, 0], n_boot=500, seed=1)["conclusions"]["correct"]
    assert same["same_sign"] is True and same["intervals_overlap"] is True
    assert same["difference"]["llm_minus_human"]["estimate"] == pytest.approx(0.0)


def test_longer_answer_win_shares_are_direct_counts():
    result, (la, lb, pref, _, _, llm_pref, len_a, len_b) = compute(7)
    longer = np.where(len_a > len_b, PREFER_A, np.where(len_b > len_a, PREFER_B, MISSING))
    human = majority_preference(category_counts(pref, 3))
    shares = result["biases"]["longer_answer_win_share"]
    decisive = (longer >= 0) & np.isin(human, (PREFER_A, PREFER_B))
    assert shares["human_by_item"]["estimate"] == pytest.approx(np.mean(human[decisive] == longer[decisive]), abs=TOL)
    decisive = (longer >= 0) & np.isin(llm_pref, (PREFER_A, PREFER_B))
    assert shares["llm"]["estimate"] == pytest.approx(np.mean(llm_pref[decisive] == longer[decisive]), abs=TOL)
    rows = (longer >= 0)[:, None] & np.isin(pref, (PREFER_A, PREFER_B))
    judged_longer = (pref == longer[:, None])[rows]
    assert shares["human_by_judgment"]["estimate"] == pytest.approx(judged_longer.mean(), abs=TOL)


def test_agreement_by_answer_length_splits_the_compared_answers_into_bins():
    result, _ = compute(8, n=300)
    bins = result["biases"]["labels_by_answer_length"]
    assert len(bins) == 3
    assert sum(b["agreement"]["n"] for b in bins) == result["vs_human_majority"]["labels"]["n_answers"]
    assert bins[0]["range"][0] <= bins[0]["range"][1] <= bins[1]["range"][1] <= bins[2]["range"][1]
    pref_bins = result["biases"]["preference_by_length_gap"]
    assert sum(b["agreement"]["n"] for b in pref_bins) == result["vs_human_majority"]["preference"]["n_items"]


def test_position_bias_counts_flips_and_first_position_wins_with_wilson_intervals():
    orders = np.array(
        [[PREFER_A, PREFER_A], [PREFER_A, PREFER_B], [PREFER_B, PREFER_B], [PREFER_TIE, PREFER_A], [MISSING, PREFER_B]]
    )
    bias = position_bias(orders)
    assert (bias["flip_rate"]["successes"], bias["flip_rate"]["n"]) == (2, 4)
    # answer shown first won: row 0 in ab, row 1 in both, row 2 in ba, row 4 in ba; 8 decisive order verdicts
    assert (bias["first_position_win_share"]["successes"], bias["first_position_win_share"]["n"]) == (5, 8)
    low, high = proportion_confint(2, 4, method="wilson")
    assert bias["flip_rate"]["ci"] == pytest.approx([low, high], abs=1e-9)
    with pytest.raises(ValueError, match="shape"):
        position_bias(np.zeros((3, 3), dtype=int))


def test_bootstrap_replicates_equal_naive_resampling_of_items():
    la, lb, pref, llm_a, llm_b, llm_pref, (len_a, len_b) = session(10, n=80)
    llm_b = np.where(llm_b == TIE, MISSING, llm_b)
    longer = np.where(len_a > len_b, PREFER_A, np.where(len_b > len_a, PREFER_B, MISSING))

    def features(rows):
        return item_features(
            category_counts(la[rows], 3), category_counts(lb[rows], 3), category_counts(pref[rows], 3),
            llm_a[rows], llm_b[rows], llm_pref[rows], longer[rows],
        )  # fmt: skip

    group = _grouped(features(np.arange(80)))
    indices = np.random.default_rng(3).integers(0, 80, (5, 80))
    replayed = group.replay(indices)
    for r, rows in enumerate(indices):
        human = np.concatenate([plurality(category_counts(la[rows], 3)), plurality(category_counts(lb[rows], 3))])
        llm = np.concatenate([llm_a[rows], llm_b[rows]])
        ok = (human >= 0) & (llm >= 0)
        assert replayed["labels.cohen_kappa"][r] == pytest.approx(cohen_kappa_score(human[ok], llm[ok]), abs=TOL)
        pa, pb = llm_a[rows], llm_b[rows]
        paired = (pa >= 0) & (pb >= 0)
        diff = (pa[paired] == 2).mean() - (pb[paired] == 2).mean()
        assert replayed["llm.difference.correct"][r] == pytest.approx(diff, abs=TOL)


def test_intervals_are_seeded_and_contain_the_estimate():
    first, _ = compute(11, n_boot=300)
    again, _ = compute(11, n_boot=300)
    assert first == again
    kappa = first["vs_human_majority"]["labels"]["cohen_kappa"]
    assert kappa["ci"][0] <= kappa["estimate"] <= kappa["ci"][1]
    assert first["among_humans"]["judges"][0]["kappa_with_llm"]["ci"] is not None


def test_bad_llm_codes_are_refused_naming_the_array_and_position():
    la, lb, *_ = session(12, n=10)
    with pytest.raises(ValueError, match=r"llm_labels_b\[3\] = 7"):
        compute_llm_agreement(la, lb, np.zeros(10, dtype=int), np.array([0, 0, 0, 7, 0, 0, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match=r"llm_labels_a must have shape \(10,\)"):
        compute_llm_agreement(la, lb, np.zeros(9, dtype=int), np.zeros(10, dtype=int))


def test_clustered_replicates_equal_naive_resampling_of_whole_items():
    """A K-system run's comparisons of one item are resampled together: each replicate equals kappa computed on
    the comparisons of items drawn with replacement (every comparison of a drawn item in)."""
    la, lb, pref, llm_a, llm_b, llm_pref, (len_a, len_b) = session(11, n=90)
    item = np.arange(90) // 3  # 30 items, three comparisons each
    longer = np.where(len_a > len_b, PREFER_A, np.where(len_b > len_a, PREFER_B, MISSING))
    features = item_features(
        category_counts(la, 3), category_counts(lb, 3), category_counts(pref, 3), llm_a, llm_b, llm_pref, longer
    )
    group = _grouped(cluster_sums(features, item))
    drawn = np.random.default_rng(5).integers(0, 30, (5, 30))
    replayed = group.replay(drawn)
    for r, items in enumerate(drawn):
        rows = np.concatenate([np.flatnonzero(item == i) for i in items])
        human = np.concatenate([plurality(category_counts(la[rows], 3)), plurality(category_counts(lb[rows], 3))])
        llm = np.concatenate([llm_a[rows], llm_b[rows]])
        ok = (human >= 0) & (llm >= 0)
        assert replayed["labels.cohen_kappa"][r] == pytest.approx(cohen_kappa_score(human[ok], llm[ok]), abs=TOL)


def test_an_item_counted_three_times_as_one_cluster_keeps_its_interval_and_as_three_units_narrows_it():
    la, lb, pref, llm_a, llm_b, llm_pref, lengths = session(12, n=60)
    triple = np.repeat(np.arange(60), 3)
    once = compute_llm_agreement(la, lb, llm_a, llm_b, preference=pref, llm_preference=llm_pref, n_boot=400)
    args = (la[triple], lb[triple], llm_a[triple], llm_b[triple])
    kwargs = {"preference": pref[triple], "llm_preference": llm_pref[triple], "n_boot": 400}
    clustered = compute_llm_agreement(*args, clusters=triple, **kwargs)
    units = compute_llm_agreement(*args, **kwargs)
    kappa = [r["vs_human_majority"]["labels"]["cohen_kappa"] for r in (once, clustered, units)]
    assert kappa[0]["estimate"] == pytest.approx(kappa[1]["estimate"]) == pytest.approx(kappa[2]["estimate"])
    assert kappa[1]["ci"] == pytest.approx(kappa[0]["ci"])  # the same 60 items, each drawn whole
    width = [k["ci"][1] - k["ci"][0] for k in kappa]
    assert width[2] < 0.75 * width[0]  # 180 "independent" units: too narrow by about sqrt(3)
    with pytest.raises(ValueError, match="clusters must have one entry per unit"):
        compute_llm_agreement(*args, clusters=triple[:-1], **kwargs)

from __future__ import annotations

import numpy as np
import pytest

from training.metrics.bleu import corpus_bleu, score_from_stats
from training.metrics.bootstrap import bootstrap_ci, paired_bootstrap, resample_counts


def test_the_interval_brackets_the_mean_and_repeats_with_the_same_seed():
    values = np.random.default_rng(1).random(200)
    ci = bootstrap_ci(values, n_resamples=500, seed=3)
    assert ci.value == pytest.approx(values.mean())
    assert ci.low < ci.value < ci.high
    # the standard error of a mean of 200 uniforms is about 0.02: the 95% interval is about +-0.04
    assert 0.05 < ci.high - ci.low < 0.12
    assert bootstrap_ci(values, n_resamples=500, seed=3) == ci
    assert bootstrap_ci(values, n_resamples=500, seed=4) != ci


def test_every_resample_draws_as_many_items_as_there_are():
    counts = resample_counts(7, 50, seed=0)
    assert counts.shape == (50, 7) and (counts.sum(axis=1) == 7).all()


def test_bleu_is_re_aggregated_from_per_item_statistics():
    preds = ["the cat sat on the mat", "a dog barked", "in the east"]
    golds = [["the cat sat on a mat"], ["the dog barked"], ["in the east"]]
    result = corpus_bleu(preds, golds)
    assert score_from_stats(result.stats.sum(axis=0)) == pytest.approx(result.score, abs=1e-9)
    ci = bootstrap_ci(result.stats, lambda sums, _n: score_from_stats(sums), n_resamples=200, seed=0)
    assert ci.value == pytest.approx(result.score) and ci.low <= ci.value <= ci.high


def test_the_paired_test_finds_a_real_difference_and_none_between_identical_runs():
    rng = np.random.default_rng(0)
    a = rng.random(100)
    better = np.clip(a + 0.2, 0, 1)

    same = paired_bootstrap(a, a.copy(), n_resamples=300, seed=1)
    assert same.delta == 0 and same.p_value == 1.0

    diff = paired_bootstrap(better, a, n_resamples=300, seed=1)
    assert diff.delta > 0.1 and diff.ci_low > 0 and diff.p_value < 0.05


def test_the_paired_test_needs_the_same_items():
    with pytest.raises(ValueError, match="same items"):
        paired_bootstrap(np.ones(3), np.ones(4))

from __future__ import annotations

import bert_score
import pytest
import sacrebleu

from training.metrics import compare_runs, minilm_model_dir, score_answers

GOLDS = [["Paris"], ["Egypt", "in Egypt"], ["100 degrees"], ["Tokyo"], ["honey"], ["in the east", "the east"]]
GOOD = ["Paris", "Egypt", "100 degrees Celsius", "Tokyo", "honey", "in the east"]
BAD = ["London", "Africa", "hot", "Kyoto", "wax", "west"]


def test_aggregates_equal_the_metric_libraries_and_come_with_intervals(minilm_scorer):
    scores = score_answers(GOOD, GOLDS, bertscorer=minilm_scorer, n_resamples=200)

    streams = [[g[k] if k < len(g) else None for g in GOLDS] for k in range(2)]
    assert scores.summary["bleu"].value == pytest.approx(sacrebleu.corpus_bleu(GOOD, streams).score, abs=1e-6)
    _, _, f = bert_score.score(GOOD, GOLDS, model_type=str(minilm_model_dir()), num_layers=6)
    assert scores.summary["bertscore_f1"].value == pytest.approx(f.mean().item(), abs=1e-6)
    assert scores.summary["exact_match"].value == pytest.approx(100 * 5 / 6)
    assert [it.exact_match for it in scores.items] == [1, 1, 0, 1, 1, 1]
    for summary in scores.summary.values():
        assert summary.ci_low <= summary.value <= summary.ci_high
    assert scores.info["bleu_tokenize"] == "13a" and scores.info["bertscore"]["num_layers"] == 6


def test_two_runs_on_the_same_items_are_compared_per_metric():
    good = score_answers(GOOD, GOLDS, n_resamples=100)
    bad = score_answers(BAD, GOLDS, n_resamples=100)

    result = compare_runs(good.items, bad.items, n_resamples=300, seed=0)

    assert set(result) == {"exact_match", "f1", "bleu"}
    assert result["exact_match"].delta == pytest.approx(100 * 5 / 6)
    assert result["exact_match"].p_value < 0.05
    assert result["bleu"].value_a == pytest.approx(good.summary["bleu"].value)

from __future__ import annotations

import pytest

from training.metrics.squad import best_exact_match, best_token_f1, exact_match, normalize_answer, token_f1


def test_english_normalisation_follows_squad():
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert exact_match("the Eiffel tower.", "Eiffel Tower") == 1.0
    assert exact_match("Eiffel", "Eiffel Tower") == 0.0


def test_token_f1_is_the_harmonic_mean_of_token_precision_and_recall():
    # pred tokens: in, paris, france ; gold tokens: paris -> P = 1/3, R = 1
    assert token_f1("in Paris, France", "Paris") == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))
    assert token_f1("London", "Paris") == 0.0
    assert token_f1("", "") == 1.0


def test_japanese_is_scored_per_character_after_nfkc_and_punctuation_removal():
    assert normalize_answer("「東京　タワー」。", "ja") == "東京タワー"
    assert exact_match("ＡＢＣ社", "abc社", "ja") == 1.0
    # pred 東京都 (3 chars), gold 東京 (2 chars): 2 common -> P = 2/3, R = 1
    assert token_f1("東京都", "東京", "ja") == pytest.approx(0.8)


def test_with_several_gold_answers_the_best_one_counts():
    golds = ["Paris", "the city of Paris"]
    assert best_exact_match("city of Paris", golds) == 1.0
    assert best_token_f1("Paris France", golds) == pytest.approx(token_f1("Paris France", "Paris"))

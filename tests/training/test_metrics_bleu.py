from __future__ import annotations

import pytest
import sacrebleu

from training.metrics.bleu import bleu_tokenizer_for, corpus_bleu, reference_streams

PREDICTIONS = ["the cat sat on the mat", "a dog barked loudly at night", "in the east", "honey"]
GOLDS = [
    ["the cat sat on a mat", "a cat was sitting on the mat"],
    ["the dog barked at night"],
    ["in the east", "east", "from the east side"],
    ["honey and wax"],
]


def test_corpus_bleu_equals_sacrebleu_with_padded_reference_streams():
    result = corpus_bleu(PREDICTIONS, GOLDS, language="en")
    streams = [[g[k] if k < len(g) else None for g in GOLDS] for k in range(3)]
    expected = sacrebleu.corpus_bleu(PREDICTIONS, streams, tokenize="13a").score

    assert result.tokenize == "13a"
    assert result.score == pytest.approx(expected, abs=1e-6)
    assert reference_streams(GOLDS) == streams
    # without the None padding, sacrebleu would silently score only the items covered by the shortest stream
    unpadded = [[g[k] for g in GOLDS if k < len(g)] for k in range(3)]
    assert sacrebleu.corpus_bleu(PREDICTIONS, unpadded).score != pytest.approx(expected)


def test_per_item_bleu_equals_sacrebleu_sentence_bleu():
    result = corpus_bleu(PREDICTIONS, GOLDS, language="en")
    for pred, golds, score in zip(PREDICTIONS, GOLDS, result.sentence_scores, strict=True):
        assert score == pytest.approx(sacrebleu.sentence_bleu(pred, golds).score, abs=1e-6)


def test_japanese_bleu_uses_mecab_on_known_strings():
    # MeCab: 東京 は 日本 の 首都 です 。 vs 東京 は 日本 の 首都 だ 。 -> n-gram precisions 6/7, 4/6, 3/5, 2/4
    hand_computed = 100 * (6 / 7 * 4 / 6 * 3 / 5 * 2 / 4) ** 0.25
    result = corpus_bleu(["東京は日本の首都です。"], [["東京は日本の首都だ。"]], language="ja")

    assert result.tokenize == "ja-mecab"
    assert result.score == pytest.approx(hand_computed, abs=1e-6)
    assert result.score == pytest.approx(
        sacrebleu.corpus_bleu(["東京は日本の首都です。"], [["東京は日本の首都だ。"]], tokenize="ja-mecab").score
    )
    assert corpus_bleu(["東京は日本の首都です。"], [["東京は日本の首都だ。"]], tokenize="char").score != pytest.approx(
        hand_computed
    )


def test_the_tokenizer_follows_the_language():
    assert bleu_tokenizer_for("en") == "13a"
    assert bleu_tokenizer_for("ja") == "ja-mecab"
    assert bleu_tokenizer_for("th") == "char"


def test_an_item_without_gold_answers_is_named():
    with pytest.raises(ValueError, match="item 2 has no gold answer"):
        corpus_bleu(["a", "b"], [["a"], []])

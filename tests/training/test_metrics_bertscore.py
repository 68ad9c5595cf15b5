from __future__ import annotations

import bert_score
import numpy as np
import pytest

from training.metrics.bertscore import MINILM_LAYERS, BertScorer, minilm_model_dir

PREDICTIONS = ["the cat sat on the mat", "a dog barked at night", "in the east", "honey"]
GOLDS = [
    ["the cat sat on a mat", "a cat was sitting on the mat"],
    ["the dog barked at night"],
    ["in the east", "east", "from the east side"],
    ["honey and wax"],
]


def test_scores_equal_bert_score_on_the_same_multi_reference_input(minilm_scorer):
    ours = minilm_scorer.score(PREDICTIONS, GOLDS)
    p, r, f = bert_score.score(PREDICTIONS, GOLDS, model_type=str(minilm_model_dir()), num_layers=MINILM_LAYERS)

    np.testing.assert_allclose(ours.precision, p.numpy(), atol=1e-6)
    np.testing.assert_allclose(ours.recall, r.numpy(), atol=1e-6)
    np.testing.assert_allclose(ours.f1, f.numpy(), atol=1e-6)
    assert ours.f1.mean() == pytest.approx(f.mean().item(), abs=1e-6)


def test_each_item_takes_its_best_gold_answer(minilm_scorer):
    multi = minilm_scorer.score(["in the east"], [["a totally unrelated sentence", "in the east"]])
    single = minilm_scorer.score(["in the east"], [["in the east"]])
    assert multi.f1[0] == pytest.approx(single.f1[0], abs=1e-6)
    assert single.f1[0] == pytest.approx(1.0, abs=1e-5)


def test_english_minilm_scores_are_labelled_with_their_encoder(minilm_scorer):
    assert minilm_scorer.encoder.num_layers == 6
    assert not minilm_scorer.encoder.comparable_with_paper
    assert "not comparable" in minilm_scorer.encoder.note


def test_any_local_decoder_model_serves_as_encoder_with_its_layer_count(llama_dir):
    one = BertScorer(llama_dir, 1).score(["the cat sat", "hello"], [["the cat sat"], ["goodbye world"]])
    two = BertScorer(llama_dir, 2).score(["the cat sat", "hello"], [["the cat sat"], ["goodbye world"]])
    assert one.f1[0] == pytest.approx(1.0, abs=1e-5)
    assert one.f1[1] < 1.0
    assert one.f1[1] != pytest.approx(two.f1[1])


def test_japanese_needs_an_explicit_multilingual_encoder(llama_dir):
    with pytest.raises(ValueError, match="MiniLM is English-only"):
        BertScorer.for_language("ja")
    scorer = BertScorer.for_language("ja", model=llama_dir, num_layers=2)
    assert not scorer.encoder.comparable_with_paper and "not comparable with the paper" in scorer.encoder.note


def test_an_empty_prediction_scores_zero_instead_of_crashing(minilm_scorer):
    # bare bert_score crashes here under transformers 5 (tokenizers lost build_inputs_with_special_tokens)
    scores = minilm_scorer.score(["", "a cat"], [["a dog"], ["a cat"]])
    assert scores.f1[0] == 0.0 and scores.f1[1] == pytest.approx(1.0, abs=1e-5)


def test_decoder_tokenizers_get_bert_style_special_tokens_with_zero_weight(llama_dir):
    scorer = BertScorer(llama_dir, 2)
    scores = scorer.score(["hello", ""], [["hello"], ["hello"]])
    tokenizer = scorer._load()._tokenizer
    ids = tokenizer.encode("hello")
    # BOS ... EOS play the role of [CLS] ... [SEP]: bert-score gives them idf 0 and a one-token answer is
    # not mistaken for an empty one (bert-score calls a two-token sentence empty)
    assert ids[0] == tokenizer.cls_token_id == tokenizer.bos_token_id
    assert ids[-1] == tokenizer.sep_token_id == tokenizer.eos_token_id
    assert len(ids) == 3
    assert scores.f1[0] == pytest.approx(1.0, abs=1e-5) and scores.f1[1] == 0.0

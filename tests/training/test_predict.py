from __future__ import annotations

from training.engine.formatting import default_template
from training.engine.predict import iter_predictions, load_for_inference, postprocess, predict

ITEMS = [
    {"context": "Paris is the capital of France.", "question": "What is the capital of France?"},
    {"context": "A much longer context " * 12, "question": "What is this?"},
    {"context": "Tokyo.", "question": "Capital?"},
    {"context": "Bees make honey from nectar collected from flowers.", "question": "What do bees make?"},
    {"context": "Short.", "question": "Why?"},
]


def test_batched_left_padded_greedy_answers_equal_one_at_a_time_answers(tiny_dir):
    model, tokenizer = load_for_inference(tiny_dir)
    template = default_template("en")

    batched = predict(model, tokenizer, ITEMS, template, batch_size=5, max_new_tokens=6)
    single = predict(model, tokenizer, ITEMS, template, batch_size=1, max_new_tokens=6)

    assert [p.raw_output for p in batched] == [p.raw_output for p in single]
    assert [p.index for p in batched] == list(range(len(ITEMS)))
    assert all(p.output_tokens == 6 and p.latency_s > 0 for p in batched)
    assert len({p.prompt_tokens for p in batched}) > 1, "items of different lengths exercise the padding"


def test_predictions_come_per_batch_longest_first_with_the_batch_latency_shared(llama_dir):
    model, tokenizer = load_for_inference(llama_dir)
    batches = list(iter_predictions(model, tokenizer, ITEMS, default_template("en"), batch_size=2, max_new_tokens=3))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert batches[0][0].index == 1  # the longest prompt goes first
    for batch in batches:
        assert all(abs(p.latency_s * len(batch) - p.batch_latency_s) < 1e-9 for p in batch)


def test_long_contexts_are_cut_to_the_prompt_budget(llama_dir):
    model, tokenizer = load_for_inference(llama_dir)
    item = {"context": "word " * 2000, "question": "What?"}
    [prediction] = predict(model, tokenizer, [item], default_template("en"), max_new_tokens=2, max_prompt_tokens=64)
    assert prediction.context_truncated and prediction.prompt_tokens <= 64


def test_the_answer_is_the_first_non_empty_line_of_the_output():
    assert postprocess("  Paris\nQuestion: next one") == "Paris"
    assert postprocess("\n Paris \n") == "Paris"
    assert postprocess("a\nb", stop_at_newline=False) == "a\nb"

"""Evaluation in-process: aggregates equal the libraries' own output, a resumed run adds no duplicates."""

from __future__ import annotations

import bert_score
import pytest
import sacrebleu

from core.models import Job
from core.services import jobs
from core.services.model_registry import minilm_dir
from tests.training.web_helpers import make_eval_corpus, minilm_entry, tiny_entry
from training.metrics.bleu import reference_streams
from training.models import Prediction
from training.services.evaluation_runs import create_evaluation_run, evaluation_items, score_run

# Answers that overlap the golds to different degrees, so BLEU and BERTScore are far from 0 and 1.
ANSWERS = ["Fuji", "it flows through Brazil and Peru", "during the night", "owls", "It is Rome"]


def _run(alice, **kwargs):
    minilm_entry()
    return create_evaluation_run(
        corpus=make_eval_corpus(), base_model=tiny_entry(), split="validation", user=alice, **kwargs
    )


def test_stored_aggregates_equal_direct_bert_score_and_sacrebleu_calls(db, alice):
    run = _run(alice)
    for item, answer in zip(evaluation_items(run.corpus, "validation"), ANSWERS, strict=True):
        Prediction.objects.create(
            evaluation_run=run,
            item_index=item.index,
            item_key=item.key,
            context=item.context,
            question=item.question,
            gold_answers=item.gold_answers,
            prediction=answer,
        )
    summary = score_run(run)

    golds = [p.gold_answers for p in run.predictions.order_by("item_index")]
    P, R, F = bert_score.score(ANSWERS, golds, model_type=str(minilm_dir()), num_layers=6)
    bleu = sacrebleu.corpus_bleu(ANSWERS, reference_streams(golds), tokenize="13a")
    assert summary["bertscore_f1"]["value"] == pytest.approx(F.mean().item(), abs=1e-6)
    assert summary["bertscore_precision"]["value"] == pytest.approx(P.mean().item(), abs=1e-6)
    assert summary["bertscore_recall"]["value"] == pytest.approx(R.mean().item(), abs=1e-6)
    assert summary["bleu"]["value"] == pytest.approx(bleu.score, abs=1e-6)
    assert 0 < bleu.score < 100
    # EM: item 0 matches its second gold ("Fuji"), item 3 matches after normalisation ("owls" vs "Owls").
    assert summary["exact_match"]["value"] == pytest.approx(40.0)
    stored = list(run.predictions.order_by("item_index").values_list("exact_match", "f1", "bertscore_f1"))
    assert [em for em, _, _ in stored] == [1.0, 0.0, 0.0, 1.0, 0.0]
    assert stored[1][1] == pytest.approx(0.8)  # best gold: 4 of 6 predicted tokens, all 4 gold tokens
    assert stored[4][1] == pytest.approx(0.5)  # "It is Rome" vs "Rome": P 1/3, R 1
    assert summary["f1"]["value"] == pytest.approx(100 * sum(f for _, f, _ in stored) / 5)
    run.refresh_from_db()
    assert run.metrics == summary and run.n_items == 5


def test_a_resumed_evaluation_answers_only_the_missing_items(db, alice, in_process, monkeypatch):
    import training.engine.predict as predict

    run = _run(alice, batch_size=2, max_new_tokens=6)
    assert jobs.run_job(run.job_id, owner="test:1") == "succeeded"
    first = {p.item_index: (p.pk, p.prediction) for p in run.predictions.all()}
    assert sorted(first) == [0, 1, 2, 3, 4]

    # As if the worker died after storing three items (the sweep re-queues its job): drop two, run it again.
    run.predictions.filter(item_index__gte=3).delete()
    Job.objects.filter(pk=run.job_id).update(status="queued", lease_owner="")
    seen: list[int] = []
    real = predict.iter_predictions

    def spy(model, tokenizer, items, template, **kwargs):
        seen.append(len(items))
        yield from real(model, tokenizer, items, template, **kwargs)

    monkeypatch.setattr(predict, "iter_predictions", spy)
    assert jobs.run_job(run.job_id, owner="test:2") == "succeeded"

    assert seen == [2]
    again = {p.item_index: (p.pk, p.prediction) for p in run.predictions.all()}
    assert sorted(again) == [0, 1, 2, 3, 4] and run.predictions.count() == 5
    assert all(again[i] == first[i] for i in (0, 1, 2))  # stored rows kept, not rewritten
    assert [again[i][1] for i in (3, 4)] == [first[i][1] for i in (3, 4)]  # greedy: same answers
    assert all(p.bertscore_f1 is not None for p in run.predictions.all())


def test_an_adapter_evaluation_uses_the_training_runs_template_and_base_model(db, alice, in_process):
    from tests.training.web_helpers import make_dataset
    from training.services.training_runs import create_training_run

    entry = tiny_entry()
    template = {"language": "en", "prompt": "C: {context}\nQ: {question}\nA:", "answer_prefix": " "}
    training = create_training_run(
        base_model=entry, dataset=make_dataset(), user=alice, template=template, max_steps=2, batch_size=3
    )
    assert jobs.run_job(training.job_id, owner="test:1") == "succeeded"
    training.refresh_from_db()
    minilm_entry()
    run = create_evaluation_run(corpus=make_eval_corpus(), training_run=training, max_items=3, user=alice)
    assert run.base_model == entry and run.template == template
    assert jobs.run_job(run.job_id, owner="test:2") == "succeeded"
    assert run.predictions.count() == 3
    assert all(p.prompt_tokens and p.prompt_tokens > 0 for p in run.predictions.all())


class _Ctx:
    """Just enough of a JobContext to call the service directly."""

    def progress(self, *args, **kwargs) -> None:
        pass

    def log(self, line: str) -> None:
        pass

    def check_cancelled(self) -> None:
        pass


def test_a_resume_refuses_when_the_split_changed_under_the_stored_answers(db, alice):
    from core.services.jobs import JobError
    from generation.models import Passage, ReferenceQA
    from training.services.evaluation_runs import execute

    run = _run(alice)
    items = evaluation_items(run.corpus, "validation")
    Prediction.objects.create(
        evaluation_run=run, item_index=1, item_key=items[1].key, context="c", question="q", gold_answers=["a"]
    )
    first = Passage.objects.filter(corpus=run.corpus, split="validation").order_by("pk").first()
    ReferenceQA.objects.create(passage=first, question="A new question?", answers=["new"])  # shifts item 1

    with pytest.raises(JobError, match="changed since this run stored its first answers"):
        execute(run, _Ctx())
    assert run.predictions.count() == 1

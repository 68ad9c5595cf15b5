"""The demo session: queued once (after the model conversion), built by a real worker, announced to judges."""

from __future__ import annotations

import pytest
import torch
from django.urls import reverse

from annotation.models import JudgingSession
from annotation.services import demo
from core.models import Job, JobStatus, ModelEntry, ModelKind, ModelRole
from core.services.jobs import create_job
from firstrun.bootstrap import queue_demo
from generation.services.demo_corpus import load_demo_corpus
from tests.support.tiny_models import load_tiny_model, tiny_model_dir

torch.set_num_threads(1)


def register_tiny_generator() -> ModelEntry:
    path = str(tiny_model_dir("llama"))
    return ModelEntry.objects.create(
        name="tiny-llama", kind=ModelKind.HF, role=ModelRole.GENERATOR, is_default=True, path=path
    )


def test_one_shot_prompts_carry_the_worked_example_and_zero_shot_ones_do_not():
    _, tokenizer = load_tiny_model("llama")
    zero = demo.prompt_text(tokenizer, "Water boils at 100 C.", "When does water boil?", one_shot=False)
    one = demo.prompt_text(tokenizer, "Water boils at 100 C.", "When does water boil?", one_shot=True)
    assert demo.EXAMPLE["question"] in one and demo.EXAMPLE["question"] not in zero
    assert zero.rstrip().endswith(one.rstrip()[-20:])  # both end with the same question turn


def test_answers_are_short_greedy_and_one_per_question():
    model, tokenizer = load_tiny_model("llama")
    questions = [demo.DemoQuestion(f"Passage {i}.", f"Question {i}?", ["x"], f"q{i}") for i in range(3)]
    first = demo.generate_answers(model, tokenizer, questions, one_shot=False, max_new_tokens=6, batch_size=2)
    again = demo.generate_answers(model, tokenizer, questions, one_shot=False, max_new_tokens=6, batch_size=2)
    assert len(first) == 3 and all(answer.strip() for answer in first)
    assert first == again  # greedy: the same answers every time


def test_the_closed_book_prompt_has_the_question_but_not_the_passage():
    _, tokenizer = load_tiny_model("llama")
    closed = demo.prompt_text(
        tokenizer, "Water boils at 100 C.", "When does water boil?", one_shot=False, closed_book=True
    )
    assert "When does water boil?" in closed and "Water boils at 100 C." not in closed
    assert demo.EXAMPLE["question"] not in closed


@pytest.mark.django_db
def test_the_demo_session_ranks_three_systems_and_a_judge_judges_each_question_once(alice, bob):
    """Three systems (zero-shot, one-shot, closed-book), balanced matchups with one pair per item: a judge gets
    each question once, every pair of systems is shown, and the judged session has a three-way ranking."""
    from analysis.services.ranking import session_ranking
    from annotation.services.assignment import next_assignment
    from annotation.services.judging import Submission, submit

    register_tiny_generator()
    questions = [
        demo.DemoQuestion(f"Passage {i} says {i}.", f"What does passage {i} say?", [str(i)], f"q{i}") for i in range(6)
    ]
    session = demo.build_demo_session(questions=questions, user=alice)
    assert session.n_systems == 3 and session.matchup_design == "balanced" and session.pairs_per_item == 1
    names = list(session.systems.order_by("position").values_list("name", flat=True))
    assert [name.removeprefix("tiny-llama ") for name in names] == list(demo.DEMO_SYSTEMS)
    assert not session.items.filter(is_control=True).exists()
    assert session.items.count() == 6 and all(len(item.answers.all()) == 3 for item in session.items.all())
    assert session.assignments.values("system_a", "system_b").distinct().count() == 3  # every pair is shown
    seen = []
    while (assignment := next_assignment(session, bob)) is not None:
        seen.append(assignment.item_id)
        choice = ("left", "tie", "right")[len(seen) % 3]
        submit(assignment.token, bob, Submission(left_label="correct", right_label="incorrect", preference=choice))
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 6  # each question once
    ranked = session_ranking(session, n_boot=50)["ranking"]
    assert ranked["connected"] and [row["system"] for row in ranked["systems"]] == names


def test_clean_answer_keeps_the_first_line_without_a_prefix():
    assert demo.clean_answer("\n Answer: 1889\nMore text") == "1889"
    assert demo.clean_answer("   ") == "(no answer)"


@pytest.mark.django_db
def test_queueing_is_idempotent_and_waits_for_the_generator_conversion(alice):
    entry = ModelEntry.objects.create(
        name="gguf-gen", kind=ModelKind.GGUF, role=ModelRole.GENERATOR, is_default=True, path="/nonexistent.gguf"
    )
    conversion = create_job("convert_model", {"model_id": entry.pk}, user=alice)
    job = queue_demo(alice)
    assert job.kind == demo.JOB_KIND and list(job.depends_on.all()) == [conversion]
    assert queue_demo(alice).pk == job.pk
    assert Job.objects.filter(kind=demo.JOB_KIND).count() == 1


@pytest.mark.django_db
def test_the_judge_home_says_the_demo_is_being_prepared_and_what_it_waits_for(bob_client, alice):
    entry = ModelEntry.objects.create(
        name="gguf-gen", kind=ModelKind.GGUF, role=ModelRole.GENERATOR, is_default=True, path="/nonexistent.gguf"
    )
    create_job("convert_model", {"model_id": entry.pk}, user=alice, title="Convert gguf-gen")
    queue_demo(alice)
    html = bob_client.get(reverse("annotation:judge-home")).content.decode()
    assert "A demo session is being prepared</strong>, about" in html and "minutes" in html
    assert "gguf-gen" not in html  # judges never see model names (test_blindness covers every state)
    bob_client.force_login(alice)
    html = bob_client.get(reverse("annotation:judge-home")).content.decode()
    assert "Queued" in html and "Still being prepared first: Convert gguf-gen" in html


@pytest.mark.worker
@pytest.mark.slow
def test_a_real_worker_builds_the_demo_session_and_a_judge_can_start(worker, wait, alice, bob, client):
    load_demo_corpus()
    register_tiny_generator()
    job = queue_demo(alice)
    wait(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=180, what="the demo job")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error + job.log[-2000:]
    session = JudgingSession.objects.get(is_demo=True)
    assert job.result["session_id"] == session.pk
    assert session.items.count() == demo.DEMO_ITEMS and session.n_systems == 3
    assert not session.items.filter(is_control=True).exists()  # control items are for two-system sessions
    assert all(item.answer_a and item.answer_b and item.gold_answers for item in session.items.all())
    assert "zero-shot" in session.system_a and "one-shot" in session.system_b
    assert queue_demo(alice) is None  # ready: nothing more to queue
    client.force_login(bob)
    home = client.get(reverse("annotation:judge-home")).content.decode()
    assert session.name in home and "being prepared" not in home
    response = client.get(reverse("annotation:judge-next", args=[session.pk]))
    assert response.status_code == 302 and "/annotation/j/" in response["Location"]

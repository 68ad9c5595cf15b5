"""Script injection through everything users or models write: session instructions (Markdown), judges'
comments, passages, questions, model outputs (raw text, parsed pairs, predictions) and system names. Every
page that shows them (judge and staff pages, statistics with plots, the admin) renders them inert: no
script tag, no event handler attribute, no javascript: link survives, and the text itself is still shown
(escaped)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import Judgment
from annotation.services import assignment as assigning
from annotation.services import judging
from annotation.services.sessions import ItemData, create_session
from generation.models import Passage, ReferenceQA, SyntheticPair
from tests.generation.synth_helpers import FakeContext, endpoint_model, make_corpus
from tests.hardening.test_fuzz_model_outputs import ScriptedBackend
from tests.training.web_helpers import make_dataset, tiny_entry
from training.models import Prediction
from training.services.evaluation_runs import create_evaluation_run
from training.services.training_runs import create_training_run

pytestmark = pytest.mark.django_db

PAYLOAD = (
    '<script>alert("pwn")</script><img src=x onerror=alert(2)><svg onload=alert(3)>"><a href="javascript:alert(4)">'
    "x</a>"
)
MARKDOWN = f"Judge carefully.\n\n[click me](javascript:alert(5))\n\n{PAYLOAD}\n\n<iframe src=//evil.example></iframe>"
DANGER = [
    re.compile(r"<script\b[^>]*>[^<]*alert\(", re.I),  # an injected script (the app's own load from /static/)
    re.compile(r"<(img|svg|a|iframe)\b[^>]*\son\w+\s*=", re.I),
    re.compile(r"""href\s*=\s*["']?\s*javascript:""", re.I),
    re.compile(r"<iframe", re.I),
]
SHOWN = "&lt;script&gt;alert("  # the payload's text, escaped


def assert_inert(html: str, where: str, *, shown: bool = True) -> None:
    for pattern in DANGER:
        match = pattern.search(html)
        assert match is None, f"{where}: live markup {html[max(0, match.start() - 80) : match.end() + 80]!r}"
    if shown:
        assert SHOWN in html or "&lt;script&gt;" in html, f"{where}: the payload is not shown at all"


@pytest.fixture
def poisoned(alice, bob):
    session = create_session(
        name="Which answer is better?", system_a=f"sysA {PAYLOAD}", system_b=f"sysB {PAYLOAD}", judges_per_item=1,
        judges=[bob], instructions=MARKDOWN,
        items=[ItemData(question=f"Q {PAYLOAD}", context=f"Passage {PAYLOAD}", gold_answers=[f"gold {PAYLOAD}"],
                        answer_a=f"A {PAYLOAD}", answer_b=f"B {PAYLOAD}", external_id="x1")],
    )  # fmt: skip
    assignment = assigning.next_assignment(session, bob)
    judging.submit(
        assignment.token, bob,
        judging.Submission(left_label="correct", right_label="incorrect", preference="left", comment=f"note {PAYLOAD}"),
    )  # fmt: skip
    corpus = make_corpus("poisoned", passages=[f"The harbour {PAYLOAD} opened in 1901."], split="validation")
    passage = Passage.objects.get(corpus=corpus)
    ReferenceQA.objects.create(passage=passage, question=f"When {PAYLOAD}?", answers=[f"1901 {PAYLOAD}"])
    from generation.services.generation_runs import RunSettings, create_run, execute_run
    from generation.services.prompt_templates import default_template_for

    run = create_run(
        corpus, endpoint_model("http://127.0.0.1:9/v1"), default_template_for("en", 0),
        settings=RunSettings(pairs_per_passage=1), enqueue=False,
    )  # fmt: skip
    execute_run(run, FakeContext(), backend=ScriptedBackend([f"Q1: Who {PAYLOAD}?\nA1: harbour {PAYLOAD}"]))
    training = create_training_run(base_model=tiny_entry(), dataset=make_dataset(), enqueue=False, max_steps=1)
    evaluation = create_evaluation_run(corpus=corpus, training_run=training, split="validation", enqueue=False)
    Prediction.objects.create(
        evaluation_run=evaluation, item_index=0, context=passage.text, question=f"When {PAYLOAD}?",
        gold_answers=[f"1901 {PAYLOAD}"], prediction=f"pred {PAYLOAD}", raw_output=f"raw {PAYLOAD}",
    )  # fmt: skip
    return {
        "session": session, "token": assignment.token, "passage": passage, "run": run, "evaluation": evaluation,
        "pair": SyntheticPair.objects.get(run=run), "judgment": Judgment.objects.get(session=session),
    }  # fmt: skip


def test_what_a_judge_sees_is_inert(poisoned, bob):
    client = Client()
    client.force_login(bob)
    page = client.get(reverse("annotation:judge-item", args=[poisoned["token"]])).content.decode()
    assert_inert(page, "judge item page")
    assert "Judge carefully." in page  # the Markdown itself is rendered
    api = client.get(reverse("annotation:api-assignment", args=[poisoned["token"]]))
    assert_inert(api.json()["item"]["instructions_html"], "instructions in the judging API", shown=False)


def test_what_staff_see_is_inert(poisoned, alice_client):
    session, run, evaluation = poisoned["session"], poisoned["run"], poisoned["evaluation"]
    pages = {
        "session detail": reverse("annotation:session-detail", args=[session.pk]),
        "session statistics (plots)": reverse("analysis:session-stats", args=[session.pk]),
        "per-item table": reverse("analysis:session-item-table", args=[session.pk]),
        "passage": reverse("generation:passage-detail", args=[poisoned["passage"].pk]),
        "corpus": reverse("generation:corpus-detail", args=[poisoned["passage"].corpus_id]),
        "generation run (raw outputs and pairs)": reverse("generation:run-detail", args=[run.pk]),
        "pair edit": reverse("generation:pair-edit", args=[poisoned["pair"].pk]),
        "evaluation (predictions)": reverse("training:evaluation-detail", args=[evaluation.pk]),
        "admin: judgment": reverse("admin:annotation_judgment_change", args=[poisoned["judgment"].pk]),
        "admin: session": reverse("admin:annotation_judgingsession_change", args=[session.pk]),
        "admin: raw output list": reverse("admin:generation_rawoutput_changelist"),
    }
    shown = 0
    for where, url in pages.items():
        response = alice_client.get(url)
        assert response.status_code == 200, (where, response.status_code)
        html = response.content.decode()
        assert_inert(html, where, shown=False)
        shown += "&lt;script&gt;" in html
    assert shown >= 8, "too few pages show the (escaped) payload: the test would prove nothing"


@pytest.mark.parametrize("live", [PAYLOAD, "<img src=x onerror=alert(2)>", '<a href="javascript:alert(4)">x</a>'])
def test_the_check_itself_catches_live_markup(live):
    with pytest.raises(AssertionError):
        assert_inert(f"<p>{live}</p>", "a raw page", shown=False)

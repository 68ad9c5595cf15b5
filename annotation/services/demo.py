"""The demo judging session a fresh install offers: the default generator model answering 20 demo questions
zero-shot, one-shot, and zero-shot without the passage (closed-book), so a newcomer can judge within minutes
and read a three-way ranking (each page still shows two answers; balanced matchups, one pair per item).

`queue_demo_session` is what the first-run set-up calls, with the demo corpus's questions (judging does
not read corpora: the questions travel in the job's parameters); the job handler calls `build_demo_session`. The
prompting and decoding helpers take a plain model and tokenizer (no Django) and are tested on a tiny
random model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotation.models import JudgingSession, MatchupDesign
from annotation.services.sessions import ItemData, create_session
from core.models import FINISHED_STATUSES, Job, JobStatus, ModelEntry, ModelKind, ModelRole
from core.services.jobs import create_job

JOB_KIND = "annotation.demo_session"
DEMO_CORPUS_NAME = "Demo (English)"
DEMO_ITEMS = 20
DEMO_SYSTEMS = ("zero-shot", "one-shot", "zero-shot, no passage")
"""The three systems, all the default generator: the closed-book one shows what reading the passage adds, and
makes the ranking clear-cut. Control items are for two-system sessions only, so the demo has none."""
MAX_ANSWER_CHARS = 60  # short gold answers make quick, clear judgments
MAX_NEW_TOKENS = 24
BATCH_SIZE = 10

DEMO_INSTRUCTIONS = """\
Several systems answered each question; you see two answers at a time. **Judge each answer on its own**:

- **Correct**: answers the question as the passage states it (wording may differ).
- **Partially correct**: on the right track but incomplete, too long, or with an error.
- **Incorrect**: wrong, unrelated or empty.

Then say which answer is better, or *tie* if neither is. Use the keys shown under the form.
"""

SYSTEM_PROMPT = "Answer the question using only the passage. Reply with the shortest exact answer, no sentence."
CLOSED_BOOK_PROMPT = "Answer the question. Reply with the shortest exact answer, no sentence."
EXAMPLE = {
    "context": "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was completed in 1889 for the "
    "World's Fair and was designed by the company of the engineer Gustave Eiffel.",
    "question": "In which year was the Eiffel Tower completed?",
    "answer": "1889",
}


@dataclass
class DemoQuestion:
    context: str
    question: str
    gold_answers: list[str]
    external_id: str


def _user_turn(context: str, question: str) -> str:
    return f"Passage: {context}\n\nQuestion: {question}" if context else f"Question: {question}"


def messages_for(context: str, question: str, *, one_shot: bool, closed_book: bool = False) -> list[dict[str, str]]:
    """Chat messages for one question; one-shot adds a worked example before it; closed-book leaves the passage
    out (and the instruction to use it)."""
    if closed_book:
        return [
            {"role": "system", "content": CLOSED_BOOK_PROMPT},
            {"role": "user", "content": _user_turn("", question)},
        ]
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    if one_shot:
        messages += [
            {"role": "user", "content": _user_turn(EXAMPLE["context"], EXAMPLE["question"])},
            {"role": "assistant", "content": EXAMPLE["answer"]},
        ]
    messages.append({"role": "user", "content": _user_turn(context, question)})
    return messages


def prompt_text(tokenizer, context: str, question: str, *, one_shot: bool, closed_book: bool = False) -> str:
    """The chat template when the tokenizer has one, else a plain completion prompt."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            messages_for(context, question, one_shot=one_shot, closed_book=closed_book),
            tokenize=False,
            add_generation_prompt=True,
        )
    if closed_book:
        return f"{CLOSED_BOOK_PROMPT}\n\n{_user_turn('', question)}\nAnswer:"
    shot = f"{_user_turn(EXAMPLE['context'], EXAMPLE['question'])}\nAnswer: {EXAMPLE['answer']}\n\n" if one_shot else ""
    return f"{SYSTEM_PROMPT}\n\n{shot}{_user_turn(context, question)}\nAnswer:"


def clean_answer(text: str) -> str:
    """First non-empty line, without a leading 'Answer:' and trailing chatter; never empty."""
    for line in text.strip().splitlines():
        line = line.strip()
        if line.lower().startswith("answer:"):
            line = line[len("answer:") :].strip()
        if line:
            return line[:300]
    return "(no answer)"


def generate_answers(
    model,
    tokenizer,
    questions: Sequence[DemoQuestion],
    *,
    one_shot: bool,
    closed_book: bool = False,
    max_new_tokens: int = MAX_NEW_TOKENS,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int], None] = lambda done: None,
) -> list[str]:
    """Greedy, short answers, one per question, decoded in batches by the shared engine (decoding.engine)."""
    from decoding.engine import BatchDecoder, DecodeParams, DecoderOptions

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    prompts = [
        prompt_text(tokenizer, q.context, q.question, one_shot=one_shot, closed_book=closed_book) for q in questions
    ]
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    decoder = BatchDecoder(model, tokenizer, DecoderOptions.for_device(model, batch_size=batch_size))
    completions = decoder.decode(
        encoded, DecodeParams(max_new_tokens=max_new_tokens), on_batch=lambda batch: on_batch(batch.rows_done)
    )
    return [clean_answer(c.text) for c in completions]


def questions_from_params(params: dict) -> list[DemoQuestion]:
    """The questions a demo job was queued with (the first-run set-up picks them from the demo corpus)."""
    return [DemoQuestion(**question) for question in params.get("questions", [])]


# --- jobs ---------------------------------------------------------------------------------------------------


def demo_session() -> JudgingSession | None:
    return JudgingSession.objects.filter(is_demo=True).order_by("-created_at").first()


def active_demo_job() -> Job | None:
    return Job.objects.filter(kind=JOB_KIND).exclude(status__in=FINISHED_STATUSES).order_by("-pk").first()


def latest_demo_job() -> Job | None:
    return Job.objects.filter(kind=JOB_KIND).order_by("-pk").first()


def generator_entry() -> ModelEntry | None:
    from core.services.model_registry import default_model

    return default_model(ModelRole.GENERATOR, "en")


def _pending_conversion(entry: ModelEntry | None) -> Job | None:
    """The queued/running conversion of the generator, so the demo waits for it instead of failing."""
    if entry is None or entry.kind != ModelKind.GGUF:
        return None
    if entry.converted_path and (Path(entry.converted_path) / "config.json").exists():
        return None
    for job in Job.objects.filter(kind="convert_model").exclude(status__in=FINISHED_STATUSES).order_by("-pk"):
        if job.params.get("model_id") == entry.pk:
            return job
    return None


def queue_demo_session(
    user: User | None = None, *, questions: Sequence[DemoQuestion], depends_on: Sequence[Job] = ()
) -> Job | None:
    """Queue the demo-session job unless the demo session exists or a job is already on it (idempotent).

    Returns the job to wait for (new or already active), or None when the demo session is ready."""
    if demo_session() is not None:
        return None
    with transaction.atomic():
        existing = active_demo_job()
        if existing is not None:
            return existing
        gate = [job for job in depends_on if job is not None]
        conversion = _pending_conversion(generator_entry())
        if conversion is not None and conversion not in gate:
            gate.append(conversion)
        return create_job(
            JOB_KIND,
            {"items": len(questions), "questions": [asdict(question) for question in questions]},
            user=user,
            title="Prepare the demo judging session",
            depends_on=gate,
        )


TYPICAL_SECONDS = {"convert_model": 240, JOB_KIND: 150}
"""How long each step of preparing the demo usually takes on a 2-core CPU (first run, measured with the two
passage-reading systems; the closed-book pass has short prompts and is not re-measured), used for the judges'
"about N minutes" until a running job's own progress gives a better estimate."""


def _seconds_left(job: Job, now: datetime) -> float:
    typical = TYPICAL_SECONDS.get(job.kind, 120)
    if job.status != JobStatus.RUNNING or job.started_at is None:
        return typical
    elapsed = max(0.0, (now - job.started_at).total_seconds())
    fraction = job.fraction_done
    if fraction is not None and fraction >= 0.05:
        return elapsed * (1 - fraction) / fraction
    return max(typical - elapsed, 30.0)


def demo_status() -> dict | None:
    """What the judge's home says while the demo is prepared: the job, what it waits for and about how many
    minutes are left. Only staff see the job and its dependencies (their titles and progress name models,
    systems and server paths); judges see "being prepared, about N minutes" and nothing else."""
    job = active_demo_job()
    if job is None:
        last = latest_demo_job()
        if last is not None and last.status == JobStatus.FAILED and demo_session() is None:
            return {"job": last, "waiting_for": [], "failed": True, "minutes": None}
        return None
    waiting = [dep for dep in job.depends_on.all() if dep.status != JobStatus.SUCCEEDED]
    now = timezone.now()
    seconds = _seconds_left(job, now) + sum(_seconds_left(dep, now) for dep in waiting)
    return {"job": job, "waiting_for": waiting, "failed": False, "minutes": max(1, math.ceil(seconds / 60))}


def build_demo_session(
    *,
    questions: Sequence[DemoQuestion],
    job: Job | None = None,
    user: User | None = None,
    progress: Callable[[int, int, str], None] = lambda done, total, message: None,
    check_cancelled: Callable[[], None] = lambda: None,
) -> JudgingSession:
    """Answer the demo questions with the three systems and create the session (one transaction at the end)."""
    from core.services.model_registry import ModelUnavailable, load_causal_lm

    existing = JudgingSession.objects.filter(is_demo=True, source__job=job.pk).first() if job else None
    if existing is not None:  # a retried job whose first attempt got this far
        return existing
    if not questions:
        raise DemoError(
            f"The demo job has no questions (the demo corpus {DEMO_CORPUS_NAME!r} was not loaded, or has no "
            "short answers); run `manage.py bootstrap` again."
        )
    entry = generator_entry()
    if entry is None:
        raise DemoError("No default generator model is registered; run `manage.py bootstrap` first.")
    total = len(DEMO_SYSTEMS) * len(questions)
    progress(0, total, f"loading {entry.name}")
    try:
        model, tokenizer = load_causal_lm(entry)
    except ModelUnavailable as exc:
        raise DemoError(str(exc)) from exc
    check_cancelled()

    def report(offset: int, label: str) -> Callable[[int], None]:
        def on_batch(done: int) -> None:
            progress(offset + done, total, f"{label}: {done} of {len(questions)} answers")
            check_cancelled()

        return on_batch

    n = len(questions)
    zero = generate_answers(model, tokenizer, questions, one_shot=False, on_batch=report(0, DEMO_SYSTEMS[0]))
    one = generate_answers(model, tokenizer, questions, one_shot=True, on_batch=report(n, DEMO_SYSTEMS[1]))
    closed = generate_answers(
        model, tokenizer, questions, one_shot=False, closed_book=True, on_batch=report(2 * n, DEMO_SYSTEMS[2])
    )
    items = [
        ItemData.from_answers(
            q.question, answers, context=q.context, gold_answers=q.gold_answers, external_id=q.external_id
        )
        for q, *answers in zip(questions, zero, one, closed, strict=True)
    ]
    names = [f"{entry.name} {system}" for system in DEMO_SYSTEMS]
    with transaction.atomic():
        session = create_session(
            name="Demo: which answer is better?",
            system_a=names[0],
            system_b=names[1],
            more_systems=names[2:],
            items=items,
            judges_per_item=2,
            open_to_all_judges=True,
            created_by=user,
            instructions=DEMO_INSTRUCTIONS,
            show_gold=False,
            # Balanced, one pair per item: a judge still judges each question once (20 pages), and every
            # pair of systems is shown on a third of the items, enough for a first ranking with intervals.
            matchup_design=MatchupDesign.BALANCED,
            pairs_per_item=1,
            source={
                "kind": "demo",
                "job": job.pk if job else None,
                "corpus": DEMO_CORPUS_NAME,
                "model": entry.name,
                "max_new_tokens": MAX_NEW_TOKENS,
            },
            is_demo=True,
        )
    progress(total, total, f"demo session ready: {session.items.count()} items")
    return session


class DemoError(Exception):
    """The demo cannot be prepared; the message says what to do."""

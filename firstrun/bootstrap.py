"""First-run set-up shared by `./run` and tests: roles, demo users, default models, demo data, first jobs.

It lives at the top of the project (the ``firstrun`` app) because it uses every app: core's models and
jobs, generation's demo corpus and prompt templates, annotation's demo session. No app imports it.

Running it again changes nothing that exists: passwords are generated once and kept (mode 600) in the
data dir so the run command can print them every time.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction

from annotation.services import demo
from core.models import FINISHED_STATUSES, Job, ModelEntry, ModelKind
from core.permissions import JUDGES_GROUP
from core.services import jobs, model_registry
from generation.models import ReferenceQA
from generation.services.demo_corpus import load_demo_corpus
from generation.services.prompt_templates import seed_default_templates

DEMO_USERS = [("admin", True), ("judge1", False), ("judge2", False)]


def credentials_file() -> Path:
    return Path(settings.DATA_DIR) / "demo-credentials.json"


def ensure_demo_users() -> dict[str, str]:
    """Create the demo admin and judges with generated passwords; return {username: password}."""
    path = credentials_file()
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    judges, _ = Group.objects.get_or_create(name=JUDGES_GROUP)
    for username, staff in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None or username not in known:
            password = secrets.token_urlsafe(9)
            if user is None:
                user = User.objects.create_user(username=username, password=password, is_staff=staff)
                user.is_superuser = staff
                user.save(update_fields=["is_superuser"])
            else:
                user.set_password(password)
                user.save(update_fields=["password"])
            known[username] = password
        if not staff:
            user.groups.add(judges)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(known, handle)
    return known


def _active_job(kind: str, **params) -> Job | None:
    for job in Job.objects.filter(kind=kind).exclude(status__in=[*FINISHED_STATUSES]).order_by("-pk"):
        if all(job.params.get(k) == v for k, v in params.items()):
            return job
    return None


def queue_conversion(entry: ModelEntry, *, depends_on: list[Job] | None = None, user=None) -> Job | None:
    """Queue a GGUF conversion unless it is done or already queued; returns the job to wait for."""
    if entry.kind != ModelKind.GGUF:
        return None
    if entry.converted_path and (Path(entry.converted_path) / "config.json").exists():
        return None
    existing = _active_job("convert_model", model_id=entry.pk)
    if existing:
        return existing
    return jobs.create_job(
        "convert_model", {"model_id": entry.pk}, user=user, title=f"Convert {entry.name}", depends_on=depends_on or []
    )


def run_bootstrap(*, with_jobs: bool = True) -> dict:
    """Everything the run command needs before the first page loads; cheap when repeated."""
    summary: dict = {}
    with transaction.atomic():
        summary["credentials"] = ensure_demo_users()
        model_registry.ensure_default_models()
        summary["demo_corpus"] = load_demo_corpus()
        summary["prompt_templates"] = seed_default_templates()
    if not with_jobs:
        return summary
    admin = User.objects.get(username="admin")
    with transaction.atomic():
        smol = ModelEntry.objects.get(name=model_registry.SMOLLM2_NAME)
        smol_job = queue_conversion(smol, user=admin)
        gate = [smol_job] if smol_job else []
        demo_job = queue_demo(admin, depends_on=gate)
        gemma = ModelEntry.objects.get(name=model_registry.GEMMA_NAME)
        # Slow Japanese-model work waits for the judging demo so a newcomer can judge within minutes.
        queue_conversion(gemma, depends_on=[demo_job] if demo_job else gate, user=admin)
    summary["jobs"] = list(Job.objects.exclude(status__in=[*FINISHED_STATUSES]).values_list("pk", "title"))
    return summary


def demo_questions(limit: int = demo.DEMO_ITEMS) -> list[demo.DemoQuestion]:
    """One short-answer reference question per demo passage, shortest passages first: reading the passage
    (the prompt) is most of the generation time on a CPU, and short items are quick to judge."""
    chosen: list[demo.DemoQuestion] = []
    seen_passages: set[int] = set()
    pairs = ReferenceQA.objects.filter(passage__corpus__name=demo.DEMO_CORPUS_NAME).select_related("passage")
    for pair in sorted(pairs, key=lambda pair: (len(pair.passage.text), pair.passage_id, pair.pk)):
        if pair.passage_id in seen_passages or not pair.answers or len(pair.answers[0]) > demo.MAX_ANSWER_CHARS:
            continue
        seen_passages.add(pair.passage_id)
        chosen.append(
            demo.DemoQuestion(
                context=pair.passage.text,
                question=pair.question,
                gold_answers=list(pair.answers),
                external_id=f"demo-{pair.passage.external_id or pair.passage_id}-{pair.pk}",
            )
        )
        if len(chosen) >= limit:
            break
    return chosen


def queue_demo(user: User | None = None, *, depends_on: list[Job | None] | tuple = ()) -> Job | None:
    """Queue the demo judging session with the demo corpus's questions (see annotation.services.demo)."""
    if demo.demo_session() is not None:
        return None
    return demo.queue_demo_session(user, questions=demo_questions(), depends_on=depends_on)

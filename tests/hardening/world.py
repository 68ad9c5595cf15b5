"""A small world with one row of everything a URL can point at, for the access tests that walk every URL.

Names that must never reach a judge (systems, models, runs, the other judge) are collected in `secrets`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.models import User
from django.urls import URLPattern, URLResolver, get_resolver

from annotation.models import JudgingSession
from annotation.services import assignment as assigning
from annotation.services import invitations, judging
from core.models import Job, ModelEntry, ModelKind, ModelRole
from generation.models import Passage, SyntheticPair
from generation.services.imports import ImportOptions, StoredFile, create_import
from tests.annotation.helpers import SYSTEM_A, SYSTEM_B, answer, make_session
from tests.generation.synth_helpers import finished_run, make_corpus
from tests.training.web_helpers import make_dataset, make_eval_corpus
from training.models import Experiment
from training.services.evaluation_runs import create_evaluation_run
from training.services.training_runs import create_training_run


@dataclass
class World:
    objects: dict[str, object]
    session: JudgingSession  # bob judges here (with carol)
    other_session: JudgingSession  # only carol judges here
    bob_token: str
    carol_token: str
    secrets: list[str] = field(default_factory=list)


def build_world(bob: User, carol: User) -> World:
    corpus = make_corpus("secret-corpus-zeta", passages=["The quay was rebuilt in 1901 after the storm."])
    run = finished_run(corpus, name="secret-generation-run-omega")
    qa_base = ModelEntry.objects.create(
        name="secret-qa-base-model", kind=ModelKind.HF, role=ModelRole.QA_BASE, path="/nonexistent/secret-qa-base"
    )
    dataset = make_dataset("secret-dataset-kappa")
    training = create_training_run(
        base_model=qa_base, dataset=dataset, name="secret-training-run-sigma", enqueue=False, max_steps=2
    )
    evaluation = create_evaluation_run(
        corpus=make_eval_corpus("secret-eval-corpus"), training_run=training, name="secret-eval-run-tau", enqueue=False
    )
    experiment = Experiment.objects.create(name="secret-experiment-rho", corpus=corpus, qa_base=qa_base)
    imp = create_import(
        corpus, StoredFile(Path("/nonexistent/x.jsonl"), "x.jsonl", 1, ""), ImportOptions(format="jsonl")
    )
    session = make_session(n=3, k=2, judges=[bob, carol])
    other = make_session(n=2, k=1, judges=[carol], name="carol only")
    bob_assignment = assigning.next_assignment(session, bob)
    carol_assignment = assigning.next_assignment(session, carol)
    judging.submit(carol_assignment.token, carol, answer(comment="carol-private-comment-xyz"))
    carol_assignment = assigning.next_assignment(session, carol)  # one judged, one in hand
    invitation = invitations.create_link(session, "open", platform="prolific", label="secret-link-note-psi")
    llm_run = _llm_judge_run(session)
    objects = {
        "corpus": corpus, "passage": Passage.objects.filter(corpus=corpus).first(), "import": imp,
        "generation_run": run, "pair": SyntheticPair.objects.filter(run=run).first(), "dataset": dataset,
        "training_run": training, "evaluation_run": evaluation, "experiment": experiment, "session": session,
        "job": Job.objects.filter(pk=run.job_id).first(), "model": qa_base, "invitation": invitation,
        "llm_run": llm_run,
    }  # fmt: skip
    secrets = [
        SYSTEM_A, SYSTEM_B, "zeroshot", "oneshot", "secret-", "carol-private-comment-xyz", "canned-endpoint",
        qa_base.path, "system_a", "system_b", "LLMVERDICT",
    ]  # fmt: skip
    return World(objects, session, other, bob_assignment.token, carol_assignment.token, secrets)


def _llm_judge_run(session: JudgingSession):
    """An LLM judging run with a stored vote and verdict per item (raw text marked) on bob's session."""
    from analysis.models import LLMVerdict, LLMVote
    from analysis.services.llm_judging import create_run

    model = ModelEntry.objects.create(
        name="secret-llm-judge", kind=ModelKind.OPENAI, role=ModelRole.GENERATOR,
        base_url="http://127.0.0.1:9/v1", api_model="secret-llm-judge-model",
    )  # fmt: skip
    run = create_run(session, model, enqueue=False)
    for item in run.selection():
        for order in ("ab", "ba"):
            raw = '{"answer_1": "correct", "answer_2": "incorrect", "preference": "1"} LLMVERDICT'
            LLMVote.objects.create(run=run, item=item, order=order, vote=0, raw=raw, complete=True,
                                   label_1="correct", label_2="incorrect", preference="1")  # fmt: skip
        LLMVerdict.objects.create(run=run, item=item, label_a="correct", label_b="incorrect", preference="tie",
                                  status="inconsistent", order_preferences=["a", "b"])  # fmt: skip
    return run


# --- the URL map -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str | None  # "namespace:name"
    route: str  # the pattern text, for messages
    kwargs: tuple[str, ...]  # names of the captured values


def all_routes() -> list[Route]:
    """Every pattern of the URLconf, recursively (django.urls.get_resolver)."""

    def walk(resolver: URLResolver, prefix: str, namespace: str):
        for pattern in resolver.url_patterns:
            text = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
                yield from walk(pattern, text, inner)
            elif isinstance(pattern, URLPattern):
                names = tuple(pattern.pattern.regex.groupindex)
                yield Route(f"{namespace}{pattern.name}" if pattern.name else None, text, names)

    return list(walk(get_resolver(), "/", ""))


ADMIN_MODELS = {
    "generation_corpus": "corpus", "generation_passage": "passage", "generation_import": "import",
    "generation_generationrun": "generation_run", "generation_syntheticpair": "pair", "generation_qadataset": "dataset",
    "training_trainingrun": "training_run", "training_evaluationrun": "evaluation_run",
    "training_experiment": "experiment", "annotation_judgingsession": "session", "core_job": "job",
    "core_modelentry": "model",
}  # fmt: skip
PK_BY_NAME = [
    ("corpus", "corpus"), ("passage", "passage"), ("import", "import"), ("pair", "pair"), ("dataset", "dataset"),
    ("experiment", "experiment"), ("evaluation", "evaluation_run"), ("generation:run", "generation_run"),
    ("training:run", "training_run"), ("annotation:", "session"), ("analysis:session", "session"),
    ("api:session", "session"), ("job", "job"), ("analysis:llm-run", "llm_run"), ("analysis:", "session"),
]  # fmt: skip


def kwargs_for(route: Route, world: World, *, own_token: bool = True) -> dict[str, str]:
    """Real values for a route's captured names: the ids of the world's rows, bob's (or carol's) token."""
    name = route.name or ""
    values: dict[str, str] = {}
    for key in route.kwargs:
        if key == "token":
            values[key] = world.bob_token if own_token else world.carol_token
        elif key == "fmt":
            values[key] = "jsonl" if name.startswith("generation:") else "csv"
        elif key == "link":
            values[key] = str(world.objects["invitation"].pk)
        elif key == "table":
            values[key] = "judgments"
        elif key == "app_label":
            values[key] = "generation"
        elif key in ("object_id", "id"):
            admin_model = next((m for m in ADMIN_MODELS if name.startswith(f"admin:{m}_")), None)
            values[key] = str(world.objects[ADMIN_MODELS[admin_model]].pk) if admin_model else "1"
        elif key == "content_type_id":
            from django.contrib.contenttypes.models import ContentType

            values[key] = str(ContentType.objects.get_for_model(JudgingSession).pk)
        elif key == "pk":
            if name in ("analysis:experiment-stats", "analysis:session-from-experiment"):
                values[key] = str(world.objects["experiment"].pk)
            else:
                target = next((obj for part, obj in PK_BY_NAME if part in name), None)
                if target is None:
                    raise LookupError(f"the access test has no row for {name or route.route}: add it to PK_BY_NAME")
                values[key] = str(world.objects[target].pk)
        else:
            raise LookupError(f"the access test cannot fill <{key}> in {name or route.route}")
    return values


def url_for(route: Route, world: World, **options) -> str | None:
    """The concrete URL, or None for an unnamed pattern (Django's admin redirects, reached through named ones)."""
    from django.urls import reverse

    if route.name is None:
        return None
    return reverse(route.name, kwargs=kwargs_for(route, world, **options))

"""LLM judging runs: create one (frozen items, template, labels, settings), execute it chunk by chunk,
resumably, and read its verdicts back as arrays for the statistics.

Resuming is a property of the rows: a vote is done when the run has an ``LLMVote`` for its (item, order,
vote), a unique constraint; each chunk's votes are written in one short transaction. A cancelled, crashed
or SIGKILLed worker therefore loses at most the chunk it was generating, and the retried job asks the model
only for the votes still missing. After the last chunk the final verdicts are rebuilt from all votes.

LLM rows never touch ``annotation`` tables: human statistics, exports, k and judge pages read
``Judgment`` rows only, so an LLM cannot count as a human judge anywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from django.db import IntegrityError, transaction

from analysis.engine.choice import margin_summary
from analysis.engine.parsing import ParsedVerdict
from analysis.engine.runner import VERDICT_MODES, LLMJudge, check_votes
from analysis.engine.templates import (
    DEFAULT_TEMPLATES,
    JudgePair,
    JudgeTemplate,
    as_messages,
    chat_renderer,
    default_template,
    judge_labels,
    plain_renderer,
)
from analysis.engine.verdicts import RULES, Vote, aggregate, run_summary
from analysis.models import JudgingTemplate, LLMJudgeRun, LLMVerdict, LLMVote
from analysis.services import statistics
from analysis.services.pseudonyms import display_names
from analysis.stats.llm_agreement import compute_llm_agreement
from annotation.models import JudgingSession
from annotation.services.sessions import ItemData, create_session
from core.models import ModelEntry, ModelKind, ModelRole
from core.permissions import recorded_user
from core.services import model_registry
from core.services.jobs import JobError, create_job
from core.services.text import storable_text
from decoding.lazy import choice_scorer
from generation.engine.base import SamplingParams
from generation.engine.lazy import local_generator
from generation.engine.openai_client import EndpointConfig, EndpointError, OpenAIEndpointGenerator
from generation.run_settings import DecodingSettings

JOB_KIND = "analysis.llm_judge"
JSON_PREFIX = '{"answer_1": "'
"""Prefilled start of a local model's reply: SmolLM2-135M answers the question instead of judging unless
its reply already starts the verdict object (phase-1 measurement: 0/32 outputs followed the format)."""


class RunSetupError(ValueError):
    pass


class Reporter(Protocol):
    def progress(self, done: int | None = None, total: int | None = None, message: str | None = None, **data): ...

    def check_cancelled(self) -> None: ...

    def log(self, line: str) -> None: ...


@dataclass(frozen=True)
class JudgeSettings(DecodingSettings):
    """An LLM judging run's settings: the decoding every model run shares (a verdict is short, hence fewer new
    tokens by default), plus votes, prompt form and verdict mode."""

    max_new_tokens: int = 48
    votes: int = 1
    prompt_mode: str = "chat"
    response_prefix: str | None = None  # None: JSON_PREFIX for local models, none for endpoints
    verdict_mode: str = "generate"  # or "choice" (local models, one vote): see analysis/engine/choice.py

    def errors(self) -> list[str]:
        problems = []
        try:
            check_votes(self.votes, SamplingParams(temperature=max(self.temperature, 0.0)))
        except ValueError as exc:
            problems.append(str(exc))
        problems += self.decoding_errors()
        if self.prompt_mode not in ("chat", "plain"):
            problems.append(f"prompt mode must be 'chat' or 'plain', got {self.prompt_mode!r}")
        if self.verdict_mode not in VERDICT_MODES:
            problems.append(f"verdict mode must be 'generate' or 'choice', got {self.verdict_mode!r}")
        elif self.verdict_mode == "choice" and self.votes != 1:
            problems.append("choice mode is deterministic: it takes one vote per order")
        return problems


def session_language(session: JudgingSession) -> str:
    """Sessions have no language field; Japanese text in the items picks the Japanese template."""
    item = session.items.filter(is_control=False).only("question").first()
    text = item.question if item else ""
    return "ja" if any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text) else "en"


def default_judge_model(session: JudgingSession) -> ModelEntry | None:
    """The default generator for the session's language (SmolLM2 in the demo): what one click uses."""
    language = session_language(session)
    return model_registry.default_model(ModelRole.GENERATOR, language) or model_registry.default_model(
        ModelRole.GENERATOR
    )


def template_choices() -> list[tuple[str, str]]:
    """(name, description) of every judging template a run can use: the shipped defaults, then the edited ones."""
    shipped = [(name, f"{name} (shipped, {t.language})") for name, t in DEFAULT_TEMPLATES.items()]
    edited = [(t.name, f"{t.name} ({t.language})") for t in JudgingTemplate.objects.order_by("language", "name")]
    return shipped + edited


def template_named(name: str) -> JudgeTemplate:
    """A shipped default or an edited template by name (the run stores a copy of it)."""
    if name in DEFAULT_TEMPLATES:
        return DEFAULT_TEMPLATES[name]
    entry = JudgingTemplate.objects.filter(name=name).first()
    if entry is None:
        raise RunSetupError(f"there is no judging template named {name!r}")
    return entry.as_engine()


def default_verdict_mode(judge_model: ModelEntry) -> str:
    """ "choice" for local models (a small one cannot write the verdict format, but can rank the options),
    "generate" for endpoints (choice needs the model's log-likelihoods, which a chat endpoint does not give)."""
    return "generate" if judge_model.kind == ModelKind.OPENAI else "choice"


def create_run(
    session: JudgingSession,
    judge_model: ModelEntry,
    *,
    template: JudgeTemplate | None = None,
    settings: JudgeSettings = JudgeSettings(),
    user=None,
    enqueue: bool = True,
) -> LLMJudgeRun:
    """Create a run and its queued job (queue "gpu"); the job is published when the caller commits."""
    problems = settings.errors()
    if problems:
        raise RunSetupError("; ".join(problems))
    if judge_model.kind not in (ModelKind.HF, ModelKind.GGUF, ModelKind.OPENAI):
        raise RunSetupError(f"model {judge_model.name!r} has kind {judge_model.kind!r}, which cannot judge")
    if judge_model.kind == ModelKind.OPENAI and settings.verdict_mode == "choice":
        raise RunSetupError(
            f"model {judge_model.name!r} is an endpoint: choice mode scores options with a local model's "
            "log-likelihoods; use verdict mode 'generate' for endpoints"
        )
    if judge_model.kind == ModelKind.OPENAI:
        try:
            model_registry.validate_endpoint(judge_model)
        except model_registry.ModelUnavailable as exc:
            raise RunSetupError(str(exc)) from None
    template = template or default_template(session_language(session))
    template_problems = template.errors()
    if template_problems:
        raise RunSetupError(f"judging template {template.name!r}: " + "; ".join(template_problems))
    try:
        judge_labels(session.accuracy_labels, template.language)
    except ValueError as exc:
        raise RunSetupError(f"session {session.name!r}: {exc}") from None
    items = session.items.filter(is_control=False).order_by("pk")
    last = items.values_list("pk", flat=True).last()
    if last is None:
        raise RunSetupError(f"session {session.name!r} has no items to judge")
    prefix = settings.response_prefix
    if prefix is None:
        prefix = "" if judge_model.kind == ModelKind.OPENAI else JSON_PREFIX
    if settings.verdict_mode == "choice":
        prefix = JSON_PREFIX  # the choice chain always starts the verdict object (engine/choice.py)
    with transaction.atomic():
        title = f"LLM judge {judge_model.name} on {session.name}"
        job = create_job(JOB_KIND, {}, user=user, title=title, enqueue=enqueue)
        run = LLMJudgeRun.objects.create(
            job=job,
            session=session,
            judge_model=judge_model,
            template_snapshot=template.to_dict(),
            labels_snapshot=list(session.accuracy_labels),
            max_item_id=last,
            items_total=items.count(),
            votes=settings.votes,
            prompt_mode=settings.prompt_mode,
            verdict_mode=settings.verdict_mode,
            response_prefix=prefix,
            temperature=settings.temperature,
            top_p=settings.top_p,
            max_new_tokens=settings.max_new_tokens,
            seed=settings.seed,
            batch_size=settings.batch_size,
            concurrency=settings.concurrency,
            created_by=recorded_user(user),
        )
        job.params = {"run_id": run.pk}
        job.save(update_fields=["params"])
    return run


# ------------------------------------------------------------------------------------------ executing


def _pairs(run: LLMJudgeRun) -> list[JudgePair]:
    return [
        JudgePair(
            key=item.pk,
            question=item.question,
            answer_a=item.answer_a,
            answer_b=item.answer_b,
            passage=item.context,
            gold_answers=tuple(str(g) for g in (item.gold_answers or [])),
        )
        for item in run.selection().only("pk", "question", "answer_a", "answer_b", "context", "gold_answers")
    ]


def make_judge(run: LLMJudgeRun, reporter: Reporter) -> tuple[LLMJudge, Any]:
    """The engine judge for the run's model: local (batched decoding, or batched likelihood scoring in choice
    mode) or an endpoint (concurrent requests)."""
    entry = run.judge_model
    chooser = None
    generator: Any
    template = JudgeTemplate.from_dict(run.template_snapshot)
    labels = judge_labels(run.labels_snapshot, template.language)
    params = SamplingParams(
        max_new_tokens=run.max_new_tokens, temperature=run.temperature, top_p=run.top_p, seed=run.seed
    )
    try:
        model_registry.validate(entry)
        if entry.kind == ModelKind.OPENAI:
            plain = run.prompt_mode == "plain"
            generator = OpenAIEndpointGenerator(
                EndpointConfig(
                    base_url=entry.base_url,
                    model=entry.api_model,
                    api_key=model_registry.api_key(entry),
                    mode="completions" if plain else "chat",
                    concurrency=run.concurrency,
                )
            )
            render = plain_renderer(template.plain_cue) if plain else as_messages
            chunk = max(run.batch_size, 4 * run.concurrency)
            closer = generator.close
        else:
            if entry.kind == ModelKind.GGUF and not entry.converted_path:
                reporter.log(f"converting {entry.name} from GGUF once (later runs reuse the directory)")
                model_registry.convert_entry(entry, progress=reporter.log)
                entry.refresh_from_db()
            model, tokenizer = model_registry.load_causal_lm(entry)
            if run.prompt_mode == "plain" or not getattr(tokenizer, "chat_template", None):
                render = plain_renderer(template.plain_cue)
            else:
                render = chat_renderer(tokenizer)
            # Both constructors import torch on first use: the web process that imports this module never does.
            if run.verdict_mode == "choice":
                generator, chooser = None, choice_scorer(model, tokenizer, batch_size=run.batch_size)
            else:
                generator = local_generator(model, tokenizer, batch_size=run.batch_size)
            chunk = run.batch_size
            closer = None
    except model_registry.ModelUnavailable as exc:
        raise JobError(str(exc)) from exc
    judge = LLMJudge(
        generator,
        template,
        labels,
        params=params,
        votes=run.votes,
        render=render,
        chunk_size=chunk,
        response_prefix="" if chooser is not None else run.response_prefix,
        chooser=chooser,
    )
    return judge, closer


def _vote_row(run: LLMJudgeRun, vote: Vote) -> LLMVote:
    parsed = vote.parsed
    return LLMVote(
        run=run,
        item_id=vote.pair_key,
        order=vote.order,
        vote=vote.vote,
        raw=storable_text(vote.raw),
        finish_reason=(vote.finish_reason or "")[:32],
        prompt_tokens=vote.prompt_tokens,
        completion_tokens=vote.completion_tokens,
        label_1=parsed.label_1 or "",
        label_2=parsed.label_2 or "",
        preference=parsed.preference or "",
        parse_method=parsed.method or "",
        parse_problems=list(parsed.problems),
        complete=parsed.complete,
    )


def store_votes(run: LLMJudgeRun, votes: list[Vote]) -> int:
    """One transaction per chunk; a vote another worker already stored is skipped (never stored twice)."""
    rows = [_vote_row(run, v) for v in votes]
    try:
        with transaction.atomic():
            LLMVote.objects.bulk_create(rows)
        return len(rows)
    except IntegrityError:
        done = set(LLMVote.objects.filter(run=run).values_list("item_id", "order", "vote"))
        fresh = [r for r in rows if (r.item_id, r.order, r.vote) not in done]
        with transaction.atomic():
            LLMVote.objects.bulk_create(fresh, ignore_conflicts=True)
        return len(fresh)


def stored_votes(run: LLMJudgeRun) -> list[Vote]:
    return [
        Vote(
            pair_key=row.item_id,
            order=row.order,  # type: ignore[arg-type]
            vote=row.vote,
            raw=row.raw,
            parsed=ParsedVerdict(
                label_1=row.label_1 or None,
                label_2=row.label_2 or None,
                preference=row.preference or None,  # type: ignore[arg-type]
                method=row.parse_method or None,  # type: ignore[arg-type]
                problems=tuple(row.parse_problems),
            ),
            finish_reason=row.finish_reason,
        )
        for row in LLMVote.objects.filter(run=run).order_by("pk")
    ]


def rebuild_verdicts(run: LLMJudgeRun) -> dict[str, Any]:
    """Final verdicts from every stored vote (one transaction), and the run's summary."""
    item_ids = list(run.selection().values_list("pk", flat=True))
    verdicts = aggregate(stored_votes(run), item_ids)
    rows = []
    for item_id, v in verdicts.items():
        ab_pref = v.orders["ab"].in_systems()[2]
        ba_pref = v.orders["ba"].in_systems()[2]
        rows.append(
            LLMVerdict(
                run=run,
                item_id=item_id,
                label_a=v.label_a or "",
                label_b=v.label_b or "",
                preference=v.preference or "",
                status=v.status,
                labels_consistent=list(v.labels_consistent),
                confidence=v.confidence,
                order_preferences=[ab_pref, ba_pref],
            )
        )
    summary = run_summary(verdicts.values())
    summary["verdict_mode"] = run.verdict_mode
    if run.verdict_mode == "choice":
        summary["choice_margins"] = margin_summary(LLMVote.objects.filter(run=run).values_list("raw", flat=True))
    with transaction.atomic():
        LLMVerdict.objects.filter(run=run).delete()
        LLMVerdict.objects.bulk_create(rows)
        run.summary = summary
        run.save(update_fields=["summary"])
    return summary


def execute_run(run: LLMJudgeRun, reporter: Reporter, *, judge: LLMJudge | None = None) -> dict[str, Any]:
    """Judge every (item, order, vote) of the run not stored yet, then rebuild the verdicts. Call again to resume."""
    run = LLMJudgeRun.objects.select_related("session", "judge_model").get(pk=run.pk)
    pairs = _pairs(run)
    total = len(pairs) * 2 * run.votes
    done = set(LLMVote.objects.filter(run=run).values_list("item_id", "order", "vote"))
    reporter.progress(len(done), total, f"{len(done)} of {total} outputs done; loading {run.judge_model.name}")
    if done:
        reporter.log(f"resuming: {len(done)} of {total} outputs already stored")
    closer = None
    if len(done) < total:
        if judge is None:
            judge, closer = make_judge(run, reporter)
        started = time.monotonic()
        stored = 0

        def on_votes(votes: list[Vote]) -> None:
            nonlocal stored
            stored += store_votes(run, votes)
            n = len(done) + stored
            rate = stored / max(time.monotonic() - started, 1e-6)
            reporter.progress(n, total, f"{n} of {total} outputs", outputs_per_s=round(rate, 3))
            reporter.check_cancelled()

        def progress(n_done: int, n_total: int) -> None:
            reporter.progress(n_done, n_total, f"{n_done} of {n_total} outputs")

        try:
            judge.run(pairs, done=done, on_votes=on_votes, progress=progress)
        except EndpointError as exc:
            raise JobError(f"judging failed: {exc}") from exc
        finally:
            if closer is not None:
                closer()
    summary = rebuild_verdicts(run)
    reporter.progress(total, total, f"done: {summary['n_unparseable']} of {summary['n_outputs']} outputs unparseable")
    return {"run_id": run.pk, **summary}


# ------------------------------------------------------------------------------------------ reading


def verdict_rows(run: LLMJudgeRun) -> dict[int, LLMVerdict]:
    return {v.item_id: v for v in LLMVerdict.objects.filter(run=run)}


PREF_CODES = {"a": 0, "tie": 1, "b": 2}


def llm_arrays(run: LLMJudgeRun, item_ids: np.ndarray, codes: dict[str, int]) -> dict[str, np.ndarray]:
    """The run's final verdicts over ``item_ids`` as engine codes (-1 where it has none)."""
    verdicts = verdict_rows(run)
    n = len(item_ids)
    out = {
        "llm_labels_a": np.full(n, -1, dtype=np.int64),
        "llm_labels_b": np.full(n, -1, dtype=np.int64),
        "llm_preference": np.full(n, -1, dtype=np.int64),
        "llm_order_preferences": np.full((n, 2), -1, dtype=np.int64),
    }
    for i, item_id in enumerate(item_ids.tolist()):
        v = verdicts.get(item_id)
        if v is None:
            continue
        out["llm_labels_a"][i] = codes.get(v.label_a, -1)
        out["llm_labels_b"][i] = codes.get(v.label_b, -1)
        out["llm_preference"][i] = PREF_CODES.get(v.preference, -1)
        for k, pref in enumerate(v.order_preferences[:2]):
            out["llm_order_preferences"][i, k] = PREF_CODES.get(pref, -1) if pref else -1
    return out


def unsure_item_ids(run: LLMJudgeRun, *, min_confidence: float = 1.0) -> list[int]:
    """Items the run left unsure (cheap-first): preference not order-consistent, a label that flipped with
    the order or is missing, or a majority share below ``min_confidence`` (with several votes)."""
    out = []
    for v in LLMVerdict.objects.filter(run=run).order_by("item_id"):
        unsure = v.status != "consistent" or not v.label_a or not v.label_b
        if v.confidence is not None and v.confidence < min_confidence:
            unsure = True
        if unsure:
            out.append(v.item_id)
    return out


def run_rules() -> tuple[str, ...]:
    return RULES


def agreement(run: LLMJudgeRun, *, n_boot: int = 2_000, seed: int = 0, confidence: float = 0.95) -> dict[str, Any]:
    """The run's verdicts against the session's human judgments (statistics engine ``llm_agreement``).

    Human arrays come from the same loader as every human figure; the LLM's come from ``LLMVerdict`` only
    and enter the engine as separate inputs, so the LLM is never a column among the human judges."""
    session = run.session
    data = statistics.load_session_data(session)
    main = ~data.control
    item_ids = data.item_ids[main]
    llm = llm_arrays(run, item_ids, statistics.label_codes(session))
    texts = dict(session.items.filter(pk__in=item_ids.tolist()).values_list("pk", "answer_a"))
    texts_b = dict(session.items.filter(pk__in=item_ids.tolist()).values_list("pk", "answer_b"))
    result = compute_llm_agreement(
        data.labels_a[main],
        data.labels_b[main],
        llm["llm_labels_a"],
        llm["llm_labels_b"],
        preference=data.preference[main],
        llm_preference=llm["llm_preference"],
        llm_order_preferences=llm["llm_order_preferences"],
        length_a=np.array([len(texts[i]) for i in item_ids.tolist()], dtype=float),
        length_b=np.array([len(texts_b[i]) for i in item_ids.tolist()], dtype=float),
        judge_ids=data.judge_ids.tolist(),
        system_names=(session.system_a, session.system_b),
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
    )
    result["run"] = {
        "id": run.pk,
        "model": run.judge_model.name,
        "votes": run.votes,
        "verdict_mode": run.verdict_mode,
        "template": run.template_snapshot.get("name"),
        "response_prefix": run.response_prefix,
        "summary": run.summary,
        "engine_rules": list(RULES),
    }
    return result


def send_unsure_to_humans(run: LLMJudgeRun, *, user=None, min_confidence: float = 1.0):  # noqa: ANN201
    """Cheap-first: a new human session holding only the items this run left unsure (see ``unsure_item_ids``),
    with the original session's systems, labels, k, judges and settings; the items keep their external ids
    and the session's ``source`` records the run and the saving (items sent / items total).

    A new session, not a filter inside the original one, so the original's human figures stay those of every
    item; the new session's figures describe the hard items only (its source says so)."""
    session = run.session
    ids = unsure_item_ids(run, min_confidence=min_confidence)
    if not ids:
        raise RunSetupError(f"LLM judging run {run.pk} left no item unsure: there is nothing to send to human judges")
    items = [
        ItemData(
            question=item.question,
            answer_a=item.answer_a,
            answer_b=item.answer_b,
            context=item.context,
            gold_answers=list(item.gold_answers or []),
            external_id=item.external_id or f"item-{item.pk}",
            metrics_a=item.metrics_a,
            metrics_b=item.metrics_b,
        )  # fmt: skip
        for item in session.items.filter(pk__in=ids).order_by("position", "pk")
    ]
    return create_session(
        name=f"{session.name} (items LLM run {run.pk} left unsure)"[:200],
        system_a=session.system_a,
        system_b=session.system_b,
        items=items,
        judges_per_item=session.judges_per_item,
        judges=session.judges.all(),
        open_to_all_judges=session.open_to_all_judges,
        created_by=user,
        instructions=session.instructions,
        accuracy_labels=session.accuracy_labels,
        ask_preference=session.ask_preference,
        ask_comment=session.ask_comment,
        show_gold=session.show_gold,
        lease_seconds=session.lease_seconds,
        block_size=session.block_size,
        control_rate=session.control_rate,
        control_threshold=session.control_threshold,
        source={
            "kind": "llm_cheap_first",
            "session": session.pk,
            "llm_run": run.pk,
            "items_sent": len(items),
            "items_total": run.items_total,
            "rule": "items whose LLM verdict was inconsistent across orders, lacked a label, or had a split vote",
        },
    )


def with_judge_names(session: JudgingSession, result: dict[str, Any]) -> dict[str, Any]:
    """Judge ids -> the names staff see elsewhere (pseudonyms where the session uses them)."""
    among = result["among_humans"]
    ids = [row["judge"] for row in among["judges"]]
    names = display_names(session, ids, usernames=True)
    for row in among["judges"]:
        row["name"] = names.get(row["judge"], str(row["judge"]))
    for pair in among["human_pairs"]:
        pair["names"] = [names.get(j, str(j)) for j in pair["judges"]]
    return result

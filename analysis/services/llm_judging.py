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

from analysis.engine.choice import LOW_MARGIN, margin_summary, read_choice
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
from analysis.services import ranking, statistics
from analysis.services.judge_policy import counted_judgments, excluded_judges
from analysis.services.pseudonyms import display_names
from analysis.stats.llm_agreement import compute_llm_agreement
from analysis.stats.llm_ranking import compare_rankings
from analysis.stats.ranking import compute_ranking_statistics
from annotation.models import ItemAnswer, JudgingSession
from annotation.services.sessions import ItemData, create_session
from core.model_fields import record_dtype_used
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
    # Choice by SmolLM2 on three systems' demo pairs, 400 verdicts: batch 16 judged 7.31 verdicts/s in float32 and
    # 17.93 in bf16, against 5.31 and 14.18 at batch 8; batch 32 added 2% in bf16 (bench/llm_judge.py, 2026-11-29).
    batch_size: int = 16
    votes: int = 1
    prompt_mode: str = "chat"
    response_prefix: str | None = None  # None: JSON_PREFIX for local models, none for endpoints
    verdict_mode: str = "generate"  # or "choice" (local models, one vote): see analysis/engine/choice.py
    pairs: str = "all"  # K > 2 systems: "all" pairs of systems, or "first" (systems A and B only)
    precision: str = "fast"  # bf16 where native, else float32: judging measured 2.3x faster (README)

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
        if self.pairs not in PAIR_CHOICES:
            problems.append(f"pairs must be 'all' or 'first', got {self.pairs!r}")
        return problems


PAIR_CHOICES = ("all", "first")


def system_pairs(n_systems: int, which: str = "all") -> list[list[int]]:
    """The pairs of system positions a run judges: every pair (so the LLM can rank K systems like the humans),
    or only the first two systems (a cheaper run: K(K-1)/2 times fewer outputs)."""
    if which == "first" or n_systems <= 2:
        return [[0, 1]]
    return [[a, b] for a in range(n_systems) for b in range(a + 1, n_systems)]


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
    pairs = system_pairs(session.n_systems, settings.pairs)
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
            system_pairs=pairs,
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
            precision=settings.precision,
            created_by=recorded_user(user),
        )
        job.params = {"run_id": run.pk}
        job.save(update_fields=["params"])
    return run


# ------------------------------------------------------------------------------------------ executing


PairKey = tuple[int, int, int]
"""(item id, system position a, system position b): one comparison a run judges (in both orders)."""


def _pairs(run: LLMJudgeRun) -> list[JudgePair]:
    """Every (item, pair of systems) of the run, item by item; answer_a is the answer of the pair's first system."""
    items = list(run.selection().only("pk", "question", "answer_a", "answer_b", "context", "gold_answers"))
    answers: dict[tuple[int, int], str] = {}
    for item in items:
        answers[item.pk, 0], answers[item.pk, 1] = item.answer_a, item.answer_b
    if any(b > 1 for _, b in run.pairs):
        rows = ItemAnswer.objects.filter(
            item__session_id=run.session_id, item__is_control=False, item_id__lte=run.max_item_id, system__gt=1
        )
        answers.update(
            {(item_id, system): text for item_id, system, text in rows.values_list("item_id", "system", "text")}
        )
    return [
        JudgePair(
            key=(item.pk, a, b),
            question=item.question,
            answer_a=answers[item.pk, a],
            answer_b=answers[item.pk, b],
            passage=item.context,
            gold_answers=tuple(str(g) for g in (item.gold_answers or [])),
        )
        for item in items
        for a, b in run.pairs
    ]


def _pair_keys(run: LLMJudgeRun) -> list[PairKey]:
    return [(item_id, a, b) for item_id in run.selection().values_list("pk", flat=True) for a, b in run.pairs]


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
            model_registry.ready_local_dir(entry, progress=reporter.log)
            model, tokenizer = model_registry.load_causal_lm(entry, dtype=run.precision)
            record_dtype_used(run, model, entry.name, reporter.log)
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
    item_id, system_a, system_b = vote.pair_key  # type: ignore[misc]
    return LLMVote(
        run=run,
        item_id=item_id,
        system_a=system_a,
        system_b=system_b,
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


VOTE_KEY = ("item_id", "system_a", "system_b", "order", "vote")


def stored_keys(run: LLMJudgeRun) -> set[tuple[PairKey, str, int]]:
    """The engine's keys ((item, a, b), order, vote) of the votes already stored: what a resumed run skips."""
    return {((i, a, b), order, vote) for i, a, b, order, vote in LLMVote.objects.filter(run=run).values_list(*VOTE_KEY)}


def store_votes(run: LLMJudgeRun, votes: list[Vote]) -> int:
    """One transaction per chunk; a vote another worker already stored is skipped (never stored twice)."""
    rows = [_vote_row(run, v) for v in votes]
    try:
        with transaction.atomic():
            LLMVote.objects.bulk_create(rows)
        return len(rows)
    except IntegrityError:
        done = set(LLMVote.objects.filter(run=run).values_list(*VOTE_KEY))
        fresh = [r for r in rows if tuple(getattr(r, f) for f in VOTE_KEY) not in done]
        with transaction.atomic():
            LLMVote.objects.bulk_create(fresh, ignore_conflicts=True)
        return len(fresh)


def stored_votes(run: LLMJudgeRun) -> list[Vote]:
    return [
        Vote(
            pair_key=(row.item_id, row.system_a, row.system_b),
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
    verdicts = aggregate(stored_votes(run), _pair_keys(run))
    rows = []
    for (item_id, system_a, system_b), v in verdicts.items():
        ab_pref = v.orders["ab"].in_systems()[2]
        ba_pref = v.orders["ba"].in_systems()[2]
        rows.append(
            LLMVerdict(
                run=run,
                item_id=item_id,
                system_a=system_a,
                system_b=system_b,
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
    done = stored_keys(run)
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


def verdict_rows(run: LLMJudgeRun) -> dict[PairKey, LLMVerdict]:
    return {v.key: v for v in LLMVerdict.objects.filter(run=run)}


PREF_CODES = {"a": 0, "tie": 1, "b": 2}


def llm_arrays(run: LLMJudgeRun, keys: list[PairKey], codes: dict[str, int]) -> dict[str, np.ndarray]:
    """The run's final verdicts over ``keys`` ((item, a, b) comparisons) as engine codes (-1 where it has none)."""
    verdicts = verdict_rows(run)
    n = len(keys)
    out = {
        "llm_labels_a": np.full(n, -1, dtype=np.int64),
        "llm_labels_b": np.full(n, -1, dtype=np.int64),
        "llm_preference": np.full(n, -1, dtype=np.int64),
        "llm_order_preferences": np.full((n, 2), -1, dtype=np.int64),
    }
    for i, key in enumerate(keys):
        v = verdicts.get(key)
        if v is None:
            continue
        out["llm_labels_a"][i] = codes.get(v.label_a, -1)
        out["llm_labels_b"][i] = codes.get(v.label_b, -1)
        out["llm_preference"][i] = PREF_CODES.get(v.preference, -1)
        for k, pref in enumerate(v.order_preferences[:2]):
            out["llm_order_preferences"][i, k] = PREF_CODES.get(pref, -1) if pref else -1
    return out


@dataclass(frozen=True)
class HumanComparisons:
    """The human judgments of a run's comparisons as (comparisons, judges) code grids: a judgment belongs to a
    comparison when it judged the same item and the same pair of systems (in system terms, as the LLM's)."""

    judge_ids: list[int]
    labels_a: np.ndarray
    labels_b: np.ndarray
    preference: np.ndarray


def human_comparisons(session: JudgingSession, keys: list[PairKey]) -> HumanComparisons:
    """Counted human judgments (the judges the statistics leave out are left out here too) over ``keys``.
    Raises ``statistics.StatisticsError`` naming a judgment whose label the session does not define."""
    index = {key: i for i, key in enumerate(keys)}
    codes = statistics.label_codes(session)
    rows = [
        row
        for row in counted_judgments(session, excluded_judges(session))
        .filter(item__is_control=False)
        .values_list("item_id", "system_a", "system_b", "judge_id", "label_a", "label_b", "preference")
        if (row[0], row[1], row[2]) in index
    ]
    judges = sorted({row[3] for row in rows})
    column = {judge: j for j, judge in enumerate(judges)}
    shape = (len(keys), len(judges))
    grids = {name: np.full(shape, -1, dtype=np.int64) for name in ("labels_a", "labels_b", "preference")}
    for item_id, a, b, judge, label_a, label_b, preference in rows:
        at = (index[item_id, a, b], column[judge])
        for name, value, allowed in (
            ("labels_a", label_a, codes),
            ("labels_b", label_b, codes),
            ("preference", preference, PREF_CODES),
        ):
            if value and value not in allowed:
                raise statistics.StatisticsError(
                    f"the judgment of item {item_id} by user {judge} has {name.rstrip('s')} {value!r}, "
                    f"which session {session.name!r} does not define"
                )
            grids[name][at] = allowed[value] if value else -1
    return HumanComparisons(judges, grids["labels_a"], grids["labels_b"], grids["preference"])


def unsure_item_ids(run: LLMJudgeRun, *, min_confidence: float = 1.0, min_margin: float = LOW_MARGIN) -> list[int]:
    """Items the run left unsure (cheap-first): for any pair of systems judged, a preference not order-consistent,
    a label that flipped with the order or is missing, a majority share below ``min_confidence`` (with several
    votes), or, in choice mode, a choice in either order whose top option beat the runner-up by less than
    ``min_margin`` probability (choice always gives a verdict, so a near tie is its low confidence)."""
    out: set[int] = set()
    for v in LLMVerdict.objects.filter(run=run):
        unsure = v.status != "consistent" or not v.label_a or not v.label_b
        if v.confidence is not None and v.confidence < min_confidence:
            unsure = True
        if unsure:
            out.add(v.item_id)
    if run.verdict_mode == "choice" and min_margin > 0:
        for item_id, raw in LLMVote.objects.filter(run=run).values_list("item_id", "raw"):
            choice = None if item_id in out else read_choice(raw)
            if choice is not None and min(float(m) for m in choice["margin"].values()) < min_margin:
                out.add(item_id)
    return sorted(out)


def run_rules() -> tuple[str, ...]:
    return RULES


def agreement(run: LLMJudgeRun, *, n_boot: int = 2_000, seed: int = 0, confidence: float = 0.95) -> dict[str, Any]:
    """The run's verdicts against the session's human judgments (statistics engine ``llm_agreement``), compared
    per item and pair of systems; with more than two systems judged in every pair, also the two rankings
    (``ranking_comparison``).

    Human arrays come from counted judgments only; the LLM's come from ``LLMVerdict`` and enter the engine as
    separate inputs, so the LLM is never a column among the human judges. With one pair (two systems, or a run
    of systems A and B only) a comparison is an item and the figures are the two-system ones; with several
    pairs the A - B conclusions would mix systems, so the ranking comparison takes their place."""
    session = run.session
    pairs = _pairs(run)
    keys: list[PairKey] = [pair.key for pair in pairs]  # type: ignore[misc]
    humans = human_comparisons(session, keys)
    llm = llm_arrays(run, keys, statistics.label_codes(session))
    named_pairs = pair_names(run)
    one_pair = len(run.pairs) == 1
    result = compute_llm_agreement(
        humans.labels_a,
        humans.labels_b,
        llm["llm_labels_a"],
        llm["llm_labels_b"],
        preference=humans.preference,
        llm_preference=llm["llm_preference"],
        llm_order_preferences=llm["llm_order_preferences"],
        length_a=np.array([len(p.answer_a) for p in pairs], dtype=float),
        length_b=np.array([len(p.answer_b) for p in pairs], dtype=float),
        judge_ids=humans.judge_ids,
        system_names=named_pairs[0] if one_pair else ("first system", "second system"),
        clusters=None if one_pair else [item_id for item_id, _, _ in keys],
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
    )
    result["comparisons"] = {
        "unit": "item" if one_pair else "item and pair of systems",
        "pairs": [list(pair) for pair in named_pairs],
        "n": len(keys),
    }
    if not one_pair:
        result["bootstrap"]["resampling"] = (
            "items, each with all its comparisons (against the human majority, longer-answer shares); comparisons "
            "(an item and a pair of systems) for the kappas with each judge, position bias and the length split"
        )
        result["conclusions"] = None
        result["ranking"] = ranking_comparison(run, n_boot=min(n_boot, ranking.DEFAULT_REPLICATES), seed=seed,
                                               confidence=confidence)  # fmt: skip
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


def pair_names(run: LLMJudgeRun) -> list[tuple[str, str]]:
    """The run's pairs of systems by name (staff only: judges never see system names)."""
    names = ranking.system_names(run.session)
    return [(names[a], names[b]) for a, b in run.pairs]


def judges_every_pair(run: LLMJudgeRun) -> bool:
    """Whether the run judged every pair of the session's systems (so the LLM can rank them all)."""
    return run.session.n_systems > 2 and len(run.pairs) == run.session.n_systems * (run.session.n_systems - 1) // 2


def llm_ranking_arrays(run: LLMJudgeRun) -> dict[str, Any]:
    """The run's verdicts as the K-system engine's long arrays, over the same items as the human ranking: one row
    per verdict, all by one judge."""
    rows = list(
        LLMVerdict.objects.filter(run=run)
        .order_by("item_id", "system_a", "system_b")
        .values_list("item_id", "system_a", "system_b", "label_a", "label_b", "preference", "run_id")
    )
    return ranking.long_arrays(run.session, rows, ranking.session_item_ids(run.session))


def ranking_comparison(
    run: LLMJudgeRun, *, n_boot: int = ranking.DEFAULT_REPLICATES, seed: int = 0, confidence: float = 0.95
) -> dict[str, Any] | None:
    """The LLM's ranking of the session's systems beside the human one (``analysis.stats.llm_ranking``), or None
    when the run did not judge every pair. The human ranking is the one the ranking page shows (stored when
    current, else computed now, or by a job for a big session: then the last one, marked not current, or none
    yet)."""
    if not judges_every_pair(run):
        return None
    session = run.session
    names = ranking.system_names(session)
    llm = compute_ranking_statistics(
        **llm_ranking_arrays(run), system_names=names, n_boot=n_boot, seed=session.seed % 2**32,
        confidence=confidence,
    )  # fmt: skip
    state = ranking.ranking_state(session)
    human = state.result
    if human is None:  # a big session's first ranking is being computed by a job
        return {"human_pending": True, "job": state.job.pk if state.job else None}
    out = compare_rankings(human, llm, confidence=confidence)
    out["human_pending"] = False
    out["human_current"] = state.fresh
    out["n_human_judgments"] = human["counts"]["n_judgments"]
    out["n_llm_verdicts"] = llm["counts"]["n_judgments"]
    return out


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
    systems = list(session.systems.order_by("position").values_list("name", flat=True))
    more: dict[int, list[tuple[str, dict]]] = {}
    for item_id, text, metrics in (
        ItemAnswer.objects.filter(item__in=ids, system__gt=1)
        .order_by("item", "system")
        .values_list("item_id", "text", "metrics")
    ):
        more.setdefault(item_id, []).append((text, metrics or {}))
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
            more_answers=[text for text, _ in more.get(item.pk, [])],
            more_metrics=[metrics for _, metrics in more.get(item.pk, [])],
        )  # fmt: skip
        for item in session.items.filter(pk__in=ids).order_by("position", "pk")
    ]
    return create_session(
        name=f"{session.name} (items LLM run {run.pk} left unsure)"[:200],
        system_a=session.system_a,
        system_b=session.system_b,
        more_systems=systems[2:],
        matchup_design=session.matchup_design,
        pairs_per_item=session.pairs_per_item,
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
            "rule": "items whose LLM verdict was inconsistent across orders, lacked a label, had a split vote or "
            f"(choice mode) a choice with a margin below {LOW_MARGIN}",
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

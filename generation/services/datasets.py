"""Frozen, versioned QA datasets for training: built from generation runs or from human reference pairs.

Training jobs read QADataset rows, never SyntheticPair or ReferenceQA directly, so a dataset is a copy:
editing or rejecting a pair later does not change a dataset (and the model trained on it) after the fact.
Building writes examples in chunks (short transactions) into a dataset with frozen=False and freezes it
at the end; a failed build deletes the partial dataset. Each build of a name gets the next version.

The experiment orchestrator calls `build_synthetic_dataset` and `build_human_dataset` by these names.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from core.models import JobStatus
from core.permissions import recorded_user
from core.services.bulk import chunked
from generation.models import Corpus, GenerationRun, PairStatus, QADataset, QAExample, ReferenceQA, SyntheticPair

CHUNK_SIZE = 1000


class DatasetError(ValueError):
    """The dataset cannot be built as asked; the message says why."""


def next_version(name: str) -> int:
    return (QADataset.objects.filter(name=name).aggregate(v=Max("version"))["v"] or 0) + 1


def _create_dataset(**values: Any) -> QADataset:
    """A new, unfrozen dataset with the next free version of its name (retrying a version race once)."""
    for _ in range(3):
        try:
            with transaction.atomic():
                return QADataset.objects.create(version=next_version(values["name"]), frozen=False, **values)
        except IntegrityError:
            continue
    raise DatasetError(f"could not allocate a version for dataset {values['name']!r}; try again")


def _sample_ids(ids: list[int], limit: int | None, seed: int) -> list[int]:
    if limit is None or limit >= len(ids):
        return ids
    return sorted(random.Random(seed).sample(ids, limit))


def span_start(context: str, answer: str, stored: int | None = None) -> int | None:
    """Where `answer` sits in `context`: the stored offset when it really points at the answer (an annotator's
    span, which may be the second of two identical texts), else the first occurrence; None: not a span."""
    if stored is not None and stored >= 0 and context.startswith(answer, stored):
        return stored
    found = context.find(answer) if answer else -1
    return found if found >= 0 else None


def _fill(dataset: QADataset, examples: Iterable[QAExample]) -> int:
    """Insert examples chunk by chunk, then freeze; on any failure the partial dataset is deleted."""
    try:
        written = 0
        for chunk in chunked(examples, CHUNK_SIZE):
            with transaction.atomic():
                QAExample.objects.bulk_create(chunk)
            written += len(chunk)
        dataset.frozen = True
        dataset.provenance = {**dataset.provenance, "examples": written}
        dataset.save(update_fields=["frozen", "provenance"])
        return written
    except BaseException:
        QADataset.objects.filter(pk=dataset.pk).delete()
        raise


def build_synthetic_dataset(
    runs: Sequence[GenerationRun] | Iterable[GenerationRun],
    name: str,
    *,
    description: str = "",
    user=None,
    limit: int | None = None,
    seed: int = 0,
    split: str | None = None,
    allow_incomplete: bool = False,
) -> QADataset:
    """Freeze the accepted synthetic pairs of `runs` (their current, possibly hand-edited, text).

    runs: GenerationRun rows (or ids); pairs of all of them are pooled. name: dataset name; the version is
    the next free one for that name. limit: keep a seeded random sample of at most `limit` pairs.
    split: only pairs whose passage has this split (None: any). allow_incomplete: also accept runs whose
    job has not succeeded (by default that is an error, so a half-finished run is never trained on).
    Returns the frozen QADataset (source "synthetic") with one QAExample per pair."""
    run_list = [r if isinstance(r, GenerationRun) else GenerationRun.objects.get(pk=r) for r in runs]
    if not run_list:
        raise DatasetError("choose at least one generation run")
    run_list = list(GenerationRun.objects.filter(pk__in=[r.pk for r in run_list]).select_related("job", "corpus"))
    unfinished = [r for r in run_list if r.job.status != JobStatus.SUCCEEDED]
    if unfinished and not allow_incomplete:
        names = ", ".join(f"#{r.pk} ({r.job.status})" for r in unfinished)
        raise DatasetError(f"run(s) {names} have not finished; finish or resume them first")
    languages = {r.corpus.language for r in run_list}
    if len(languages) > 1:
        raise DatasetError(f"the runs cover corpora in different languages ({', '.join(sorted(languages))})")
    pairs = SyntheticPair.objects.filter(run__in=run_list, status=PairStatus.ACCEPTED)
    if split is not None:
        pairs = pairs.filter(passage__split=split)
    ids = _sample_ids(list(pairs.order_by("pk").values_list("pk", flat=True)), limit, seed)
    if not ids:
        raise DatasetError("the chosen runs have no accepted pairs")
    dataset = _create_dataset(
        name=name,
        language=languages.pop(),
        source=QADataset.Source.SYNTHETIC,
        description=description,
        split=split or "",
        created_by=recorded_user(user),
        provenance={
            "runs": [r.pk for r in run_list],
            "generators": sorted({r.generator.name for r in run_list}),
            "templates": sorted({r.template_snapshot.get("name", "") for r in run_list}),
            "status": PairStatus.ACCEPTED,
            "split": split,
            "limit": limit,
            "seed": seed,
            "pairs_available": pairs.count(),
        },
    )
    dataset.runs.set(run_list)

    def examples() -> Iterator[QAExample]:
        for part in chunked(ids, CHUNK_SIZE):
            for pair in SyntheticPair.objects.filter(pk__in=part).select_related("passage").order_by("pk"):
                yield QAExample(
                    dataset=dataset,
                    passage=pair.passage,
                    context=pair.passage.text,
                    question=pair.question,
                    answer=pair.answer,
                    # A generated pair has no marked span: its answer's first occurrence, if it is one.
                    answer_start=span_start(pair.passage.text, pair.answer),
                    source_ref=f"synthetic:{pair.pk}",
                )

    _fill(dataset, examples())
    return dataset


def build_human_dataset(
    corpus: Corpus,
    split: str,
    name: str,
    *,
    description: str = "",
    user=None,
    limit: int | None = None,
    seed: int = 0,
) -> QADataset:
    """Freeze the human reference pairs of `corpus` whose passage is in `split` ("train", "validation",
    "test"; "" for unsplit passages). The first accepted answer becomes the example's answer; pairs
    without an answer are skipped. limit/seed: a seeded random sample of at most `limit` pairs.
    Returns the frozen QADataset (source "human")."""
    pairs = ReferenceQA.objects.filter(passage__in=corpus.passages.filter(split=split)).exclude(answers=[])
    ids = _sample_ids(list(pairs.order_by("pk").values_list("pk", flat=True)), limit, seed)
    if not ids:
        raise DatasetError(
            f"corpus {corpus.name!r} has no reference pairs with answers in split {split or 'unsplit'!r}"
        )
    dataset = _create_dataset(
        name=name,
        language=corpus.language,
        source=QADataset.Source.HUMAN,
        description=description,
        corpus=corpus,
        split=split,
        created_by=recorded_user(user),
        provenance={
            "corpus": corpus.name,
            "corpus_id": corpus.pk,
            "split": split,
            "limit": limit,
            "seed": seed,
            "pairs_available": pairs.count(),
        },
    )

    def examples() -> Iterator[QAExample]:
        for part in chunked(ids, CHUNK_SIZE):
            for pair in ReferenceQA.objects.filter(pk__in=part).select_related("passage").order_by("pk"):
                yield QAExample(
                    dataset=dataset,
                    passage=pair.passage,
                    context=pair.passage.text,
                    question=pair.question,
                    answer=pair.answers[0],
                    answer_start=span_start(pair.passage.text, pair.answers[0], (pair.answer_starts or [None])[0]),
                    source_ref=f"reference:{pair.pk}",
                )

    _fill(dataset, examples())
    return dataset


# ------------------------------------------------------------------------------------------ export


def _examples(dataset: QADataset):
    return (
        QAExample.objects.filter(dataset=dataset)
        .select_related("passage")
        .order_by("passage_id", "id")
        .iterator(chunk_size=2000)
    )


def export_jsonl(dataset: QADataset) -> Iterator[str]:
    """One JSON object per line: id, title, context, question, answer, passage_id, source_ref."""
    for ex in _examples(dataset):
        record = {
            "id": f"{dataset.name}-v{dataset.version}-{ex.pk}",
            "title": ex.passage.title if ex.passage else "",
            "context": ex.context,
            "question": ex.question,
            "answer": ex.answer,
            "passage_id": ex.passage_id,
            "source_ref": ex.source_ref,
        }
        yield json.dumps(record, ensure_ascii=False) + "\n"


def export_squad(dataset: QADataset) -> Iterator[str]:
    """SQuAD 1.1 JSON, streamed: an article per title run, a paragraph per context. answer_start is the offset
    stored with the example (a reference pair's own span, never a fresh search that would land on the first of
    two identical texts); -1 when the answer is not a verbatim span of the context."""
    dumps = json.dumps
    yield '{"version": ' + dumps(f"{dataset.name} v{dataset.version}", ensure_ascii=False) + ', "data": ['
    article_title: str | None = None
    context: str | None = None
    first_article = True
    first_paragraph = first_qa = True
    for ex in _examples(dataset):
        title = ex.passage.title if ex.passage else ""
        if article_title is None or title != article_title:
            if article_title is not None:
                yield "]}]}"  # close qas, paragraph, paragraphs, article
            yield (
                ("" if first_article else ", ") + '{"title": ' + dumps(title, ensure_ascii=False) + ', "paragraphs": ['
            )
            first_article = False
            article_title, context = title, None
            first_paragraph = True
        if ex.context != context:
            if context is not None:
                yield "]}"  # close qas and paragraph
            yield (
                ("" if first_paragraph else ", ")
                + '{"context": '
                + dumps(ex.context, ensure_ascii=False)
                + ', "qas": ['
            )
            first_paragraph, first_qa = False, True
            context = ex.context
        qa = {
            "id": f"{dataset.name}-v{dataset.version}-{ex.pk}",
            "question": ex.question,
            "answers": [{"text": ex.answer, "answer_start": -1 if ex.answer_start is None else ex.answer_start}],
        }
        yield ("" if first_qa else ", ") + dumps(qa, ensure_ascii=False)
        first_qa = False
    if article_title is not None:
        yield "]}]}"
    yield "]}\n"

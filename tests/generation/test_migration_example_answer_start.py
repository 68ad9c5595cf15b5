"""Datasets frozen before examples kept their answer_start get it on migration: a human example takes its
reference pair's stored span (the second "Nara" here), a synthetic one the first occurrence, or null."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from generation.models import QAExample

BEFORE = [("generation", "0004_yield_options")]

pytestmark = pytest.mark.django_db(transaction=True)

CONTEXT = "Nara is a city. The deer park of Nara is famous."


def _populate(apps) -> None:
    Corpus = apps.get_model("generation", "Corpus")
    Passage = apps.get_model("generation", "Passage")
    ReferenceQA = apps.get_model("generation", "ReferenceQA")
    QADataset = apps.get_model("generation", "QADataset")
    Example = apps.get_model("generation", "QAExample")
    passage = Passage.objects.create(corpus=Corpus.objects.create(name="old"), text=CONTEXT, content_hash="h")
    ref = ReferenceQA.objects.create(
        passage=passage, question="Whose park?", answers=["Nara"], answer_starts=[CONTEXT.rindex("Nara")]
    )
    dataset = QADataset.objects.create(name="old", source="human", frozen=True)
    for question, answer, source_ref in [
        ("Whose park?", "Nara", f"reference:{ref.pk}"),
        ("What is Nara?", "a city", "synthetic:1"),
        ("Invented?", "not a span", "synthetic:2"),
    ]:
        Example.objects.create(
            dataset=dataset, passage=passage, context=CONTEXT, question=question, answer=answer, source_ref=source_ref
        )


def test_examples_frozen_before_the_field_get_their_stored_or_first_offset():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    try:
        executor.loader.build_graph()
        _populate(executor.loader.project_state(BEFORE).apps)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

    starts = dict(QAExample.objects.values_list("answer", "answer_start"))
    assert starts == {"Nara": CONTEXT.rindex("Nara"), "a city": CONTEXT.index("a city"), "not a span": None}

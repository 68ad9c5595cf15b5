"""Datasets download as JSONL and SQuAD JSON, streamed; the SQuAD file reads back with the SQuAD importer."""

from __future__ import annotations

import json

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from generation.importers.readers import read_squad
from generation.models import Passage, QAExample
from generation.services.datasets import build_human_dataset, build_synthetic_dataset, export_squad
from generation.services.imports import import_file
from tests.generation.synth_helpers import finished_run, make_corpus, write

pytestmark = pytest.mark.django_db

PASSAGES = [
    "Nara has many deer in its park.",
    "Kobe is a port city with famous beef.",
    "Sapporo hosts a snow festival.",
]


@pytest.fixture
def dataset():
    return build_synthetic_dataset([finished_run(make_corpus(passages=PASSAGES))], "export me")


def _download(client, dataset, fmt: str):
    response = client.get(reverse("generation:dataset-export", args=[dataset.pk, fmt]))
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    return response, b"".join(response.streaming_content).decode("utf-8")


def test_jsonl_export_has_one_line_per_example(alice_client, dataset):
    response, body = _download(alice_client, dataset, "jsonl")

    lines = [json.loads(line) for line in body.splitlines()]
    assert len(lines) == dataset.examples.count() == 3
    assert {line["context"] for line in lines} == set(PASSAGES)
    assert set(lines[0]) == {"id", "title", "context", "question", "answer", "passage_id", "source_ref"}
    assert response["Content-Disposition"] == 'attachment; filename="export_me-v1.jsonl"'


def test_squad_export_round_trips_through_the_squad_reader(alice_client, dataset, tmp_path):
    _, body = _download(alice_client, dataset, "squad")
    path = tmp_path / "export.json"
    path.write_text(body, encoding="utf-8")

    records = list(read_squad(path))

    assert sorted(r.text for r in records) == sorted(PASSAGES)
    assert sum(len(r.qas) for r in records) == dataset.examples.count()
    document = json.loads(body)
    first_qa = document["data"][0]["paragraphs"][0]["qas"][0]
    context = document["data"][0]["paragraphs"][0]["context"]
    assert context[first_qa["answers"][0]["answer_start"] :].startswith(first_qa["answers"][0]["text"])


def test_a_human_dataset_with_several_pairs_per_passage_groups_them_in_one_paragraph(tmp_path):
    corpus = make_corpus(passages=PASSAGES[:2], split="test",
                         qas={0: [("Q1?", "deer"), ("Q2?", "park")], 1: [("Q3?", "beef")]})  # fmt: skip
    dataset = build_human_dataset(corpus, "test", "h")

    document = json.loads("".join(export_squad(dataset)))

    paragraphs = [p for article in document["data"] for p in article["paragraphs"]]
    assert [len(p["qas"]) for p in paragraphs] == [2, 1]
    assert document["version"] == "h v1"


def test_an_unknown_export_format_is_404(alice_client, dataset):
    assert alice_client.get(reverse("generation:dataset-export", args=[dataset.pk, "xml"])).status_code == 404


def test_a_squad_import_exports_the_annotators_span_when_the_answer_text_occurs_twice(tmp_path):
    """The export copies the stored answer_start: searching the context would land on the first "Nara"."""
    context = "Nara is a city. The deer park of Nara is famous."
    second = context.rindex("Nara")
    doc = {"data": [{"title": "Nara", "paragraphs": [{"context": context, "qas": [
        {"id": "q1", "question": "Whose deer park is famous?", "answers": [{"text": "Nara", "answer_start": second}]},
    ]}]}]}  # fmt: skip
    corpus = make_corpus(name="twice")
    import_file(corpus, write(tmp_path / "in.json", json.dumps(doc)))
    Passage.objects.filter(corpus=corpus).update(split="test")
    dataset = build_human_dataset(corpus, "test", "twice")

    document = json.loads("".join(export_squad(dataset)))

    answer = document["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]
    assert answer == {"text": "Nara", "answer_start": second}
    assert dataset.examples.get().answer_start == second


def test_a_synthetic_answer_that_is_not_a_span_exports_minus_one(dataset):
    example = dataset.examples.first()
    QAExample.objects.filter(pk=example.pk).update(answer="not in any passage", answer_start=None)

    document = json.loads("".join(export_squad(dataset)))

    qas = [qa for article in document["data"] for p in article["paragraphs"] for qa in p["qas"]]
    assert {"text": "not in any passage", "answer_start": -1} in [qa["answers"][0] for qa in qas]

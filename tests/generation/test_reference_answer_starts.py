"""Every stored gold answer has its answer_start: the offset of the answer in the stored passage text."""

from __future__ import annotations

import json

import pytest

from generation.models import Passage, ReferenceQA
from generation.services.imports import import_file
from tests.generation.synth_helpers import jsonl, make_corpus, write

pytestmark = pytest.mark.django_db


def test_a_squad_import_stores_the_files_offsets_moved_with_the_text(tmp_path):
    context = "Nara [SEP] Deer live in Nara Park. Nara is old."
    doc = {"data": [{"title": "", "paragraphs": [{"context": context, "qas": [
        {"id": "q1", "question": "Where do deer live?", "answers": [
            {"text": "Nara Park", "answer_start": context.index("Nara Park")},
            {"text": "Nara", "answer_start": context.rindex("Nara")},
        ]},
    ]}]}]}  # fmt: skip
    import_file(make_corpus(), write(tmp_path / "s.json", json.dumps(doc)))

    ref = ReferenceQA.objects.get()
    text = ref.passage.text
    assert text == "Deer live in Nara Park. Nara is old."
    assert ref.answer_starts == [text.index("Nara Park"), text.rindex("Nara")]


def test_a_jsonl_import_stores_first_occurrences_and_null_for_free_form_answers(tmp_path):
    record = {"text": "Water boils at 100 degrees.", "qas": [{"question": "When?", "answers": ["100 degrees", "hot"]}]}
    import_file(make_corpus(), write(tmp_path / "r.jsonl", jsonl([record])))

    assert ReferenceQA.objects.get().answer_starts == [15, None]


def test_pairs_created_in_code_get_their_offsets_on_save():
    passage = Passage.objects.create(corpus=make_corpus(), text="A cat sat on a mat.")
    ref = ReferenceQA.objects.create(passage=passage, question="Where?", answers=["a mat", "nowhere"])
    assert ref.answer_starts == [13, None]

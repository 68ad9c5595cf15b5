"""Datasets are frozen, versioned copies: synthetic from runs' accepted pairs, human from a corpus split."""

from __future__ import annotations

import pytest

from core.models import JobStatus
from generation.models import PairStatus, QADataset, SyntheticPair
from generation.services.datasets import DatasetError, build_human_dataset, build_synthetic_dataset
from generation.services.generation_runs import edit_pair
from tests.generation.synth_helpers import finished_run, make_corpus

pytestmark = pytest.mark.django_db

PASSAGES = [f"Town{i} sits on the river and trades in salt number {i}." for i in range(6)]


def test_a_synthetic_dataset_copies_the_accepted_pairs_with_hand_edits(alice):
    run = finished_run(make_corpus(passages=PASSAGES))
    edited = SyntheticPair.objects.filter(run=run, status=PairStatus.ACCEPTED).first()
    edit_pair(edited, user=alice, question="Where is Town0?", answer="on the river")
    rejected = SyntheticPair.objects.filter(run=run, status=PairStatus.ACCEPTED).last()
    edit_pair(rejected, user=alice, status=PairStatus.MANUALLY_REJECTED)

    dataset = build_synthetic_dataset([run], "syn-en", user=alice)

    assert (dataset.frozen, dataset.version, dataset.source, dataset.language) == (True, 1, "synthetic", "en")
    examples = list(dataset.examples.all())
    assert len(examples) == len(PASSAGES) - 1
    assert {e.source_ref for e in examples} == {
        f"synthetic:{p.pk}" for p in SyntheticPair.objects.filter(run=run, status=PairStatus.ACCEPTED)
    }
    copy = next(e for e in examples if e.source_ref == f"synthetic:{edited.pk}")
    assert (copy.question, copy.answer, copy.context) == ("Where is Town0?", "on the river", edited.passage.text)
    assert dataset.provenance["runs"] == [run.pk] and dataset.provenance["examples"] == 5
    assert list(dataset.runs.all()) == [run]

    # A dataset is a copy: later edits do not change it.
    edit_pair(edited, user=alice, question="Changed later?")
    assert dataset.examples.get(source_ref=f"synthetic:{edited.pk}").question == "Where is Town0?"


def test_building_the_same_name_again_makes_the_next_version_and_sampling_is_seeded():
    run = finished_run(make_corpus(passages=PASSAGES))

    first = build_synthetic_dataset([run], "s", limit=3, seed=1)
    second = build_synthetic_dataset([run], "s", limit=3, seed=1)
    other = build_synthetic_dataset([run], "s", limit=3, seed=2)

    assert [d.version for d in (first, second, other)] == [1, 2, 3]
    refs = [sorted(d.examples.values_list("source_ref", flat=True)) for d in (first, second, other)]
    assert len(refs[0]) == 3 and refs[0] == refs[1]
    assert refs[0] != refs[2]


def test_a_run_that_has_not_finished_is_refused_unless_allowed():
    run = finished_run(make_corpus(passages=PASSAGES))
    run.job.status = JobStatus.CANCELLED
    run.job.save(update_fields=["status"])

    with pytest.raises(DatasetError, match="have not finished"):
        build_synthetic_dataset([run], "partial")
    assert not QADataset.objects.exists()

    dataset = build_synthetic_dataset([run], "partial", allow_incomplete=True)
    assert dataset.examples.count() == len(PASSAGES)


def test_a_human_dataset_takes_the_reference_pairs_of_one_split():
    corpus = make_corpus(passages=PASSAGES[:3], split="train", qas={0: [("Q0?", "a0")], 1: [("Q1?", "a1")]})
    from generation.models import Passage, ReferenceQA

    held_out = Passage.objects.create(corpus=corpus, text="Held out text.", split="test")
    ReferenceQA.objects.create(passage=held_out, question="Held?", answers=["out", "Held out"])
    ReferenceQA.objects.create(passage=held_out, question="No answer?", answers=[])

    train = build_human_dataset(corpus, "train", "human-train")
    test = build_human_dataset(corpus, "test", "human-test")

    assert sorted(train.examples.values_list("question", "answer")) == [("Q0?", "a0"), ("Q1?", "a1")]
    assert list(test.examples.values_list("question", "answer", "context")) == [("Held?", "out", "Held out text.")]
    assert (test.source, test.corpus, test.split, test.frozen) == ("human", corpus, "test", True)
    with pytest.raises(DatasetError, match="no reference pairs"):
        build_human_dataset(corpus, "validation", "empty")


def test_a_failed_build_leaves_no_partial_dataset(monkeypatch):
    run = finished_run(make_corpus(passages=PASSAGES))
    from generation.services import datasets

    monkeypatch.setattr(datasets, "CHUNK_SIZE", 2)
    original = datasets.QAExample.objects.bulk_create
    calls = {"n": 0}

    def failing_bulk_create(objs, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return original(objs, *args, **kwargs)

    monkeypatch.setattr(datasets.QAExample.objects, "bulk_create", failing_bulk_create)
    with pytest.raises(RuntimeError):
        build_synthetic_dataset([run], "broken")

    assert not QADataset.objects.exists()
    assert not datasets.QAExample.objects.exists()

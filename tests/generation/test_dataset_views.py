"""Staff build datasets on the Datasets page; refusals are shown on the form and nothing is stored."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generation.models import QADataset
from tests.generation.synth_helpers import finished_run, make_corpus

pytestmark = pytest.mark.django_db


def test_staff_build_a_synthetic_dataset_from_a_run(alice_client, alice):
    run = finished_run(make_corpus(passages=["Alpha one.", "Beta two."]))

    form = {"kind": "synthetic", "syn-name": "mine", "syn-runs": [run.pk], "syn-seed": 0}
    response = alice_client.post(reverse("generation:dataset-list"), form)

    dataset = QADataset.objects.get()
    assert response.status_code == 302 and response["Location"] == dataset.get_absolute_url()
    assert (dataset.name, dataset.created_by, dataset.examples.count()) == ("mine", alice, 2)
    assert "mine v1" in alice_client.get(reverse("generation:dataset-list")).content.decode()


def test_a_human_dataset_without_pairs_is_refused_on_the_form(alice_client):
    corpus = make_corpus(passages=["No pairs here."], split="train")

    response = alice_client.post(reverse("generation:dataset-list"),
                                 {"kind": "human", "hum-name": "h", "hum-corpus": corpus.pk, "hum-split": "train",
                                  "hum-seed": 0})  # fmt: skip

    assert response.status_code == 400
    assert "has no reference pairs with answers in split" in response.content.decode()
    assert not QADataset.objects.exists()

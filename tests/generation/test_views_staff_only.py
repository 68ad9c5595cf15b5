"""Every generation page is staff-only: a judge gets 403, an anonymous visitor the login page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generation.models import Import, SyntheticPair
from tests.generation.synth_helpers import finished_run, make_corpus

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tmp_path):
    corpus = make_corpus(passages=["Alpha is the first passage.", "Beta is the second passage."])
    run = finished_run(corpus)
    imp = Import.objects.create(corpus=corpus, file_name="x.txt", format="txt")
    pair = SyntheticPair.objects.filter(run=run).first()
    from generation.services.datasets import build_synthetic_dataset

    dataset = build_synthetic_dataset([run], "syn")
    return {
        "generation:corpus-list": [],
        "generation:corpus-detail": [corpus.pk],
        "generation:passage-detail": [corpus.passages.first().pk],
        "generation:import-upload": [],
        "generation:import-detail": [imp.pk],
        "generation:run-list": [],
        "generation:run-new": [],
        "generation:run-detail": [run.pk],
        "generation:pair-edit": [pair.pk],
        "generation:dataset-list": [],
        "generation:dataset-detail": [dataset.pk],
        "generation:dataset-export": [dataset.pk, "jsonl"],
    }


def test_staff_see_every_page(alice_client, world):
    for name, args in world.items():
        response = alice_client.get(reverse(name, args=args))
        assert response.status_code == 200, name


def test_a_judge_gets_403_everywhere_and_changes_nothing(bob_client, world):
    for name, args in world.items():
        assert bob_client.get(reverse(name, args=args)).status_code == 403, name
    pair = SyntheticPair.objects.filter(status="accepted").first()
    response = bob_client.post(reverse("generation:pair-reject", args=[pair.pk]))
    assert response.status_code == 403
    pair.refresh_from_db()
    assert pair.status == "accepted" and not pair.revisions.exists()


def test_anonymous_visitors_are_sent_to_the_login_page(client, world):
    for name, args in world.items():
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), name


def test_the_staff_navigation_links_to_corpora_runs_and_datasets(alice_client, world):
    html = alice_client.get(reverse("generation:corpus-list")).content.decode()
    for name in ("generation:corpus-list", "generation:run-list", "generation:dataset-list"):
        assert f'href="{reverse(name)}"' in html

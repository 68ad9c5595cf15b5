"""The passage page sends a preview of a long passage, not the whole text; the whole text is a link away."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generation.models import Passage
from generation.views import PASSAGE_PREVIEW_CHARS
from tests.generation.synth_helpers import make_corpus

pytestmark = pytest.mark.django_db


def test_a_ten_megabyte_one_line_passage_page_sends_a_preview_and_links_the_whole_text(alice_client):
    text = "start " + "x" * (10 * 1024 * 1024) + " the end"
    passage = Passage.objects.create(corpus=make_corpus(), text=text, title="Huge")

    response = alice_client.get(reverse("generation:passage-detail", args=[passage.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert len(response.content) < 100_000
    assert "start xxx" in html and "the end" not in html
    assert f"Showing the first {PASSAGE_PREVIEW_CHARS} of {len(text)} characters" in html
    whole = alice_client.get(reverse("generation:passage-text", args=[passage.pk]))
    assert whole["Content-Type"] == "text/plain; charset=utf-8"
    assert whole.content.decode() == text
    download = alice_client.get(reverse("generation:passage-text", args=[passage.pk]) + "?download=1")
    assert download["Content-Disposition"] == f'attachment; filename="passage-{passage.pk}.txt"'


def test_a_short_passage_is_shown_whole_without_a_link(alice_client):
    passage = Passage.objects.create(corpus=make_corpus(), text="Short passage.\nSecond line.")
    html = alice_client.get(reverse("generation:passage-detail", args=[passage.pk])).content.decode()
    assert "Short passage.<br>Second line." in html
    assert "passage-truncated" not in html


def test_judges_cannot_read_the_whole_text(bob_client):
    passage = Passage.objects.create(corpus=make_corpus(), text="Secret passage.")
    assert bob_client.get(reverse("generation:passage-text", args=[passage.pk])).status_code == 403

"""One code per default accuracy label everywhere: a session whose labels were typed as text (the staff form,
an upload) stores "partial" for "Partially correct", as the demo and sessions from runs do, so exports, the API
and statistics of any two sessions can be joined on the label code. Stored sessions are migrated."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from analysis.services import exports
from annotation.forms import SessionSettingsForm
from annotation.models import DEFAULT_ACCURACY_LABELS, Judgment, JudgmentRevision, SessionItem
from annotation.services.sessions import normalise_labels
from tests.analysis.stats_helpers import judge_session
from tests.annotation.helpers import make_session

pytestmark = pytest.mark.django_db

DEFAULT_KEYS = [label["key"] for label in DEFAULT_ACCURACY_LABELS]


def test_the_form_default_labels_typed_as_text_keep_the_default_codes():
    typed = SessionSettingsForm().fields["labels"].initial.splitlines()

    assert [label["key"] for label in normalise_labels(typed)] == DEFAULT_KEYS == ["correct", "partial", "incorrect"]


@pytest.mark.parametrize("typed", ["Partially correct", "partially  CORRECT", "partial", " Partial "])
def test_a_default_label_in_any_case_or_spacing_gets_its_code(typed):
    labels = normalise_labels(["Correct", typed, "Incorrect"])

    assert labels[1]["key"] == "partial" and labels[1]["label"] == typed.strip()


def test_other_labels_keep_a_slug_of_their_text():
    assert [label["key"] for label in normalise_labels(["Fully right", "Wrong answer"])] == [
        "fully-right",
        "wrong-answer",
    ]


def test_an_upload_style_session_exports_the_same_codes_as_the_demo(alice, bob):
    typed = make_session(n=3, k=1, judges=[bob], accuracy_labels=["Correct", "Partially correct", "Incorrect"])
    default = make_session(n=3, k=1, judges=[bob])
    for session in (typed, default):
        judge_session(session, [bob], lambda item, judge: ("partial", "correct", "a"))

    exported = {
        session.pk: b"".join(exports.export(session, "judgments", "csv").chunks).decode()
        for session in (typed, default)
    }

    assert typed.label_keys == default.label_keys == DEFAULT_KEYS
    assert all("partial" in text and "partially-correct" not in text for text in exported.values())


def test_the_migration_renames_slugged_default_codes_everywhere_they_are_stored(bob):
    legacy = [{"key": "correct", "label": "Correct"}, {"key": "partially-correct", "label": "Partially correct"},
              {"key": "incorrect", "label": "Incorrect"}]  # fmt: skip
    session = make_session(n=4, k=1, judges=[bob], accuracy_labels=legacy, control_rate=0)
    judge_session(session, [bob], lambda item, judge: ("partially-correct", "correct", "a"))
    SessionItem.objects.filter(session=session, position=0).update(expected_label_a="partially-correct")
    custom = make_session(n=2, k=1, judges=[bob], accuracy_labels=[
        {"key": "partially-correct", "label": "Half right"}, {"key": "wrong", "label": "Wrong"}])  # fmt: skip
    judge_session(custom, [bob], lambda item, judge: ("partially-correct", "wrong", "a"))

    migration = importlib.import_module("annotation.migrations.0008_default_label_codes")
    migration.forwards(apps, None)

    session.refresh_from_db()
    custom.refresh_from_db()
    assert session.label_keys == DEFAULT_KEYS
    assert set(Judgment.objects.filter(session=session).values_list("label_a", flat=True)) == {"partial"}
    assert set(JudgmentRevision.objects.filter(judgment__session=session).values_list("label_a", flat=True)) == {
        "partial"
    }
    assert SessionItem.objects.get(session=session, position=0).expected_label_a == "partial"
    # A label that only shares the slug, not the default label's text, keeps its code.
    assert custom.label_keys == ["partially-correct", "wrong"]
    assert set(Judgment.objects.filter(session=custom).values_list("label_a", flat=True)) == {"partially-correct"}

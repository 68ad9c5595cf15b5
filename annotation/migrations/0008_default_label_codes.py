"""One code per default accuracy label: sessions made from an upload or the staff form stored the typed text's
slug ("partially-correct", also "correct"/"incorrect" which already agree), the demo and sessions from runs
the default key ("partial"). Rename the slugged default codes in every place a label code is stored; a session
that already uses the target code for another label is left as it is."""

from __future__ import annotations

from django.db import migrations

DEFAULTS = {"correct": "Correct", "partial": "Partially correct", "incorrect": "Incorrect"}


def _folded(text: str) -> str:
    return " ".join(str(text).casefold().split())


def _target(entry: dict) -> str | None:
    """The default code for a stored label entry that is a default label under another code."""
    key = entry.get("key", "")
    for default_key, default_text in DEFAULTS.items():
        slug = "-".join(default_text.lower().split())
        if key != default_key and key == slug and _folded(entry.get("label", "")) == _folded(default_text):
            return default_key
    return None


def forwards(apps, schema_editor):
    JudgingSession = apps.get_model("annotation", "JudgingSession")
    Judgment = apps.get_model("annotation", "Judgment")
    JudgmentRevision = apps.get_model("annotation", "JudgmentRevision")
    SessionItem = apps.get_model("annotation", "SessionItem")
    for session in JudgingSession.objects.all().only("pk", "accuracy_labels"):
        labels = session.accuracy_labels or []
        keys = {entry.get("key") for entry in labels}
        renames = {}
        for entry in labels:
            target = _target(entry)
            if target and target not in keys:
                renames[entry["key"]] = target
        if not renames:
            continue
        session.accuracy_labels = [{**entry, "key": renames.get(entry["key"], entry["key"])} for entry in labels]
        session.save(update_fields=["accuracy_labels"])
        for old, new in renames.items():
            for model, prefix in ((Judgment, "label"), (JudgmentRevision, "label"), (SessionItem, "expected_label")):
                scope = (
                    {"judgment__session_id": session.pk} if model is JudgmentRevision else {"session_id": session.pk}
                )
                for side in ("a", "b"):
                    field = f"{prefix}_{side}"
                    model.objects.filter(**scope, **{field: old}).update(**{field: new})


class Migration(migrations.Migration):
    dependencies = [("annotation", "0007_item_flags")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

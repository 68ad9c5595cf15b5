"""N has one name: n_pairs becomes pairs_per_passage on runs and prompt templates (columns renamed, rows kept),
and the template snapshots frozen into runs say pairs_per_passage too."""

from django.db import migrations


def _rename_snapshot_key(apps, old: str, new: str) -> None:
    GenerationRun = apps.get_model("generation", "GenerationRun")
    for run in GenerationRun.objects.exclude(template_snapshot={}).only("pk", "template_snapshot").iterator():
        snapshot = dict(run.template_snapshot or {})
        if old in snapshot:
            value = snapshot.pop(old)
            snapshot.setdefault(new, value)
            GenerationRun.objects.filter(pk=run.pk).update(template_snapshot=snapshot)


def forwards(apps, schema_editor) -> None:
    _rename_snapshot_key(apps, "n_pairs", "pairs_per_passage")


def backwards(apps, schema_editor) -> None:
    _rename_snapshot_key(apps, "pairs_per_passage", "n_pairs")


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0006_import_created_corpus"),
    ]

    operations = [
        migrations.RenameField(model_name="generationrun", old_name="n_pairs", new_name="pairs_per_passage"),
        migrations.RenameField(model_name="prompttemplate", old_name="n_pairs", new_name="pairs_per_passage"),
        migrations.RunPython(forwards, backwards),
    ]

# The analysis app takes over stored statistics (same table, no data moved) and the links from session items
# to the Prediction rows their answers came from (copied from annotation's old columns, which annotation 0006
# then drops), and the statistics job kind gets the new app's name.

import django.db.models.deletion
from django.db import migrations, models

SIDES = ("a", "b")


def copy_links_from_items(apps, schema_editor):
    SessionItem = apps.get_model("annotation", "SessionItem")
    ItemPrediction = apps.get_model("analysis", "ItemPrediction")
    batch = []
    rows = SessionItem.objects.exclude(prediction_a__isnull=True, prediction_b__isnull=True)
    for item_id, pred_a, pred_b in rows.values_list("id", "prediction_a_id", "prediction_b_id").iterator():
        for side, prediction_id in zip(SIDES, (pred_a, pred_b), strict=True):
            if prediction_id is not None:
                batch.append(ItemPrediction(item_id=item_id, side=side, prediction_id=prediction_id))
        if len(batch) >= 2000:
            ItemPrediction.objects.bulk_create(batch)
            batch = []
    ItemPrediction.objects.bulk_create(batch)


def copy_links_to_items(apps, schema_editor):
    SessionItem = apps.get_model("annotation", "SessionItem")
    ItemPrediction = apps.get_model("analysis", "ItemPrediction")
    for link in ItemPrediction.objects.filter(side__in=SIDES).iterator():
        SessionItem.objects.filter(pk=link.item_id).update(**{f"prediction_{link.side}_id": link.prediction_id})


def rename_job_kind(apps, schema_editor):
    apps.get_model("core", "Job").objects.filter(kind="annotation.statistics").update(kind="analysis.statistics")


def rename_job_kind_back(apps, schema_editor):
    apps.get_model("core", "Job").objects.filter(kind="analysis.statistics").update(kind="annotation.statistics")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("annotation", "0005_statistics_move_to_analysis"),
        ("core", "0001_initial"),
        ("training", "0001_initial"),
    ]
    run_before = [("annotation", "0006_prediction_links_move_to_analysis")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SessionStatistics",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("variant", models.CharField(help_text="Computation settings, e.g. 'boot=10000;seed=0;conf=0.95'.", max_length=100)),
                        ("fingerprint", models.CharField(blank=True, help_text="Judgment count, latest update and item count the result was made from.", max_length=200)),
                        ("result", models.JSONField(blank=True, help_text="The summary (None until first computed).", null=True)),
                        ("plots", models.JSONField(blank=True, default=dict, help_text="Server-rendered SVG plots, by name.")),
                        ("n_judgments", models.PositiveIntegerField(default=0)),
                        ("seconds", models.FloatField(blank=True, help_text="How long the computation took.", null=True)),
                        ("computed_at", models.DateTimeField(blank=True, null=True)),
                        ("job", models.ForeignKey(blank=True, help_text="The latest background computation (large sessions).", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="core.job")),
                        ("session", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="statistics", to="annotation.judgingsession")),
                    ],
                    options={
                        "db_table": "annotation_sessionstatistics",
                        "verbose_name_plural": "session statistics",
                        "constraints": [models.UniqueConstraint(fields=("session", "variant"), name="sessionstatistics_variant")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.CreateModel(
            name="ItemPrediction",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("side", models.CharField(help_text='The system the answer belongs to ("a" or "b").', max_length=8)),
                ("item", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="prediction_links", to="annotation.sessionitem")),
                ("prediction", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="training.prediction")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("item", "side"), name="itemprediction_item_side")],
                "indexes": [models.Index(fields=["prediction"], name="analysis_it_predict_6ba2d2_idx")],
            },
        ),
        migrations.RunPython(copy_links_from_items, copy_links_to_items),
        migrations.RunPython(rename_job_kind, rename_job_kind_back),
    ]

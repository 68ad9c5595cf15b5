# Judging knows nothing of training: the links from an item's answers to the evaluation-run Prediction rows
# they came from now live in analysis.ItemPrediction (analysis 0001 copies them before this drops the columns).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0005_statistics_move_to_analysis"),
    ]

    operations = [
        migrations.RemoveField(model_name="sessionitem", name="prediction_a"),
        migrations.RemoveField(model_name="sessionitem", name="prediction_b"),
    ]

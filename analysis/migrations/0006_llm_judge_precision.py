from django.db import migrations, models


class Migration(migrations.Migration):
    """Runs made before this one computed in the device's default (float32 on a CPU): they are "auto"; new runs
    default to "fast" (bf16 where it is native)."""

    dependencies = [
        ("analysis", "0005_llm_judge_pairs_of_systems"),
    ]

    operations = [
        migrations.AddField(
            model_name="llmjudgerun",
            name="precision",
            field=models.CharField(default="auto", max_length=16),
        ),
        migrations.AlterField(
            model_name="llmjudgerun",
            name="precision",
            field=models.CharField(
                choices=[("fast", "fast"), ("auto", "auto"), ("float32", "float32"), ("bfloat16", "bfloat16")],
                default="fast",
                help_text="A local model's compute precision (decoding.precision.PRECISIONS); endpoints ignore it.",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="llmjudgerun",
            name="dtype_used",
            field=models.CharField(
                blank=True, help_text="The dtype the local model ran in, and why (set when it loads).", max_length=80
            ),
        ),
    ]

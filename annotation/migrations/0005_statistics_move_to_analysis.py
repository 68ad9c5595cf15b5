# Stored statistics moved to the analysis app. The table stays where it is (analysis.SessionStatistics keeps
# db_table "annotation_sessionstatistics"); only Django's idea of which app owns it changes.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0004_session_statistics"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="SessionStatistics")],
            database_operations=[],
        ),
    ]

"""SQLite: a submit's writes as ONE statement, like PostgreSQL's data-modifying CTE.

SQLite has no multi-table statement, so a first judgment was three writes (close the slot, insert the
judgment, insert its first revision) in an IMMEDIATE transaction: BEGIN, three statements, COMMIT. Here each
kind of submit becomes an INSERT into a view whose INSTEAD OF trigger does the writes: the statement is atomic
on its own (a failed insert undoes the trigger's earlier writes), takes the write lock when it starts (a
write statement in autocommit does), and holds it for that one statement only. The trigger's first step is
the guard (slot still this judge's, session open; for a revision, the revision count read); when it fails,
RAISE(IGNORE) abandons the statement and its RETURNING gives no row, which is how the caller tells.

Nothing is created on PostgreSQL (annotation/services/judging.py has its CTEs there).

For a later migration: Django alters a SQLite table by rebuilding it (create, copy, drop, rename), and the
rename makes SQLite re-check every trigger, which then names a table that is gone. A migration that alters
annotation_assignment, annotation_judgment, annotation_judgmentrevision or annotation_judgingsession fails
with "error in trigger annotation_submit_...": run DROP before its operations and VIEWS_AND_TRIGGERS (amended
if a column they write changed) after them (tests/annotation/test_sqlite_submit_statement.py shows both).
"""

from django.db import migrations

VIEWS_AND_TRIGGERS = [
    """CREATE VIEW annotation_submit_first AS SELECT
        NULL AS slot, NULL AS token, NULL AS judge, NULL AS now, NULL AS label_a, NULL AS label_b,
        NULL AS preference, NULL AS comment, NULL AS elapsed, NULL AS swapped, NULL AS submission_id""",
    """CREATE TRIGGER annotation_submit_first_writes INSTEAD OF INSERT ON annotation_submit_first
    BEGIN
        SELECT RAISE(IGNORE) WHERE NOT EXISTS (
            SELECT 1 FROM annotation_assignment a JOIN annotation_judgingsession s ON s.id = a.session_id
            WHERE a.id = NEW.slot AND a.token = NEW.token AND a.judge_id = NEW.judge AND s.is_open);
        UPDATE annotation_assignment SET submitted_at = NEW.now, lease_expires_at = NULL WHERE id = NEW.slot;
        INSERT INTO annotation_judgment (assignment_id, session_id, item_id, judge_id, system_a, system_b,
                label_a, label_b, preference, comment, time_on_item_ms, revisions_count, created_at, updated_at)
            SELECT id, session_id, item_id, NEW.judge, system_a, system_b, NEW.label_a, NEW.label_b,
                   NEW.preference, NEW.comment, NEW.elapsed, 1, NEW.now, NEW.now
            FROM annotation_assignment WHERE id = NEW.slot;
        INSERT INTO annotation_judgmentrevision (judgment_id, assignment_id, number, submission_id, label_a,
                label_b, preference, comment, swapped, ms_since_assigned, submitted_at)
            VALUES (last_insert_rowid(), NEW.slot, 1, NEW.submission_id, NEW.label_a, NEW.label_b,
                    NEW.preference, NEW.comment, NEW.swapped, NEW.elapsed, NEW.now);
    END""",
    """CREATE VIEW annotation_submit_revision AS SELECT
        NULL AS judgment, NULL AS previous, NULL AS number, NULL AS slot, NULL AS now, NULL AS label_a,
        NULL AS label_b, NULL AS preference, NULL AS comment, NULL AS elapsed, NULL AS swapped,
        NULL AS submission_id""",
    """CREATE TRIGGER annotation_submit_revision_writes INSTEAD OF INSERT ON annotation_submit_revision
    BEGIN
        SELECT RAISE(IGNORE) WHERE NOT EXISTS (
            SELECT 1 FROM annotation_judgment j JOIN annotation_judgingsession s ON s.id = j.session_id
            WHERE j.id = NEW.judgment AND j.revisions_count = NEW.previous AND s.is_open);
        UPDATE annotation_judgment SET label_a = NEW.label_a, label_b = NEW.label_b, preference = NEW.preference,
                comment = NEW.comment, revisions_count = NEW.number, updated_at = NEW.now
            WHERE id = NEW.judgment;
        INSERT INTO annotation_judgmentrevision (judgment_id, assignment_id, number, submission_id, label_a,
                label_b, preference, comment, swapped, ms_since_assigned, submitted_at)
            VALUES (NEW.judgment, NEW.slot, NEW.number, NEW.submission_id, NEW.label_a, NEW.label_b,
                    NEW.preference, NEW.comment, NEW.swapped, NEW.elapsed, NEW.now);
    END""",
]
DROP = [
    "DROP TRIGGER IF EXISTS annotation_submit_revision_writes",
    "DROP VIEW IF EXISTS annotation_submit_revision",
    "DROP TRIGGER IF EXISTS annotation_submit_first_writes",
    "DROP VIEW IF EXISTS annotation_submit_first",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "sqlite":
            return
        version = schema_editor.connection.Database.sqlite_version_info
        if version < (3, 35):  # RETURNING, which the submit reads its outcome from
            found = ".".join(map(str, version))
            raise RuntimeError(f"qasynth needs SQLite 3.35 or newer (this Python's sqlite3 is {found})")
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("annotation", "0012_open_pairs_index")]

    operations = [migrations.RunPython(_run(DROP + VIEWS_AND_TRIGGERS), _run(DROP))]

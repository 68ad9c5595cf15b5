"""Admin for judging sessions and their rows (read-mostly: judgments are made on the judging page)."""

from __future__ import annotations

from django.contrib import admin

from annotation.models import Assignment, JudgingSession, Judgment, JudgmentRevision, SessionItem, SessionJudge


@admin.register(JudgingSession)
class JudgingSessionAdmin(admin.ModelAdmin):
    list_display = ["name", "system_a", "system_b", "judges_per_item", "is_open", "is_demo", "created_at"]
    list_filter = ["is_open", "is_demo"]
    search_fields = ["name", "system_a", "system_b"]
    filter_horizontal = ["judges"]
    readonly_fields = ["seed", "source", "created_at", "created_by", "judges_per_item"]


@admin.register(SessionItem)
class SessionItemAdmin(admin.ModelAdmin):
    list_display = ["id", "session", "position", "block", "is_control", "control_kind", "question"]
    list_filter = ["is_control", "control_kind", "session"]
    search_fields = ["question", "external_id"]
    raw_id_fields = ["session", "control_source"]


@admin.register(SessionJudge)
class SessionJudgeAdmin(admin.ModelAdmin):
    list_display = ["session", "judge", "joined_at"]
    raw_id_fields = ["session", "judge"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = [
        "id", "session", "item", "slot", "judge", "swapped", "assigned_at", "lease_expires_at", "submitted_at",
    ]  # fmt: skip
    list_filter = ["session"]
    raw_id_fields = ["session", "item", "judge"]
    readonly_fields = ["token", "seed", "swapped", "sequence", "times_released"]


class RevisionInline(admin.TabularInline):
    model = JudgmentRevision
    extra = 0
    can_delete = False
    readonly_fields = [
        "number", "submission_id", "label_a", "label_b", "preference", "comment", "swapped", "ms_since_assigned",
        "submitted_at",
    ]  # fmt: skip
    fields = readonly_fields


@admin.register(Judgment)
class JudgmentAdmin(admin.ModelAdmin):
    list_display = ["id", "session", "item", "judge", "label_a", "label_b", "preference", "time_on_item_ms",
                    "revisions_count", "updated_at"]  # fmt: skip
    list_filter = ["session", "label_a", "label_b", "preference"]
    raw_id_fields = ["assignment", "session", "item", "judge"]
    inlines = [RevisionInline]

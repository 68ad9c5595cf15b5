"""Admin for editable LLM judging templates (the shipped defaults stay in code and are offered beside them)."""

from __future__ import annotations

from django.contrib import admin

from analysis.models import JudgingTemplate


@admin.register(JudgingTemplate)
class JudgingTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "updated_at"]
    list_filter = ["language"]

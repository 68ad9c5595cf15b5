"""Staff forms of the analysis app: judging sessions built from evaluation runs or an experiment's cells."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet

from annotation.forms import SessionSettingsForm
from training.models import EvaluationRun, ExperimentCell


def evaluation_runs_with_predictions() -> QuerySet[EvaluationRun]:
    return EvaluationRun.objects.filter(predictions__isnull=False).distinct().order_by("-created_at")


class RunsSessionForm(SessionSettingsForm):
    """A session from two evaluation runs on the same items."""

    run_a = forms.ModelChoiceField(queryset=None, label="System A: evaluation run")
    run_b = forms.ModelChoiceField(queryset=None, label="System B: evaluation run")
    max_items = forms.IntegerField(min_value=1, required=False, help_text="Judge only the first N items.")
    field_order = ["name", "run_a", "run_b", "max_items"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["run_a"].queryset = evaluation_runs_with_predictions()
        self.fields["run_b"].queryset = evaluation_runs_with_predictions()

    def clean(self):
        data = super().clean()
        if data.get("run_a") and data.get("run_a") == data.get("run_b"):
            raise forms.ValidationError("Choose two different evaluation runs.")
        return data


class CellChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.label} (evaluation run #{obj.evaluation_run_id})"


class ExperimentSessionForm(SessionSettingsForm):
    """One click from an experiment: two of its evaluated cells (default: synthetic vs human)."""

    cell_a = CellChoiceField(queryset=None, label="System A")
    cell_b = CellChoiceField(queryset=None, label="System B")
    max_items = forms.IntegerField(min_value=1, required=False, help_text="Judge only the first N items.")
    field_order = ["name", "cell_a", "cell_b", "max_items"]

    def __init__(self, *args, experiment, cells, **kwargs):
        super().__init__(*args, **kwargs)
        queryset = ExperimentCell.objects.filter(pk__in=[cell.pk for cell in cells]).order_by("position")
        self.fields["cell_a"].queryset = queryset
        self.fields["cell_b"].queryset = queryset

    def clean(self):
        data = super().clean()
        if data.get("cell_a") and data.get("cell_a") == data.get("cell_b"):
            raise forms.ValidationError("Choose two different cells.")
        return data


class JudgePolicyForm(forms.Form):
    exclude_below_threshold = forms.BooleanField(
        required=False, label="Exclude judges below the control threshold from every statistic"
    )
    hourly_rate = forms.DecimalField(min_value=0, max_digits=8, decimal_places=2, label="Hourly rate")
    currency = forms.CharField(max_length=8)


class CellsChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.label} (evaluation run #{obj.evaluation_run_id})"


class ExperimentCellsForm(SessionSettingsForm):
    """ "Judge all cells": every evaluated cell of an experiment (or the ones ticked) as one K-system session."""

    cells = CellsChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, label="Systems (cells)",
        help_text="Every evaluated cell is ticked; untick the ones to leave out (at least two).",
    )  # fmt: skip
    max_items = forms.IntegerField(min_value=1, required=False, help_text="Judge only the first N items.")
    field_order = ["name", "cells", "matchup_design", "pairs_per_item", "max_items"]

    def __init__(self, *args, experiment, cells, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cells"].queryset = ExperimentCell.objects.filter(pk__in=[c.pk for c in cells]).order_by("position")
        if not self.is_bound:
            self.initial.setdefault("cells", [cell.pk for cell in cells])

    def clean_cells(self):
        cells = list(self.cleaned_data["cells"])
        if len(cells) < 2:
            raise forms.ValidationError("Choose at least two cells to compare.")
        return cells

"""Staff forms: a session from an uploaded file, session settings, control items."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.models import User

from annotation.models import DEFAULT_ACCURACY_LABELS, MatchupDesign
from core.permissions import JUDGES_GROUP

DEFAULT_K = 3


def judge_choices():
    return User.objects.filter(groups__name=JUDGES_GROUP, is_active=True).order_by("username")


class SessionSettingsForm(forms.Form):
    """The settings every way of creating a session shares."""

    name = forms.CharField(
        max_length=200,
        initial="Which answer is better?",
        help_text="Judges see this name: do not put system names in it.",
    )
    judges_per_item = forms.IntegerField(
        min_value=1, max_value=50, initial=DEFAULT_K, label="Judges per item (k)",
        help_text="How many different judges judge each item; at most the number of judges.",
    )  # fmt: skip
    judges = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    open_to_all_judges = forms.BooleanField(required=False, help_text="Any member of the judges group may take part.")
    instructions = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False, help_text="Markdown.")
    labels = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        initial="\n".join(label["label"] for label in DEFAULT_ACCURACY_LABELS),
        help_text="Accuracy labels, one per line, best first (2 or 3).",
    )
    ask_preference = forms.BooleanField(required=False, initial=True, label="Ask for a preference (A / tie / B)")
    ask_comment = forms.BooleanField(required=False, initial=True, label="Offer a comment box")
    show_gold = forms.BooleanField(required=False, label="Show gold answers to judges")
    lease_minutes = forms.IntegerField(min_value=1, max_value=24 * 60, initial=10, label="Lease (minutes)")
    control_rate = forms.FloatField(
        min_value=0, max_value=0.5, initial=0.0, help_text="Share of control items (e.g. 0.1); needs gold answers."
    )
    control_threshold = forms.FloatField(min_value=0, max_value=1, initial=0.7, label="Flag judges below")
    matchup_design = forms.ChoiceField(
        choices=MatchupDesign.choices, initial=MatchupDesign.ALL_PAIRS, required=False,
        help_text="With more than two systems: which pairs each item shows. All pairs: every pair on every item "
        "(small K). Balanced: the pairs below per item, every system pair equally often (seeded). Adaptive: "
        "the next pair is the one whose ranking is least certain. Two-system sessions always show their one pair.",
    )  # fmt: skip
    pairs_per_item = forms.IntegerField(
        min_value=1, required=False, help_text="Balanced/adaptive with more than two systems: pairs shown per item "
        "(default 1; at most K (K - 1) / 2)."
    )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["judges"].queryset = judge_choices()
        self.n_judges = self.fields["judges"].queryset.count()
        if self.n_judges and not self.is_bound:
            # k cannot exceed the judges who exist: with 2 judges a k of 3 leaves every item waiting forever.
            self.initial.setdefault("judges_per_item", min(DEFAULT_K, self.n_judges))

    def clean_labels(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["labels"].splitlines() if line.strip()]

    def clean(self):
        data = super().clean()
        if not data.get("judges") and not data.get("open_to_all_judges"):
            raise forms.ValidationError("Choose the judges, or open the session to all judges.")
        k = data.get("judges_per_item")
        if k is not None and (data.get("judges") or data.get("open_to_all_judges")):
            if data.get("open_to_all_judges"):
                available = max(self.n_judges, len(data.get("judges") or []))
                who = f"the judges group has {available} active member{'s' if available != 1 else ''}"
            else:
                available = len(data["judges"])
                who = f"you chose {available} judge{'s' if available != 1 else ''}"
            if k > available:
                self.add_error(
                    "judges_per_item",
                    f"Judges per item (k = {k}) cannot exceed the number of judges: {who}, so no item could get "
                    f"{k} judgments. Choose k of at most {available}, or add judges first.",
                )
        return data

    def session_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "judges_per_item": data["judges_per_item"],
            "judges": list(data["judges"]),
            "open_to_all_judges": data["open_to_all_judges"],
            "instructions": data["instructions"],
            "accuracy_labels": data["labels"],
            "ask_preference": data["ask_preference"],
            "ask_comment": data["ask_comment"],
            "show_gold": data["show_gold"],
            "lease_seconds": data["lease_minutes"] * 60,
            "control_rate": data["control_rate"],
            "control_threshold": data["control_threshold"],
            "matchup_design": data.get("matchup_design") or MatchupDesign.ALL_PAIRS,
            "pairs_per_item": data.get("pairs_per_item"),
        }


class UploadSessionForm(SessionSettingsForm):
    file = forms.FileField(
        help_text="JSONL or CSV with question, context, gold, answer_a, answer_b, system_a, system_b; for more "
        "systems, one answer_<system> column each, or rows of item, system, answer, question "
        f"(at most {settings.QASYNTH_MAX_UPLOAD_BYTES // (1024 * 1024)} MB)."
    )
    system_a = forms.CharField(max_length=200, required=False, help_text="If the file does not name it.")
    system_b = forms.CharField(max_length=200, required=False, help_text="If the file does not name it.")
    field_order = ["name", "file", "system_a", "system_b"]


class ControlsForm(forms.Form):
    rate = forms.FloatField(min_value=0.01, max_value=0.5, initial=0.1, help_text="Controls / all items.")
    threshold = forms.FloatField(min_value=0, max_value=1, initial=0.7, label="Flag judges below")


class RecruitmentForm(forms.ModelForm):
    """What invited judges go through, and the session's limits (see annotation.models.Recruitment)."""

    class Meta:
        from annotation.models import Recruitment

        model = Recruitment
        fields = ["consent_text", "max_judges", "max_items_per_judge", "idle_timeout_seconds", "qualification_size",
                  "qualification_threshold"]  # fmt: skip
        widgets = {"consent_text": forms.Textarea(attrs={"rows": 6})}
        labels = {"consent_text": "Information and consent (Markdown)", "max_judges": "Cap of invited judges",
                  "max_items_per_judge": "Items per judge (0: no cap)", "idle_timeout_seconds": "Idle timeout (s)",
                  "qualification_size": "Qualification items shown first (0: none)",
                  "qualification_threshold": "Pass the qualification from"}  # fmt: skip

    def clean_qualification_threshold(self) -> float:
        value = self.cleaned_data["qualification_threshold"]
        if not 0 <= value <= 1:
            raise forms.ValidationError("Give a share between 0 and 1.")
        return value

    def clean_idle_timeout_seconds(self) -> int:
        value = self.cleaned_data["idle_timeout_seconds"]
        if value < 60:
            raise forms.ValidationError("At least 60 seconds.")
        return value


class InvitationForm(forms.Form):
    kind = forms.ChoiceField(choices=[("personal", "Personal (one judge, one use)"),
                                      ("open", "Open (anyone with the link, up to a cap)")])  # fmt: skip
    label = forms.CharField(max_length=200, required=False, help_text="Your note; judges never see it.")
    email = forms.EmailField(required=False, help_text="Personal links: whom you send it to (shown to staff only).")
    max_judges = forms.IntegerField(min_value=0, initial=0, required=False, label="Cap of judges (open links; 0: none)")
    expires_at = forms.DateTimeField(required=False, help_text="Optional, UTC: YYYY-MM-DD HH:MM.")
    platform = forms.ChoiceField(
        required=False,
        choices=[("", "No crowd platform"), ("prolific", "Prolific (PROLIFIC_PID, STUDY_ID, SESSION_ID)"),
                 ("custom", "Another platform: name the parameters")],  # fmt: skip
    )
    worker_param = forms.CharField(max_length=64, required=False, label="Worker id parameter")
    study_param = forms.CharField(max_length=64, required=False, label="Study id parameter")
    session_param = forms.CharField(max_length=64, required=False, label="Platform session id parameter")
    completion_code = forms.CharField(max_length=64, required=False)
    completion_url = forms.URLField(
        max_length=500, required=False, assume_scheme="https", help_text="Finished judges are sent here."
    )
    screened_out_code = forms.CharField(max_length=64, required=False)
    screened_out_url = forms.URLField(max_length=500, required=False, assume_scheme="https")

    def link_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["max_judges"] = data.get("max_judges") or 0
        data.pop("kind")
        return data

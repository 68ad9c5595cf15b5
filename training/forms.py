"""Forms for staff: start a training run, an evaluation run, or an experiment from a preset."""

from __future__ import annotations

from django import forms

from core.models import JobStatus, ModelEntry, ModelRole
from core.services.model_registry import local_causal_models
from decoding.precision import PRECISIONS
from generation.forms import PrecisionField
from generation.models import Corpus, QADataset, Split
from training.models import TrainingRun
from training.run_settings import EvaluationSettings, TrainingSettings
from training.services.training_runs import GENERIC_DEFAULTS

DEVICE_CHOICES = [("auto", "auto (CUDA when present)"), ("cpu", "CPU"), ("cuda", "CUDA")]
DTYPE_CHOICES = [("auto", "auto (bf16/fp16 on CUDA, fp32 on CPU)"), ("float32", "float32"), ("bfloat16", "bfloat16")]
DTYPE_CHOICES.append(("float16", "float16 (CUDA only)"))


def _int_list(text: str, *, name: str, allowed: set[int] | None = None) -> list[int]:
    try:
        values = sorted({int(part) for part in text.replace(";", ",").split(",") if part.strip()})
    except ValueError:
        raise forms.ValidationError(f"{name}: write whole numbers separated by commas, e.g. 1, 3") from None
    if not values:
        raise forms.ValidationError(f"{name}: give at least one value")
    if allowed is not None and not set(values) <= allowed:
        raise forms.ValidationError(f"{name}: only {', '.join(map(str, sorted(allowed)))} are supported")
    if any(v < 1 for v in values) and allowed is None:
        raise forms.ValidationError(f"{name}: values must be at least 1")
    return values


class TrainingRunForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="Blank: '<model> on <dataset>'.")
    base_model = forms.ModelChoiceField(queryset=ModelEntry.objects.filter(role=ModelRole.QA_BASE))
    dataset = forms.ModelChoiceField(queryset=QADataset.objects.filter(frozen=True))
    lora_r = forms.IntegerField(min_value=1, initial=GENERIC_DEFAULTS["lora_r"], label="LoRA r")
    lora_alpha = forms.IntegerField(min_value=1, initial=GENERIC_DEFAULTS["lora_alpha"], label="LoRA alpha")
    lora_dropout = forms.FloatField(min_value=0, max_value=0.99, initial=GENERIC_DEFAULTS["lora_dropout"])
    target_modules = forms.CharField(
        required=False, help_text="Comma-separated module names; blank = the default for the architecture."
    )
    epochs = forms.IntegerField(min_value=1, initial=GENERIC_DEFAULTS["epochs"])
    max_steps = forms.IntegerField(min_value=1, required=False, help_text="Overrides epochs when set.")
    learning_rate = forms.FloatField(required=False, help_text="Blank = the architecture's default.")
    batch_size = forms.IntegerField(min_value=1, initial=GENERIC_DEFAULTS["batch_size"])
    gradient_accumulation_steps = forms.IntegerField(min_value=1, initial=1)
    max_seq_length = forms.IntegerField(min_value=8, required=False, help_text="Blank = the architecture's default.")
    seed = forms.IntegerField(initial=GENERIC_DEFAULTS["seed"])
    checkpoint_every = forms.IntegerField(min_value=1, initial=GENERIC_DEFAULTS["checkpoint_every"])
    device = forms.ChoiceField(choices=DEVICE_CHOICES, initial="auto")
    dtype = forms.ChoiceField(choices=DTYPE_CHOICES, initial="auto")
    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="Prompt template with {context} and {question}; blank = the dataset language's default.",
    )

    def clean_target_modules(self) -> list[str] | None:
        text = self.cleaned_data.get("target_modules") or ""
        names = [part.strip() for part in text.split(",") if part.strip()]
        return names or None

    def clean_learning_rate(self) -> float | None:
        value = self.cleaned_data.get("learning_rate")
        if value is not None and value <= 0:
            raise forms.ValidationError("The learning rate must be positive.")
        return value

    def settings(self) -> TrainingSettings:
        """The run's settings from the form; blank optional fields are left to the architecture's defaults."""
        names = set(TrainingSettings.field_names()) & set(self.cleaned_data)
        return TrainingSettings.from_params({name: self.cleaned_data[name] for name in names})

    def template(self) -> dict | None:
        prompt = (self.cleaned_data.get("prompt") or "").strip()
        if not prompt:
            return None
        language = self.cleaned_data["dataset"].language
        return {"language": language, "prompt": prompt, "answer_prefix": "" if language == "ja" else " "}


class EvaluationRunForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    training_run = forms.ModelChoiceField(
        queryset=TrainingRun.objects.filter(job__status=JobStatus.SUCCEEDED),
        required=False,
        help_text="The adapter to evaluate. Leave blank and choose a base model for a baseline.",
    )
    base_model = forms.ModelChoiceField(queryset=ModelEntry.objects.filter(role=ModelRole.QA_BASE), required=False)
    corpus = forms.ModelChoiceField(queryset=Corpus.objects.all())
    split = forms.ChoiceField(choices=Split.choices, initial=Split.VALIDATION)
    max_items = forms.IntegerField(min_value=1, required=False, help_text="Blank = every reference pair.")
    batch_size = forms.IntegerField(min_value=1, initial=8)
    max_new_tokens = forms.IntegerField(min_value=1, max_value=1024, initial=48)
    bertscore_model = forms.ModelChoiceField(
        queryset=ModelEntry.objects.filter(role=ModelRole.BERTSCORE),
        required=False,
        help_text="Blank = the default encoder for the corpus language.",
    )
    bertscore_num_layers = forms.IntegerField(min_value=1, required=False)
    bleu_tokenize = forms.ChoiceField(
        choices=[("", "by language"), ("13a", "13a"), ("ja-mecab", "ja-mecab"), ("char", "char")], required=False
    )
    precision = PrecisionField(help_text="The answering model's; BERTScore's encoder always runs in float32.")

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("training_run") and not data.get("base_model"):
            raise forms.ValidationError("Choose a training run (adapter) or a base model.")
        return data

    def settings(self) -> EvaluationSettings:
        data = self.cleaned_data
        names = set(EvaluationSettings.field_names()) & set(data)
        bertscore = data.get("bertscore_model")
        return EvaluationSettings.from_params(
            {name: data[name] for name in names}, bertscore_model_id=bertscore.pk if bertscore else None
        )


BASELINE_READER = "baseline"


class ExperimentForm(forms.Form):
    preset = forms.ChoiceField(choices=[])
    name = forms.CharField(max_length=200, required=False)
    corpus = forms.ModelChoiceField(
        queryset=Corpus.objects.all(), required=False, help_text="Blank = the preset's demo corpus."
    )
    shots = forms.CharField(required=False, help_text="e.g. 0, 1 (blank = preset).")
    pairs_per_passage = forms.CharField(required=False, label="N values", help_text="e.g. 1, 3 (blank = preset).")
    max_concurrent = forms.IntegerField(min_value=1, max_value=64, required=False, help_text="Blank = preset.")
    max_steps = forms.IntegerField(min_value=1, required=False, help_text="Training steps per model; blank = preset.")
    eval_items = forms.IntegerField(min_value=1, required=False, help_text="Blank = preset.")
    max_passages = forms.IntegerField(
        min_value=1,
        required=False,
        label="Training passages",
        help_text="Generate from the first this many training passages; blank = preset (the demo presets: all).",
    )
    eval_split = forms.ChoiceField(
        choices=[
            ("", "validation, or test where the corpus has no validation pairs"),
            (Split.VALIDATION, "validation"),
            (Split.TEST, "test"),
        ],
        required=False,
        label="Evaluation split",
    )
    include_base_model = forms.BooleanField(required=False, help_text="Also evaluate the base model untrained.")
    precision = forms.ChoiceField(
        choices=[("", "as the preset sets it"), *PRECISIONS.items()],
        required=False,
        help_text="Generation and evaluation of the whole grid (training keeps float32 on a CPU). 'fast' generated "
        "2.9x faster per accepted pair with the same yield on JSQuAD (README).",
    )
    round_trip_reader = forms.ChoiceField(
        required=False,
        label="Round-trip reader",
        help_text="Who answers each generated question before its pair is kept (choosing one turns the round-trip "
        "filter on). The human baseline's adapter is trained first on the train split's human pairs; the "
        "generation runs wait for it.",
    )

    def __init__(self, *args, **kwargs) -> None:
        from training.services.experiments import PRESETS

        super().__init__(*args, **kwargs)
        self.fields["preset"].choices = [(key, preset.label) for key, preset in PRESETS.items()]
        self.fields["round_trip_reader"].choices = [
            ("", "as the preset sets it (the generator, where it filters)"),
            (BASELINE_READER, "the human baseline's adapter (trained first)"),
            *((str(entry.pk), entry.name) for entry in local_causal_models().order_by("name")),
        ]

    def clean_round_trip_reader(self) -> ModelEntry | str | None:
        """None, BASELINE_READER, or the chosen model."""
        value = self.cleaned_data.get("round_trip_reader") or ""
        if value in ("", BASELINE_READER):
            return value or None
        return ModelEntry.objects.get(pk=int(value))  # the choices hold only existing entries

    def clean_shots(self) -> list[int] | None:
        text = self.cleaned_data.get("shots") or ""
        return _int_list(text, name="Shots", allowed={0, 1}) if text.strip() else None

    def clean_pairs_per_passage(self) -> list[int] | None:
        text = self.cleaned_data.get("pairs_per_passage") or ""
        return _int_list(text, name="N values") if text.strip() else None

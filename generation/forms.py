"""Staff forms: corpus upload, new generation run, hand edits of a pair, dataset builds.

Forms only parse and check input; the services in generation/services do the work. The same upload form
serves the staff page and the admin, so both accept and refuse exactly the same things.
"""

from __future__ import annotations

from django import forms
from django.conf import settings

from core.models import JobStatus, ModelEntry, ModelRole
from core.services.model_registry import local_causal_models
from decoding.precision import PRECISIONS
from generation.importers.readers import FORMATS
from generation.models import Corpus, GenerationRun, PairStatus, PromptTemplate, Split
from generation.run_settings import RunSettings
from generation.services.imports import ImportOptions


class PrecisionField(forms.TypedChoiceField):
    """A local model's compute precision (decoding.precision); left out of a post, the settings' default."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("initial", "auto")
        super().__init__(choices=list(PRECISIONS.items()), required=False, empty_value=None, **kwargs)


SPLIT_CHOICES = [("", "all / unsplit"), *[(s, s) for s in Split.values if s]]


class ImportUploadForm(forms.Form):
    corpus = forms.ModelChoiceField(queryset=Corpus.objects.all(), required=False, help_text="An existing corpus…")
    new_corpus = forms.CharField(max_length=200, required=False, help_text="…or the name of a new one.")
    language = forms.CharField(max_length=8, initial="en", required=False, help_text="New corpus: 'en', 'ja', …")
    source = forms.CharField(max_length=100, required=False, help_text="New corpus: 'wikipedia', 'news', 'jsquad', …")
    file = forms.FileField(help_text="Plain text, JSONL, CSV/TSV or SQuAD-format JSON (SQuAD 1.1/2.0, JSQuAD).")
    format = forms.ChoiceField(
        choices=[("auto", "from the file extension"), *[(f, f) for f in FORMATS]], initial="auto"
    )
    text_column = forms.CharField(initial="text", help_text="JSONL/CSV: the field holding the passage.")
    title_column = forms.CharField(initial="title", required=False)
    id_column = forms.CharField(initial="id", required=False)
    qas_column = forms.CharField(initial="qas", required=False, help_text="JSONL: a list of question objects.")
    question_column = forms.CharField(required=False, help_text="One row per question: the question column.")
    answer_column = forms.CharField(required=False)
    delimiter = forms.CharField(required=False, max_length=3, help_text="CSV: default ',' (tab for .tsv); \\t = tab.")
    keep_unanswerable = forms.BooleanField(required=False, help_text="SQuAD 2.0: keep questions without answers.")
    split = forms.ChoiceField(
        choices=SPLIT_CHOICES, required=False, help_text="Mark every new passage with this split…"
    )
    split_seed = forms.IntegerField(required=False, help_text="…or carve a seeded split grouped by article (title).")
    validation_fraction = forms.FloatField(required=False, initial=0.0, min_value=0, max_value=1)
    test_fraction = forms.FloatField(required=False, initial=0.0, min_value=0, max_value=1)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.QASYNTH_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {upload.size} bytes; the limit is {limit} bytes (QASYNTH_MAX_UPLOAD_BYTES). "
                "Nothing was imported; a larger corpus can be imported on the server with manage.py import_passages."
            )
        return upload

    def clean(self):
        data = super().clean()
        if not data.get("corpus") and not (data.get("new_corpus") or "").strip():
            raise forms.ValidationError("Choose a corpus or give the name of a new one.")
        if data.get("corpus") and (data.get("new_corpus") or "").strip():
            raise forms.ValidationError("Choose an existing corpus or name a new one, not both.")
        if not data.get("corpus") and Corpus.objects.filter(name=(data.get("new_corpus") or "").strip()).exists():
            self.add_error("new_corpus", "A corpus with this name exists: choose it above.")
        if "format" in data and "text_column" in data:
            problems = self.options().errors()
            if problems:
                raise forms.ValidationError([p[0].upper() + p[1:] + "." for p in problems])
        return data

    def options(self) -> ImportOptions:
        data = self.cleaned_data
        return ImportOptions(
            format=data.get("format") or "auto",
            text_column=data.get("text_column") or "",
            title_column=data.get("title_column") or "",
            id_column=data.get("id_column") or "",
            qas_column=data.get("qas_column") or "",
            question_column=data.get("question_column") or "",
            answer_column=data.get("answer_column") or "",
            delimiter=data.get("delimiter") or "",
            keep_unanswerable=bool(data.get("keep_unanswerable")),
            split=data.get("split") or "",
            split_seed=data.get("split_seed"),
            validation_fraction=data.get("validation_fraction") or 0.0,
            test_fraction=data.get("test_fraction") or 0.0,
        )

    def corpus_or_new(self) -> tuple[Corpus, bool]:
        """The chosen corpus, or the new one named (created now); and whether it was created here."""
        from generation.services.imports import get_or_create_corpus

        data = self.cleaned_data
        if data.get("corpus"):
            return data["corpus"], False
        return get_or_create_corpus(
            data["new_corpus"], language=(data.get("language") or "en").strip(), source=data.get("source") or ""
        )


class GeneratorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ModelEntry) -> str:
        language = obj.language or "any language"
        return f"{obj.name} ({obj.get_kind_display()}, {language}{', default' if obj.is_default else ''})"


class GenerationRunForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    corpus = forms.ModelChoiceField(queryset=Corpus.objects.all())
    split = forms.ChoiceField(choices=SPLIT_CHOICES, required=False)
    limit = forms.IntegerField(required=False, min_value=1, help_text="At most this many passages (the first by id).")
    generator = GeneratorChoiceField(
        queryset=ModelEntry.objects.filter(role=ModelRole.GENERATOR),
        help_text="Models registered as QA generators (encoders and LoRA bases are listed under their own roles).",
    )
    template = forms.ModelChoiceField(queryset=PromptTemplate.objects.all())
    pairs_per_passage = forms.IntegerField(min_value=1, max_value=50, initial=3)
    prompt_mode = forms.ChoiceField(
        choices=[
            ("auto", "auto (chat template if the model has one)"),
            ("chat", "chat"),
            ("plain", "plain (base model)"),
        ]
    )
    temperature = forms.FloatField(min_value=0, initial=0.0, help_text="0 = greedy.")
    top_p = forms.FloatField(min_value=0.01, max_value=1, initial=1.0)
    max_new_tokens = forms.IntegerField(min_value=1, max_value=8192, initial=256)
    repetition_penalty = forms.FloatField(min_value=0.01, initial=1.0)
    seed = forms.IntegerField(initial=0)
    batch_size = forms.IntegerField(min_value=1, max_value=512, initial=8)
    concurrency = forms.IntegerField(min_value=1, max_value=256, initial=4, help_text="Endpoint models only.")
    precision = PrecisionField(
        help_text="Local models. 'fast' (bf16 on CPUs with bf16 instructions) generated 2.4x faster than float32 on "
        "this project's CPU, but greedy text then differs from float32's after a while: see the README's yield table.",
    )
    # Yield options: each a deviation from the paper's method (all off reproduces it); see the README's table.
    rotate_exemplars = forms.BooleanField(
        required=False,
        label="Exemplar rotation (deviation from the paper)",
        help_text="One-shot: draw the example per passage from the template's example and the corpus's "
        "train-split human pairs (never the passage itself or an evaluation split).",
    )
    answer_aware = forms.BooleanField(
        required=False,
        label="Answer-aware generation (deviation from the paper)",
        help_text="Pick answers from the passage first (MeCab for Japanese), then ask the model for each "
        "answer's question.",
    )
    samples = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=16,
        initial=1,
        label="Samples per passage, k (deviation from the paper when > 1)",
        help_text="k completions per prompt (needs a temperature > 0), or k x N answers when answer-aware; "
        "duplicates are dropped and the best N accepted pairs kept.",
    )
    round_trip = forms.BooleanField(
        required=False,
        label="Round-trip filter (deviation from the paper)",
        help_text="The model answers each accepted question from the passage (local models: the passage span "
        "it scores highest; endpoints: its own one-line answer); the pair is kept only if that answer matches "
        "(EM or token F1 >= the threshold, characters for Japanese).",
    )
    round_trip_threshold = forms.FloatField(
        required=False, min_value=0.01, max_value=1, initial=0.5, label="Round-trip threshold"
    )
    round_trip_reader = GeneratorChoiceField(
        queryset=local_causal_models(),
        required=False,
        label="Round-trip reader",
        empty_label="the generator itself",
        help_text="A local model that answers the round trip instead, e.g. a training run's adapter registered "
        "with 'Use as round-trip reader' (asked in the prompt it was trained with).",
    )
    copy_guard = forms.BooleanField(
        required=False,
        label="Copy guard (deviation from the paper)",
        help_text="One-shot, local models: while the model writes, the content words of the example's questions "
        "and answers that the passage lacks are made unlikely (question phrasing excepted), so that it writes "
        "about the passage, not the example.",
    )

    def settings(self) -> RunSettings:
        """The run's settings from the form (blank optional fields take RunSettings' defaults)."""
        return RunSettings.from_params({name: self.cleaned_data.get(name) for name in RunSettings.field_names()})


class PairEditForm(forms.Form):
    question = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    answer = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    status = forms.ChoiceField(
        choices=[(PairStatus.ACCEPTED, "accepted"), (PairStatus.MANUALLY_REJECTED, "rejected by hand")],
        help_text="A pair validation rejected can be accepted by hand.",
    )
    note = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Why (kept with the revision)."
    )


class SyntheticDatasetForm(forms.Form):
    name = forms.CharField(max_length=200)
    runs = forms.ModelMultipleChoiceField(queryset=GenerationRun.objects.none())
    split = forms.ChoiceField(choices=[("", "any"), *[(s, s) for s in Split.values if s]], required=False)
    limit = forms.IntegerField(
        required=False, min_value=1, help_text="A seeded random sample of at most this many pairs."
    )
    seed = forms.IntegerField(initial=0)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    allow_incomplete = forms.BooleanField(required=False, help_text="Also use runs that were cancelled or failed.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["runs"].queryset = GenerationRun.objects.select_related("job", "corpus").exclude(
            job__status__in=[JobStatus.QUEUED]
        )


class HumanDatasetForm(forms.Form):
    name = forms.CharField(max_length=200)
    corpus = forms.ModelChoiceField(queryset=Corpus.objects.all())
    split = forms.ChoiceField(choices=[(s, s) for s in Split.values if s] + [("", "unsplit")])
    limit = forms.IntegerField(required=False, min_value=1)
    seed = forms.IntegerField(initial=0)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

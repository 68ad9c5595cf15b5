"""Staff pages for corpora, imports, generation runs and datasets. Thin: forms parse, services act.

Every view here is wrapped in staff_required in generation/urls.py (judges get 403).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import Length, Substr
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.redirects import safe_next
from core.views import job_as_dict
from generation.forms import (
    GenerationRunForm,
    HumanDatasetForm,
    ImportUploadForm,
    PairEditForm,
    SyntheticDatasetForm,
)
from generation.importers.errors import CorpusImportError, then
from generation.models import (
    Corpus,
    GenerationRun,
    Import,
    PairStatus,
    Passage,
    QADataset,
    RawOutput,
    ReferenceQA,
    SyntheticPair,
)
from generation.services import datasets, generation_runs, imports
from generation.services.prompt_templates import default_template_for, seed_default_templates
from generation.services.yield_report import yield_report
from qasynth_lib.files import describe_os_error

# ------------------------------------------------------------------------------------------ corpora


def corpus_list(request: HttpRequest) -> HttpResponse:
    corpora = Corpus.objects.annotate(
        n_passages=Count(
            "passages",
            filter=Q(passages__import_batch__isnull=True) | Q(passages__import_batch__status="complete"),
            distinct=True,
        ),
        n_imports=Count("imports", distinct=True),
    ).order_by("name")
    return render(request, "generation/corpus_list.html", {"corpora": corpora})


def corpus_detail(request: HttpRequest, pk: int) -> HttpResponse:
    corpus = get_object_or_404(Corpus, pk=pk)
    visible_pairs = Q(reference_pairs__import_batch__isnull=True) | Q(reference_pairs__import_batch__status="complete")
    passages = corpus.passages.annotate(n_pairs=Count("reference_pairs", filter=visible_pairs))
    split = request.GET.get("split")
    if split is not None:
        passages = passages.filter(split=split)
    splits = corpus.passages.values("split").annotate(n=Count("id")).order_by("split")
    context = {
        "corpus": corpus,
        "page": Paginator(passages.order_by("pk"), 25).get_page(request.GET.get("page")),
        "splits": splits,
        "split": split,
        "n_reference": ReferenceQA.objects.filter(passage__corpus=corpus).count(),
        "imports": corpus.imports.select_related("job")[:20],
        "runs": corpus.generation_runs.select_related("job", "generator")[:20],
    }
    return render(request, "generation/corpus_detail.html", context)


# ------------------------------------------------------------------------------------------ imports


def handle_import_upload(request: HttpRequest, template: str, extra: dict | None = None) -> HttpResponse:
    """The upload form for the staff page and the admin: check the first records at once (so an obviously
    wrong file or column is reported on the form), then queue the full import as a job."""
    initial = {"corpus": request.GET.get("corpus")} if request.GET.get("corpus") else None
    form = ImportUploadForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        options = form.options()
        try:
            stored = imports.store_upload(form.cleaned_data["file"])
        except OSError as exc:
            form.add_error("file", f"The upload could not be stored: {describe_os_error(exc)}. Nothing was imported.")
            return render(request, template, {"form": form, **(extra or {})}, status=400)
        try:
            imports.precheck(stored.path, options)
        except (CorpusImportError, imports.ImportOptionsError) as exc:
            imports.discard_upload(stored.path)
            message = exc.user_message if isinstance(exc, CorpusImportError) else str(exc)
            form.add_error("file", then(message, "Nothing was imported."))
        else:
            with transaction.atomic():
                corpus, created = form.corpus_or_new()
                imp = imports.create_import(corpus, stored, options, user=request.user, created_corpus=created)
                imports.start_import_job(imp, user=request.user)
            earlier = imports.previous_complete_import(imp)
            note = (
                f" The same file was imported before (import #{earlier.pk}); known passages are skipped."
                if earlier
                else ""
            )
            messages.success(request, f"Importing {stored.name} into {corpus.name}; this page follows it live.{note}")
            return redirect(imp.get_absolute_url())
    return render(request, template, {"form": form, **(extra or {})}, status=400 if form.errors else 200)


def import_upload(request: HttpRequest) -> HttpResponse:
    return handle_import_upload(request, "generation/import_upload.html")


def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    imp = get_object_or_404(Import.objects.select_related("corpus", "job"), pk=pk)
    context = {"imp": imp, "base_template": "generation/_no_job.html"}
    if imp.job:
        context.update(job=imp.job, job_json=job_as_dict(imp.job), base_template="core/job_detail.html")
    return render(request, "generation/import_detail.html", context)


# ------------------------------------------------------------------------------------------ runs


def run_list(request: HttpRequest) -> HttpResponse:
    runs = (
        GenerationRun.objects.select_related("job", "corpus", "generator")
        .annotate(
            n_outputs=Count("raw_outputs", distinct=True),
            n_accepted=Count("pairs", filter=Q(pairs__status=PairStatus.ACCEPTED), distinct=True),
        )
        .order_by("-created_at", "-id")
    )
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    return render(request, "generation/run_list.html", {"page": page})


def run_defaults(language: str) -> dict:
    """The template and generator a new run on a corpus of this language starts from."""
    from core.models import ModelRole
    from core.services.model_registry import default_model

    # Japanese defaults to one-shot: the offline Japanese generator is a base model that continues
    # an example's pattern rather than following an instruction.
    shots = 1 if language.split("-")[0] == "ja" else 0
    generator = default_model(ModelRole.GENERATOR, language)
    return {"template": default_template_for(language, shots), "generator": generator}


def run_new(request: HttpRequest) -> HttpResponse:
    seed_default_templates()
    corpus = Corpus.objects.filter(pk=request.GET.get("corpus")).first() if request.GET.get("corpus") else None
    corpora = list(Corpus.objects.only("pk", "language"))
    if corpus is None and len(corpora) == 1:
        corpus = corpora[0]
    initial: dict = {"corpus": corpus} if corpus else {}
    initial.update({k: v for k, v in run_defaults(corpus.language if corpus else "en").items() if v is not None})
    # Per corpus, what to switch to when staff pick another corpus (static/js/run_form.js).
    by_language = {language: run_defaults(language) for language in {c.language for c in corpora}}
    corpus_defaults = {
        str(c.pk): {key: value.pk for key, value in by_language[c.language].items() if value is not None}
        for c in corpora
    }
    form = GenerationRunForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                run = generation_runs.create_run(
                    data["corpus"], data["generator"], data["template"], settings=form.settings(),
                    split=data.get("split") or "", limit=data.get("limit"), name=data.get("name") or "",
                    user=request.user, round_trip_reader=data.get("round_trip_reader"),
                )  # fmt: skip
        except generation_runs.RunSetupError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Generation run #{run.pk} queued ({run.passages_total} passages).")
            return redirect(run.get_absolute_url())
    context = {"form": form, "corpus_defaults": corpus_defaults}
    return render(request, "generation/run_new.html", context, status=400 if form.errors else 200)


def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(
        GenerationRun.objects.select_related("job", "corpus", "generator", "template", "round_trip_reader"), pk=pk
    )
    reason = request.GET.get("reason", "")
    # Counted before the outputs are read: a worker may be storing outputs meanwhile (each query is its own
    # snapshot), and outputs only grow, so the table then shows at least what "Passages done" says, never
    # "No outputs yet" beside "2 of 2" (a page refreshed mid-run did).
    outputs_done = RawOutput.objects.filter(run=run).count()
    outputs = RawOutput.objects.filter(run=run).select_related("passage").order_by("passage_id")
    if reason:
        outputs = outputs.filter(
            Exists(SyntheticPair.objects.filter(raw_output=OuterRef("pk"), rejection_reason=reason))
        )
    page = Paginator(outputs, 10).get_page(request.GET.get("page"))
    pairs_by_output: dict[int, list[SyntheticPair]] = {}
    for pair in SyntheticPair.objects.filter(raw_output__in=[o.pk for o in page]).order_by("index"):
        pairs_by_output.setdefault(pair.raw_output_id, []).append(pair)
    rows = []
    for output in page:
        pairs = pairs_by_output.get(output.pk, [])
        rows.append(
            {
                "output": output,
                "prompt": generation_runs.describe_prompt(output),
                "accepted": [p for p in pairs if p.status == PairStatus.ACCEPTED],
                "rejected": [p for p in pairs if p.status != PairStatus.ACCEPTED],
            }
        )
    context = {
        "run": run,
        "job": run.job,
        "job_json": job_as_dict(run.job),
        "counts": generation_runs.status_counts(run),
        "reasons": generation_runs.reason_counts(run),
        "yield_report": yield_report(run),
        "outputs_done": outputs_done,
        "rows": rows,
        "page": page,
        "reason": reason,
    }
    return render(request, "generation/run_detail.html", context)


def _pair_redirect(request: HttpRequest, pair: SyntheticPair) -> HttpResponse:
    return redirect(safe_next(request, reverse("generation:run-detail", args=[pair.run_id])))


def pair_edit(request: HttpRequest, pk: int) -> HttpResponse:
    pair = get_object_or_404(SyntheticPair.objects.select_related("passage", "run", "raw_output"), pk=pk)
    form = PairEditForm(
        request.POST or None,
        initial={
            "question": pair.question,
            "answer": pair.answer,
            "status": pair.status if pair.status != PairStatus.REJECTED else PairStatus.MANUALLY_REJECTED,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            generation_runs.edit_pair(
                pair, user=request.user, question=data["question"], answer=data["answer"],
                status=data["status"], note=data.get("note") or "",
            )  # fmt: skip
        except generation_runs.PairEditError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Pair #{pair.pk} saved; the previous version is kept as a revision.")
            return _pair_redirect(request, pair)
    context = {
        "pair": pair,
        "form": form,
        "revisions": pair.revisions.select_related("changed_by"),
        "next": safe_next(request, ""),
    }
    return render(request, "generation/pair_edit.html", context, status=400 if form.errors else 200)


@require_POST
def pair_reject(request: HttpRequest, pk: int) -> HttpResponse:
    pair = get_object_or_404(SyntheticPair, pk=pk)
    generation_runs.reject_pair(pair, user=request.user, note=request.POST.get("note", ""))
    messages.success(request, f"Pair #{pair.pk} rejected by hand.")
    return _pair_redirect(request, pair)


# ------------------------------------------------------------------------------------------ datasets


def dataset_list(request: HttpRequest) -> HttpResponse:
    synthetic_form = SyntheticDatasetForm(prefix="syn")
    human_form = HumanDatasetForm(prefix="hum")
    if request.method == "POST":
        kind = request.POST.get("kind")
        form = (
            SyntheticDatasetForm(request.POST, prefix="syn")
            if kind == "synthetic"
            else HumanDatasetForm(request.POST, prefix="hum")
        )
        if kind == "synthetic":
            synthetic_form = form
        else:
            human_form = form
        if form.is_valid():
            data = form.cleaned_data
            try:
                if kind == "synthetic":
                    dataset = datasets.build_synthetic_dataset(
                        list(data["runs"]), data["name"], description=data.get("description") or "",
                        user=request.user, limit=data.get("limit"), seed=data.get("seed") or 0,
                        split=data.get("split") or None, allow_incomplete=bool(data.get("allow_incomplete")),
                    )  # fmt: skip
                else:
                    dataset = datasets.build_human_dataset(
                        data["corpus"], data.get("split") or "", data["name"],
                        description=data.get("description") or "", user=request.user, limit=data.get("limit"),
                        seed=data.get("seed") or 0,
                    )  # fmt: skip
            except datasets.DatasetError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, f"Dataset {dataset} built with {dataset.provenance.get('examples', 0)} examples."
                )
                return redirect(dataset.get_absolute_url())
    rows = (
        QADataset.objects.annotate(n_examples=Count("examples"))
        .select_related("corpus", "created_by")
        .order_by("-created_at", "-id")
    )
    context = {"datasets": rows, "synthetic_form": synthetic_form, "human_form": human_form}
    status = (
        400
        if (synthetic_form.is_bound and synthetic_form.errors) or (human_form.is_bound and human_form.errors)
        else 200
    )
    return render(request, "generation/dataset_list.html", context, status=status)


def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = get_object_or_404(QADataset, pk=pk)
    examples = Paginator(dataset.examples.order_by("pk"), 25).get_page(request.GET.get("page"))
    return render(
        request, "generation/dataset_detail.html", {"dataset": dataset, "page": examples, "runs": dataset.runs.all()}
    )


EXPORTS = {
    "jsonl": (datasets.export_jsonl, "application/x-ndjson", "jsonl"),
    "squad": (datasets.export_squad, "application/json", "squad.json"),
}


def dataset_export(request: HttpRequest, pk: int, fmt: str) -> StreamingHttpResponse:
    dataset = get_object_or_404(QADataset, pk=pk)
    if fmt not in EXPORTS:
        raise Http404("Unknown export format.")
    if not dataset.frozen:
        raise Http404("This dataset is still being built.")
    writer, content_type, suffix = EXPORTS[fmt]
    response = StreamingHttpResponse((chunk.encode("utf-8") for chunk in writer(dataset)), content_type=content_type)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in dataset.name)
    response["Content-Disposition"] = f'attachment; filename="{safe}-v{dataset.version}.{suffix}"'
    return response


PASSAGE_PREVIEW_CHARS = 5000


def passage_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The passage with its pairs. Only the first PASSAGE_PREVIEW_CHARS characters are read from the
    database and sent (a one-line 10 MB passage would otherwise be 10 MB of HTML); the rest is one click
    away as plain text."""
    passage = get_object_or_404(
        Passage.objects.select_related("corpus")
        .defer("text")
        .annotate(preview=Substr("text", 1, PASSAGE_PREVIEW_CHARS), text_length=Length("text")),
        pk=pk,
    )
    pairs = SyntheticPair.objects.filter(passage=passage).select_related("run")
    context = {
        "passage": passage,
        "preview": passage.preview,
        "truncated": passage.text_length > PASSAGE_PREVIEW_CHARS,
        "references": passage.reference_pairs.all(),
        "pairs": pairs,
    }
    return render(request, "generation/passage_detail.html", context)


def passage_text(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole passage text as UTF-8 plain text (`?download=1`: as a file)."""
    passage = get_object_or_404(Passage, pk=pk)
    response = HttpResponse(passage.text, content_type="text/plain; charset=utf-8")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="passage-{passage.pk}.txt"'
    return response

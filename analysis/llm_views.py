"""Staff pages of LLM judging runs: start one on a session (one click with the default generator), follow
its progress, read its verdicts and how far they agree with the session's human judges.

Staff only: the run page shows which system wrote which answer, so no judge may reach it.
"""

from __future__ import annotations

import csv
import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from analysis.models import LLMJudgeRun, LLMVerdict, LLMVote
from analysis.services import llm_judging, ranking
from annotation.models import JudgingSession
from core.models import JobStatus, ModelEntry, ModelKind
from core.permissions import staff_required
from decoding.precision import PRECISIONS

JUDGE_KINDS = (ModelKind.HF, ModelKind.GGUF, ModelKind.OPENAI)


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value not in (None, "") else default
    except ValueError:
        raise llm_judging.RunSetupError(f"{value!r} is not a number") from None


@staff_required
def session_llm_runs(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(JudgingSession, pk=pk)
    runs = LLMJudgeRun.objects.filter(session=session).select_related("job", "judge_model")
    n_items = session.items.filter(is_control=False).count()
    context = {
        "session": session,
        "runs": runs,
        "models": ModelEntry.objects.filter(kind__in=JUDGE_KINDS).order_by("name"),
        "default_model": llm_judging.default_judge_model(session),
        "language": llm_judging.session_language(session),
        "templates": llm_judging.template_choices(),
        "n_items": n_items,
        "outputs_all": n_items * 2 * len(llm_judging.system_pairs(session.n_systems)),
        "outputs_first": n_items * 2,
        "precisions": list(PRECISIONS.items()),
        "default_batch_size": llm_judging.JudgeSettings.batch_size,
    }
    return render(request, "analysis/llm_runs.html", context)


@staff_required
@require_POST
def start_llm_run(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(JudgingSession, pk=pk)
    model_id = request.POST.get("model") or ""
    model = (
        ModelEntry.objects.filter(pk=model_id, kind__in=JUDGE_KINDS).first()
        if model_id
        else llm_judging.default_judge_model(session)
    )
    if model is None:
        messages.error(request, "No judging model: register a generator model (hf, gguf or openai) first.")
        return redirect("analysis:session-llm-runs", pk=session.pk)
    # Unless the form says otherwise, local models judge by choice (small ones cannot write the verdict
    # format) and endpoints by generated text (choice needs the model's log-likelihoods).
    mode = request.POST.get("verdict_mode") or llm_judging.default_verdict_mode(model)
    try:
        settings = llm_judging.JudgeSettings(
            votes=int(_float(request.POST.get("votes"), 1)),
            temperature=_float(request.POST.get("temperature"), 0.0),
            max_new_tokens=int(_float(request.POST.get("max_new_tokens"), 48)),
            batch_size=int(_float(request.POST.get("batch_size"), llm_judging.JudgeSettings.batch_size)),
            verdict_mode=mode,
            pairs=request.POST.get("pairs") or "all",
            precision=request.POST.get("precision") or "fast",
        )
        name = request.POST.get("template") or ""
        template = llm_judging.template_named(name) if name else None  # None: the session language's default
        run = llm_judging.create_run(session, model, template=template, settings=settings, user=request.user)
    except llm_judging.RunSetupError as exc:
        messages.error(request, f"The LLM judge was not started: {exc}")
        return redirect("analysis:session-llm-runs", pk=session.pk)
    how = "by choice of the likeliest options" if run.verdict_mode == "choice" else "by generated verdicts"
    what = f"{run.items_total} items"
    if len(run.pairs) > 1:
        what += f" × {len(run.pairs)} pairs of systems"
    messages.success(request, f"{model.name} is judging {what} in both orders, {how} (job #{run.job_id}).")
    return redirect("analysis:llm-run", pk=run.pk)


@staff_required
def llm_run(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(LLMJudgeRun.objects.select_related("job", "session", "judge_model"), pk=pk)
    finished = run.job.status == JobStatus.SUCCEEDED
    result = llm_judging.with_judge_names(run.session, llm_judging.agreement(run, n_boot=1000)) if finished else None
    verdicts = LLMVerdict.objects.filter(run=run).select_related("item").order_by("item_id", "system_a", "system_b")
    only = request.GET.get("only", "")
    # Read once: in choice mode it reads every vote of the run.
    unsure = llm_judging.unsure_item_ids(run) if finished or only == "unsure" else None
    if only == "unsure":
        verdicts = verdicts.filter(item_id__in=unsure)
    page = Paginator(verdicts, 50).get_page(request.GET.get("page"))
    votes: dict[tuple[int, int, int], list[LLMVote]] = {}
    for vote in LLMVote.objects.filter(run=run, item_id__in=[v.item_id for v in page]).order_by("order", "vote"):
        votes.setdefault((vote.item_id, vote.system_a, vote.system_b), []).append(vote)
    names = ranking.system_names(run.session)
    rows = [{"verdict": v, "votes": votes.get(v.key, []), "pair": (names[v.system_a], names[v.system_b])} for v in page]
    context = {
        "run": run,
        "session": run.session,
        "finished": finished,
        "result": result,
        "result_json": json.dumps(result, indent=1) if result else "",
        "rows": rows,
        "page": page,
        "only": only,
        "n_unsure": len(unsure) if finished and unsure is not None else None,
        "pair_names": llm_judging.pair_names(run),
        "engine_rules": llm_judging.run_rules(),
    }
    return render(request, "analysis/llm_run.html", context)


@staff_required
def llm_run_agreement(request: HttpRequest, pk: int) -> HttpResponse:
    """The agreement figures as JSON (export): under the run, never inside the session's human figures."""
    run = get_object_or_404(LLMJudgeRun.objects.select_related("job", "session", "judge_model"), pk=pk)
    if run.job.status != JobStatus.SUCCEEDED:
        return JsonResponse({"error": f"LLM judging run {run.pk} has not finished (job {run.job.status})."}, status=409)
    return JsonResponse(llm_judging.agreement(run))


@staff_required
def llm_run_verdicts(request: HttpRequest, pk: int) -> HttpResponse:
    """Every output (raw text kept) with its parse and the final verdict of its item and pair of systems, as CSV."""
    run = get_object_or_404(LLMJudgeRun, pk=pk)
    verdicts = llm_judging.verdict_rows(run)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="llm-judge-run-{run.pk}-votes.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["item_id", "system_a", "system_b", "order", "vote", "label_1", "label_2", "preference", "complete",
         "parse_method", "raw", "final_label_a", "final_label_b", "final_preference", "status"]
    )  # fmt: skip
    names = ranking.system_names(run.session)
    for vote in LLMVote.objects.filter(run=run).order_by("item_id", "system_a", "system_b", "order", "vote"):
        v = verdicts.get((vote.item_id, vote.system_a, vote.system_b))
        writer.writerow(
            [vote.item_id, names[vote.system_a], names[vote.system_b],
             vote.order, vote.vote, vote.label_1, vote.label_2, vote.preference, vote.complete, vote.parse_method,
             vote.raw, v.label_a if v else "", v.label_b if v else "", v.preference if v else "",
             v.status if v else ""]
        )  # fmt: skip
    return response


@staff_required
@require_POST
def send_unsure(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(LLMJudgeRun.objects.select_related("job", "session"), pk=pk)
    if run.job.status != JobStatus.SUCCEEDED:
        messages.error(request, f"LLM judging run {run.pk} has not finished; its unsure items are not known yet.")
        return redirect("analysis:llm-run", pk=run.pk)
    try:
        session = llm_judging.send_unsure_to_humans(run, user=request.user)
    except llm_judging.RunSetupError as exc:
        messages.error(request, str(exc))
        return redirect("analysis:llm-run", pk=run.pk)
    sent, total = session.source["items_sent"], session.source["items_total"]
    messages.success(request, f"Sent {sent} of {total} items ({sent / total:.0%}) to human judges in a new session.")
    return redirect("annotation:session-detail", pk=session.pk)

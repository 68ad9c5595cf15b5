"""Staff pages for jobs and the landing page that sends each role where it belongs."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from core.models import Job, JobStatus, ModelEntry
from core.redirects import safe_next
from core.services import jobs


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        try:
            return redirect(reverse("annotation:judge-home"))
        except NoReverseMatch:
            return render(request, "core/judge_placeholder.html")
    context = {
        "active_jobs": jobs.active_jobs().select_related("created_by")[:20],
        "recent_jobs": Job.objects.select_related("created_by")[:10],
        "models": ModelEntry.objects.all(),
    }
    return render(request, "core/home.html", context)


RATE_UNITS = {"pairs_per_s": "pairs", "passages_per_s": "passages", "items_per_s": "items", "tokens_per_s": "tokens"}
REDUNDANT_KEYS = {"passages_done", "passages_total", "pairs_accepted", "pairs_rejected"}  # the message says them
KEY_LABELS = {"learning_rate": "learning rate", "bertscore_f1": "BERTScore F1", "exact_match": "exact match",
              "bleu": "BLEU", "f1": "F1"}  # fmt: skip
FIGURE_ORDER = [*RATE_UNITS, "loss", "learning_rate", "epoch", "exact_match", "f1", "bleu", "bertscore_f1"]
"""The order figures read in, whatever order the database kept the keys in (PostgreSQL's jsonb sorts them by
length); keys not named here follow in alphabetical order, and the ETA comes last."""


def _figure_rank(key: str) -> tuple[int, int, str]:
    if key == "eta_s":
        return (2, 0, key)
    return (0, FIGURE_ORDER.index(key), key) if key in FIGURE_ORDER else (1, 0, key)


def clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def rate_text(per_second: float, unit: str) -> str:
    """Slow rates per minute (0.033 pairs/s reads as 2.0 pairs/min), fast ones per second."""
    if per_second < 1:
        return f"{per_second * 60:.1f} {unit}/min"
    return f"{per_second:.1f} {unit}/s"


def number_text(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.2e}" if abs(value) < 1e-3 else f"{value:.4g}"


def describe_progress_data(data: dict, *, finished: bool = False) -> str:
    """A job's live figures for people: rates per minute or second, ETA as m:ss, no raw keys."""
    parts = []
    for key, value in sorted((data or {}).items(), key=lambda item: _figure_rank(item[0])):
        if key in REDUNDANT_KEYS or value is None or isinstance(value, bool):
            continue
        if not isinstance(value, (int, float)):
            parts.append(f"{KEY_LABELS.get(key, key.replace('_', ' '))} {value}")
        elif key == "eta_s":
            if not finished:
                parts.append(f"ETA {clock(value)}")
        elif key in RATE_UNITS:
            parts.append(rate_text(value, RATE_UNITS[key]))
        else:
            parts.append(f"{KEY_LABELS.get(key, key.replace('_', ' '))} {number_text(value)}")
    return " · ".join(parts)


def attempts_text(job: Job) -> str:
    """The attempt the log speaks of ("started ... (attempt 1 of 3)"), or that none has started yet."""
    if job.attempts == 0:
        return f"not started yet (at most {job.max_attempts} attempts)"
    return f"attempt {job.attempts} of {job.max_attempts}"


def job_as_dict(job: Job) -> dict:
    return {
        "id": job.pk,
        "kind": job.kind,
        "title": job.title,
        "status": job.status,
        "status_label": job.get_status_display(),
        "progress_done": job.progress_done,
        "progress_total": job.progress_total,
        "fraction": job.fraction_done,
        "message": job.progress_message,
        "data": job.progress_data,
        "data_text": describe_progress_data(job.progress_data, finished=job.is_finished),
        "attempts_text": attempts_text(job),
        "error": job.error,
        "log_tail": job.log[-4000:],
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "heartbeat_at": job.heartbeat_at.isoformat() if job.heartbeat_at else None,
        "attempts": job.attempts,
        "cancel_requested": job.cancel_requested,
        "finished": job.is_finished,
    }


def job_list(request: HttpRequest) -> HttpResponse:
    qs = Job.objects.select_related("created_by")
    status = request.GET.get("status")
    if status:
        qs = qs.filter(status=status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "core/job_list.html", {"page": page, "status": status})


def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=pk)
    return render(request, "core/job_detail.html", {"job": job, "job_json": job_as_dict(job)})


def job_status(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(job_as_dict(get_object_or_404(Job, pk=pk)))


def cancel_message(before: str, job: Job) -> tuple[int, str]:
    """What a Cancel click did, in words: every click gets an answer, also one that changed nothing."""
    if before == JobStatus.QUEUED and job.status == JobStatus.CANCELLED:
        return messages.SUCCESS, f"Job #{job.pk} was cancelled before it started."
    if job.status == JobStatus.RUNNING:
        return messages.SUCCESS, f"Cancel requested: job #{job.pk} stops at its next check and keeps what it stored."
    return messages.WARNING, (
        f"Job #{job.pk} has already finished ({job.get_status_display().lower()}); there is nothing to cancel."
    )


def retry_message(before: str, job: Job) -> tuple[int, str]:
    if before in (JobStatus.FAILED, JobStatus.CANCELLED) and job.status == JobStatus.QUEUED:
        return messages.SUCCESS, f"Job #{job.pk} is queued again; it resumes from what it stored."
    return messages.WARNING, (
        f"Job #{job.pk} is {job.get_status_display().lower()}; only a failed or cancelled job can be retried."
    )


def _answer(request: HttpRequest, job: Job, level: int, text: str) -> HttpResponse:
    if request.headers.get("Accept") == "application/json":
        return JsonResponse({**job_as_dict(job), "action_message": text, "action_ok": level == messages.SUCCESS})
    messages.add_message(request, level, text)
    # Back to the page the button was on (a run or import page shows the job box too), if it is on this site.
    return redirect(safe_next(request, job.get_absolute_url()))


@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    before = get_object_or_404(Job, pk=pk).status
    jobs.cancel_job(Job(pk=pk))
    job = Job.objects.get(pk=pk)
    return _answer(request, job, *cancel_message(before, job))


@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    before = get_object_or_404(Job, pk=pk).status
    jobs.retry_job(Job(pk=pk))
    job = Job.objects.get(pk=pk)
    return _answer(request, job, *retry_message(before, job))

"""Staff pages for jobs and the landing page that sends each role where it belongs."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from core.models import Job, ModelEntry
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


@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = jobs.cancel_job(get_object_or_404(Job, pk=pk))
    if request.headers.get("Accept") == "application/json":
        return JsonResponse(job_as_dict(Job.objects.get(pk=job.pk)))
    return redirect(job.get_absolute_url())


@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = jobs.retry_job(get_object_or_404(Job, pk=pk))
    if request.headers.get("Accept") == "application/json":
        return JsonResponse(job_as_dict(Job.objects.get(pk=job.pk)))
    return redirect(job.get_absolute_url())

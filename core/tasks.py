"""Celery entry points. Thin: the job service does the work and the bookkeeping."""

from __future__ import annotations

import os
import signal
import threading

from celery import shared_task

from core.services import jobs


@shared_task(name="core.tasks.execute_job", acks_late=True, ignore_result=True)
def execute_job(job_id: int) -> str | None:
    _hand_back_on_sigterm()
    return jobs.run_job(job_id)


@shared_task(name="core.tasks.sweep_jobs", ignore_result=True)
def sweep_jobs() -> dict:
    report = jobs.sweep()
    return report.__dict__


def _hand_back_on_sigterm() -> None:
    """In a pool process, make SIGTERM (sent on to it by the worker's warm shutdown, see qasynth_web/celery.py)
    hand the running job back instead of ending the process mid-step. Installed here, at the first task,
    because the pool sets its own SIGTERM handler after Celery's worker_process_init; that handler still
    ends an idle process, or one told a second time."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if getattr(previous, "hands_back_jobs", False):
        return

    def on_sigterm(signum, frame) -> None:
        if jobs.running_here and not jobs.shutdown_requested():
            jobs.request_hand_back()
            return
        if callable(previous):
            previous(signum, frame)
        else:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    on_sigterm.hands_back_jobs = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGTERM, on_sigterm)

"""Torch threads: every process that runs jobs takes its share of the cores. A worker's pool process gets
cores / pool size (tests/core/test_worker_process.py checks real workers with -c 1 and -c 2); a job run in a
shell with `--now` counts as one more process beside the worker, so it no longer takes every core next to a
busy worker (3.5-15x slower measured); QASYNTH_TORCH_THREADS overrides both."""

from __future__ import annotations

import io

import pytest
import torch
from django.core.management import call_command

from core import threads
from generation.models import GenerationRun
from tests.generation.synth_helpers import hf_model, make_corpus
from tests.support.tiny_models import tiny_model_dir


@pytest.fixture(autouse=True)
def restore_threads(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv("QASYNTH_TORCH_THREADS", raising=False)
    monkeypatch.delenv("WORKER_CONCURRENCY", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # monkeypatch puts the old value back afterwards
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(("cores", "processes", "expected"), [(2, 1, 2), (2, 2, 1), (2, 3, 1), (16, 1, 16), (16, 3, 5)])
def test_a_process_gets_the_cores_divided_by_the_processes_sharing_them(cores, processes, expected):
    assert threads.share_of_cores(processes, cores=cores) == expected


def test_the_environment_overrides_the_share(monkeypatch):
    monkeypatch.setenv("QASYNTH_TORCH_THREADS", "3")
    assert threads.share_of_cores(8, cores=2) == 3


def test_a_shell_run_counts_itself_beside_the_workers_processes(monkeypatch):
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 16)
    assert threads.in_process_share() == 16 // 3  # beside ./run's default worker of 2 processes
    monkeypatch.setenv("WORKER_CONCURRENCY", "1")
    assert threads.in_process_share() == 8


@pytest.mark.django_db(transaction=True)
def test_generate_now_applies_the_policy_before_running(monkeypatch):
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 6)  # 6 cores beside a worker of 2: this shell gets 2
    torch.set_num_threads(6)
    make_corpus("threads", passages=["Alpha passage.", "Beta passage."])
    hf_model(tiny_model_dir("llama"), name="tiny")
    out = io.StringIO()

    call_command("generate", "--corpus", "threads", "--model", "tiny", "--n", "1", "--max-new-tokens", "4",
                 "--limit", "1", "--now", stdout=out)  # fmt: skip

    assert GenerationRun.objects.get().job.status == "succeeded"
    assert "Running here with 2 torch thread(s)" in out.getvalue()
    assert torch.get_num_threads() == 2

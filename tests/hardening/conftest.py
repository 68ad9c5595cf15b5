"""Fixtures of the hardening tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
import torch

from core.services import jobs
from tests.hardening.helpers import purge_queue, to_queue

torch.set_num_threads(1)

IN_PROCESS_QUEUE = "hardening-in-process"


@pytest.fixture
def in_process(transactional_db, monkeypatch) -> Iterator[Callable[..., None]]:
    """Run jobs here with `jobs.run_job` on committed rows (failure paths close the broken connection, which a
    test transaction would not survive). Every job created meanwhile goes to a queue no worker reads, so the
    shared worker (and its sweep) never takes one; their heartbeats are real. The returned function moves
    jobs made before the fixture there too."""
    for kind, spec in jobs.registered_kinds().items():
        monkeypatch.setitem(jobs._HANDLERS, kind, dataclasses.replace(spec, queue=IN_PROCESS_QUEUE))

    def keep_here(*job_rows) -> None:
        to_queue([getattr(job, "pk", job) for job in job_rows], IN_PROCESS_QUEUE)

    yield keep_here
    purge_queue(IN_PROCESS_QUEUE)

"""Fixtures of the hardening tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

from tests.hardening.helpers import purge_queue, to_queue

torch.set_num_threads(1)

IN_PROCESS_QUEUE = "hardening-in-process"


@pytest.fixture
def in_process(transactional_db) -> Iterator[Callable[..., None]]:
    """Run jobs here with `jobs.run_job` on committed rows (failure paths close the broken connection, which a
    test transaction would not survive). Jobs passed to the returned function move to a queue no worker
    reads, so the shared worker's sweep never takes them; their heartbeats are real."""

    def keep_here(*jobs) -> None:
        to_queue([getattr(job, "pk", job) for job in jobs], IN_PROCESS_QUEUE)

    yield keep_here
    purge_queue(IN_PROCESS_QUEUE)

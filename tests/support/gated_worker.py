"""A Celery worker whose job stops at a chosen point and waits there, for tests that SIGKILL a worker mid-job.

Why: "wait until a few rows are stored, then kill" races a fast machine. The job can finish between two
polls (CI once saw an evaluation store all 20 predictions before the test's kill). Handlers call
`JobContext.check_cancelled` between batches, right after storing one; this worker's N-th such call writes
a marker file and then blocks for good. The test waits for the marker and kills a worker known to be in
the middle of its job, with exactly the batches before the gate stored. The heartbeat thread keeps
running meanwhile, as it would for a slow batch, so the job stays leased until the kill.

Run as `python -m tests.support.gated_worker <celery arguments>` with QASYNTH_TEST_GATE="N:/path/to/marker".
"""

from __future__ import annotations

import json
import os
import sys
import threading

GATE_ENV = "QASYNTH_TEST_GATE"


def install_gate(calls: int, marker: str) -> None:
    """Patch JobContext so that the `calls`-th check_cancelled of a job marks the file and never returns."""
    from core.services.jobs import JobContext

    original = JobContext.check_cancelled
    seen: dict[int, int] = {}
    never = threading.Event()

    def gated(self: JobContext) -> None:
        original(self)
        seen[self.job.pk] = seen.get(self.job.pk, 0) + 1
        if seen[self.job.pk] == calls:
            with open(marker + ".part", "w") as out:
                json.dump({"job": self.job.pk, "calls": calls}, out)
            os.replace(marker + ".part", marker)
            never.wait()

    JobContext.check_cancelled = gated  # type: ignore[method-assign]


def main() -> None:
    calls, _, marker = os.environ[GATE_ENV].partition(":")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qasynth_web.settings")
    import django

    django.setup()  # before the patch imports models; Celery's Django fix-up calling it again is harmless
    install_gate(int(calls), marker)
    from celery.bin.celery import main as celery_main

    sys.argv[0] = "celery"
    sys.exit(celery_main())


if __name__ == "__main__":
    main()

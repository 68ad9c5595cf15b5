"""GPU work goes to the gpu queue only, so a deployment can route it to GPU machines."""

from __future__ import annotations

import pytest

from qasynth_web.celery import app

pytestmark = pytest.mark.sqlite_smoke


@pytest.mark.parametrize("queue", ["default", "gpu"])
def test_each_queue_has_its_own_exchange_and_routing_key(queue):
    route = app.amqp.router.route({"queue": queue}, "core.tasks.execute_job")["queue"]
    assert (route.name, route.exchange.name, route.routing_key) == (queue, queue, queue)


def test_the_default_and_gpu_queues_are_not_bound_to_the_same_key():
    keys = {q.name: (q.exchange.name, q.routing_key) for q in app.conf.task_queues}
    assert keys["default"] != keys["gpu"]


def test_gpu_heavy_job_kinds_are_registered_on_the_gpu_queue():
    from core.services.jobs import registered_kinds

    kinds = registered_kinds()
    for kind in ("convert_model", "generation", "training", "evaluation"):
        assert kinds[kind].queue == "gpu", kind
    assert kinds["countdown"].queue == "default"

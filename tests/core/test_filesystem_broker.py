"""The embedded (filesystem) broker delivers every message exactly once while processes publish and consume
at the same time, and an unreadable message file is set aside instead of stopping the worker.

kombu's stock filesystem transport fails the first test: a consumer can take a message file before its
publisher has written it, and the message is lost (8% of 6,000 here; the worker then dies on the empty file).
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection

from qasynth_web.filesystem_broker import Transport
from tests.conftest import scaled, wait_for

pytestmark = pytest.mark.sqlite_smoke

PUBLISHERS, CONSUMERS, PER_PUBLISHER = 2, 2, 1500


def connection(folder: Path) -> Connection:
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(folder / "c")}
    return Connection("filesystem://", transport=Transport, transport_options=options)


def publish(folder: Path, publisher: int) -> None:
    with connection(folder) as conn:
        queue = conn.SimpleQueue("jobs")
        for n in range(PER_PUBLISHER):
            queue.put({"publisher": publisher, "n": n})


def consume(folder: Path, results, stop) -> None:
    got, errors = [], []
    with connection(folder) as conn:
        channel = conn.default_channel
        while not stop.is_set():
            try:
                message = channel._get("jobs")
            except Empty:
                continue
            except Exception as exc:  # noqa: BLE001 - counted and reported by the test
                errors.append(repr(exc))
                continue
            body = channel.Message(message, channel=channel).decode()
            got.append((body["publisher"], body["n"]))
    results.put((got, errors))


def test_every_message_arrives_exactly_once_while_publishers_and_consumers_race(tmp_path):
    ctx = multiprocessing.get_context("fork")
    results, stop = ctx.Queue(), ctx.Event()
    consumers = [ctx.Process(target=consume, args=(tmp_path, results, stop)) for _ in range(CONSUMERS)]
    publishers = [ctx.Process(target=publish, args=(tmp_path, i)) for i in range(PUBLISHERS)]
    for process in consumers + publishers:
        process.start()
    for process in publishers:
        process.join(timeout=scaled(120))
    # Consumers drain what is left; then they stop.
    wait_for(lambda: not any(p.name.endswith(".msg") for p in tmp_path.iterdir()), timeout=60, what="an empty queue")
    stop.set()
    outcomes = [results.get(timeout=scaled(60)) for _ in consumers]
    for process in consumers:
        process.join(timeout=scaled(30))

    received = [item for got, _ in outcomes for item in got]
    errors = [error for _, error_list in outcomes for error in error_list]
    assert errors == []
    assert len(received) == PUBLISHERS * PER_PUBLISHER, "messages were lost or delivered twice"
    assert set(received) == {(p, n) for p in range(PUBLISHERS) for n in range(PER_PUBLISHER)}


def test_messages_come_out_in_the_order_they_were_published(tmp_path):
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue("ordered")  # a queue name per test: kombu keeps bindings per process
        for n in range(50):
            queue.put({"n": n})
        assert [queue.get(timeout=scaled(10)).payload["n"] for _ in range(50)] == list(range(50))


def test_an_unreadable_message_file_is_set_aside_and_the_next_one_delivered(tmp_path):
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue("unreadable")
        (tmp_path / f"{0:020d}_broken.unreadable.msg").write_bytes(b"")  # sorts first
        queue.put({"n": 1})
        assert queue.get(timeout=scaled(10)).payload == {"n": 1}
    assert os.listdir(tmp_path / "unreadable") == [f"{0:020d}_broken.unreadable.msg"]

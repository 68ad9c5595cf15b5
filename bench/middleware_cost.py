"""What each middleware costs a judge's request: wall microseconds per layer, next / page / submit.

A stopwatch is put between every two middlewares of settings.MIDDLEWARE (and around the view), and a judge
walks the HTML flow in process through Django's test client (no network, no server: only Django's own
request handling): the item page (GET), the submit (POST, which leases the next item and redirects) and a
renewal of the item in hand (GET next). It also prints each request's mean process CPU time and, from them, the
CPU of one judged item (page + submit). A layer's cost is its time on the way in plus its time on the way out
(everything inside it, the view included, subtracted). Median over --rounds rounds, on a fresh SQLite
database under a temporary data dir, with the settings a deployment gets (DEBUG off, axes on).

    nice -n 10 .venv/bin/python bench/middleware_cost.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/statistics.py shadows stdlib
sys.path.insert(0, str(REPO))
import statistics  # noqa: E402  (after the path fix: the standard library's)

MARKS: list[tuple[int, str, float]] = []  # (position, "in"/"out", perf_counter)


def stopwatch(position: int):
    """A middleware that notes when a request passes it inward and the response outward."""

    def factory(get_response):
        def middleware(request):
            MARKS.append((position, "in", time.perf_counter()))
            response = get_response(request)
            MARKS.append((position, "out", time.perf_counter()))
            return response

        return middleware

    return factory


def layer_costs(names: list[str]) -> dict[str, float]:
    """Microseconds spent in each layer (stopwatch i sits before layer i; the last one sits before the view)."""
    t_in = {p: t for p, d, t in MARKS if d == "in"}
    t_out = {p: t for p, d, t in MARKS if d == "out"}
    costs = {}
    for i, name in enumerate(names):
        costs[name] = ((t_in[i + 1] - t_in[i]) + (t_out[i] - t_out[i + 1])) * 1e6
    costs["view (incl. URL resolving)"] = (t_out[len(names)] - t_in[len(names)]) * 1e6
    return costs


def main() -> int:
    """Run the bench in a temporary data dir, removed afterwards (its database, secret key and logs)."""
    data_dir = tempfile.mkdtemp(prefix="qasynth-bench-mw-")
    try:
        return measure(data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def measure(data_dir: str) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--profile-dump", help="with --profile: also write the raw profile here (pstats format)")
    parser.add_argument("--sort", default="tottime", help="cProfile order for --profile (tottime, cumulative)")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also cProfile the page + submit loop and print its N costliest functions (own time)",
    )
    args = parser.parse_args()
    os.environ.update(QASYNTH_DATA_DIR=data_dir, DJANGO_SETTINGS_MODULE="qasynth_web.settings", DEBUG="0",
                      SECURE_SSL_REDIRECT="0", SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0",
                      SECURE_HSTS_SECONDS="0", SECRET_KEY=os.environ.get("SECRET_KEY", "bench-middleware-" * 4),
                      CELERY_BROKER_URL="filesystem://", LOG_LEVEL="WARNING")  # fmt: skip
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment

    setup_test_environment()
    call_command("migrate", "--noinput", verbosity=0)
    from django.contrib.auth.models import Group, User

    from annotation.services.sessions import ItemData, create_session
    from core.permissions import JUDGES_GROUP

    judge = User.objects.create_user("mw-judge", password="bench-mw-password-1")
    judge.groups.add(Group.objects.get_or_create(name=JUDGES_GROUP)[0])
    items = [
        ItemData(question=f"Question {i}?", context=f"Passage {i}.", gold_answers=[f"a{i}"], answer_a=f"alpha {i}",
                 answer_b=f"beta {i}", external_id=f"i{i}")
        for i in range(args.rounds + 5)
    ]  # fmt: skip
    session = create_session(name="mw", system_a="x", system_b="y", items=items, judges_per_item=1, judges=[judge])
    names = list(settings.MIDDLEWARE)
    interleaved = []
    for i, name in enumerate(names):
        globals()[f"stopwatch_{i}"] = stopwatch(i)
        interleaved += [f"{__name__}.stopwatch_{i}", name]
    globals()[f"stopwatch_{len(names)}"] = stopwatch(len(names))
    interleaved.append(f"{__name__}.stopwatch_{len(names)}")
    sys.modules[__name__] = sys.modules["__main__"]
    costs: dict[str, dict[str, list[float]]] = {"page": {}, "submit": {}, "next (renew)": {}}
    cpu: dict[str, float] = {"page": 0.0, "submit": 0.0, "next (renew)": 0.0}  # process CPU seconds, summed
    with override_settings(MIDDLEWARE=interleaved, DEBUG=False):
        client = Client(enforce_csrf_checks=True)
        client.force_login(judge)  # the login view is not under test (axes wants a request to authenticate)
        next_url = f"/annotation/s/{session.pk}/next/"
        location = client.get(next_url)["Location"]
        client.get(location)  # warm: imports, templates, the cached open-item count
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        for n in range(args.rounds):
            steps = []
            MARKS.clear()
            began = time.process_time()
            page = client.get(location)
            cpu["page"] += time.process_time() - began
            steps.append(("page", layer_costs(names)))
            token = page.cookies.get("csrftoken") or client.cookies["csrftoken"]
            MARKS.clear()
            began = time.process_time()
            posted = client.post(location, {"left_label": "correct", "right_label": "incorrect",
                                            "preference": "left", "submission_id": f"mw{n}", "session": session.pk,
                                            "csrfmiddlewaretoken": token.value})  # fmt: skip
            cpu["submit"] += time.process_time() - began
            assert posted.status_code == 302, posted.status_code
            steps.append(("submit", layer_costs(names)))
            location = posted["Location"]
            MARKS.clear()
            began = time.process_time()
            assert client.get(next_url)["Location"] == location
            cpu["next (renew)"] += time.process_time() - began
            steps.append(("next (renew)", layer_costs(names)))
            for kind, layer in steps:
                for name, us in layer.items():
                    costs[kind].setdefault(name, []).append(us)
    if profiler:
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats(args.sort).print_stats(args.profile)
        if args.profile_dump:
            stats.dump_stats(args.profile_dump)
    print(f"median microseconds per request over {args.rounds} rounds (SQLite, in process, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")  # fmt: skip
    print(f"{'layer':58s} {'page':>9s} {'submit':>9s} {'next':>9s}")
    for name in [*names, "view (incl. URL resolving)"]:
        row = [statistics.median(costs[kind][name]) for kind in costs]
        print(f"{name:58s} " + " ".join(f"{v:9.0f}" for v in row))
    totals = [sum(statistics.median(v) for v in costs[kind].values()) for kind in costs]
    print(f"{'total (sum of medians)':58s} " + " ".join(f"{v:9.0f}" for v in totals))
    means = [1e6 * cpu[kind] / args.rounds for kind in costs]
    print(f"{'process CPU, mean (the test client included)':58s} " + " ".join(f"{v:9.0f}" for v in means))
    print(f"CPU per judged item (page + submit, which leases the next item): {(means[0] + means[1]) / 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

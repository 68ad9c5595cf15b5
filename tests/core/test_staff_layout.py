"""Staff pages in a real browser at laptop (1366x768) and phone (390x844) size: nothing reaches past the
viewport except inside a table's own scroll box, and no table header splits inside a word ("Queue d",
"Judgmen ts", "Succee ded" were the bug)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import Job, JobStatus
from tests.analysis.stats_helpers import judge_session, make_judges
from tests.annotation.helpers import make_session
from tests.generation.synth_helpers import finished_run, make_corpus
from tests.support.layout import CHROMIUM, LAPTOP, PHONE, chromium, headers_split_inside_words, log_in, overflow

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def staff_world(alice):
    judges = make_judges(3)
    session = make_session(n=6, k=3, judges=judges, control_rate=0)
    judge_session(session, judges, lambda item, judge: ("correct", "partial" if item.position % 2 else "correct", "a"))
    run = finished_run(make_corpus(passages=["Kyoto was the capital of Japan for a thousand years."] * 2))
    for status in JobStatus.values:
        Job.objects.create(kind="generation", title=f"A {status} job with a long enough title", status=status)
    return {
        "dashboard": reverse("home"),
        "jobs": reverse("job-list"),
        "job": Job.objects.filter(status=JobStatus.RUNNING).first().get_absolute_url(),
        "sessions": reverse("annotation:session-list"),
        "session": reverse("annotation:session-detail", args=[session.pk]),
        "statistics": reverse("analysis:session-stats", args=[session.pk]),
        "items": reverse("analysis:session-item-table", args=[session.pk]),
        "runs": reverse("generation:run-list"),
        "run": run.get_absolute_url(),
        "corpora": reverse("generation:corpus-list"),
    }


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366x768", "390x844"])
def test_staff_pages_fit_the_screen_and_keep_header_words_whole(
    live_server, staff_world, settings, viewport, artifacts_dir
):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    problems = {}
    with chromium() as browser:
        page = browser.new_page(viewport=viewport)
        page.set_default_timeout(60_000)
        log_in(page, live_server.url, "alice")
        for name, path in staff_world.items():
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("load")
            found = overflow(page)
            split = headers_split_inside_words(page)
            if name in ("statistics", "jobs"):
                page.screenshot(path=str(artifacts_dir / f"staff-{name}-{viewport['width']}.png"), full_page=True)
            if found["out"] or found["scrollWidth"] > found["width"] or split:
                problems[name] = {"overflow": found, "split headers": split}

    assert problems == {}

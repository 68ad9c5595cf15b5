"""Crowd workers in a real browser (Debian's Chromium driven by Playwright) arrive through a Prolific-style
link: consent, instructions, the qualification block (one passes, one is screened out), judging up to the
per-judge cap, and the redirect to the completion URL; the same worker resumes from another browser, and a
worker past the session's cap is refused clearly."""

from __future__ import annotations

import os

import pytest

from annotation.models import InvitedJudge, Judgment, Qualification, QualificationAnswer
from annotation.services import invitations
from tests.annotation.invite_helpers import PROLIFIC, open_url, session_with_recruitment
from tests.annotation.test_browser_judging import CHROMIUM, LAUNCH_ARGS
from tests.support.layout import close_connections_opened_here

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium: apt-get install -y chromium"),
]


@pytest.fixture
def browser(live_server, settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()
        close_connections_opened_here()


def new_page(browser):
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    return page


def consent_and_read(page) -> None:
    page.click("#consent-submit")  # not ticked yet: the page says so and nothing is stored
    assert "Tick the box" in page.locator("#form-error").inner_text()
    page.check("#agree")
    page.click("#consent-submit")
    page.wait_for_url("**/welcome/instructions/")
    assert "each answer" in page.locator("#instructions").inner_text()
    page.click("#instructions-submit")


def answer_qualification(page, worker: str, *, right: bool) -> None:
    judge = InvitedJudge.objects.get(worker_id=worker)
    while "/welcome/qualification/" in page.url:
        answer = QualificationAnswer.objects.select_related("item").get(judge=judge, answered_at__isnull=True)
        item = answer.item
        expected = item.expected_label_a or item.expected_label_b
        chosen = expected if right else ("incorrect" if expected == "correct" else "correct")
        checked_left = bool(item.expected_label_b) == answer.swapped
        left, right_label = (chosen, "partial") if checked_left else ("partial", chosen)
        page.check(f"input[name=left_label][value={left}]")
        page.check(f"input[name=right_label][value={right_label}]")
        number = page.locator("#progress-text").inner_text()
        page.click("#qualify-submit")
        page.wait_for_load_state()
        if "/welcome/qualification/" in page.url:
            page.wait_for_function(f"document.querySelector('#progress-text')?.innerText !== {number!r}")


def judge_one_by_keyboard(page) -> None:
    page.wait_for_url("**/annotation/j/**")
    url = page.url
    for key in ("1", "6", "a"):
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda now: now != url)


def test_crowd_workers_consent_qualify_judge_resume_finish_and_are_refused_past_the_cap(
    browser, live_server, artifacts_dir
):
    session = session_with_recruitment(n=6, k=2, qualification=2, threshold=1.0, max_items_per_judge=2, max_judges=2)
    completion = f"{live_server.url}/static/css/app.css?cc=C0DE42"
    link = invitations.create_link(session, "open", platform="prolific", completion_url=completion,
                                   screened_out_code="SCREENED9")  # fmt: skip

    # Worker A: consents, passes the qualification, judges one item, then continues in another browser.
    a = new_page(browser)
    a.goto(live_server.url + open_url(link, PROLIFIC))
    a.wait_for_url("**/welcome/consent/")
    a.screenshot(path=str(artifacts_dir / "invite-consent.png"), full_page=True)
    consent_and_read(a)
    a.wait_for_url("**/welcome/qualification/")
    answer_qualification(a, PROLIFIC["PROLIFIC_PID"], right=True)
    judge_one_by_keyboard(a)
    worker_a = InvitedJudge.objects.get(worker_id=PROLIFIC["PROLIFIC_PID"])
    assert worker_a.qualification == Qualification.PASSED and Judgment.objects.filter(judge=worker_a.user).count() == 1

    again = new_page(browser)  # the same worker from another browser: same judge, same place
    again.goto(live_server.url + open_url(link, {**PROLIFIC, "SESSION_ID": "second-visit"}))
    again.wait_for_url("**/annotation/j/**")
    assert again.locator("#progress-text").inner_text().startswith("2 of")
    judge_one_by_keyboard(again)
    again.wait_for_url("**cc=C0DE42")  # the per-judge cap (2) is reached: back to the platform
    worker_a.refresh_from_db()
    assert worker_a.finished_at is not None and Judgment.objects.filter(judge=worker_a.user).count() == 2
    assert InvitedJudge.objects.filter(worker_id=PROLIFIC["PROLIFIC_PID"]).count() == 1

    # Worker B fails the qualification: thanked, stopped, given the screened-out code.
    b = new_page(browser)
    b.goto(live_server.url + open_url(link, {**PROLIFIC, "PROLIFIC_PID": "worker-b-0001"}))
    consent_and_read(b)
    b.wait_for_url("**/welcome/qualification/")
    answer_qualification(b, "worker-b-0001", right=False)
    b.wait_for_url("**/welcome/screened-out/")
    assert b.locator("#screened-out-code").inner_text() == "SCREENED9"
    b.goto(f"{live_server.url}/annotation/s/{session.pk}/next/")
    b.wait_for_url("**/welcome/screened-out/")
    assert not Judgment.objects.filter(judge__invited_judge__worker_id="worker-b-0001").exists()

    # Worker C comes past the session's cap of two judges: a clear refusal, no judge made.
    c = new_page(browser)
    c.goto(live_server.url + open_url(link, {**PROLIFIC, "PROLIFIC_PID": "worker-c-0002"}))
    assert "This study is full" in c.locator("#refused").inner_text()
    c.screenshot(path=str(artifacts_dir / "invite-full.png"), full_page=True)
    assert InvitedJudge.objects.count() == 2

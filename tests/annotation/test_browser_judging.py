"""A judge in a real browser (Debian's Chromium driven by Playwright) judges with the keyboard only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from annotation.models import Assignment, Judgment, JudgmentRevision
from tests.annotation.helpers import make_session
from tests.support.layout import close_connections_opened_here

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test are still sync.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync"]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's Chromium: apt-get install -y chromium fonts-noto-cjk"
    ),
]


@pytest.fixture
def browser_page(live_server, settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 1000}, locale="ja-JP")
        page.set_default_timeout(15_000)
        yield page
        browser.close()
        close_connections_opened_here()


def expected(assignment: Assignment, left: str, right: str, preference: str) -> tuple[str, str, str]:
    """What the database should hold, in system terms, for keys pressed on the left/right layout."""
    if assignment.swapped:
        return right, left, {"left": "b", "right": "a", "tie": "tie"}[preference]
    return left, right, {"left": "a", "right": "b", "tie": "tie"}[preference]


def current(page) -> Assignment:
    token = page.url.rstrip("/").split("/")[-1]
    return Assignment.objects.get(token=token)


def test_a_judge_judges_three_japanese_items_by_keyboard_goes_back_and_changes_one(
    browser_page, live_server, bob, artifacts_dir
):
    page = browser_page
    session = make_session(n=3, k=1, judges=[bob], japanese=True, instructions="**速さより正確さ。**")
    page.goto(f"{live_server.url}/accounts/login/")
    page.focus("input[name=username]")  # the field has autofocus; this only waits until it really has focus
    page.keyboard.type("bob")
    page.keyboard.press("Tab")
    page.keyboard.type("pw-for-tests-1")
    page.keyboard.press("Enter")
    page.wait_for_url("**/annotation/")
    start = page.locator(f"a[href='/annotation/s/{session.pk}/next/']")
    start.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/annotation/j/**")

    assert page.locator("#progress-text").inner_text() == "1 of 3"
    assert "富士山" in page.locator("#question").inner_text()
    page.screenshot(path=str(artifacts_dir / "judging-page-japanese.png"), full_page=True)

    first = current(page)
    for key in ("1", "6", "a"):
        page.keyboard.press(key)
    assert page.locator("input[name=left_label][value=correct]").is_checked()
    assert page.locator("input[name=right_label][value=incorrect]").is_checked()
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: first.token not in url)

    second = current(page)
    assert page.locator("#progress-text").inner_text() == "2 of 3"
    for key in ("2", "q", "t"):  # q is the alternative key for answer B's first label
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: second.token not in url)

    third = current(page)
    page.keyboard.press("Enter")  # nothing chosen yet: the page says what is missing, nothing is sent
    assert "Still needed" in page.locator("#form-error").inner_text()
    page.keyboard.press("Backspace")  # back to the second item, with its earlier choices
    page.wait_for_url(f"**/annotation/j/{second.token}/")
    assert page.locator("input[name=left_label][value=partial]").is_checked()
    assert page.locator("input[name=preference][value=tie]").is_checked()
    page.keyboard.press("3")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/annotation/j/{third.token}/")

    for key in ("3", "w", "b"):
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/annotation/s/{session.pk}/done/")
    assert "Thank you" in page.locator("#thank-you").inner_text()

    got = {j.assignment_id: (j.label_a, j.label_b, j.preference) for j in Judgment.objects.all()}
    assert got == {
        first.pk: expected(first, "correct", "incorrect", "left"),
        second.pk: expected(second, "incorrect", "correct", "right"),
        third.pk: expected(third, "incorrect", "partial", "right"),
    }
    assert JudgmentRevision.objects.count() == 4
    history = JudgmentRevision.objects.filter(assignment=second).order_by("number")
    assert list(history.values_list("preference", flat=True)) == ["tie", expected(second, "x", "y", "right")[2]]

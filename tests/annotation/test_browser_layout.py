"""The judge pages in a real browser: nothing overflows a phone screen, no word is broken letter by letter, and
at 1366x768 the summary of the current choices stays in view and follows every key."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import SessionItem
from annotation.services import assignment as assigning
from annotation.services import judging
from tests.annotation.helpers import answer, make_session
from tests.annotation.test_browser_judging import CHROMIUM, LAUNCH_ARGS
from tests.support.layout import close_connections_opened_here

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium: apt-get install -y chromium"),
]

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
LONG_TOKEN = "https://example.org/" + "a-very-long-unbroken-answer-" * 8

# Elements sticking out of the viewport, except inside a box that scrolls or clips on its own.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if ((r.right > width + 1 || r.left < -1) && !clipped(el)) {
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "." + el.className;
      out.push(name + " " + Math.round(r.left) + ".." + Math.round(r.right));
    }
  }
  const scrollWidth = document.documentElement.scrollWidth;
  if (scrollWidth > width + 1) out.push("page scrollWidth " + scrollWidth);
  return out;
}"""

# Words (runs of non-space) that the browser laid out over more than one line.
SPLIT_WORDS = """(selector) => {
  const out = [];
  for (const el of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      const re = /\\S+/g;
      let m;
      while ((m = re.exec(node.textContent))) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (tops.size > 1) out.push(m[0]);
      }
    }
  }
  return out;
}"""


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


def logged_in_page(browser, live_server, client, user, viewport):
    client.force_login(user)
    context = browser.new_context(viewport=viewport)
    cookie = client.cookies["sessionid"]
    context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def assert_fits(page, what: str) -> None:
    assert page.evaluate(OVERFLOWING) == [], f"{what}: elements overflow the {page.viewport_size} viewport"
    assert page.evaluate(SPLIT_WORDS, "th, button, .button, a, legend, label, h1, h2, .status") == [], (
        f"{what}: words split across lines"
    )


def test_no_judge_page_overflows_a_phone_or_splits_words(browser, live_server, client, bob, artifacts_dir):
    session = make_session(n=3, k=1, judges=[bob], name="Which answer is better? Phone layout session")
    SessionItem.objects.filter(session=session).update(answer_a=LONG_TOKEN)
    page = logged_in_page(browser, live_server, client, bob, PHONE)
    page.goto(live_server.url + reverse("annotation:judge-home"))
    assert_fits(page, "judge home")
    assert page.locator("a.button").first.inner_text() == "Start"
    page.screenshot(path=str(artifacts_dir / "judge-home-390.png"), full_page=True)
    page.locator("a.button").first.click()
    page.wait_for_url("**/annotation/j/**")
    assert_fits(page, "judging page")
    page.screenshot(path=str(artifacts_dir / "judging-page-390.png"), full_page=True)
    page.locator("#flag-box summary").click()
    assert_fits(page, "judging page with the skip form open")
    while (a := assigning.next_assignment(session, bob)) is not None:
        judging.submit(a.token, bob, answer())
    page.goto(live_server.url + reverse("annotation:judge-done", args=[session.pk]))
    assert_fits(page, "thank-you page")
    page.goto(live_server.url + reverse("annotation:judge-home"))
    assert_fits(page, "judge home, finished")
    session.is_open = False
    session.save()
    page.goto(live_server.url + reverse("annotation:judge-next", args=[session.pk]))
    assert_fits(page, "closed page")
    page.goto(live_server.url + reverse("annotation:judge-item", args=["gone-token-0000000000000"]))
    assert_fits(page, "gone page")


def test_table_headers_keep_their_words_on_a_laptop(browser, live_server, client, bob):
    make_session(n=2, k=1, judges=[bob], name="Session with a rather long name for the judges' table")
    page = logged_in_page(browser, live_server, client, bob, LAPTOP)
    page.goto(live_server.url + reverse("annotation:judge-home"))
    assert page.locator("#session-table th").count() == 3
    assert_fits(page, "judge home at 1366")


def summary(page) -> str:
    return " ".join(page.locator("#choice-summary").inner_text().split())


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"]


def test_the_summary_of_choices_stays_in_view_and_follows_every_key(browser, live_server, client, bob):
    session = make_session(n=3, k=1, judges=[bob], instructions="Judge each answer on its own.\n\n" * 12)
    SessionItem.objects.filter(session=session).update(context="A long passage. " * 300)
    page = logged_in_page(browser, live_server, client, bob, LAPTOP)
    page.goto(live_server.url + reverse("annotation:judge-next", args=[session.pk]))
    page.wait_for_url("**/annotation/j/**")
    assert summary(page) == "A: - · B: - · preference: -"
    assert not in_view(page, "input[name=left_label]")  # the radios are below the fold: the case that matters
    expected = {
        "1": "A: Correct · B: - · preference: -",
        "5": "A: Correct · B: Partially correct · preference: -",
        "t": "A: Correct · B: Partially correct · preference: Tie",
        "2": "A: Partially correct · B: Partially correct · preference: Tie",
        "w": "A: Partially correct · B: Partially correct · preference: Tie",
        "6": "A: Partially correct · B: Incorrect · preference: Tie",
        "b": "A: Partially correct · B: Incorrect · preference: B is better",
        "a": "A: Partially correct · B: Incorrect · preference: A is better",
    }
    for key, text in expected.items():
        page.keyboard.press(key)
        assert summary(page) == text, key
        assert in_view(page, "#choice-summary"), f"summary out of view after {key}"
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.keyboard.press("3")
    assert summary(page).startswith("A: Incorrect") and in_view(page, "#choice-summary")
    # Submit, then go back: while revising, the counter names the item being revised, not the next one.
    first = page.url
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: url != first)
    assert page.locator("#progress-text").inner_text() == "2 of 3"
    page.keyboard.press("Backspace")
    page.wait_for_url(first)
    assert page.locator("#progress-text").inner_text() == "item 1 of 3 (revising)"
    assert summary(page) == "A: Incorrect · B: Incorrect · preference: A is better"

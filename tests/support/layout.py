"""Headless Chromium for layout tests of staff pages, and the checks those tests share.

Debian's Chromium (never `playwright install`), driven by Playwright's sync API. The checks run in the page:
what overflows the viewport, and which table header wraps inside a word (the "Queue d" / "Judgmen ts" bug).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test are still sync.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync"]  # fmt: skip
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}


@contextmanager
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            close_connections_opened_here()


def close_connections_opened_here() -> None:
    """Database work a test does inside the browser block runs in playwright's event-loop context, where Django
    opens connections of its own (DJANGO_ALLOW_ASYNC_UNSAFE lets it) and nothing closes them: on PostgreSQL the
    test database then could not be dropped at the end ("being accessed by other users") and was left behind.
    Closed here, in that same context; a connection inside a transaction is left to its owner."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close()


def log_in(page, base_url: str, username: str, password: str = "pw-for-tests-1") -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const inScroller = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (s.overflowX === 'auto' || s.overflowX === 'scroll') return true;
    }
    return false;
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className ? '.' + el.className.split(' ').join('.') : '');
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || inScroller(el)) continue;
    if (r.right > width + 1 || r.left < -1) out.push(`${name(el)} right=${Math.round(r.right)}`);
  }
  return {width, scrollWidth: document.documentElement.scrollWidth, out: out.slice(0, 10)};
}"""


def overflow(page) -> dict:
    """Elements reaching past the viewport, except inside a box that scrolls on its own."""
    return page.evaluate(OVERFLOW_JS)


SPLIT_HEADERS_JS = """() => {
  // A header "splits inside a word" when some word of it occupies more than one line box.
  const split = [];
  for (const th of document.querySelectorAll('th')) {
    const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const re = /\\S+/g; let m;
      while ((m = re.exec(node.textContent))) {
        const range = document.createRange();
        range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (tops.size > 1) split.push(`${th.textContent.trim()} [${m[0]}]`);
      }
    }
  }
  return split;
}"""


def headers_split_inside_words(page) -> list[str]:
    return page.evaluate(SPLIT_HEADERS_JS)

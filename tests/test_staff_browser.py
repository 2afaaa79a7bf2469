"""The staff console in a real (headless) Chromium: a shift's work on an emergency.

The console runs as in tests/test_staff_web.py (its `console` fixture: a real
Sanic server on a loopback port, a temporary project DB and tracker store
whose emergency escalation and transcript carry an XSS payload).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.test_staff_web import PASSWORD, XSS, Console, console  # noqa: F401 - fixture


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def test_log_in_work_an_emergency_and_stay_safe(console: Console, page: Page) -> None:  # noqa: F811
    page.goto(console.base + "/")
    expect(page).to_have_url(console.base + "/login")
    page.get_by_label("Login").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # The queue: the emergency stands out, its count is in the title.
    expect(page).to_have_url(console.base + "/")
    expect(page).to_have_title("(1 new emergency) Escalations - Clinic staff console")
    expect(page.get_by_role("alert")).to_contain_text("1 new emergency")
    card = page.locator("article", has_text="ES-AAAAAA")
    expect(card).to_contain_text("red flag: swelling")
    expect(card.locator(".patient-text")).to_have_text(XSS)  # shown as text, not markup

    # Its transcript, with the payload inert.
    card.get_by_role("link", name="Transcript").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("conv-xss-1")
    expect(page.locator(".patient-text", has_text="<script>")).to_have_text(XSS)
    expect(page.locator("li.msg.patient img")).to_have_count(0)
    expect(page.locator("main script")).to_have_count(0)
    expect(page.get_by_text("utter_emergency")).to_be_visible()
    page.get_by_role("link", name="Escalations").first.click()

    # Acknowledge, then resolve.
    page.get_by_role("button", name="Acknowledge ES-AAAAAA").click()
    card = page.locator("article", has_text="ES-AAAAAA")
    expect(card.locator(".status")).to_have_text("acknowledged")
    expect(page).to_have_title("Escalations - Clinic staff console")
    page.get_by_role("button", name="Resolve ES-AAAAAA").click()
    expect(page.locator("article", has_text="ES-AAAAAA")).to_have_count(0)

    assert page.dialogs == []  # type: ignore[attr-defined]

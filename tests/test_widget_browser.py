"""The website chat widget in a real (headless) Chromium, against the real servers.

The demo clinic page is served by scripts/serve_widget.py, started with
everything else by the `assistant` fixture; the widget talks to the Rasa
server's REST channel across origins, as on a clinic's website.

Tests 1-3 are one patient's conversation in one browser tab, in order (they
share the module-scoped `patient` page); every other test uses a browser
context of its own, i.e. a patient of its own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support import ROOT, RunningAssistant, http

CLINIC_NAME = "Testwood Dermatology"  # tests/fixtures/test-clinic.yml
NOTICE = "automated assistant"
REPLY_TIMEOUT_MS = 30_000
SENDER_ID = re.compile(r"^[A-Za-z0-9_.:@+-]{1,128}$")
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss=2">'
ARTIFACTS = ROOT / "test-artifacts"
DOCS = ROOT / "docs"


# --- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_url(assistant: RunningAssistant) -> str:
    """The demo clinic page, once its server answers (it starts with the others)."""
    url = f"{assistant.widget_url}/"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return url
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"The widget demo page did not come up at {url}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def patient(browser: Browser, demo_url: str) -> Iterator[Page]:
    """One patient's tab, shared by tests 1-3 (one conversation, continued)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(demo_url)
    yield page
    context.close()


@pytest.fixture
def new_patient(browser: Browser, demo_url: str) -> Iterator[Page]:
    """A patient who has never chatted: a fresh browser profile (no localStorage)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(demo_url)
    yield page
    context.close()


# --- driving the widget -------------------------------------------------------


class Widget:
    """The chat widget on a page, driven the way a patient would."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.launcher = page.locator(".cc-launcher")
        self.panel = page.locator(".cc-panel")
        self.header = page.locator(".cc-header")
        self.log = page.get_by_role("log")
        self.input = page.get_by_role("textbox", name="Message to the assistant")
        self.bot = page.locator(".cc-msg--bot")
        self.user = page.locator(".cc-msg--user")
        self.errors = page.locator(".cc-msg--error")

    def open(self) -> None:
        expect(self.launcher).to_be_visible()
        if self.launcher.get_attribute("aria-expanded") != "true":
            self.launcher.click()
        expect(self.panel).to_be_visible()

    def wait_for_notice(self) -> None:
        expect(self.bot.first).to_contain_text(NOTICE, timeout=REPLY_TIMEOUT_MS)
        self.wait_idle()

    def wait_idle(self) -> None:
        expect(self.page.locator(".cc-root")).to_have_attribute(
            "data-busy", "false", timeout=REPLY_TIMEOUT_MS
        )

    def _await_reply(self, act) -> str:
        """Do `act`; wait for the assistant's answer; return the new bot text."""
        bots, errors = self.bot.count(), self.errors.count()
        act()
        # Polled from here: the page's Content-Security-Policy forbids the eval
        # that Playwright's wait_for_function runs inside the page.
        deadline = time.monotonic() + REPLY_TIMEOUT_MS / 1000
        while not (
            self.errors.count() > errors
            or (
                self.bot.count() > bots
                and self.page.locator(".cc-root").get_attribute("data-busy") == "false"
            )
        ):
            assert time.monotonic() < deadline, "no answer from the assistant"
            time.sleep(0.1)
        assert self.errors.count() == errors, self.errors.last.inner_text()
        return "\n".join(self.bot.nth(i).inner_text() for i in range(bots, self.bot.count()))

    def say(self, text: str) -> str:
        def act() -> None:
            self.input.fill(text)
            self.input.press("Enter")

        return self._await_reply(act)

    def click(self, title: str) -> str:
        """Click the latest quick reply with exactly this title."""
        button = self.log.get_by_role("button", name=title, exact=True).last
        expect(button).to_be_enabled()
        return self._await_reply(button.click)

    def sender(self) -> str:
        return self.stored()["sender"]

    def stored(self) -> dict:
        raw = self.page.evaluate(
            "() => Object.keys(localStorage).filter(k => k.startsWith('clinic-chat:v1:'))"
            ".map(k => localStorage.getItem(k))"
        )
        assert len(raw) == 1, raw
        return json.loads(raw[0])


# --- one patient's conversation (tests 1-3, in order) -------------------------


def test_patient_opens_the_chat_and_asks_a_question(patient: Page) -> None:
    widget = Widget(patient)
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    expect(widget.panel).to_be_hidden()
    widget.open()
    expect(widget.header).to_contain_text(CLINIC_NAME)
    expect(widget.header).to_contain_text("Automated assistant — not medical advice")
    expect(widget.input).to_be_focused()
    # The conversation opens with the assistant's notice, before any question.
    widget.wait_for_notice()
    expect(widget.bot.first).to_contain_text("not a substitute for medical advice")

    answer = widget.say("How long does Botox last?")
    assert "6 months" in answer
    expect(widget.user.last).to_have_text("You said: How long does Botox last?")
    expect(widget.bot.filter(has_text="6 months")).to_have_count(1)
    expect(widget.input).to_have_value("")


def test_patient_answers_with_a_quick_reply(patient: Page) -> None:
    widget = Widget(patient)
    offer = widget.bot.filter(has_text="Would you like to know about touch-ups?").last
    expect(offer.get_by_role("button")).to_have_count(2)

    answer = widget.click("Yes, tell me about touch-ups")
    assert "touch-ups" in answer and "more efficient" in answer
    # The patient sees the button's title, not its payload ("/affirm")...
    expect(widget.user.last).to_have_text("You said: Yes, tell me about touch-ups")
    expect(widget.log).not_to_contain_text("/affirm")
    # ...and the used question's buttons can't be clicked again.
    for button in offer.get_by_role("button").all():
        expect(button).to_be_disabled()
    expect(offer.locator(".cc-choice--chosen")).to_have_text("Yes, tell me about touch-ups")


def test_the_conversation_survives_a_reload_and_a_new_tab(patient: Page) -> None:
    widget = Widget(patient)
    sender = widget.sender()
    assert SENDER_ID.match(sender)

    patient.reload()
    widget.open()
    expect(widget.bot.filter(has_text="6 months").first).to_be_visible()
    expect(widget.bot.filter(has_text="more efficient")).to_have_count(1)
    expect(widget.user).to_have_count(2)

    reply = widget.say("thanks")
    assert reply.strip()
    assert widget.sender() == sender
    # Same conversation on the server: a new one would have opened with the notice.
    expect(widget.bot.filter(has_text=NOTICE)).to_have_count(1)

    tab = patient.context.new_page()
    try:
        tab.goto(patient.url)
        other = Widget(tab)
        other.open()
        expect(other.bot.filter(has_text="more efficient")).to_have_count(1)
        expect(other.user.last).to_have_text("You said: thanks")
        assert other.sender() == sender
    finally:
        tab.close()


# --- other patients -----------------------------------------------------------


def test_a_booking_through_the_widget(new_patient: Page) -> None:
    widget = Widget(new_patient)
    widget.open()
    widget.wait_for_notice()
    assert "full name" in widget.say("I'd like to book an appointment")
    assert "phone number" in widget.say("Ana Diaz")
    assert "e-mail" in widget.say("201 555 0123")
    assert "When would you like to come in" in widget.click("Skip")
    assert "Which area" in widget.say("next tuesday afternoon")
    assert "first visit" in widget.click("Forehead lines")
    assert "contact you" in widget.click("Yes, first visit")
    assert "Shall I send it" in widget.click("Yes, that's fine")
    final = widget.click("Yes, send it")
    assert re.search(r"\bBK-[A-Z2-9]{6}\b", final), final
    expect(widget.bot.last).to_contain_text(re.compile(r"BK-[A-Z2-9]{6}"))


def test_message_content_is_shown_as_text_never_as_html(new_patient: Page) -> None:
    widget = Widget(new_patient)
    widget.open()
    widget.wait_for_notice()
    widget.say(XSS)

    def assert_inert() -> None:
        text = widget.user.last.locator(".cc-text")
        expect(text).to_be_visible()
        assert text.text_content() == XSS
        assert new_patient.locator(".cc-root script, .cc-root img").count() == 0
        assert new_patient.evaluate("typeof window.__xss") == "undefined"

    assert_inert()
    new_patient.reload()  # and again when the transcript is rebuilt from storage
    widget.open()
    assert_inert()


def test_links_in_bot_text_open_safely_and_only_for_web_addresses(
    new_patient: Page, assistant: RunningAssistant
) -> None:
    """Bot text (here a stored transcript) gets clickable http(s) links, nothing else."""
    transcript = {
        "sender": "web-links-test",
        "messages": [
            {
                "who": "bot",
                "text": "Read https://example.test/aftercare?x=1. Not javascript:alert(1) "
                "nor <a href='javascript:alert(2)'>this</a>.",
            }
        ],
    }
    new_patient.evaluate(
        "([key, value]) => localStorage.setItem(key, value)",
        [f"clinic-chat:v1:{assistant.rasa_url}", json.dumps(transcript)],
    )
    new_patient.reload()
    widget = Widget(new_patient)
    widget.open()
    links = widget.log.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_text("https://example.test/aftercare?x=1")
    expect(links).to_have_attribute("href", "https://example.test/aftercare?x=1")
    expect(links).to_have_attribute("target", "_blank")
    expect(links).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    expect(widget.bot).to_contain_text("<a href='javascript:alert(2)'>this</a>.")


def test_start_over_begins_a_new_conversation(new_patient: Page) -> None:
    widget = Widget(new_patient)
    widget.open()
    widget.wait_for_notice()
    assert "6 months" in widget.say("How long does Botox last?")
    old_sender = widget.sender()

    new_patient.get_by_role("button", name="Start over").click()
    widget.wait_for_notice()
    expect(widget.log).not_to_contain_text("6 months")
    expect(widget.user).to_have_count(0)
    expect(widget.bot.filter(has_text=NOTICE)).to_have_count(1)
    new_sender = widget.sender()
    assert new_sender != old_sender and SENDER_ID.match(new_sender)
    expect(widget.input).to_be_focused()


def test_an_unreachable_assistant_gets_a_polite_error_and_a_retry(
    new_patient: Page, assistant: RunningAssistant
) -> None:
    widget = Widget(new_patient)
    widget.open()
    widget.wait_for_notice()
    webhook = f"{assistant.rasa_url}/webhooks/rest/webhook"
    new_patient.route(webhook, lambda route: route.abort("connectionrefused"))
    widget.input.fill("How long does Botox last?")
    widget.input.press("Enter")
    expect(widget.errors.last).to_have_text(
        "Sorry, I can't reach the assistant right now. Please try again, or call the clinic.",
        timeout=REPLY_TIMEOUT_MS,
    )
    expect(widget.user.last).to_contain_text("Not sent")
    # The message is back in the input: sending again retries it.
    expect(widget.input).to_have_value("How long does Botox last?")
    new_patient.unroute(webhook)
    bots = widget.bot.count()
    widget.input.press("Enter")
    expect(widget.bot.nth(bots)).to_contain_text("6 months", timeout=REPLY_TIMEOUT_MS)


def test_keyboard_and_screen_reader_basics(new_patient: Page) -> None:
    widget = Widget(new_patient)
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    widget.launcher.focus()
    new_patient.keyboard.press("Enter")
    expect(widget.launcher).to_have_attribute("aria-expanded", "true")
    expect(widget.panel).to_be_visible()
    expect(widget.input).to_be_focused()  # focus moves to the input on open

    expect(widget.log).to_have_attribute("aria-live", "polite")
    expect(widget.input).to_be_visible()  # found by its label: it has an accessible name
    expect(new_patient.get_by_label("Message to the assistant")).to_have_count(1)
    expect(new_patient.get_by_role("dialog", name=CLINIC_NAME)).to_be_visible()
    widget.wait_for_notice()

    users = widget.user.count()
    widget.input.fill("   ")
    widget.input.press("Enter")  # empty input is not sent
    expect(widget.user).to_have_count(users)

    # A visible focus outline on the quick replies and the input.
    new_patient.keyboard.press("Shift+Tab")
    outline = new_patient.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), outline

    new_patient.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    expect(widget.launcher).to_be_focused()


def test_screenshots_on_a_desktop_and_a_phone(browser: Browser, demo_url: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)

    desktop = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = desktop.new_page()
        page.goto(demo_url)
        widget = Widget(page)
        widget.open()
        widget.wait_for_notice()
        widget.say("How long does Botox last?")
        page.mouse.move(0, 0)
        page.screenshot(path=str(ARTIFACTS / "widget-desktop.png"), animations="disabled")
        storage = desktop.storage_state()
    finally:
        desktop.close()

    # The same patient's conversation, on a phone.
    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        storage_state=storage,
    )
    try:
        page = phone.new_page()
        page.goto(demo_url)
        widget = Widget(page)
        widget.open()
        expect(widget.bot.filter(has_text="6 months")).to_have_count(1)
        widget.panel.evaluate("el => Promise.all(el.getAnimations().map(a => a.finished))")
        box = widget.panel.bounding_box()
        assert box is not None
        assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
        page.screenshot(path=str(ARTIFACTS / "widget-phone.png"), animations="disabled")
    finally:
        phone.close()

    # The README's pictures are refreshed on request only, so a test run
    # leaves the working tree clean: UPDATE_SCREENSHOTS=1 make pytest.
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        for name in ("widget-desktop.png", "widget-phone.png"):
            shutil.copyfile(ARTIFACTS / name, DOCS / name)


def test_a_message_lost_at_the_gateway_is_sent_again_once(
    new_patient: Page, assistant: RunningAssistant
) -> None:
    """A 502 (a server restarting behind nginx): the widget sends the same message
    again with the same id; the patient gets one answer, the record one message."""
    widget = Widget(new_patient)
    widget.open()
    widget.wait_for_notice()
    webhook = f"{assistant.rasa_url}/webhooks/rest/webhook"
    bodies: list[dict] = []

    def first_attempt_fails(route) -> None:
        bodies.append(json.loads(route.request.post_data))
        if len(bodies) == 1:
            route.fulfill(status=502, body="Bad Gateway")
        else:
            route.continue_()

    new_patient.route(webhook, first_attempt_fails)
    reply = widget.say("How long does Botox last?")
    new_patient.unroute(webhook)
    assert "6 months" in reply
    assert [body["message"] for body in bodies] == ["How long does Botox last?"] * 2
    assert bodies[0]["message_id"] == bodies[1]["message_id"]
    assert [body["resend"] for body in bodies] == [False, True]
    status, tracker = http(
        "GET",
        f"{assistant.rasa_url}/conversations/{widget.sender()}/tracker?token={assistant.token}",
    )
    assert status == 200
    asked = [e for e in tracker["events"] if e["event"] == "user" and "Botox last" in e["text"]]
    assert [e["message_id"] for e in asked] == [bodies[0]["message_id"]]


def test_a_rate_limited_message_is_explained_and_sent_again_after_the_wait(
    new_patient: Page, assistant: RunningAssistant
) -> None:
    """A 429 (the patient typed faster than the limit): the widget says so, waits the
    Retry-After it was given, and sends the same message again by itself."""
    widget = Widget(new_patient)
    widget.open()
    widget.wait_for_notice()
    webhook = f"{assistant.rasa_url}/webhooks/rest/webhook"
    bodies: list[dict] = []

    def first_attempt_limited(route) -> None:
        bodies.append(json.loads(route.request.post_data))
        if len(bodies) == 1:
            route.fulfill(
                status=429,
                headers={"Access-Control-Allow-Origin": "*", "Retry-After": "2"},
                content_type="application/json",
                body=json.dumps({"error": "wait", "retry_after": 2, "messages": []}),
            )
        else:
            route.continue_()

    new_patient.route(webhook, first_attempt_limited)
    reply = widget.say("How long does Botox last?")
    new_patient.unroute(webhook)
    # The widget stays busy through the wait: the note and the answer come as one reply.
    assert "sending messages quickly" in reply and "2 seconds" in reply
    assert reply.index("2 seconds") < reply.index("6 months")
    assert [body["message_id"] for body in bodies] == [bodies[0]["message_id"]] * 2
    expect(widget.user.last).not_to_contain_text("Not sent")

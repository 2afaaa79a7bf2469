"""A staff shift in real Chromium, on an escalation made by a real conversation.

The patient talks to the assistant through the REST channel; the staff
console started by scripts/run.py (same DATA_DIR: the same tracker store
and project database) shows the escalation, its transcript, and lets staff
annotate, export, acknowledge and resolve.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pyotp
import yaml
from playwright.sync_api import Browser, Page, expect

from tests.support import ROOT, RunningAssistant

PASSWORD = "mauve kettle drizzle lantern"
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
ARTIFACTS = ROOT / "test-artifacts"
DOCS = ROOT / "docs"


def add_staff_user(assistant: RunningAssistant, login: str, role: str) -> None:
    """`make staff-user` against the running assistant's data directory."""
    env = {**os.environ, "DATA_DIR": str(assistant.data_dir), "STAFF_PASSWORD": PASSWORD}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "staff.users", "add", login, "--role", role],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(ARTIFACTS / name, DOCS / name)


def test_staff_work_an_escalation_from_a_real_conversation(
    assistant: RunningAssistant, browser: Browser, tmp_path: Path
) -> None:
    login = f"nurse{uuid.uuid4().hex[:6]}"
    add_staff_user(assistant, login, "admin")
    patient = f"console-{uuid.uuid4().hex[:8]}"
    assistant.send(patient, "hello")
    replies = " ".join(
        assistant.texts(
            patient, f"after my botox yesterday my lips and tongue are swelling up {XSS}"
        )
    )
    reference = re.search(r"ES-[A-Z2-9]{6}", replies).group(0)

    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(assistant.staff_url + "/")
        page.get_by_label("Login").fill(login)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()

        # An admin's first sign-in sets up the second factor: scan (here: read) the
        # key, give the app's code, keep the recovery codes.
        expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor sign-in")
        expect(page.locator("figure.qr svg")).to_be_visible()
        key = page.locator("#totp-key").inner_text().replace(" ", "")
        page.get_by_label("Code from the app").fill(pyotp.TOTP(key).now())
        page.get_by_role("button", name="Turn on").click()
        expect(page.locator(".recovery-codes li")).to_have_count(10)
        screenshot(page, "staff-two-factor-recovery-codes.png")
        page.get_by_role("link", name="Continue to the console").click()

        card = page.locator("article", has_text=reference)
        expect(card).to_contain_text("emergency")
        expect(card.locator(".patient-text")).to_contain_text("<script>")
        screenshot(page, "staff-escalations.png")

        card.get_by_role("link", name="Transcript").click()
        expect(page.locator(".patient-text", has_text="<script>")).to_have_count(1)
        expect(page.locator("li.msg.patient img")).to_have_count(0)
        assert page.evaluate("window.__xss") is None
        screenshot(page, "staff-transcript.png")

        hello = page.locator("li.msg.patient", has_text="hello")
        hello.get_by_label("Correct intent or FAQ topic").fill("greet")
        hello.get_by_role("button", name="Save").click()
        expect(page.locator("li.msg.patient", has_text="hello")).to_contain_text(
            "annotated as greet"
        )

        page.goto(assistant.staff_url + "/unanswered")
        with page.expect_download() as download:
            page.get_by_role("link", name=re.compile("Download them as NLU")).click()
        exported = yaml.safe_load(Path(download.value.path()).read_text())
        greet = [b for b in exported["nlu"] if b["intent"] == "greet"]
        assert greet and "hello" in greet[0]["examples"]

        page.goto(assistant.staff_url + "/")
        page.get_by_role("button", name=f"Acknowledge {reference}").click()
        expect(page.locator("article", has_text=reference).locator(".status")).to_have_text(
            "acknowledged"
        )
        page.get_by_role("button", name=f"Resolve {reference}").click()
        expect(page.locator("article", has_text=reference)).to_have_count(0)
        assert page.evaluate("window.__xss") is None
    finally:
        context.close()

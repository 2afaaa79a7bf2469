"""The staff console's pages (staff/web.py), served for real on a loopback port.

Each test module run starts the app in a thread (as tests/test_channels.py
does) against a temporary migrated project DB and a tracker store holding
events in Rasa's format, and talks to it over HTTP with its own cookie jar.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from sanic import Sanic

from clinic_core import storage
from staff import annotations, audit, auth, sessions
from staff import conversations as conv
from tests.receivers import run_sanic

PASSWORD = "correct horse battery"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SECRET = "s" * 40


# --- data ------------------------------------------------------------------------


def event_rows(sender: str, start: float) -> list[dict[str, Any]]:
    def user(text: str, intent: str, confidence: float, at: float) -> dict[str, Any]:
        return {
            "event": "user",
            "timestamp": at,
            "text": text,
            "input_channel": "rest",
            "parse_data": {
                "text": text,
                "intent": {"name": intent, "confidence": confidence},
                "entities": [],
            },
        }

    return [
        {"event": "action", "timestamp": start, "name": "action_session_start"},
        user("I have swelling after my filler", "report_symptom", 0.93, start + 1),
        {"event": "action", "timestamp": start + 2, "name": "action_triage"},
        {
            "event": "slot",
            "timestamp": start + 2,
            "name": "escalation_reference",
            "value": "ES-AAAAAA",
        },
        {
            "event": "bot",
            "timestamp": start + 3,
            "text": "Please call the clinic now.",
            "data": {},
            "metadata": {"utter_action": "utter_emergency"},
        },
        user(XSS, "nlu_fallback", 0.21, start + 4),
        {
            "event": "bot",
            "timestamp": start + 5,
            "text": "Sorry, I did not understand.",
            "data": {},
            "metadata": {"utter_action": "utter_fallback"},
        },
    ]


def fill_tracker(url: str, sender: str) -> None:
    engine = sa.create_engine(url, future=True)
    conv._METADATA.create_all(engine)
    with engine.begin() as conn:
        for event in event_rows(sender, time.time() - 600):
            conn.execute(
                conv.EVENTS.insert().values(
                    sender_id=sender,
                    type_name=event["event"],
                    timestamp=event["timestamp"],
                    intent_name=(event.get("parse_data") or {}).get("intent", {}).get("name"),
                    action_name=event.get("name") if event["event"] == "action" else None,
                    data=json.dumps(event),
                )
            )
    engine.dispose()


def fill_project(url: str, sender: str) -> dict[str, int]:
    storage.migrate(url)
    now = storage.utcnow()
    with storage.transaction(url) as db:
        rows = {
            "emergency": storage.Escalation(
                reference="ES-AAAAAA",
                conversation_id=sender,
                channel="rest",
                severity="emergency",
                reason="red flag: swelling",
                created_at=now,
                updated_at=now,
                patient_name="Pat <b>Bold</b>",
                phone="+447700900123",
                symptoms=XSS,
                status="open",
                update_count=0,
            ),
            "routine": storage.Escalation(
                reference="ES-BBBBBB",
                conversation_id="other",
                channel="rest",
                severity="routine",
                reason="call-back request",
                created_at=now,
                updated_at=now,
                symptoms="just a question",
                status="open",
                update_count=0,
            ),
            "booking": storage.Booking(
                reference="BK-CCCCCC",
                dedupe_key="k1",
                conversation_id=sender,
                channel="rest",
                created_at=now,
                patient_name="Pat",
                phone="+447700900123",
                new_patient=True,
                preferred_start="2026-12-01T10:00:00+00:00",
                preferred_end="2026-12-01T12:00:00+00:00",
                preferred_time_text="Tuesday morning",
                treatment_area="forehead",
                consent_to_contact=True,
                status="new",
            ),
        }
        db.add_all(rows.values())
        db.add(
            storage.OutboxMessage(
                idempotency_key="i1",
                reference="ES-AAAAAA",
                message_type="escalation",
                transport="webhook",
                payload="{}",
                status="delivered",
            )
        )
        db.flush()
        return {name: row.id for name, row in rows.items()}


# --- the running app ------------------------------------------------------------------


@dataclass
class Console:
    base: str
    project_url: str
    tracker_url: str
    ids: dict[str, int]
    sender: str
    data_dir: Path


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    from staff import web

    directory = tmp_path_factory.mktemp("staff_web")
    patch = pytest.MonkeyPatch()
    patch.setattr(Sanic, "test_mode", True)
    patch.setenv("DATA_DIR", str(directory))
    patch.setenv(sessions.SECRET_ENV, SECRET)
    project_url = f"sqlite:///{directory / 'clinic.db'}"
    tracker_url = f"sqlite:///{directory / 'conversations.db'}"
    sender = "conv-xss-1"
    fill_tracker(tracker_url, sender)
    ids = fill_project(project_url, sender)
    auth.create_user(project_url, "alice", PASSWORD, auth.STAFF, actor=auth.SYSTEM)
    auth.create_user(project_url, "admin", PASSWORD, auth.ADMIN, actor=auth.SYSTEM)
    auth.create_user(project_url, "mallory", PASSWORD, auth.STAFF, actor=auth.SYSTEM)

    app = web.create_app(project_url=project_url, tracker_url=tracker_url, secure_cookies=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    ready, box = threading.Event(), {}
    thread = threading.Thread(target=run_sanic, args=(app, sock, ready, box), daemon=True)
    thread.start()
    assert ready.wait(10), "the console did not start"
    try:
        yield Console(
            f"http://127.0.0.1:{sock.getsockname()[1]}",
            project_url,
            tracker_url,
            ids,
            sender,
            directory,
        )
    finally:
        box["loop"].call_soon_threadsafe(box["loop"].stop)
        thread.join(10)
        sock.close()
        patch.undo()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def totp_key(page: str) -> str:
    """The authenticator key a set-up page shows (grouped by four for typing)."""
    return re.search(r'id="totp-key">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")


# (console address, login) -> the TOTP key and the unused recovery codes.
SECOND_FACTORS: dict[tuple[str, str], tuple[str, list[str]]] = {}


@dataclass
class Reply:
    status: int
    body: str
    headers: Any
    cookies: SimpleCookie


@dataclass
class Client:
    """A browser-ish client: a cookie jar, no redirects followed."""

    base: str
    jar: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Reply:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if self.jar:
            request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.jar.items()))
        try:
            reply = OPENER.open(request, timeout=20)
        except urllib.error.HTTPError as error:
            reply = error
        cookies = SimpleCookie()
        for header in reply.headers.get_all("Set-Cookie") or []:
            cookies.load(header)
        for name, morsel in cookies.items():
            if morsel["max-age"] in ("0", 0) or not morsel.value:
                self.jar.pop(name, None)
            else:
                self.jar[name] = morsel.value
        return Reply(reply.status, reply.read().decode(), reply.headers, cookies)

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> Reply:
        return self.request("POST", path, form)

    def csrf(self, path: str = "/") -> str:
        page = self.get(path)
        match = re.search(r'name="csrf" value="([^"]+)"', page.body)
        assert match, page.body
        return match.group(1)

    def login(self, login: str, password: str = PASSWORD) -> Reply:
        """Log in as a person would, giving the second factor when asked (and setting
        it up the first time an admin logs in)."""
        token = self.csrf("/login")
        reply = self.post("/login", {"csrf": token, "login": login, "password": password})
        where = reply.headers.get("Location") if reply.status == 302 else None
        if where == "/login/setup":
            return self.set_up_second_factor(login)
        if where == "/login/code":
            return self.give_second_factor(login)
        return reply

    def set_up_second_factor(self, login: str) -> Reply:
        page = self.get("/login/setup")
        key = totp_key(page.body)
        token = self.csrf("/login/setup")
        reply = self.post("/login/setup", {"csrf": token, "code": pyotp.TOTP(key).now()})
        codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", reply.body)
        SECOND_FACTORS[self.base, login] = (key, codes)
        return Reply(302, reply.body, {"Location": "/"}, reply.cookies) if codes else reply

    def give_second_factor(self, login: str) -> Reply:
        """The app's code; if this 30-second step's code was used already, a recovery code."""
        key, codes = SECOND_FACTORS[self.base, login]
        token = self.csrf("/login/code")
        reply = self.post("/login/code", {"csrf": token, "code": pyotp.TOTP(key).now()})
        if reply.status == 401:
            reply = self.post("/login/code", {"csrf": token, "code": codes.pop()})
        return reply


def logged_in(console: Console, login: str) -> Client:
    client = Client(console.base)
    reply = client.login(login)
    assert reply.status == 302, reply.body
    return client


def actions_of(console: Console, login: str) -> list[tuple[str, str | None]]:
    return [(e.action, e.target) for e in audit.entries(console.project_url, login=login)]


# --- login, sessions, CSRF -----------------------------------------------------------


def test_pages_need_a_login(console: Console) -> None:
    reply = Client(console.base).get("/")
    assert reply.status == 302 and reply.headers["Location"] == "/login"
    assert Client(console.base).get("/admin/audit").status == 302


def test_login_success_sets_a_hardened_session_cookie(console: Console) -> None:
    client = Client(console.base)
    reply = client.login("alice")
    assert reply.status == 302 and reply.headers["Location"] == "/"
    morsel = reply.cookies[sessions.COOKIE_NAME]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == "/"
    assert sessions.read_session(morsel.value, SECRET).login == "alice"
    page = client.get("/")
    assert page.status == 200 and "Escalations" in page.body
    assert ("login", None) in actions_of(console, "alice")


def test_secure_cookie_by_default(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    from clinic_core import settings

    monkeypatch.delenv("STAFF_COOKIE_SECURE", raising=False)
    assert settings.load().staff_cookie_secure is True
    monkeypatch.setenv("STAFF_COOKIE_SECURE", "off")
    assert settings.load().staff_cookie_secure is False
    assert sessions.cookie_attributes(True)["secure"] is True


def test_login_failure(console: Console) -> None:
    client = Client(console.base)
    reply = client.login("alice", "wrong password!!")
    assert reply.status == 401
    assert sessions.COOKIE_NAME not in client.jar
    assert "Wrong login or password" in reply.body
    assert client.get("/").status == 302


def test_login_is_throttled(console: Console) -> None:
    client = Client(console.base)
    for _ in range(auth.MAX_FAILED_LOGINS):
        assert client.login("mallory", "not the password").status == 401
    assert client.login("mallory").status == 401  # locked, even with the right password
    assert sessions.COOKIE_NAME not in client.jar


def test_login_needs_its_csrf_token(console: Console) -> None:
    client = Client(console.base)
    client.csrf("/login")
    form = {"login": "alice", "password": PASSWORD}
    assert client.post("/login", form).status == 403
    assert client.post("/login", {**form, "csrf": "forged"}).status == 403
    assert sessions.COOKIE_NAME not in client.jar


def test_posts_without_or_with_a_wrong_csrf_token_are_refused(console: Console) -> None:
    client = logged_in(console, "alice")
    path = f"/escalations/{console.ids['routine']}/note"
    assert client.post(path, {"note": "x"}).status == 403
    assert client.post(path, {"note": "x", "csrf": "wrong"}).status == 403
    with storage.transaction(console.project_url) as db:
        assert db.get(storage.Escalation, console.ids["routine"]).staff_note is None
    assert client.post("/logout", {}).status == 403


def test_disabled_account_is_logged_out_at_once(console: Console) -> None:
    auth.create_user(console.project_url, "bob", PASSWORD, auth.STAFF, actor=auth.SYSTEM)
    client = logged_in(console, "bob")
    assert client.get("/").status == 200
    auth.disable_user(console.project_url, "bob", actor=auth.SYSTEM)
    assert client.get("/").status == 302


def test_logout(console: Console) -> None:
    client = logged_in(console, "alice")
    token = client.csrf()
    reply = client.post("/logout", {"csrf": token})
    assert reply.status == 302 and reply.headers["Location"] == "/login"
    assert sessions.COOKIE_NAME not in client.jar
    assert client.get("/").status == 302


# --- roles -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/admin/audit", "/admin/users", "/admin/retention", "/export/conversations.csv"],
)
def test_staff_gets_403_on_admin_pages(console: Console, path: str) -> None:
    client = logged_in(console, "alice")
    assert client.get(path).status == 403
    assert ("permission_denied", None) not in actions_of(console, "alice")
    assert any(a == "permission_denied" for a, _ in actions_of(console, "alice"))


def test_staff_cannot_post_admin_forms(console: Console) -> None:
    client = logged_in(console, "alice")
    token = client.csrf()
    form = {"csrf": token, "login": "eve", "password": PASSWORD, "role": "admin"}
    assert client.post("/admin/users", form).status == 403
    assert client.post("/admin/retention/older-than", {"csrf": token, "days": "1"}).status == 403


def test_admin_pages(console: Console) -> None:
    client = logged_in(console, "admin")
    assert client.get("/admin/audit").status == 200
    assert client.get("/admin/retention").status == 200
    assert "alice" in client.get("/admin/users").body
    token = client.csrf()
    form = {"csrf": token, "login": "carol", "password": PASSWORD, "role": "staff"}
    assert client.post("/admin/users", form).status == 302
    assert client.post("/admin/users/disable", {"csrf": token, "login": "carol"}).status == 302
    users = {u.login: u for u in auth.list_users(console.project_url, actor=auth.SYSTEM)}
    assert users["carol"].disabled


# --- queues -------------------------------------------------------------------------------


def test_escalation_queue_orders_and_highlights_emergencies(console: Console) -> None:
    client = logged_in(console, "alice")
    page = client.get("/").body
    assert page.index("ES-AAAAAA") < page.index("ES-BBBBBB")
    assert re.search(r"<title>\(1 new emergency\)", page)
    assert 'http-equiv="refresh" content="30"' in page
    assert "delivered" in page
    assert "/transcript?id=conv-xss-1" in page
    # What the patient skipped or has not given yet is shown, per escalation.
    emergency, routine = page.split('id="ES-BBBBBB"')
    assert 'Still missing</dt><dd class="missing">treatment date (' in emergency
    assert 'Still missing</dt><dd class="missing">name, phone number (' in routine


def test_escalation_acknowledge_note_and_resolve(console: Console) -> None:
    client = logged_in(console, "alice")
    escalation = console.ids["routine"]
    token = client.csrf()
    assert client.post(f"/escalations/{escalation}/acknowledge", {"csrf": token}).status == 302
    with storage.transaction(console.project_url) as db:
        assert db.get(storage.Escalation, escalation).status == "acknowledged"
    reply = client.post(f"/escalations/{escalation}/note", {"csrf": token, "note": "called back"})
    assert reply.status == 302
    assert client.post(f"/escalations/{escalation}/resolve", {"csrf": token}).status == 302
    with storage.transaction(console.project_url) as db:
        row = db.get(storage.Escalation, escalation)
        assert row.status == "resolved" and "called back" in row.staff_note
    assert "ES-BBBBBB" not in client.get("/").body
    client.post(f"/escalations/{escalation}/acknowledge", {"csrf": token})
    with storage.transaction(console.project_url) as db:
        assert db.get(storage.Escalation, escalation).status == "resolved"  # not re-opened
    assert ("update_escalation", "ES-BBBBBB") in actions_of(console, "alice")


def test_booking_status_change_and_note(console: Console) -> None:
    client = logged_in(console, "alice")
    booking = console.ids["booking"]
    token = client.csrf("/bookings")
    assert (
        client.post(f"/bookings/{booking}/status", {"csrf": token, "status": "bogus"}).status == 400
    )
    assert (
        client.post(f"/bookings/{booking}/status", {"csrf": token, "status": "contacted"}).status
        == 302
    )
    assert (
        client.post(f"/bookings/{booking}/note", {"csrf": token, "note": "left voicemail"}).status
        == 302
    )
    with storage.transaction(console.project_url) as db:
        row = db.get(storage.Booking, booking)
        assert row.status == "contacted" and "left voicemail" in row.staff_note
    assert "BK-CCCCCC" in client.get("/bookings?status=contacted").body
    assert "BK-CCCCCC" not in client.get("/bookings?status=new").body


# --- conversations, audit, exports, XSS ------------------------------------------------------


def test_transcript_view_is_audited_and_escaped(console: Console) -> None:
    client = logged_in(console, "alice")
    listing = client.get("/conversations?flag=fallback")
    assert console.sender in listing.body
    page = client.get(f"/transcript?id={console.sender}")
    assert page.status == 200
    assert "<script>alert" not in page.body and "<img src=x" not in page.body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.body
    assert "report_symptom" in page.body and "0.93" in page.body
    assert "utter_emergency" in page.body
    assert "ES-AAAAAA" in page.body
    assert ("view_conversation", console.sender) in actions_of(console, "alice")
    queue = client.get("/").body
    assert "<script>alert" not in queue and "Pat &lt;b&gt;Bold&lt;/b&gt;" in queue
    assert "<script>alert" not in client.get("/unanswered").body


def test_annotation_and_nlu_export(console: Console) -> None:
    client = logged_in(console, "alice")
    token = client.csrf(f"/transcript?id={console.sender}")
    form = {"csrf": token, "sender_id": console.sender, "index": "3", "label": "faq/aftercare"}
    assert client.post("/annotate", form).status == 302
    assert client.post("/annotate", {**form, "index": "4"}).status == 400  # a bot reply
    assert client.post("/annotate", {**form, "label": "bad label!"}).status == 400
    stored = annotations.all_annotations(console.project_url)
    assert [(a.sender_id, a.index, a.label, a.by) for a in stored] == [
        (console.sender, 3, "faq/aftercare", "alice")
    ]
    # Annotating the same message again replaces its label (one row per message).
    assert client.post("/annotate", {**form, "label": "faq/side_effects"}).status == 302
    assert annotations.for_conversation(console.sender, console.project_url) == {
        3: "faq/side_effects"
    }
    assert client.post("/annotate", form).status == 302
    reply = client.get("/export/annotations.yml")
    assert reply.status == 200 and "attachment" in reply.headers["Content-Disposition"]
    assert 'intent: "faq/aftercare"' in reply.body and "<script>" in reply.body
    assert any(a == "export_nlu" for a, _ in actions_of(console, "alice"))


def test_conversation_exports_are_audited(console: Console) -> None:
    client = logged_in(console, "admin")
    csv_reply = client.get("/export/conversations.csv")
    assert csv_reply.status == 200 and "text/csv" in csv_reply.headers["Content-Type"]
    assert console.sender in csv_reply.body
    json_reply = client.get("/export/conversations.json?flag=escalated")
    assert any(row["sender_id"] == console.sender for row in json.loads(json_reply.body))
    exports = [a for a, _ in actions_of(console, "admin") if a == "export_conversations"]
    assert len(exports) == 2


def test_security_headers(console: Console) -> None:
    reply = Client(console.base).get("/login")
    assert "default-src 'none'" in reply.headers["Content-Security-Policy"]
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.cookies["staff_login_csrf"]["httponly"] is True


def test_login_form_token_is_stable_across_parallel_requests(console: Console) -> None:
    """A favicon request redirected to /login must not invalidate the form's token."""
    client = Client(console.base)
    first = client.csrf("/login")
    client.get("/favicon.ico")
    assert client.csrf("/login") == first
    form = {"csrf": first, "login": "alice", "password": PASSWORD}
    assert client.post("/login", form).status == 302


def test_unanswered_report_lists_the_message_escaped(console: Console) -> None:
    client = logged_in(console, "alice")
    page = client.get("/unanswered").body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert f"/transcript?id={console.sender}" in page


def test_transcript_links_back_to_its_queues(console: Console) -> None:
    page = logged_in(console, "alice").get(f"/transcript?id={console.sender}").body
    assert 'href="/#ES-AAAAAA"' in page and 'href="/bookings#BK-CCCCCC"' in page


def test_a_slow_query_does_not_stall_the_other_requests(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Handlers run on worker threads: one slow database call holds only its own request."""
    from staff import web  # noqa: F401 - the console under test imported it

    started, release = threading.Event(), threading.Event()
    original = audit.entries

    def slow_entries(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(audit, "entries", slow_entries)
    admin = logged_in(console, "admin")
    alice = logged_in(console, "alice")
    slow: dict[str, int] = {}
    waiting = threading.Thread(
        target=lambda: slow.setdefault("status", admin.get("/admin/audit").status)
    )
    waiting.start()
    try:
        assert started.wait(10), "the audit page never queried"
        begun = time.monotonic()
        assert alice.get("/bookings").status == 200  # answered while the audit query waits
        assert time.monotonic() - begun < 5
        assert "status" not in slow
    finally:
        release.set()
        waiting.join(10)
    assert slow["status"] == 200


def test_annotations_saved_at_once_by_two_workers_are_all_kept(console: Console) -> None:
    """The JSON file lost one of two concurrent saves; the table keeps all (one per message)."""
    url = console.project_url
    barrier = threading.Barrier(8)

    def save(index: int) -> None:
        barrier.wait(5)
        annotations.save("conv-race", index % 4, None, f"faq/topic_{index}", "alice", url)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    saved = annotations.for_conversation("conv-race", url)
    assert sorted(saved) == [0, 1, 2, 3]
    assert all(label in (f"faq/topic_{i}", f"faq/topic_{i + 4}") for i, label in saved.items())


def test_admin_erases_one_patient(console: Console) -> None:
    """Runs last: it deletes the module's data."""
    client = logged_in(console, "admin")
    token = client.csrf("/admin/retention")
    assert client.post("/admin/retention/older-than", {"csrf": token, "days": "0"}).status == 400
    reply = client.post(
        "/admin/retention/erase", {"csrf": token, "conversation_id": console.sender}
    )
    assert reply.status == 200 and "conversations: 1" in reply.body
    assert conv.transcript(console.tracker_url, console.sender).items == ()
    with storage.transaction(console.project_url) as db:
        assert db.query(storage.Booking).filter_by(conversation_id=console.sender).count() == 0
    assert any(a == "delete_data" for a, _ in actions_of(console, "admin"))
    # Annotations of erased conversations go too.
    assert annotations.conversations(console.project_url) == []


def test_staff_see_what_has_not_reached_the_clinic_yet(console: Console) -> None:
    """The webhook or mail server down: the queue page says notifications are waiting
    (and which were refused), so staff look at the escalations themselves."""
    client = logged_in(console, "alice")
    assert "not delivered yet" not in client.get("/").body
    with storage.transaction(console.project_url) as db:
        rows = [
            storage.OutboxMessage(
                idempotency_key=f"backlog-{number}",
                reference="ES-BACKLOG",
                message_type="escalation",
                transport="webhook",
                payload="{}",
                status=status,
                attempts=attempts,
            )
            for number, (status, attempts) in enumerate(
                (("pending", 3), ("pending", 0), ("failed", 1))
            )
        ]
        db.add_all(rows)
    try:
        page = client.get("/").body
        assert "1 notification to the clinic not delivered yet" in page  # tried, not new
        assert "1 notification refused" in page
        assert "RabbitMQ" not in page  # no event stream in this profile
    finally:
        with storage.transaction(console.project_url) as db:
            db.query(storage.OutboxMessage).filter_by(reference="ES-BACKLOG").delete()

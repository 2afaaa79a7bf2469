"""Holes a security reviewer tries first, through the real servers (issue: hardening).

- the HTTP API token and the action server's secret never show in `ps`, and
  only the processes that need them get them;
- the action server answers nobody without the shared secret;
- a patient cannot drive the dialogue with Rasa's "/intent" syntax.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from tests.support import RunningAssistant
from tests.test_e2e_booking import wait_for
from tests.test_e2e_triage import escalations_for

SECRET_HEADER = "X-Clinic-Action-Token"


def assistant_processes(assistant: RunningAssistant) -> dict[int, tuple[list[str], dict[str, str]]]:
    """pid -> (command line, environment) of every process serving this assistant."""
    found = {}
    marker = f"DATA_DIR={assistant.data_dir}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            argv = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if marker not in environ.split(b"\0"):
            continue
        variables = dict(
            item.decode(errors="replace").split("=", 1)
            for item in environ.split(b"\0")
            if b"=" in item
        )
        found[int(proc.name)] = ([a.decode(errors="replace") for a in argv.split(b"\0")], variables)
    return found


def role(argv: list[str]) -> str:
    if "serving.rasa_server" in argv:
        return "rasa"
    if "serving.action_server" in argv:
        return "actions"
    return "other"


def test_no_secret_shows_in_the_process_list_and_only_those_who_need_it_get_it(
    assistant: RunningAssistant,
) -> None:
    processes = assistant_processes(assistant)
    roles = [role(argv) for argv, _ in processes.values()]
    assert "rasa" in roles and "actions" in roles and "other" in roles
    for argv, environ in processes.values():
        assert assistant.token not in " ".join(argv)
        assert "--auth-token" not in argv
        kind = role(argv)
        supervisor = any(arg.endswith("clinic-run") for arg in argv)
        if kind != "rasa" and not supervisor:  # the supervisor got it from its caller
            assert "RASA_AUTH_TOKEN" not in environ, argv
        if kind == "other":
            assert "ACTION_SERVER_TOKEN" not in environ, argv
        else:
            secret = environ["ACTION_SERVER_TOKEN"]
            assert len(secret) >= 32 and secret not in " ".join(argv)


# Which secrets each service may hold (scripts/run.py); the supervisor has all.
MAY_HOLD = {
    "rasa": {"TRACKER_STORE_URL", "DATABASE_URL", "RASA_AUTH_TOKEN", "ACTION_SERVER_TOKEN"},
    "actions": {"DATABASE_URL", "ACTION_SERVER_TOKEN"},
    "clinic_core.notifications": {"DATABASE_URL", "CLINIC_WEBHOOK_SECRET"},
    "staff.web": {"DATABASE_URL", "TRACKER_STORE_URL"},
    "scripts.serve_widget": set(),
}


def test_each_service_holds_only_the_secrets_it_needs(assistant: RunningAssistant) -> None:
    """The clinic's webhook secret only in the outbox worker, Twilio's token in no
    service (Rasa reads it from the private credentials file), no database address
    in the widget's page server."""
    from clinic_core import settings

    seen = set()
    for argv, environ in assistant_processes(assistant).values():
        if any(arg.endswith("clinic-run") or arg.endswith("scripts/run.py") for arg in argv):
            continue
        kind = role(argv)
        if kind == "other":
            kind = next((name for name in MAY_HOLD if name in argv), None)
        if kind is None:
            continue
        seen.add(kind)
        held = {name for name in settings.SECRET_VARIABLES if environ.get(name)}
        assert held <= MAY_HOLD[kind], (kind, held - MAY_HOLD[kind])
    assert seen == set(MAY_HOLD), seen
    # The channel credentials file it wrote is readable by its owner only.
    assert (assistant.data_dir / "credentials.yml").stat().st_mode & 0o077 == 0


def action_server(assistant: RunningAssistant) -> tuple[str, str]:
    """The action server's address, and the secret the Rasa server holds for it."""
    processes = assistant_processes(assistant).values()
    actions = next(argv for argv, _ in processes if role(argv) == "actions")
    port = actions[actions.index("--port") + 1]
    secret = next(env for argv, env in processes if role(argv) == "rasa")["ACTION_SERVER_TOKEN"]
    return f"http://127.0.0.1:{port}", secret


def call(url: str, headers: dict[str, str], body: dict | None = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_action_server_answers_only_the_rasa_servers(assistant: RunningAssistant) -> None:
    base, secret = action_server(assistant)
    conversation = f"forged-{uuid.uuid4().hex[:8]}"
    forged = {
        "next_action": "action_triage",
        "sender_id": conversation,
        "tracker": {
            "sender_id": conversation,
            "slots": {},
            "latest_message": {"text": "i can't breathe", "intent": {"name": "report_symptom"}},
            "events": [],
            "active_loop": {},
        },
        "domain": {},
    }
    assert call(f"{base}/webhook", {}, forged) == 401
    assert call(f"{base}/webhook", {SECRET_HEADER: "guess"}, forged) == 401
    assert call(f"{base}/webhook", {SECRET_HEADER: secret[:-1]}, forged) == 401
    assert call(f"{base}/actions", {}) == 401
    assert call(f"{base}/health", {}) == 200
    time.sleep(1)
    assert escalations_for(assistant, conversation) == []  # nobody was paged
    # The same call with the secret is served: the check is the only difference.
    assert call(f"{base}/actions", {SECRET_HEADER: secret}) == 200


def test_an_intent_typed_in_slash_syntax_does_not_drive_the_dialogue(
    assistant: RunningAssistant,
) -> None:
    for forged in (
        "/report_symptom",
        '/report_symptom{"triage_severity": "emergency"}',
        "//report_symptom",
        "/ /report_symptom",
        "  /restart",
        '/human_handoff{"contact_phone": "+12015550123"}',
    ):
        conversation = f"slash-{uuid.uuid4().hex[:8]}"
        texts = assistant.texts(conversation, forged)
        # No emergency advice, which a forged report_symptom would have triggered.
        assert not any("nearest emergency" in text for text in texts), (forged, texts)
        tracker = assistant.tracker(conversation)
        (said,) = [e for e in tracker["events"] if e["event"] == "user"]
        # Read by the NLU as the words they are (Rasa's "/intent" reader gives 1.0).
        assert not said["text"].lstrip().startswith("/"), forged
        assert said["parse_data"]["intent"]["name"] != "report_symptom" or (
            said["parse_data"]["intent"]["confidence"] < 1.0
        ), forged
        assert tracker["slots"].get("contact_phone") is None, forged
        assert tracker["slots"].get("triage_severity") != "emergency", forged
        time.sleep(0.5)
        assert escalations_for(assistant, conversation) == [], forged


def test_the_commands_the_assistant_offers_as_buttons_still_work(
    assistant: RunningAssistant,
) -> None:
    conversation = f"button-{uuid.uuid4().hex[:8]}"
    assistant.send(conversation, "/greet")
    assistant.send(conversation, "/book_appointment")
    tracker = assistant.tracker(conversation)
    intents = [e["parse_data"]["intent"]["name"] for e in tracker["events"] if e["event"] == "user"]
    assert intents == ["greet", "book_appointment"]
    assert tracker["active_loop"].get("name") == "booking_form"


def raw_get(url: str, path: str) -> tuple[int, dict[str, str]]:
    """A GET with the path exactly as given (urllib would refuse a NUL byte)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        reply = connection.getresponse()
        reply.read()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}
    finally:
        connection.close()


def test_the_widget_page_server_answers_hostile_paths_and_sets_a_strict_policy(
    assistant: RunningAssistant,
) -> None:
    for hostile in ("/%00", "/clinic-chat.js%00.png"):
        status, _ = raw_get(assistant.widget_url, hostile)
        assert status in (400, 404), hostile
    assert raw_request_line(assistant.widget_url, b"GET /a\x00b HTTP/1.0") in (400, 404)
    for outside in ("/../README.md", "/%2e%2e/README.md", "/..%2fREADME.md"):
        status, _ = raw_get(assistant.widget_url, outside)
        assert status == 404, outside
    status, headers = raw_get(assistant.widget_url, "/")
    assert status == 200
    policy = headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert f"connect-src {assistant.rasa_url}" in policy
    assert headers["referrer-policy"] == "no-referrer"
    assert raw_get(assistant.widget_url, "/clinic-chat.js")[0] == 200  # still serving


def raw_request_line(url: str, line: bytes) -> int:
    """Send one request line byte for byte (a literal NUL included); the status answered."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
        connection.sendall(line + b"\r\n\r\n")
        answer = connection.recv(200)
    assert answer.startswith(b"HTTP/"), answer  # an answer, not a dropped connection
    return int(answer.split()[1])


def test_a_message_sent_again_while_the_first_is_processed_is_processed_once(
    assistant: RunningAssistant,
) -> None:
    """Overlapping attempts, with and without the resend flag: one turn, the same answer."""
    import threading

    from tests.support import http

    conversation = f"replay-{uuid.uuid4().hex[:8]}"
    assistant.send(conversation, "hello")
    url = f"{assistant.rasa_url}/webhooks/rest/webhook"
    message = {"sender": conversation, "message": "how long does botox last?", "message_id": "m-1"}
    answers: list[tuple[int, list]] = []
    attempts = [message, {**message, "resend": True}, message, {**message, "resend": True}]
    threads = [
        threading.Thread(target=lambda body=body: answers.append(http("POST", url, body)))
        for body in attempts
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [status for status, _ in answers] == [200] * 4
    texts = [[reply.get("text") for reply in replies] for _, replies in answers]
    assert texts[0] and all(t == texts[0] for t in texts), texts
    # A later resend without the flag is answered from the store too.
    status, replies = http("POST", url, message)
    assert status == 200 and [r.get("text") for r in replies] == texts[0]
    events = assistant.tracker(conversation)["events"]
    filed = [e for e in events if e["event"] == "user" and e.get("message_id") == "m-1"]
    assert len(filed) == 1


def test_an_id_reused_for_other_words_is_another_message(assistant: RunningAssistant) -> None:
    conversation = f"reuse-{uuid.uuid4().hex[:8]}"
    from tests.support import http

    url = f"{assistant.rasa_url}/webhooks/rest/webhook"
    http("POST", url, {"sender": conversation, "message": "hello", "message_id": "same"})
    status, replies = http(
        "POST",
        url,
        {"sender": conversation, "message": "how long does botox last?", "message_id": "same"},
    )
    assert status == 200 and replies
    events = assistant.tracker(conversation)["events"]
    said = [e["text"] for e in events if e["event"] == "user"]
    assert said == ["hello", "how long does botox last?"]


def test_a_conversation_sending_faster_than_a_patient_types_is_told_to_wait(
    assistant: RunningAssistant,
) -> None:
    """The shipped limit (20 at once, then one per 3 s): a script is refused with 429
    and Retry-After; what was refused is not in the record; an emergency typed over
    the limit is processed as usual."""
    from tests.support import http

    sender = f"fast-{uuid.uuid4().hex[:8]}"
    url = f"{assistant.rasa_url}/webhooks/rest/webhook"
    accepted = 0
    for number in range(60):
        status, body = http("POST", url, {"sender": sender, "message": f"hello {number}"})
        if status == 429:
            break
        assert status == 200, body
        accepted += 1
    else:
        raise AssertionError("60 messages in a row were never refused")
    assert 20 <= accepted < 40
    assert 1 <= body["retry_after"] <= 3 and "wait" in body["error"]
    stored = [e["text"] for e in assistant.tracker(sender)["events"] if e["event"] == "user"]
    assert stored == [f"hello {number}" for number in range(accepted)]

    # An emergency is never held back by the conversation's limit: advice first,
    # the clinic alerted.
    status, body = http("POST", url, {"sender": sender, "message": "I can't breathe"})
    assert status == 200 and "911" in body[0]["text"]
    assert wait_for(lambda: escalations_for(assistant, sender), seconds=20)
    time.sleep(3)
    assert assistant.send(sender, "thanks")  # after the wait: answered as usual

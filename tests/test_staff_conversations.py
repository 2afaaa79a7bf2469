"""The staff console's data layer (staff/), on tracker stores Rasa itself wrote.

Conversations are saved with Rasa's own `SQLTrackerStore` from real events
(UserUttered with parse data, BotUttered with `utter_action` metadata,
ActionExecuted, SlotSet), on SQLite and on the PostgreSQL server the
deployment uses (a uniquely named database per test session, dropped at the
end; skipped when the server is unreachable, except on CI).  Bookings and
escalations go into the project DB migrated with `clinic_core.storage.migrate`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from clinic_core import storage
from staff import conversations as conv
from staff import retention
from tests.support import service_missing

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
BACKENDS = ["sqlite", "postgresql"]


def ago(**delta: float) -> float:
    return (NOW - timedelta(**delta)).timestamp()


def naive_ago(**delta: float) -> datetime:
    return (NOW - timedelta(**delta)).replace(tzinfo=None)


# --- events, as Rasa records them ---------------------------------------------


def user(
    text: str,
    intent: str,
    confidence: float,
    at: float,
    *,
    channel: str = "rest",
    topic: str | None = None,
    topic_confidence: float | None = None,
) -> Any:
    from rasa.shared.core.events import UserUttered

    parse_data: dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": [],
        "intent_ranking": [{"name": intent, "confidence": confidence}],
    }
    if topic:
        parse_data["response_selector"] = {
            "all_retrieval_intents": ["faq"],
            "faq": {
                "response": {
                    "responses": [{"text": "..."}],
                    "confidence": topic_confidence,
                    "intent_response_key": topic,
                    "utter_action": f"utter_{topic}",
                },
                "ranking": [],
            },
        }
    return UserUttered(
        text,
        intent=parse_data["intent"],
        parse_data=parse_data,
        input_channel=channel,
        timestamp=at,
    )


def bot(text: str, at: float, response: str | None = None, buttons: list | None = None) -> Any:
    from rasa.shared.core.events import BotUttered

    return BotUttered(
        text,
        data={"buttons": buttons} if buttons else {},
        metadata={"utter_action": response} if response else {},
        timestamp=at,
    )


def action(name: str, at: float) -> Any:
    from rasa.shared.core.events import ActionExecuted

    return ActionExecuted(name, timestamp=at)


def slot(name: str, value: Any, at: float) -> Any:
    from rasa.shared.core.events import SlotSet

    return SlotSet(name, value, timestamp=at)


def session_start(at: float) -> list[Any]:
    from rasa.shared.core.events import SessionStarted

    return [
        action("action_session_start", at),
        SessionStarted(timestamp=at),
        action("action_listen", at),
    ]


# --- stores --------------------------------------------------------------------


@dataclass
class Stores:
    """A tracker store written by Rasa and a migrated project DB."""

    tracker_url: str
    project_url: str
    store: Any  # rasa.core.tracker_store.SQLTrackerStore
    domain: Any

    def save(self, sender_id: str, events: list[Any]) -> None:
        from rasa.shared.core.trackers import DialogueStateTracker

        tracker = DialogueStateTracker.from_events(sender_id, events, slots=self.domain.slots)
        asyncio.run(self.store.save(tracker))

    def add_booking(
        self, reference: str, conversation_id: str, phone: str, created_at: datetime
    ) -> None:
        with storage.transaction(self.project_url) as session:
            session.add(
                storage.Booking(
                    reference=reference,
                    dedupe_key=uuid.uuid4().hex,
                    conversation_id=conversation_id,
                    channel="rest",
                    created_at=created_at,
                    patient_name="Test Patient",
                    phone=phone,
                    new_patient=True,
                    preferred_start="2030-01-01T10:00:00+00:00",
                    preferred_end="2030-01-01T12:00:00+00:00",
                    preferred_time_text="a morning",
                    treatment_area="lips",
                    consent_to_contact=True,
                    status="new",
                )
            )

    def add_escalation(
        self, reference: str, conversation_id: str, phone: str | None, created_at: datetime
    ) -> None:
        with storage.transaction(self.project_url) as session:
            session.add(
                storage.Escalation(
                    reference=reference,
                    conversation_id=conversation_id,
                    channel="twilio",
                    severity="urgent",
                    reason="swelling",
                    created_at=created_at,
                    updated_at=created_at,
                    phone=phone,
                    symptoms="swollen",
                    status="open",
                    update_count=0,
                )
            )

    def add_outbox(self, reference: str, transport: str = "webhook") -> None:
        with storage.transaction(self.project_url) as session:
            session.add(
                storage.OutboxMessage(
                    idempotency_key=uuid.uuid4().hex,
                    reference=reference,
                    message_type="booking",
                    transport=transport,
                    payload="{}",
                    priority=0,
                    status="pending",
                    attempts=0,
                )
            )

    def senders(self) -> set[str]:
        with conv.tracker_engine(self.tracker_url).connect() as conn:
            return {s for (s,) in conn.execute(sa.select(conv.EVENTS.c.sender_id).distinct())}

    def references(self, model: Any) -> set[str]:
        with storage.transaction(self.project_url) as session:
            return set(session.scalars(sa.select(model.reference)))

    def close(self) -> None:
        self.store.engine.dispose()
        storage.engine(self.project_url).dispose()
        conv.dispose_engines()


@pytest.fixture(scope="session")
def domain() -> Any:
    from rasa.shared.core.domain import Domain

    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[Callable[[], str]]:
    """Creates uniquely named PostgreSQL databases; drops them all at the end."""
    admin = sa.create_engine(
        f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect():
            pass
    except sa.exc.OperationalError as error:
        admin.dispose()
        service_missing("PostgreSQL", error)
    prefix = f"staff_test_{uuid.uuid4().hex[:12]}"
    created: list[str] = []

    def create() -> str:
        name = f"{prefix}_{len(created)}"
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return name

    yield create
    conv.dispose_engines()
    with admin.connect() as connection:
        for name in created:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def make_stores(backend: str, directory: Path, domain: Any, request: Any) -> Stores:
    from rasa.core.tracker_store import SQLTrackerStore

    if backend == "sqlite":
        path = directory / "conversations.db"
        store = SQLTrackerStore(domain, dialect="sqlite", db=str(path))
        tracker_url, project_url = f"sqlite:///{path}", f"sqlite:///{directory / 'clinic.db'}"
    else:
        name = request.getfixturevalue("pg_databases")()
        store = SQLTrackerStore(
            domain,
            dialect="postgresql",
            host="127.0.0.1",
            port=5432,
            username="postgres",
            db=name,
        )
        tracker_url = project_url = f"{PG_SERVER}/{name}"
    storage.migrate(project_url)
    return Stores(tracker_url, project_url, store, domain)


@pytest.fixture
def stores(request: Any, tmp_path: Path, domain: Any) -> Iterator[Stores]:
    """Empty stores for tests that change data (parametrised by backend)."""
    made = make_stores(request.param, tmp_path, domain, request)
    yield made
    made.close()


# --- a clinic's worth of conversations --------------------------------------------

BOOKER = "web-booker"
WHATSAPP = "whatsapp:+15550100002"
CONFUSED = "web-confused"
TELEGRAM = "telegram-123456"
FAQ = "web-faq"
FAILED_BOOKING = "web-failed-booking"
OLD = "web-old"
SMS = "+15550100009"


def fill_corpus(s: Stores) -> None:
    t = ago(days=2)
    s.save(
        BOOKER,
        [
            *session_start(t),
            user("hi", "greet", 0.99, t + 1),
            action("utter_greet", t + 2),
            bot(
                "Hello! How can I help?",
                t + 2,
                "utter_greet",
                [{"title": "Book", "payload": "/book_appointment"}],
            ),
            action("action_listen", t + 3),
            user("I'd like to book an appointment", "book_appointment", 0.97, t + 10),
            action("booking_form", t + 11),
            slot("requested_slot", "booking_name", t + 11),
            bot("What's your name?", t + 11, "utter_ask_booking_name"),
            slot("booking_name", "Jane Doe", t + 20),
            slot("requested_slot", None, t + 21),
            action("action_submit_booking", t + 22),
            bot("Thanks, your request BK-ABC234 is in.", t + 22),
            action("action_listen", t + 23),
        ],
    )
    s.add_booking("BK-ABC234", BOOKER, "+15550100001", naive_ago(days=2))

    t = ago(days=1)
    s.save(
        WHATSAPP,
        [
            user("my lips are really swollen and hot", "report_symptom", 0.93, t, channel="twilio"),
            action("action_triage", t + 1),
            slot("triage_severity", "urgent", t + 1),
            slot("escalation_reference", "ES-XYZ789", t + 1),
            bot("I've passed this to our nurse.", t + 1, "utter_triage_urgent"),
            action("action_listen", t + 2),
        ],
    )
    s.add_escalation("ES-XYZ789", WHATSAPP, "+15550100002", naive_ago(days=1))

    t = ago(hours=3)
    s.save(
        CONFUSED,
        [
            user("do you do lip filler", "nlu_fallback", 0.31, t),
            action("action_fallback", t + 1),
            bot("Sorry, I didn't get that.", t + 1, "utter_fallback"),
            action("action_listen", t + 2),
            user(
                "do u do lip fillers?",
                "faq",
                0.45,
                t + 30,
                topic="faq/treatments",
                topic_confidence=0.3,
            ),
            action("action_fallback", t + 31),
            bot("Let me get someone to call you.", t + 31, "utter_fallback_handoff"),
            action("action_listen", t + 32),
        ],
    )

    t = ago(hours=5)
    s.save(
        TELEGRAM,
        [
            user(
                "what's the weather like [tomorrow](date)?",
                "out_of_scope",
                0.88,
                t,
                channel="telegram",
            ),
            action("utter_out_of_scope", t + 1),
            bot("I can only help with the clinic.", t + 1, "utter_out_of_scope"),
            action("action_listen", t + 2),
            user("Do you do lip fillers", "nlu_fallback", 0.2, t + 40, channel="telegram"),
            action("action_fallback", t + 41),
            bot("Sorry, I didn't get that.", t + 41, "utter_fallback"),
            action("action_listen", t + 42),
        ],
    )

    t = ago(hours=1)
    s.save(
        FAQ,
        [
            user(
                "how long does botox last?",
                "faq",
                0.92,
                t,
                topic="faq/duration",
                topic_confidence=0.88,
            ),
            action("action_answer_faq", t + 1),
            bot("Botox usually lasts 3-4 months.", t + 1, "utter_faq/duration"),
            action("action_listen", t + 2),
            user("can I speak to a human", "human_handoff", 0.96, t + 20),
            action("action_start_handoff", t + 21),
            bot("I'll ask the team to call you.", t + 21),
            action("action_listen", t + 22),
        ],
    )

    t = ago(hours=6)
    s.save(
        FAILED_BOOKING,
        [
            user("book me in", "book_appointment", 0.9, t),
            action("action_submit_booking", t + 1),
            bot("Sorry, something went wrong.", t + 1, "utter_booking_failed"),
            action("action_listen", t + 2),
        ],
    )

    t = ago(days=400)
    s.save(
        OLD,
        [
            user("hello", "greet", 0.99, t),
            action("utter_greet", t + 1),
            bot("Hello!", t + 1, "utter_greet"),
            action("action_listen", t + 2),
            user("=SUM(A1)", "greet", 0.9, t + 10),
        ],
    )

    t = ago(hours=2)
    s.save(
        SMS,
        [
            user(
                "Are you open on Saturday? I'm at the Café", "clinic_info", 0.9, t, channel="twilio"
            ),
            action("utter_clinic_hours", t + 1),
            bot("We're open 9-5 on Saturdays.", t + 1, "utter_clinic_hours"),
            action("action_listen", t + 2),
            user("do you take walk ins", "clinic_info", 0.42, t + 20, channel="twilio"),
            action("utter_clinic_hours", t + 21),
            bot("We're open 9-5 on Saturdays.", t + 21, "utter_clinic_hours"),
            action("action_listen", t + 22),
        ],
    )


@pytest.fixture(scope="module", params=BACKENDS)
def corpus(request: Any, tmp_path_factory: Any, domain: Any) -> Iterator[Stores]:
    """The conversations above, written once per backend and only read by tests."""
    made = make_stores(request.param, tmp_path_factory.mktemp("corpus"), domain, request)
    fill_corpus(made)
    yield made
    made.close()


def senders(summaries: list[conv.ConversationSummary]) -> list[str]:
    return [summary.sender_id for summary in summaries]


# --- listing ------------------------------------------------------------------------


def test_flags_turns_and_channels(corpus: Stores) -> None:
    listed = conv.list_conversations(corpus.tracker_url, project_db_url=corpus.project_url)
    by_id = {summary.sender_id: summary for summary in listed}
    assert {sender: set(s.flags) for sender, s in by_id.items()} == {
        BOOKER: {"booked"},
        WHATSAPP: {"escalated"},
        CONFUSED: {"fallback"},
        TELEGRAM: {"out_of_scope", "fallback"},
        FAQ: {"handoff"},
        FAILED_BOOKING: set(),  # the action ran, but no booking exists
        OLD: set(),
        SMS: {"fallback"},  # a 0.42 intent confidence
    }
    assert by_id[BOOKER].turns == 2
    assert by_id[BOOKER].channel == "rest"
    assert by_id[WHATSAPP].channel == "twilio"
    assert by_id[TELEGRAM].channel == "telegram"
    assert by_id[BOOKER].started_at == datetime.fromtimestamp(ago(days=2), timezone.utc)
    assert by_id[BOOKER].last_at == datetime.fromtimestamp(ago(days=2) + 23, timezone.utc)


def test_newest_first_and_paging(corpus: Stores) -> None:
    order = [FAQ, SMS, CONFUSED, TELEGRAM, FAILED_BOOKING, WHATSAPP, BOOKER, OLD]
    assert senders(conv.list_conversations(corpus.tracker_url)) == order
    assert senders(conv.list_conversations(corpus.tracker_url, limit=3, offset=2)) == order[2:5]
    assert conv.list_conversations(corpus.tracker_url, offset=50) == []


def test_flags_without_the_project_db(corpus: Stores) -> None:
    """The tracker alone: the submit action counts as booked, triage as escalated."""
    booked = conv.list_conversations(corpus.tracker_url, flags="booked")
    assert set(senders(booked)) == {BOOKER, FAILED_BOOKING}
    escalated = conv.list_conversations(corpus.tracker_url, flags=["escalated"])
    assert senders(escalated) == [WHATSAPP]


def test_escalation_in_project_db_alone_flags_escalated(corpus: Stores) -> None:
    corpus.add_escalation("ES-ONLYDB", FAQ, None, naive_ago(hours=1))
    try:
        listed = conv.list_conversations(
            corpus.tracker_url, flags="escalated", project_db_url=corpus.project_url
        )
        assert set(senders(listed)) == {WHATSAPP, FAQ}
    finally:
        with storage.transaction(corpus.project_url) as session:
            session.execute(
                sa.delete(storage.Escalation).where(storage.Escalation.reference == "ES-ONLYDB")
            )


def test_filter_by_flags(corpus: Stores) -> None:
    url, project = corpus.tracker_url, corpus.project_url
    fallback = conv.list_conversations(url, flags="fallback", project_db_url=project)
    assert senders(fallback) == [SMS, CONFUSED, TELEGRAM]
    both = conv.list_conversations(url, flags=["fallback", "out_of_scope"], project_db_url=project)
    assert senders(both) == [TELEGRAM]
    handoff = conv.list_conversations(url, flags={"handoff"}, project_db_url=project)
    assert senders(handoff) == [FAQ]
    booked = conv.list_conversations(url, flags="booked", project_db_url=project)
    assert senders(booked) == [BOOKER]
    with pytest.raises(ValueError):
        conv.list_conversations(url, flags="urgent")


def test_filter_by_channel_and_dates(corpus: Stores) -> None:
    url = corpus.tracker_url
    assert senders(conv.list_conversations(url, channel="twilio")) == [SMS, WHATSAPP]
    assert senders(conv.list_conversations(url, channel="telegram")) == [TELEGRAM]
    assert conv.list_conversations(url, channel="facebook") == []

    recent = conv.list_conversations(url, since=NOW - timedelta(hours=12))
    assert set(senders(recent)) == {FAQ, SMS, CONFUSED, TELEGRAM, FAILED_BOOKING}
    old = conv.list_conversations(url, until=NOW - timedelta(days=30))
    assert senders(old) == [OLD]
    window = conv.list_conversations(
        url, since=(NOW - timedelta(days=3)).replace(tzinfo=None), until=ago(hours=20)
    )
    assert senders(window) == [WHATSAPP, BOOKER]
    # A bare date covers its whole day.
    old_day = (NOW - timedelta(days=400)).date()
    assert senders(conv.list_conversations(url, since=old_day, until=old_day)) == [OLD]


def test_filter_by_text(corpus: Stores) -> None:
    url = corpus.tracker_url
    assert set(senders(conv.list_conversations(url, text="LIP FILLER"))) == {CONFUSED, TELEGRAM}
    # Bot replies are searched too.
    assert senders(conv.list_conversations(url, text="passed this to our NURSE")) == [WHATSAPP]
    # Non-ASCII text (stored JSON-escaped) is found, whatever its case.
    assert senders(conv.list_conversations(url, text="CAFÉ")) == [SMS]
    # Brackets and quotes are plain text, not patterns.
    assert senders(conv.list_conversations(url, text="[tomorrow](date)")) == [TELEGRAM]
    assert senders(conv.list_conversations(url, text="I'd like")) == [BOOKER]
    assert conv.list_conversations(url, text="rhinoplasty") == []
    # Button titles and JSON keys are not message text.
    assert conv.list_conversations(url, text="payload") == []
    assert senders(conv.list_conversations(url, text="filler", flags="out_of_scope")) == [TELEGRAM]


def test_filter_by_phone(corpus: Stores) -> None:
    url, project = corpus.tracker_url, corpus.project_url
    # Through the booking, however the number is written.
    by_booking = conv.list_conversations(url, phone="+1 (555) 010-0001", project_db_url=project)
    assert senders(by_booking) == [BOOKER]
    # The WhatsApp sender (and its escalation).
    assert senders(conv.list_conversations(url, phone="+15550100002")) == [WHATSAPP]
    assert senders(conv.list_conversations(url, phone="+15550100002", project_db_url=project)) == [
        WHATSAPP
    ]
    # A plain SMS sender.
    assert senders(conv.list_conversations(url, phone="001 555 010 0009")) == [SMS]
    assert conv.list_conversations(url, phone="+15550100001") == []  # no project DB given
    assert conv.list_conversations(url, phone="+447700900999", project_db_url=project) == []
    with pytest.raises(ValueError):
        conv.list_conversations(url, phone="123")


def test_normalise_phone() -> None:
    assert conv.normalise_phone("whatsapp:+1 555 010 0001") == "+15550100001"
    assert conv.normalise_phone("07700 900123", "GB") == "+447700900123"
    assert conv.normalise_phone("0044 7700 900123") == "+447700900123"
    with pytest.raises(ValueError):
        conv.normalise_phone("12-34")


# --- transcripts ------------------------------------------------------------------------


def test_transcript_items_and_booking_link(corpus: Stores) -> None:
    result = conv.transcript(corpus.tracker_url, BOOKER, project_db_url=corpus.project_url)
    assert result.sender_id == BOOKER
    assert [item.kind for item in result.items] == [
        "patient",
        "bot",
        "patient",
        "slot",
        "bot",
        "slot",
        "slot",
        "bot",
    ]
    greeting, reply = result.items[0], result.items[1]
    assert isinstance(greeting, conv.PatientMessage)
    assert (greeting.text, greeting.intent, greeting.confidence) == ("hi", "greet", 0.99)
    assert greeting.channel == "rest"
    assert greeting.timestamp == datetime.fromtimestamp(ago(days=2) + 1, timezone.utc)
    assert isinstance(reply, conv.BotReply)
    assert reply.produced_by == "utter_greet"
    assert reply.buttons == (conv.Button("Book", "/book_appointment"),)
    slots = [item for item in result.items if isinstance(item, conv.SlotChange)]
    assert [(s.name, s.value, s.internal) for s in slots] == [
        ("requested_slot", "booking_name", True),
        ("booking_name", "Jane Doe", False),
        ("requested_slot", None, True),
    ]
    # No utter_action metadata: the action that ran before produced it.
    assert result.items[-1].produced_by == "action_submit_booking"
    assert [(link.kind, link.reference) for link in result.links] == [("booking", "BK-ABC234")]
    assert result.links[0].status == "new"


def test_transcript_faq_topic_and_escalation_links(corpus: Stores) -> None:
    faq = conv.transcript(corpus.tracker_url, FAQ)
    question, answer, handoff, handoff_reply = faq.items
    assert question.intent == "faq"
    assert question.topic == "faq/duration"
    assert (question.confidence, question.topic_confidence) == (0.92, 0.88)
    assert answer.produced_by == "utter_faq/duration"
    assert handoff.topic is None
    assert handoff_reply.produced_by == "action_start_handoff"
    assert faq.links == ()

    with_db = conv.transcript(corpus.tracker_url, WHATSAPP, project_db_url=corpus.project_url)
    assert [(link.kind, link.reference, link.severity) for link in with_db.links] == [
        ("escalation", "ES-XYZ789", "urgent")
    ]
    # Without the project DB the conversation's own record of it still links it.
    alone = conv.transcript(corpus.tracker_url, WHATSAPP)
    assert [(link.kind, link.reference) for link in alone.links] == [("escalation", "ES-XYZ789")]

    unknown = conv.transcript(corpus.tracker_url, "nobody", project_db_url=corpus.project_url)
    assert unknown.items == () and unknown.links == ()


# --- unanswered questions ---------------------------------------------------------------


def test_unanswered_questions_grouped(corpus: Stores) -> None:
    groups = conv.unanswered_questions(corpus.tracker_url)
    summary = [(g.representative, g.count) for g in groups]
    # The most frequent wording, else the first one seen.
    assert summary[0] == ("Do you do lip fillers", 3)
    assert sorted(summary[1:]) == [
        ("do you take walk ins", 1),
        ("what's the weather like [tomorrow](date)?", 1),
    ]
    lips = groups[0]
    assert [m.text for m in lips.messages] == [
        "Do you do lip fillers",
        "do you do lip filler",
        "do u do lip fillers?",
    ]
    assert lips.first_seen == datetime.fromtimestamp(ago(hours=5) + 40, timezone.utc)
    assert lips.last_seen == datetime.fromtimestamp(ago(hours=3) + 30, timezone.utc)
    reasons = {m.text: set(m.reasons) for g in groups for m in g.messages}
    assert reasons["do you do lip filler"] == {"nlu_fallback", "fallback_reply"}
    assert reasons["do u do lip fillers?"] == {
        "low_confidence",
        "low_topic_confidence",
        "fallback_reply",
    }
    assert reasons["what's the weather like [tomorrow](date)?"] == {"out_of_scope_reply"}
    assert reasons["do you take walk ins"] == {"low_confidence"}
    # Answered messages are not there.
    assert "how long does botox last?" not in reasons


def test_unanswered_questions_threshold_and_dates(corpus: Stores) -> None:
    strict = conv.unanswered_questions(corpus.tracker_url, threshold=0.4)
    texts = {m.text for g in strict for m in g.messages}
    assert "do you take walk ins" not in texts  # 0.42 is enough at 0.4
    assert "do u do lip fillers?" in texts  # its reply was still a fallback

    recent = conv.unanswered_questions(corpus.tracker_url, since=NOW - timedelta(hours=4))
    assert [(g.representative, g.count) for g in recent][0] == ("do you do lip filler", 2)
    assert conv.unanswered_questions(corpus.tracker_url, until=NOW - timedelta(days=3)) == []


def test_question_similarity() -> None:
    same = conv.question_tokens("do you do lip filler")
    assert conv.question_tokens("Do u do lip fillers?!") == same
    assert conv.jaccard(same, conv.question_tokens("do you do botox")) < conv.SIMILARITY
    messages = [
        conv.UnansweredMessage("a", None, text, None, None, ("nlu_fallback",))
        for text in ["price of botox", "how much is botox", "botox price?", "parking?"]
    ]
    groups = conv.group_questions(messages)
    assert [(g.representative, g.count) for g in groups] == [
        ("price of botox", 2),
        ("how much is botox", 1),
        ("parking?", 1),
    ]


# --- exports ------------------------------------------------------------------------


def test_export_csv(corpus: Stores) -> None:
    text = conv.export_conversations_csv(corpus.tracker_url, [FAQ, OLD, "nobody"])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == conv.EXPORT_COLUMNS
    assert [(r["sender_id"], r["who"]) for r in rows] == [
        (FAQ, "patient"),
        (FAQ, "bot"),
        (FAQ, "patient"),
        (FAQ, "bot"),
        (OLD, "patient"),
        (OLD, "bot"),
        (OLD, "patient"),
    ]
    assert rows[0]["text"] == "how long does botox last?"
    assert (rows[0]["intent"], rows[0]["topic"], rows[0]["confidence"]) == (
        "faq",
        "faq/duration",
        "0.92",
    )
    assert rows[1]["action"] == "utter_faq/duration"
    assert rows[3]["action"] == "action_start_handoff"
    assert datetime.fromisoformat(rows[0]["timestamp"]) == datetime.fromtimestamp(
        ago(hours=1), timezone.utc
    )
    # A spreadsheet must not run a patient's text as a formula.
    assert rows[-1]["text"] == "'=SUM(A1)"
    raw = conv.export_conversations_csv(corpus.tracker_url, [OLD], spreadsheet_safe=False)
    assert list(csv.DictReader(io.StringIO(raw)))[-1]["text"] == "=SUM(A1)"


def test_export_json(corpus: Stores) -> None:
    rows = json.loads(conv.export_conversations_json(corpus.tracker_url, [WHATSAPP, CONFUSED]))
    assert [(r["sender_id"], r["who"]) for r in rows] == [
        (WHATSAPP, "patient"),
        (WHATSAPP, "bot"),
        (CONFUSED, "patient"),
        (CONFUSED, "bot"),
        (CONFUSED, "patient"),
        (CONFUSED, "bot"),
    ]
    assert set(rows[0]) == set(conv.EXPORT_COLUMNS)
    assert rows[0]["text"] == "my lips are really swollen and hot"
    assert rows[0]["confidence"] == 0.93
    assert rows[1]["action"] == "utter_triage_urgent"
    assert rows[4]["topic"] == "faq/treatments"
    assert json.loads(conv.export_conversations_json(corpus.tracker_url, [])) == []


ANNOTATIONS = [
    ("is [botox](treatment) safe?", "faq/safety"),
    ("price (roughly) of [lips]", "faq/price"),
    ('what\'s "downtime": # really', "faq/duration"),
    ("- starts with a dash\nand has a new line", "faq/duration"),
    ('[a]{"entity": "x"} or [b][c]', "out_of_scope"),
    ("Kann ich einen Termin für Lippen buchen? 💉", "book_appointment"),
    ("book me in", "book_appointment"),
    ("book me in", "book_appointment"),  # duplicate: kept once
    ("   ", "greet"),  # nothing left: dropped
]


def test_export_nlu_yaml_loads_in_yaml_and_rasa(tmp_path: Path) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    text = conv.export_nlu_yaml(ANNOTATIONS)
    document = yaml.safe_load(text)
    assert document["version"] == "3.1"
    assert [item["intent"] for item in document["nlu"]] == [
        "faq/safety",
        "faq/price",
        "faq/duration",
        "out_of_scope",
        "book_appointment",
    ]
    path = tmp_path / "annotations.yml"
    path.write_text(text, encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_data(str(path))
    assert not [w for w in caught if "skipped" in str(w.message)]
    examples = {m.get("text"): m for m in data.training_examples}
    assert set(examples) == {
        "is [botox] (treatment) safe?",
        "price (roughly) of [lips]",
        'what\'s "downtime": # really',
        "- starts with a dash and has a new line",
        '[a] {"entity": "x"} or [b] [c]',
        "Kann ich einen Termin für Lippen buchen? 💉",
        "book me in",
    }
    assert all(not m.get("entities") for m in data.training_examples)
    safety = examples["is [botox] (treatment) safe?"]
    assert (safety.get("intent"), safety.get("intent_response_key")) == ("faq", "faq/safety")
    assert examples["book me in"].get("intent") == "book_appointment"


def test_export_nlu_yaml_refuses_bad_labels_and_conflicts() -> None:
    with pytest.raises(ValueError):
        conv.export_nlu_yaml([("hi", "greet me")])
    with pytest.raises(ValueError):
        conv.export_nlu_yaml([("hi", "greet"), ("hi", "faq/hello")])
    assert yaml.safe_load(conv.export_nlu_yaml([])) == {"version": "3.1", "nlu": []}


# --- efficiency ---------------------------------------------------------------------


def test_listing_thousands_of_conversations_uses_a_few_queries(tmp_path: Path, domain: Any) -> None:
    """3,000 conversations: a constant number of queries, well under a second or two."""
    from rasa.core.tracker_store import SQLTrackerStore

    path = tmp_path / "big.db"
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(path))
    rows = []
    base = ago(days=10)
    for number in range(3000):
        t = base + number * 60
        intent, confidence = ("nlu_fallback", 0.3) if number % 10 == 0 else ("greet", 0.95)
        events = [
            user(f"message {number} about lips", intent, confidence, t),
            action("utter_greet", t + 1),
            bot("Hello!", t + 1, "utter_fallback" if number % 10 == 0 else "utter_greet"),
            action("action_listen", t + 2),
        ]
        for event in events:
            data = event.as_dict()
            rows.append(
                {
                    "sender_id": f"web-{number:05d}",
                    "type_name": event.type_name,
                    "timestamp": data["timestamp"],
                    "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
                    "action_name": data.get("name"),
                    "data": json.dumps(data),
                }
            )
    with store.engine.begin() as connection:
        connection.execute(conv.EVENTS.insert(), rows)
    store.engine.dispose()

    url = f"sqlite:///{path}"
    engine = conv.tracker_engine(url)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        page = conv.list_conversations(url, limit=50)
        fallback = conv.list_conversations(url, flags="fallback", limit=1000)
        found = conv.list_conversations(url, text="MESSAGE 2999 ABOUT")
        groups = conv.unanswered_questions(url)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
        conv.dispose_engines()
    assert senders(page)[:2] == ["web-02999", "web-02998"] and len(page) == 50
    assert len(fallback) == 300
    assert senders(found) == ["web-02999"]
    assert sum(g.count for g in groups) == 300
    events_queries = [s for s in statements if "FROM events" in s]
    assert len(events_queries) <= 6, len(events_queries)


# --- retention ----------------------------------------------------------------------


def short_conversation(s: Stores, sender_id: str, at: float, *, channel: str = "rest") -> None:
    s.save(
        sender_id,
        [
            user("hello", "greet", 0.99, at, channel=channel),
            action("utter_greet", at + 1),
            bot("Hello!", at + 1, "utter_greet"),
            action("action_listen", at + 2),
        ],
    )


def outbox_references(s: Stores) -> list[str]:
    with storage.transaction(s.project_url) as session:
        return sorted(session.scalars(sa.select(storage.OutboxMessage.reference)))


@pytest.mark.parametrize("stores", BACKENDS, indirect=True)
def test_delete_older_than(stores: Stores) -> None:
    short_conversation(stores, "old-1", ago(days=100))
    # Started long ago but still going on: kept whole.
    stores.save(
        "long-running",
        [
            user("hello", "greet", 0.99, ago(days=100)),
            bot("Hello!", ago(days=100) + 1, "utter_greet"),
            user("still there?", "greet", 0.9, ago(days=1)),
        ],
    )
    short_conversation(stores, "recent", ago(days=1))
    stores.add_booking("BK-OLD222", "old-1", "+15550100001", naive_ago(days=100))
    stores.add_outbox("BK-OLD222", "webhook")
    stores.add_outbox("BK-OLD222", "email")
    stores.add_booking("BK-NEW333", "recent", "+15550100003", naive_ago(days=1))
    stores.add_outbox("BK-NEW333")
    stores.add_escalation("ES-OLD444", "old-1", None, naive_ago(days=40))
    stores.add_outbox("ES-OLD444")
    stores.add_escalation("ES-NEW555", "recent", None, naive_ago(hours=2))

    report = retention.delete_older_than(stores.tracker_url, stores.project_url, 30, now=NOW)

    assert report == retention.DeletionReport(
        conversations=1, events=4, bookings=1, escalations=1, outbox=3
    )
    assert stores.senders() == {"long-running", "recent"}
    assert stores.references(storage.Booking) == {"BK-NEW333"}
    assert stores.references(storage.Escalation) == {"ES-NEW555"}
    assert outbox_references(stores) == ["BK-NEW333"]
    # Idempotent.
    again = retention.delete_older_than(stores.tracker_url, stores.project_url, 30, now=NOW)
    assert again == retention.DeletionReport()
    # Rasa still reads what is left.
    tracker = asyncio.run(stores.store.retrieve_full_tracker("long-running"))
    assert len(tracker.events) == 3


@pytest.mark.parametrize("stores", BACKENDS, indirect=True)
def test_erase_by_conversation(stores: Stores) -> None:
    short_conversation(stores, "patient-a", ago(days=1))
    short_conversation(stores, "patient-b", ago(days=1))
    stores.add_booking("BK-AAAAAA", "patient-a", "+15550100011", naive_ago(days=1))
    stores.add_outbox("BK-AAAAAA")
    stores.add_escalation("ES-AAAAAA", "patient-a", None, naive_ago(days=1))
    stores.add_outbox("ES-AAAAAA")
    stores.add_outbox("ES-AAAAAA", "email")
    stores.add_booking("BK-BBBBBB", "patient-b", "+15550100012", naive_ago(days=1))
    stores.add_outbox("BK-BBBBBB")

    report = retention.erase_patient(
        stores.tracker_url, stores.project_url, conversation_id="patient-a"
    )

    assert report == retention.DeletionReport(
        conversations=1, events=4, bookings=1, escalations=1, outbox=3
    )
    assert stores.senders() == {"patient-b"}
    assert stores.references(storage.Booking) == {"BK-BBBBBB"}
    assert stores.references(storage.Escalation) == set()
    assert outbox_references(stores) == ["BK-BBBBBB"]


@pytest.mark.parametrize("stores", BACKENDS, indirect=True)
def test_erase_by_phone(stores: Stores) -> None:
    short_conversation(stores, "web-a", ago(days=3))
    short_conversation(stores, "whatsapp:+447700900123", ago(days=2), channel="twilio")
    short_conversation(stores, "web-c", ago(days=1))
    short_conversation(stores, "web-other", ago(days=1))
    short_conversation(stores, "+447700900999", ago(days=1), channel="twilio")
    stores.add_booking("BK-PHONE2", "web-a", "+447700900123", naive_ago(days=3))
    stores.add_outbox("BK-PHONE2")
    # Same conversation, no number on it: goes with the conversation.
    stores.add_escalation("ES-PHONE3", "web-a", None, naive_ago(days=3))
    stores.add_outbox("ES-PHONE3")
    # The number as the patient typed it, in another conversation.
    stores.add_escalation("ES-PHONE4", "web-c", "+44 7700 900123", naive_ago(days=1))
    stores.add_booking("BK-OTHER5", "web-other", "+447700900999", naive_ago(days=1))
    stores.add_outbox("BK-OTHER5")

    report = retention.erase_patient(
        stores.tracker_url, stores.project_url, phone="07700 900123", region="GB"
    )

    assert report == retention.DeletionReport(
        conversations=3, events=12, bookings=1, escalations=2, outbox=2
    )
    assert stores.senders() == {"web-other", "+447700900999"}
    assert stores.references(storage.Booking) == {"BK-OTHER5"}
    assert stores.references(storage.Escalation) == set()
    assert outbox_references(stores) == ["BK-OTHER5"]
    with pytest.raises(ValueError):
        retention.erase_patient(stores.tracker_url, stores.project_url)


@pytest.mark.parametrize("stores", ["sqlite"], indirect=True)
def test_cli_prints_counts_only(
    stores: Stores,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    short_conversation(stores, "whatsapp:+15550100077", ago(days=90), channel="twilio")
    short_conversation(stores, "web-kept", ago(days=1))
    stores.add_booking("BK-CLI777", "web-kept", "+15550100088", naive_ago(days=1))
    monkeypatch.setenv("TRACKER_STORE_URL", stores.tracker_url)
    monkeypatch.setenv("DATABASE_URL", stores.project_url)

    assert retention.main(["older-than", "30"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "conversations: 1",
        "events: 4",
        "bookings: 0",
        "escalations: 0",
        "outbox: 0",
    ]
    assert retention.main(["erase", "--phone", "+1 555 010 0088"]) == 0
    out = capsys.readouterr().out
    assert "conversations: 1" in out and "bookings: 1" in out
    assert "555" not in out and "web-kept" not in out and "BK-" not in out
    assert stores.senders() == set()

    # A mistyped store is an error, not "nothing to erase".
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{tmp_path / 'missing.db'}")
    assert retention.main(["erase", "--conversation", "web-kept"]) == 1
    assert "missing.db" in capsys.readouterr().err


@pytest.mark.parametrize("stores", ["sqlite"], indirect=True)
def test_cli_as_a_module(stores: Stores) -> None:
    short_conversation(stores, "web-module", ago(days=1))
    env = {
        **os.environ,
        "TRACKER_STORE_URL": stores.tracker_url,
        "DATABASE_URL": stores.project_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "staff.retention", "erase", "--conversation", "web-module"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "conversations: 1" in done.stdout and "web-module" not in done.stdout
    assert stores.senders() == set()


def test_missing_sqlite_tracker_store_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        conv.list_conversations(f"sqlite:///{tmp_path / 'nope.db'}")
    assert not (tmp_path / "nope.db").exists()


def test_dates_are_utc() -> None:
    assert (
        conv.to_epoch(datetime(2024, 1, 1)) == datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp()
    )
    assert conv.to_epoch(date(2024, 1, 1), end_of_day=True) == pytest.approx(
        datetime(2024, 1, 2, tzinfo=timezone.utc).timestamp() - 1e-6
    )

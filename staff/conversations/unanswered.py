"""The questions the assistant could not answer, grouped by similarity."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from staff.conversations.listing import fold
from staff.conversations.names import (
    FALLBACK_INTENT,
    FALLBACK_RESPONSES,
    FAQ_INTENT,
    LOW_CONFIDENCE,
    OUT_OF_SCOPE_RESPONSE,
    UNANSWERED_RESPONSES,
)
from staff.conversations.sql_json import json_number, json_text
from staff.conversations.store import (
    EVENTS,
    Moment,
    TrackerDB,
    chunks,
    from_epoch,
    has_events_table,
    to_epoch,
    tracker_engine,
)
from staff.conversations.transcripts import as_number, load_event_data, understanding

# Greedy clustering on normalised token sets: deterministic, explainable to
# staff ("these messages share most of their words") and cheap enough for a
# few thousand messages.  Normalisation: lower case, apostrophes dropped,
# common texting shorthands expanded, a light plural stemming, and stop words
# removed (unless nothing else is left), so "do u do lip fillers?" and
# "do you do lip filler" are the same set, while "do you do botox" is not.
SIMILARITY = 0.5

_SHORTHANDS = {
    "u": "you",
    "ya": "you",
    "ur": "your",
    "yr": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "ty": "thanks",
    "wat": "what",
    "wot": "what",
    "abt": "about",
    "b4": "before",
    "appt": "appointment",
    "hw": "how",
    "cn": "can",
}
_STOP_WORDS = frozenset(
    """a an the and or but if of to in on at by for with from about as into is are was were
    be been being am do does did doing have has had i me my we our you your it its this that
    these those there here what which who whom when where why how can could would should will
    shall may might must any some please hi hello hey thanks thank just so not no yes""".split()
)


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def question_tokens(text: str) -> frozenset[str]:
    """The normalised token set two questions are compared on."""
    words = re.findall(r"[a-z0-9]+", re.sub(r"['’`]", "", text.lower()))
    words = [_SHORTHANDS.get(w, w) for w in words]
    content = {_stem(w) for w in words if w not in _STOP_WORDS}
    return frozenset(content or {_stem(w) for w in words})


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class UnansweredMessage:
    sender_id: str
    timestamp: datetime | None
    text: str
    intent: str | None
    confidence: float | None
    # nlu_fallback | low_confidence | low_topic_confidence | fallback_reply |
    # out_of_scope_reply
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class QuestionGroup:
    """Similar patient messages the assistant could not answer."""

    representative: str
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    messages: tuple[UnansweredMessage, ...]


def _reasons(event: dict[str, Any], threshold: float) -> list[str]:
    intent, confidence, topic, topic_confidence = understanding(event)
    reasons = []
    if intent == FALLBACK_INTENT:
        reasons.append("nlu_fallback")
    elif confidence is not None and confidence < threshold:
        reasons.append("low_confidence")
    if intent == FAQ_INTENT and topic_confidence is not None and topic_confidence < threshold:
        reasons.append("low_topic_confidence")
    return reasons


def _unanswered_candidates(
    conn: Connection, dialect: str, low: float | None, threshold: float
) -> list[str]:
    """Conversations with at least one sign of an unanswered message."""
    e = EVENTS.c
    user = e.type_name == "user"
    confidence = json_number(dialect, e.data, "parse_data", "intent", "confidence")
    topic_confidence = json_number(
        dialect, e.data, "parse_data", "response_selector", FAQ_INTENT, "response", "confidence"
    )
    utter = json_text(dialect, e.data, "metadata", "utter_action")
    query = (
        sa.select(e.sender_id)
        .where(
            sa.or_(
                sa.and_(user, e.intent_name == FALLBACK_INTENT),
                sa.and_(user, confidence < threshold),
                sa.and_(user, e.intent_name == FAQ_INTENT, topic_confidence < threshold),
                sa.and_(e.type_name == "bot", utter.in_(UNANSWERED_RESPONSES)),
            )
        )
        .distinct()
    )
    if low is not None:
        query = query.where(e.timestamp >= low)
    return sorted(sender for (sender,) in conn.execute(query))


def _unanswered_messages(
    conn: Connection, senders: list[str], low: float | None, high: float | None, threshold: float
) -> list[UnansweredMessage]:
    e = EVENTS.c
    found: list[tuple[float, str, int, UnansweredMessage]] = []

    def finish(turn: tuple[int, str, dict[str, Any], list[str]] | None) -> None:
        if turn is None:
            return
        event_id, sender_id, event, reasons = turn
        text = (event.get("text") or "").strip()
        timestamp = as_number(event.get("timestamp"))
        if not reasons or not text or text.startswith("/"):
            return
        if timestamp is not None and (
            (low is not None and timestamp < low) or (high is not None and timestamp > high)
        ):
            return
        intent, confidence, _, _ = understanding(event)
        message = UnansweredMessage(
            sender_id=sender_id,
            timestamp=from_epoch(timestamp),
            text=text,
            intent=intent,
            confidence=confidence,
            reasons=tuple(reasons),
        )
        found.append((timestamp or 0.0, sender_id, event_id, message))

    for batch in chunks(senders):
        query = (
            sa.select(e.id, e.sender_id, e.data)
            .where(e.sender_id.in_(batch), e.type_name.in_(("user", "bot")))
            .order_by(e.sender_id, e.id)
        )
        current: tuple[int, str, dict[str, Any], list[str]] | None = None
        for event_id, sender_id, data in conn.execute(query):
            event = load_event_data(data)
            if current is not None and current[1] != sender_id:
                finish(current)
                current = None
            if event.get("event") == "user":
                finish(current)
                current = (event_id, sender_id, event, _reasons(event, threshold))
            elif current is not None:
                name = (event.get("metadata") or {}).get("utter_action")
                reason = (
                    "out_of_scope_reply"
                    if name == OUT_OF_SCOPE_RESPONSE
                    else "fallback_reply"
                    if name in FALLBACK_RESPONSES
                    else None
                )
                if reason and reason not in current[3]:
                    current[3].append(reason)
        finish(current)
    found.sort(key=lambda item: item[:3])
    return [message for *_, message in found]


def group_questions(
    messages: Sequence[UnansweredMessage], similarity: float = SIMILARITY
) -> list[QuestionGroup]:
    """Greedy clustering: each message (oldest first) joins the group whose first
    message is most similar to it (Jaccard of `question_tokens` >= `similarity`,
    earliest group on ties), or starts a new group."""
    seeds: list[frozenset[str]] = []
    members: list[list[UnansweredMessage]] = []
    for message in messages:
        tokens = question_tokens(message.text)
        best, best_score = -1, -1.0
        for number, seed in enumerate(seeds):
            score = jaccard(tokens, seed)
            if score > best_score:
                best, best_score = number, score
        if best >= 0 and best_score >= similarity:
            members[best].append(message)
        else:
            seeds.append(tokens)
            members.append([message])

    groups = []
    for group in members:
        forms = Counter(fold(m.text) for m in group)
        top = max(forms.values())
        representative = next(m.text for m in group if forms[fold(m.text)] == top)
        times = [m.timestamp for m in group if m.timestamp is not None]
        groups.append(
            QuestionGroup(
                representative=representative,
                count=len(group),
                first_seen=min(times) if times else None,
                last_seen=max(times) if times else None,
                messages=tuple(group),
            )
        )
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    groups.sort(key=lambda g: (-g.count, -(g.last_seen or epoch).timestamp(), g.representative))
    return groups


def unanswered_questions(
    url: TrackerDB,
    *,
    since: Moment | None = None,
    until: Moment | None = None,
    threshold: float = LOW_CONFIDENCE,
    similarity: float = SIMILARITY,
) -> list[QuestionGroup]:
    """Patient messages the assistant did not answer, grouped, most frequent first.

    A message counts when its intent is nlu_fallback, its intent confidence
    (or, for an FAQ, the topic's confidence) is below `threshold`, or the
    bot's reply to it was utter_fallback, utter_fallback_handoff or
    utter_out_of_scope.  Button payloads ("/intent") are left out: the
    patient did not type them.  Only conversations showing one of those
    signs are read (found with one SQL query), so the cost follows the
    number of problem conversations, not the size of the store.
    """
    low, high = to_epoch(since), to_epoch(until, end_of_day=True)
    engine = tracker_engine(url)
    if not has_events_table(engine):
        return []
    with engine.connect() as conn:
        senders = _unanswered_candidates(conn, engine.dialect.name, low, threshold)
        messages = _unanswered_messages(conn, senders, low, high, threshold)
    return group_questions(messages, similarity)

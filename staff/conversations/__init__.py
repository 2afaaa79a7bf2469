"""Conversations for the staff console, read straight from Rasa's SQL tracker store.

One module per job: names (what events mean), store (the events table and its
engines), patients (phone numbers, bookings and escalations), sql_json,
listing, transcripts, unanswered, exports, nlu_export.  This package's
namespace re-exports them, so callers write `conversations.transcript(...)`.

Why read the tracker store itself: it is the only complete record of what
patients wrote and what the assistant answered, and any copy would go stale
(or outlive a deletion request).  Rasa owns that schema (one `events` table:
id, sender_id, type_name, timestamp, intent_name, action_name and `data`,
the JSON of the event), so this module only ever *reads* it, with
SQLAlchemy Core, on SQLite (the default profile) and PostgreSQL (production).

Why the queries look the way they do: a clinic accumulates thousands of
conversations, so listing them is a single aggregate query (one row per
conversation, flags computed in SQL, reading the few JSON fields it needs
with the database's JSON functions) rather than one query per conversation;
text and phone searches first narrow the candidates in SQL and then confirm
in Python.  Bookings and escalations live in the project's own database
(`clinic_core.storage`), possibly another server, so they are joined in Python
by conversation id.

Nothing here logs message texts (nor anything else about patients).
"""

from __future__ import annotations

from staff.conversations.exports import (  # noqa: F401
    EXPORT_COLUMNS,
    MessageRow,
    export_conversations_csv,
    export_conversations_json,
    export_rows,
)
from staff.conversations.listing import (  # noqa: F401
    ConversationSummary,
    fold,
    list_conversations,
)
from staff.conversations.names import (  # noqa: F401
    BOOKING_ACTION,
    CHUNK,
    ESCALATION_ACTIONS,
    FALLBACK_INTENT,
    FALLBACK_RESPONSES,
    FAQ_INTENT,
    FLAG_BOOKED,
    FLAG_ESCALATED,
    FLAG_FALLBACK,
    FLAG_HANDOFF,
    FLAG_OUT_OF_SCOPE,
    FLAGS,
    HANDOFF_ACTION,
    HANDOFF_INTENT,
    INTERNAL_SLOTS,
    LOW_CONFIDENCE,
    OUT_OF_SCOPE_INTENT,
    OUT_OF_SCOPE_RESPONSE,
    PHONE_SENDER_PREFIXES,
    UNANSWERED_RESPONSES,
)
from staff.conversations.nlu_export import (  # noqa: F401
    export_nlu_yaml,
    training_text,
)
from staff.conversations.patients import (  # noqa: F401
    ProjectRecord,
    conversations_for_phone,
    normalise_phone,
    phone_senders,
    project_records,
)
from staff.conversations.sql_json import (  # noqa: F401
    json_number,
    json_text,
)
from staff.conversations.store import (  # noqa: F401
    _METADATA,
    EVENTS,
    Moment,
    TrackerDB,
    chunks,
    dispose_engines,
    from_epoch,
    has_events_table,
    to_epoch,
    tracker_engine,
)
from staff.conversations.transcripts import (  # noqa: F401
    BotReply,
    Button,
    Link,
    PatientMessage,
    SlotChange,
    Transcript,
    TranscriptItem,
    as_number,
    load_event_data,
    transcript,
    transcript_items,
    understanding,
)
from staff.conversations.unanswered import (  # noqa: F401
    SIMILARITY,
    QuestionGroup,
    UnansweredMessage,
    group_questions,
    jaccard,
    question_tokens,
    unanswered_questions,
)

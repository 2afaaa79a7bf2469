"""What the assistant's events mean to the console: the dialogue names it flags
and filters by (checked against domain.yml by tests/test_staff_dialogue_names.py)
and the slots it folds away.
"""

from __future__ import annotations

ESCALATION_ACTIONS = ("action_triage", "action_escalate")
BOOKING_ACTION = "action_submit_booking"
HANDOFF_INTENT = "human_handoff"
HANDOFF_ACTION = "action_start_handoff"
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_RESPONSES = ("utter_fallback", "utter_fallback_handoff")
OUT_OF_SCOPE_INTENT = "out_of_scope"
OUT_OF_SCOPE_RESPONSE = "utter_out_of_scope"
# Replies that mean "the assistant did not answer the question".
UNANSWERED_RESPONSES = (*FALLBACK_RESPONSES, OUT_OF_SCOPE_RESPONSE)
FAQ_INTENT = "faq"
# Below this intent confidence a conversation is flagged `fallback`.
LOW_CONFIDENCE = 0.5

FLAG_ESCALATED = "escalated"
FLAG_BOOKED = "booked"
FLAG_HANDOFF = "handoff"
FLAG_FALLBACK = "fallback"
FLAG_OUT_OF_SCOPE = "out_of_scope"
FLAGS = (FLAG_ESCALATED, FLAG_BOOKED, FLAG_HANDOFF, FLAG_FALLBACK, FLAG_OUT_OF_SCOPE)

# Slots the dialogue keeps for itself rather than facts the patient gave:
# shown in transcripts (staff sometimes need them to follow a form) but
# marked so the console can fold them away.
INTERNAL_SLOTS = frozenset(
    {
        "requested_slot",
        "session_started_metadata",
        "clinic_name",
        "clinic_phone",
        "emergency_number",
        "after_hours_line",
        "booking_change_field",
        "form_state",
        "form_attempt",
        "form_skippable",
        "form_recovery",
        "form_outcome",
    }
)

# Twilio senders are the patient's number, bare (SMS) or prefixed.
PHONE_SENDER_PREFIXES = ("", "whatsapp:", "sms:", "tel:")

# Large `IN (...)` lists are split so no database hits its parameter limit.
CHUNK = 500

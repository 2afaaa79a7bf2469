"""The red-flag guard overrides the classifier for emergency reports, and only for them."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from clinic_core import red_flag_semantic, triage
from components.red_flags import RedFlagGuard


def classify(text: str, intent: str) -> Message:
    message = Message(
        data={
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "intent_ranking": [{"name": intent, "confidence": 0.9}],
        }
    )
    (result,) = RedFlagGuard().process([message])
    return result


@pytest.mark.parametrize(
    "text, classifier_said",
    [
        ("i had botox yesterday and now i cant breathe", "faq"),
        ("my lips and tongue are swelling up", "greet"),
        ("i can't swallow since my injections", "nlu_fallback"),
        ("seeing double after botox this morning", "out_of_scope"),
    ],
)
def test_an_emergency_report_becomes_report_symptom_whatever_the_classifier_said(
    text: str, classifier_said: str
) -> None:
    result = classify(text, classifier_said)
    assert result.get("intent") == {"name": "report_symptom", "confidence": 1.0}
    assert result.get("intent_ranking")[0]["name"] == "report_symptom"


@pytest.mark.parametrize(
    "text, intent",
    [
        ("can botox cause trouble swallowing?", "faq"),
        ("what if i can't breathe after botox", "faq"),
        ("i have no trouble breathing, just a small bruise", "report_symptom"),
        ("how long does botox last", "faq"),
    ],
)
def test_questions_and_non_emergencies_keep_their_intent(text: str, intent: str) -> None:
    assert classify(text, intent).get("intent")["name"] == intent


@pytest.mark.parametrize(
    "text, classifier_said, severity",
    [
        ("I've had a fever of 38.6 since my botox yesterday", "faq", "urgent"),
        ("the injection site is hot and there's pus coming out", "nlu_fallback", "urgent"),
        ("there's a small bruise where I was injected this morning", "faq", "expected"),
    ],
)
def test_the_triage_module_decides_every_report_whatever_the_classifier_said(
    text: str, classifier_said: str, severity: str
) -> None:
    result = classify(text, classifier_said)
    assert result.get("intent") == {"name": "report_symptom", "confidence": 1.0}
    assert result.get("triage")["severity"] == severity


def test_every_message_carries_the_triage_reading_for_the_dialogue() -> None:
    question = classify("can botox cause trouble swallowing?", "faq").get("triage")
    assert question["severity"] is None and question["mentions_red_flag"] is True
    emergency = classify("my throat is closing up", "faq").get("triage")
    assert emergency["severity"] == "emergency" and emergency["source"] == "rules"


def test_a_red_flag_in_words_the_rules_do_not_know_is_screened() -> None:
    reading = classify("every time I sip water it dribbles back out through my nose", "faq").get(
        "triage"
    )
    assert reading["severity"] is not None
    assert reading["severity"] == "emergency" or reading["screen"] is True


def test_an_unplaced_report_the_classifier_recognised_is_screened() -> None:
    reading = classify("something happened to my face after the appointment", "report_symptom")
    assert reading.get("triage")["screen"] is True
    assert reading.get("intent")["name"] == "report_symptom"


@pytest.mark.parametrize(
    "text",
    [
        # a courtesy phrase holds "me" but says nothing about whose symptom it is
        "excuse me, i heard that the face can end up hanging on one side after botox, how come?",
        # "is that a common side effect" closing a sentence asks about the symptom
        "bruising around the eyes, is that a known side effect of botox",
        "swelling where the needle went in is that a common side effect",
    ],
)
def test_general_questions_worded_like_reports_keep_their_faq_intent(text: str) -> None:
    result = classify(text, "faq")
    assert result.get("intent")["name"] == "faq", result.get("triage")["reason"]
    assert result.get("triage")["severity"] is None


@pytest.mark.parametrize(
    "text, severity",
    [
        ("pardon me, my throat is closing up", "emergency"),
        ("excuse me but my eyelid has dropped since this morning", "urgent"),
        ("i've got bruising around my eyes now, is that a known side effect", "expected"),
        ("i saw in the mirror that my face is drooping on one side", "urgent"),
    ],
)
def test_the_same_wordings_about_the_patients_own_symptom_stay_reports(
    text: str, severity: str
) -> None:
    result = classify(text, "faq")
    assert result.get("intent")["name"] == "report_symptom"
    assert result.get("triage")["severity"] == severity


def classify_faq(text: str, topic: str, confidence: float) -> Message:
    """The guard after the classifier read an FAQ question about `topic`."""
    message = Message(
        data={
            "text": text,
            "intent": {"name": "faq", "confidence": confidence},
            "intent_ranking": [{"name": "faq", "confidence": confidence}],
            "response_selector": {
                "faq": {"response": {"intent_response_key": topic, "confidence": confidence}}
            },
        }
    )
    (result,) = RedFlagGuard().process([message])
    return result


MILD_ASKED = "Bruising after the jabs. Does that happen to most people?"


# intent x topic: 0.90 and 0.67 (clearly ahead of any other reading, not certain)
@pytest.mark.parametrize("confidence", [0.95, 0.82])
def test_a_mild_effect_only_asked_about_is_answered_as_the_faq_question(
    confidence: float,
) -> None:
    result = classify_faq(MILD_ASKED, "faq/side_effects_mild", confidence)
    assert result.get("intent")["name"] == "faq"
    assert result.get("triage")["severity"] is None
    assert result.get("triage")["source"] == "asked"
    assert "asked as a question" in result.get("triage")["reason"]


@pytest.mark.parametrize(
    "text, confidence",
    [
        ("I have bruising after the jabs. Does that happen to most people?", 0.95),  # "I"
        ("Bruising after the jabs still. Does that happen to most people?", 0.95),  # "still"
        ("Bruising after the jabs.", 0.95),  # nothing asked
        ("Pus where the jabs went in. Does that happen to most people?", 0.95),  # urgent
        ("Bruising after the jabs, getting bigger. Does that happen to most people?", 0.95),
        (MILD_ASKED, 0.75),  # intent x topic 0.56: the classifier is not sure
        ("Bruising after my jabs. Does that happen to most people?", 0.95),  # "my" after it
    ],
)
def test_a_report_the_classifier_cannot_overrule_stays_a_report(
    text: str, confidence: float
) -> None:
    result = classify_faq(text, "faq/side_effects_mild", confidence)
    assert result.get("intent") == {"name": "report_symptom", "confidence": 1.0}
    assert result.get("triage")["severity"] in ("expected", "urgent")


def test_only_a_side_effects_reading_overrules_a_mild_report() -> None:
    assert classify(MILD_ASKED, "greet").get("intent")["name"] == "report_symptom"
    other_topic = classify_faq(MILD_ASKED, "faq/touch_ups", 0.99)
    assert other_topic.get("intent")["name"] == "report_symptom"


@pytest.mark.parametrize(
    "text, classifier_said",
    [
        # What patients say about themselves to ask whether it suits them (each
        # was screened before clinic/red-flag-descriptions.yml described them)
        ("english is my second language, I prefer to speak by phone.", "human_handoff"),
        ("my english isn't very good so I'd rather talk on the phone.", "human_handoff"),
        ("I'm allergic to penicillin and some foods. Can I still have it?", "faq"),
        ("I am a smoker in my 50s. will it work?", "faq"),
    ],
)
def test_telling_about_oneself_to_ask_is_not_screened(text: str, classifier_said: str) -> None:
    result = classify(text, classifier_said)
    assert result.get("triage")["screen"] is False
    assert result.get("intent")["name"] == classifier_said


@pytest.mark.parametrize(
    "text",
    [
        # Red flags no rule knows, worded like the harmless self-descriptions
        # (tablets, English on the phone, stairs): the meaning layer still screens them.
        "since the jab I can't get my tablets to go down",
        "my english was fine yesterday but today people can't follow what I say",
        "since the injection I can hardly walk up the stairs",
        # the harmless "someone I can speak to on the phone" once hid one like
        # this ("people can't understand what I'm saying" is now a rule)
        "my voice on the phone today is all mumbly and nobody follows me",
    ],
)
def test_a_red_flag_worded_like_a_self_description_is_still_screened(text: str) -> None:
    assert not triage.assess(text).is_report  # the rules miss it: only the meaning layer
    assert red_flag_semantic.shared().closest(text) is not None
    reading = classify(text, "faq").get("triage")
    assert reading["screen"] is True

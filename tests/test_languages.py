"""Patients who write in another language: greetings understood, told how to reach the clinic."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.nlu.training_data.message import Message
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionOtherLanguage
from clinic_core import languages
from components.language_guard import LanguageGuard

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("text", ["hola", "Bonjour !", "guten Tag", "buongiorno", "Olá", "你好"])
def test_greetings_are_understood_in_any_language(text: str) -> None:
    assert languages.read(text).greeting


@pytest.mark.parametrize(
    "text", ["gracias!", "merci beaucoup", "danke schön", "obrigada", "спасибо"]
)
def test_thanks_are_understood_in_any_language(text: str) -> None:
    assert languages.read(text).thanks


@pytest.mark.parametrize(
    "text, code",
    [
        ("hola, cuánto dura el efecto del botox en la frente?", "es"),
        ("bonjour, je voudrais savoir combien de temps dure le botox", "fr"),
        ("Ich möchte gerne einen Termin für eine Behandlung", "de"),
        ("me duele mucho la frente desde ayer", "es"),
        ("no puedo tragar bien desde el botox", "es"),
        ("a minha testa está inchada e dói", "pt"),
    ],
)
def test_a_message_in_another_language_is_recognised(text: str, code: str) -> None:
    assert languages.read(text).language == code


@pytest.mark.parametrize(
    "text",
    [
        "how long does botox last",
        "hw lng does it last lol",
        "botox prices?",
        "i want to book tmrw pls",
        "my forehead is sore after the injection yesterday",
        # A few everyday English words fool the detector (Romanian, Portuguese...).
        "are you a robot?",
        "do you do card payments",
        "my pain is getting worse",
        "is there someone real here",
    ],
)
def test_english_stays_english(text: str) -> None:
    assert languages.read(text).language == "en"


def guarded(text: str, intent: str = "faq") -> Message:
    message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.9}})
    (result,) = LanguageGuard().process([message])
    return result


def test_the_guard_sets_the_intent_the_dialogue_answers() -> None:
    assert guarded("hola", "out_of_scope").get("intent")["name"] == "greet"
    assert guarded("merci", "nlu_fallback").get("intent")["name"] == "thank"
    spanish = guarded("tengo una pregunta sobre el botox en la frente")
    assert spanish.get("intent")["name"] == "other_language"
    assert spanish.get("language")["code"] == "es"
    assert guarded("how long does it last").get("intent")["name"] == "faq"


def reply(code: str, monkeypatch: pytest.MonkeyPatch, clinic_file: str) -> str:
    monkeypatch.setenv("CLINIC_CONFIG", str(ROOT / clinic_file))  # absolute paths stay as given
    tracker = Tracker.from_dict(
        {
            "sender_id": "lang",
            "slots": {},
            "latest_message": {"text": "...", "language": {"code": code}},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionOtherLanguage().run(dispatcher, tracker, {}))
    (message,) = dispatcher.messages
    return message["text"]


def test_spanish_speakers_are_told_in_spanish_when_the_staff_speak_it(monkeypatch) -> None:
    text = reply("es", monkeypatch, "clinic/example-clinic.yml")
    assert text.startswith("Hola.") and "+1 555-0100" in text and "inglés" in text


def test_other_languages_get_the_english_reply_with_the_phone_number(monkeypatch, tmp_path) -> None:
    text = reply("fr", monkeypatch, "clinic/example-clinic.yml")
    assert "only read and answer in English" in text and "+1 555-0100" in text
    # A clinic whose staff do not speak Spanish answers Spanish in English too.
    clinic = tmp_path / "clinic.yml"
    clinic.write_text("name: C\nphone: '+1 555-0199'\nemergency_number: '911'\n")
    assert "only read" in reply("es", monkeypatch, str(clinic))


def test_every_language_reply_fills_its_placeholders() -> None:
    values: dict[str, Any] = {"clinic_name": "C", "clinic_phone": "1", "emergency_number": "9"}
    for template in languages.load().replies.values():
        assert "{" not in template.format(**values)


def test_typed_contractions_count_as_english_words() -> None:
    """ "don't" is the everyday word "dont", not "don" and "t" (which would count against it)."""
    language_file = languages.load()
    assert language_file.mostly_english("I'm sure it's fine, don't worry")
    assert language_file.mostly_english("I’m sure it’s fine, don’t worry")
    assert not language_file.mostly_english("me duele mucho la frente desde ayer")

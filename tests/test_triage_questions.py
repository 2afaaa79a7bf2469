"""An emergency sign inside the patient's own question (clinic_core/triage.py).

A question frame ("how long", "can I", "will my") usually makes a sign
something asked about. Some questions say the sign is already here, or may
be: when it will end ("how long will my double vision last?"), what to take
for it ("can I take an antihistamine for swollen lips": screened first), a
request followed by the sign in a clause of its own ("tell me what to do,
cant breathe properly"). The cases that must stay questions come from
three reviews of this change (more in tests/test_triage_reviewed_probes.py).
"""

from __future__ import annotations

import pytest

from clinic_core import screening
from clinic_core.triage import assess, load_rules, normalise
from tests.triage_cases import cases, outcome

# Asking when one's own sign will end: it is here now.
WHEN_IT_ENDS = [
    "how long will my double vision last?",
    "when will my swollen lips go down? they keep getting bigger",
    "will my throat tightness go away by itself",
    "will my blurry double vision ever go away",
    "will my swollen lips and tongue go down",
    "should my blurry vision clear up on its own??",
    # the ending asked first, or between "will my" and the sign (the second
    # triage review's probes of the tenth session)
    "how long will my lips be swollen",
    "how long will i have double vision",
    "when will i stop seeing double",
    "will my lips stop swelling",
    "how long will my tongue be swollen for",
    "how long will i have trouble swallowing",
    "how long will i keep choking on water",
    "how long will i have trouble breathing? it started an hour ago",
    "how long will my throat feel tight",
    "how long will i be slurring my words",
    "how much longer will my lips be swollen",
    "how long am i going to have blurry vision",
    "how long do i have to put up with double vision",
    "when will my eyes stop being blurry",
    "will my face stop swelling soon",
    "how long will my lips be swollen? i had a lip flip 2 hours ago and theyre massive",
    "how long will i be having trouble swallowing like this? started after neck botox",
    "will my lips stop swelling, im considering going to a&e",
    # a booking or a top-up named beside the patient's own sign (a third review)
    "will my swollen lip settle? i have my follow up appointment booked for thursday",
    "will my throat swelling go down? can i still have my top up next week",
    "will my swollen lips last long? i was booked in for my lip flip yesterday",
]

# The same words about a sign that may come, or a sign named beside another question.
NOT_ENDING_NOW = [
    "will my lips swell after botox?",
    "will my face droop?",
    "how long will my results last",
    "how long will my botox last and is double vision a side effect?",
    "will my frown lines come back, is blurry vision a risk",
    "how long will my results last and what about double vision",
    "will my blurred vision stop me from getting botox",
    "will my double vision come back with my next top up",
    "how long will my lip swelling last after a lip flip",
    "im getting a lip flip friday, how long will my swollen lips last",
    "how long would my swollen lips last if i got a reaction",
    "will my face swelling go down before my wedding if i get botox next week",
    "will my sisters double vision go away",
    "how long would i have double vision if it happened",
    "what if my lips swell, how long will my lips be swollen",
    "my friend asked how long will i have double vision after botox",
    "how long will i have a droopy eyelid if i get one",
    "how long does swelling last after botox",
    "how long will the swelling last",
    # watching for, worrying about, getting or the risk of a sign; treatment to come
    "when should i worry about double vision",
    "when do i call you about trouble breathing",
    "how long should i watch for double vision after botox",
    "how soon do i get double vision after botox",
    "when will i get double vision, if at all",
    "when should i take benadryl for swollen lips",
    "how long will i have double vision if im unlucky",
    "worst case scenario? how long will my lips be swollen",
    "how long until my risk of double vision goes away",
    "how long will my lips be swollen after the lip flip",
    "first time getting botox how long will my face be swollen",
    "before i book how long will my lips be swollen for",
    "how long will i have swollen lips, i always get them after dental work",
    "how long will my lips be swollen after botox vs filler",
    "how long will my lips be swollen after botox? thinking of booking",
    "how long will my lips be swollen if i have an allergic reaction",
    "how long will my lips be swollen after the procedure, just so i can plan",
]

# Asking what to take or use (or give) for a sign named after the question.
REMEDY_ASKED = [
    "what should i take for swollen lips after botox",
    "is it ok to use an inhaler for trouble breathing after the jabs?",
    "Can I take antihistamines for swollen lips after botox?",
    "can i take benadryl before bed for swollen lips",
    "can i take benadryl before bed or what can i use for swollen lips",
    "can she take benadryl for swollen lips",
    "what can i give my daughter for swollen lips",
    "any meds for swollen lips?",
    "can i take antihistamine for the worst ever lip swelling",
]

# A remedy asked with the patient's own sign, or the sign standing apart, is told.
REMEDY_WITH_OWN_SIGN = [
    "can i take ibuprofen? my lips are swelling up",
    "can I take an antihistamine, lips swelling",
    "is it ok to use my inhaler for trouble breathing after the jabs?",
    "¿puedo tomar un antihistamínico para los labios hinchados?",
]

# With a condition, or about having the treatment, it stays a question.
REMEDY_IF = [
    "can i take antihistamines if my lips swell after botox?",
    "can i take antihistamines to prevent swelling of the lips",
    "is it safe to take antihistamines before botox in case my throat swells",
    "can i take botox if i have trouble breathing sometimes",
    "is it ok to have botox with swollen eyelids from hayfever",
    "is it ok to take botox with blurry vision from cataracts",
    "can i take an antihistamine for swollen lips if it happens after botox",
    "what should i take for swollen lips in case i react to the botox next week",
    "can i use an antihistamine for lip swelling after my first botox next friday",
]

# "everything"/"things" is the eyes only when it is how they look.
NOT_VISION = [
    "I'm nervous about things going wrong, what are the risks?",
    "everything went wrong with my booking, can someone call",
    "things went wrong with my card payment",
]
VISION = [
    "everything is blurry since the botox",
    "things look fuzzy and doubled today",
    "everything looks wonky since the botox",
    "things look funny out of my left eye",
    "everything is dark in my left eye",
    "everything looks wrong when i turn my head, like theres two",
]

# "One side of my mouth is down" reads like "... is drooping" (a stroke sign);
# "my mouth is down on one side" like "my mouth is drooping on one side" (urgent).
ONE_SIDE_DOWN = ["one side of my mouth is down"]

# A part of the face that is itself down is a droop; where a swelling sits, or a gaze, is not.
PART_DOWN = [
    "my left eye is a little bit down since yesterday",
    "my eyebrow is still down 3 weeks later",
]
NOT_PART_DOWN = [
    "the swelling around my eye is down now",
    "swelling by my eye is down a bit",
    "i keep my eyes looking down when i read",
]

# A puffy tongue, or lips that are puffy, is a swelling; naturally puffy lips,
# puffy eyes in the morning and a sore throat are not.
PUFFY = [
    "my tongue is puffy",
    "my lips are puffy since this morning",
    "puffy tongue after the jabs",
]
NOT_PUFFY_EMERGENCY = [
    "i have puffy eyes, can botox help?",
    "i wake up with a puffy face every morning",
    "i have naturally puffy lips, can a lip flip help?",
    "ive got tonsillitis, inflamed throat, do i need to cancel",
]

# Spanish "sí" (yes) loses its accent: "sí se me ..." is not "if".
SPANISH_YES = [
    "sí se me está cerrando la garganta",
    "si se me hinchó la cara y no puedo respirar bien",
    "sí se me hincharon los labios, ayuda por favor",
]


@pytest.mark.parametrize("text", cases(NOT_ENDING_NOW + NOT_VISION))
def test_a_sign_that_may_come_or_is_asked_about_is_not_a_report(text: str) -> None:
    result = assess(text)
    assert not result.is_report, result


def test_a_mouth_down_on_one_side_reads_like_a_mouth_drooping_on_one_side() -> None:
    down = assess("my mouth is down on one side and my arm feels funny")
    drooping = assess("my mouth is drooping on one side and my arm feels funny")
    assert down.is_report and down.severity == drooping.severity == "urgent", down


@pytest.mark.parametrize("text", cases(NOT_PART_DOWN))
def test_where_a_swelling_sits_or_a_gaze_is_not_a_droop(text: str) -> None:
    (droop,) = (rule for rule in load_rules().symptoms if rule.id == "droop")
    norm = normalise(text).norm
    assert not any(pattern.search(norm) for pattern in droop.patterns)


@pytest.mark.parametrize("text", cases(PART_DOWN))
def test_a_part_of_the_face_that_is_down_is_a_droop(text: str) -> None:
    result = assess(text)
    assert result.is_report and result.rule == "droop", result


@pytest.mark.parametrize("text", cases(NOT_PUFFY_EMERGENCY))
def test_puffy_eyes_or_a_sore_throat_are_not_an_emergency(text: str) -> None:
    assert assess(text).severity != "emergency"


@pytest.mark.parametrize("text", cases(REMEDY_ASKED))
def test_asking_what_to_take_for_a_sign_gets_the_screening_question_first(text: str) -> None:
    reading = screening.read(text, "faq/side_effects", semantic=False)
    assert reading.outcome == "screen", reading
    assert reading.is_report  # the dialogue acts on it as a report: screened before any answer
    assert "what to take" in reading.reason()  # the clinic sees why


@pytest.mark.parametrize("text", cases(REMEDY_IF))
def test_what_to_take_if_it_ever_happens_is_a_question(text: str) -> None:
    assert outcome(text) == "non_report"
    assert not assess(text).asks_remedy


# A request or question, then the sign bare in its own clause: the sign is told.
SIGN_APART = [
    "want to know what to do, throat closing up",
    "tell me what to do, cant breathe properly",
    "need info fast, lips and tongue swelling",
    "help me, throat closing",
    "need advice, now lips swelling",
]
# The sign as an example of what is asked, or said of people in general.
SIGN_IN_THE_QUESTION = [
    "I read online, throat closing is a side effect",
    "what are the risks, like throat swelling?",
    "can botox cause allergic reactions, swelling of lips?",
    "i read that botox can cause problems, trouble swallowing can happen",
    "is botox safe, i heard people get trouble breathing",
    "want to know the risks, trouble breathing and swallowing",
    "what are the side effects, trouble swallowing etc",
]


@pytest.mark.parametrize("text", cases(SIGN_IN_THE_QUESTION))
def test_a_sign_that_is_part_of_the_question_is_not_a_report(text: str) -> None:
    assert not assess(text).is_report


# A sign of now beside a condition, a request to be seen, or a past episode.
OWN_SIGN_NOW = [
    "i cant swallow pills since botox yesterday, can i still take liquid meds",
    "i cant swallow anything, can i still have my top up",
    "i have allergies, my lips are swelling, can i still have botox tomorrow?",
    "i have trouble breathing at night since the injections, can i get a top up",
]
# A comma before "my"/"I"/"now" starts a clause: a past episode before it is not this sign.
PAST_THEN_NOW = [
    "I had a rash years ago, my lips are swelling now",
    "had botox years ago, my throat is closing",
    "years ago i had hives, my throat feels tight",
]


EMERGENCIES = (
    WHEN_IT_ENDS
    + VISION
    + ONE_SIDE_DOWN
    + PUFFY
    + SPANISH_YES
    + REMEDY_WITH_OWN_SIGN
    + SIGN_APART
    + OWN_SIGN_NOW
    + PAST_THEN_NOW
)


@pytest.mark.parametrize("text", cases(EMERGENCIES))
def test_an_emergency_sign_here_now_is_an_emergency(text: str) -> None:
    result = assess(text)
    assert result.is_report and result.severity == "emergency", result


# Maybe told (the sixteenth session's reviews found these with no report at all):
# a sign standing bare after what the patient read or heard, or told with
# "I"/"my" after a comma that follows a supposition, may be passed on, supposed
# or the patient's own: the screening question asks. Said generally, or after
# "what to expect", it stays a question.
MAYBE_TOLD = [
    "heard about that, throat closing up",
    "read about this on tiktok, tongue swelling",
    "heard that can happen, face swelling fast",
    "heard about that, cant breathe properly",
    "heard about that, throat closing up. also i have some bruising",  # a milder sign beside
    "what if i get botox, my throat feels tight",
    "i had botox in case you need to know, im slurring my words",
    "you said in case of problems to message, i cant breathe properly",
    "just in case, i cant swallow properly since this morning",
    "if anything happens you said message, my lips are swelling",
]
SIGN_PASSED_ON_GENERALLY = [
    "heard that throat closing is a side effect",
    "I read online, throat closing is a side effect",
    "what to expect after a lip flip, lips swelling",
    "what does it mean, double vision",
]


@pytest.mark.parametrize("text", MAYBE_TOLD)
def test_a_sign_that_may_be_told_gets_the_screening_question(text: str) -> None:
    reading = screening.read(text, "faq/side_effects", semantic=False)
    assert reading.outcome == "screen"
    assert "after what was read, heard or supposed" in reading.reason()


# Also from those reviews: "how come" opening a question takes the sign as given
# (not when it asks about risks or people in general, nor closing a question:
# "..., how come?" is in tests/test_red_flag_guard.py); "rn" is right now ("the
# rn" is a nurse); "that's what I have", "I've got it now" confirm a sign named
# before; an epipen carried is no sign, one used is.
TOLD_OR_NOT = [
    ("how come slurred speech after botox", "emergency"),
    ("how come lips swelling so much", "emergency"),
    ("hi, how come lips swelling so much", "emergency"),
    ("how come eyelid is drooping", "urgent"),
    ("how come the injection site is hot and oozing", "urgent"),
    ("how come botox gives some people headaches", "non_report"),
    ("how come botox can cause trouble swallowing", "non_report"),
    ("how come double vision is listed as a side effect", "non_report"),
    ("botox can cause droopy eyelids and thats what i have rn", "urgent"),
    ("is double vision normal after botox rn", "emergency"),
    ("will the rn tell me if double vision is a risk?", "non_report"),
    ("is double vision a side effect? ive got it now", "emergency"),
    ("is trouble breathing a side effect? thats what i have heard", "non_report"),
    ("i have an epipen", "non_report"),
    ("in case i react, i carry an epipen, can i have botox", "non_report"),
    ("had to use my epipen", "emergency"),
    ("i used my epi pen 10 mins ago", "emergency"),
    # "i get it" confirms a sign named before, unless "it" is the treatment
    # still to come ("if i get it done", "... on monday")
    ("will bruises fade by friday if i get it done on monday", "non_report"),
    ("how long does swelling last if i get it on friday", "non_report"),
    ("is double vision a side effect? in any case i get it", "emergency"),
    ("is blurred vision a side effect? i get it when i look at my phone", "emergency"),
    ("is trouble breathing a side effect? not sure if i have it", "emergency"),
    ("is a droopy eyelid common? i have it booked for friday", "non_report"),
    ("is the headache after botox normal? i get it next to my eyebrow", "expected"),
    ("can i get lip swelling from botox? i got them done and they're swollen now", "emergency"),
    # confirmed without "I" after what was heard ("... and got one", "... and yep")
    ("heard of droopy eyelids after botox and got one, how long does it last?", "urgent"),
    ("read it can cause droopy eyelids and yep. how long?", "urgent"),
    ("how long would a droopy brow last if i got one", "non_report"),
    ("is drooping common after botox? and yes i know it's rare", "non_report"),
    ("is drooping common? and same question for bruising", "non_report"),
    ("is bruising normal? yes, i know it's common", "non_report"),
    ("is swelling normal after botox? got em done today lol", "non_report"),
    ("does botox cause bruising? my sister got them today", "non_report"),
]


@pytest.mark.parametrize(
    "text, expected", TOLD_OR_NOT + [(text, "non_report") for text in SIGN_PASSED_ON_GENERALLY]
)
def test_what_a_sign_near_a_question_or_a_supposition_reads_as(text: str, expected: str) -> None:
    assert screening.read(text, "faq/side_effects", semantic=False).outcome == expected


# Ending on its interrogative without "?" ("redness goes away how fast") counts
# as asking for the `only_asked` reading only: a mild effect with nothing tying
# it to the patient is then the classifier's to read (screening step 4); an
# urgent or emergency sign is not touched.
@pytest.mark.parametrize(
    "text, confident_question",
    [
        ("redness goes away how fast", "non_report"),
        ("little bruise goes away how quickly", "non_report"),
        ("eyelid droop goes away how fast", "urgent"),
        ("swollen lips go down how fast", "emergency"),
        ("my forehead is bruised, goes away how fast", "expected"),  # "my": the patient's
    ],
)
def test_a_message_ending_on_its_interrogative_asks(text: str, confident_question: str) -> None:
    reading = screening.read(text, "faq/side_effects_duration", classifier_confidence=0.9)
    assert reading.outcome == confident_question
    unsure = screening.read(text, "faq/side_effects_duration", classifier_confidence=0.3)
    assert unsure.outcome != "non_report"

"""Triage of a sign told after a polite request (twelfth session).

"could i", "would i", "will i", "might i", "would it be possible to",
"any chance of" open a supposition ("could i die from botox") or a polite
request ("could i come in today").  A request or a question about the
treatment is over where a clause after a comma tells what is happening
("could i come in today, my throat feels tight"), as it already was
after "can i", or where a clause in "my" words runs on without a comma
("could i come in asap my lips are swelling").  A supposition, an
eligibility question, a new "if", a fear or hearsay after the comma, and
a past episode or a condition with its own cause go on being what they
were.  Someone the writer is with, whose emergency is happening now, is
told about the same way ("can i have a call back, my mum has collapsed";
"could i bring my husband in he cant breathe").  Each emergency below
was not even a report before; the reviewers' probes are marked.
"""

from __future__ import annotations

import pytest

from tests.triage_cases import cases, outcome

TOLD_AFTER_A_COMMA = [
    "could i come in today, my throat feels tight",
    "could i book in, my lips are swelling up and my throat feels tight",
    "would i be able to come in, my eyelid is drooping and i cant see properly",
    "could i book in, i had botox yesterday and i cant breathe properly",
    "will i be able to breathe normally, my throat feels tight",
    "could i die from botox, my throat feels tight",
    "would you be able to call me back, i cant swallow properly",
    "could i ask, my vision is blurry since the botox is that normal",
    # from the review of this change: a comma and no "my"/"i", other polite requests
    "could i come in today, throat feels tight",
    "could i come in, cant swallow",
    "could i come in today, struggling to breathe",
    "could i come in today, after the botox my throat got tight",
    "could i come in today, the left side of my face has dropped and im slurring",
    "would it be possible to come in today, my throat feels tight",
    "is there any chance i could come in today, my throat feels tight",
    "any chance of a call back, i cant breathe properly",
    "would i be able to get an urgent appointment, my throat feels tight",
    "will i be able to get seen today, my lips are swelling",
    "might i come in today, my throat feels tight",
    "could i come in, i cant swallow since the weekend",
    "could i ask, my sister is here and her throat is closing",
    # from the second review: fear or reported speech told in the present, a past
    # after the sign's clause, a time or a treatment after "since", more requests
    "could i come in asap, my partner said my speech is slurred",
    "could i come in, im worried my throat is swelling",
    "could i come in, im scared my throat is closing",
    "could i come in today, my lips are swelling like they did last time",
    "could i come in, i cant breathe properly and i have a history of asthma",
    "could i come in, i cant swallow since my baby botox",
    "could i come in, i cant swallow since a few days",
    "could i come in, i cant breathe properly because of the swelling",
    "could i come in, i have double vision since the other day",
    "could i get it checked today, my throat feels tight",
    "could i get this looked at, my throat is closing",
    "is it possible to be seen today, my throat feels tight",
    "any chance of getting seen today, my throat is closing up",
]
# Someone the writer is with, after a request: their emergency is told too.
SOMEONE_ELSE_NOW = [
    "could i have a call back, my mum just collapsed after her botox",
    "could i get some advice, my husbands throat is closing",
    "can i have a call back, my mum just collapsed after her botox",
    "could i bring my husband in he cant breathe properly after his botox",
    # from the review of this part: a perfect tense, "hes", "shes"
    "can i speak to a nurse, my mum has collapsed",
    "please could i get a call back my wife has collapsed",
    "can i have a callback hes collapsed",
    "can i bring my wife in straight away she's fainted",
    # from the final review: somewhere else is not a cause of its own
    "can i have a call back, my dad has just collapsed at the dentist",
]
# ... and someone else's sign that is not happening now, or has its own cause.
SOMEONE_ELSE_NOT_NOW = [
    "does botox make you dizzy, my friend just told me she fainted after hers",
    "is it normal to faint after botox, my sister fainted earlier this year",
    "could botox make me choke she is choking on her food a lot lately",
    "could i bring my son in he is struggling to swallow since his tonsils out",
    "could i bring my son along tomorrow he is seeing double since his concussion last week",
]
# "from" with no possessive or article is no cause of its own (final review).
FROM_NO_CAUSE = [
    "could i come in, my lips are swelling from nowhere",
    "could i come in, my throat is tight from about an hour ago",
]
TOLD_IN_MY_WORDS = [
    "could i come in today my throat feels tight",
    "could i come in asap my lips are swelling and my throat feels tight",
    "could i come in my throat feels tight",
    "does botox make you dizzy my husband just collapsed",
    "could i come in asap my husband cant breathe",
    "could i come in i cant swallow since the weekend",
    # from the second review
    "hi could i come in today please my lips and tongue are swelling",
    "could i come in asap my lips r swelling",
    "could i come in asap my throat feel tight",
    "could i come in asap my lips keep swelling",
    "could i come in today and my throat feels tight",
    "could i come in today my husbands throat is closing",
]
# Signs the reader escalates as urgent when told alone: the same after a request.
TOLD_AND_URGENT = [
    "would i be able to come in, my eyelid will not stay open",
    "could i get this looked at, my face has dropped on one side",
    "could i come in today my eyelid is drooping",
]
# ... and what is still asked, supposed, or someone else's.
STILL_NOT_TOLD = [
    "will i bruise, my friend's eyelid drooped",
    "could i get a droopy eyelid, my friend got one",
    "would i get double vision, my mum had that after hers",
    "could botox make it hard to swallow, i read that online",
    "will my throat feel tight, i am nervous",
    "could i come in, if my throat feels tight what should i do",
    "will i need to come in, in case my throat gets tight",
    "could i ask, is blurred vision a side effect",
    "could i ask, my friend has blurred vision after botox is that normal",
    # from the review of this change: a supposition, fear or hearsay carried on,
    # a past episode, a condition with its own cause, another treatment asked for
    "could i die, my throat might close up",
    "will i know, my throat would feel tight wouldnt it",
    "could i react, im terrified my lips will swell up",
    "would i have trouble breathing, i heard my throat could swell",
    "could i have an allergic reaction, i read my lips could swell up",
    "could i get blurry vision, i have blurred vision from my diabetes",
    "would i pass out, i passed out at the dentist",
    "could i be numbed first, i panic and feel like i cant breathe with needles",
    "could i get a lip flip, my lips are swollen from a cold sore",
    "could i have lip filler, i get swollen lips when i eat shellfish",
    "is there any chance of swelling, my friend had that",
    "would it be possible to get droopy eyelids, my sister did",
    # from the second review
    "could i ask, is it normal for my throat to feel tight after botox",
    "could i ask, what do i do when my lips swell up",
    "would i need to call you, or go to a&e when my throat feels tight",
    "could i ask, how likely is it my eyelid droops",
]
# "my" as the object of a verb or after a preposition, or a question after it.
NOT_TOLD_IN_MY_WORDS = [
    "could botox make my face droop",
    "could botox make my throat feel tight",
    "will botox affect my breathing",
    "will i be able to get my lips done my friend said they swell",
    "can i use my inhaler i have an appointment today",
    "can i use my inhaler is that ok",
    # from the second review: "my" after "leave", an adverb in place of a verb
    "could botox leave my throat really tight",
    "can my husband have botox, his throat was tight years ago",
    "will my wife be ok, she is nervous her throat will close",
    "does botox ever leave my vision really blurry",
    "could it leave my eyelids really droopy",
]


@pytest.mark.parametrize(
    "text", cases(TOLD_AFTER_A_COMMA + TOLD_IN_MY_WORDS + SOMEONE_ELSE_NOW + FROM_NO_CAUSE)
)
def test_a_sign_told_after_a_polite_request_is_an_emergency(text: str) -> None:
    assert outcome(text) == "emergency"


@pytest.mark.parametrize(
    "text", cases(STILL_NOT_TOLD + NOT_TOLD_IN_MY_WORDS + SOMEONE_ELSE_NOT_NOW)
)
def test_a_sign_still_asked_or_supposed_is_not_a_report(text: str) -> None:
    assert outcome(text) == "non_report"


@pytest.mark.parametrize("text", cases(TOLD_AND_URGENT))
def test_an_urgent_sign_told_after_a_polite_request_is_escalated(text: str) -> None:
    assert outcome(text) == "urgent"

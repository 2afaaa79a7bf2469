"""Reading and checking the booking form's answers (everything but the time).

Each `parse_*` function takes what the patient typed and returns the clean
value, or raises `FieldProblem` with a specific, friendly re-prompt (what was
wrong and an example).  Each `find_*` function looks for the value inside a
message that was not an answer to that question ("I'm Ana Diaz, can I book
next Friday? 07700 900123"), and never raises.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

MAX_NAME_CHARS = 80


class FieldProblem(ValueError):
    """The answer cannot be used; str() is the re-prompt for the patient."""


# --- phone ----------------------------------------------------------------


def parse_phone(text: str, region: str) -> str:
    """A callable number in E.164, read with the clinic's country as default region."""
    candidate = (text or "").strip()
    if not re.search(r"\d", candidate):
        raise FieldProblem(
            "I need a phone number the clinic can call, for example 07700 900123 "
            "or +1 555 010 0100."
        )
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not usable(number):
        found = find_phone(candidate, region)
        if found:
            return found
        raise FieldProblem(
            "That doesn't look like a complete phone number. Could you check it and "
            "send it again, including the area code (for example 07700 900123)?"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def usable(number: phonenumbers.PhoneNumber) -> bool:
    """Valid, or at least complete (area code included) for its country.

    "Possible" matters for numbers in ranges reserved for fiction and for new
    ranges the metadata does not know yet; a local number without its area
    code is not enough for a call back.
    """
    if phonenumbers.is_valid_number(number):
        return True
    reason = phonenumbers.is_possible_number_with_reason(number)
    return reason == phonenumbers.ValidationResult.IS_POSSIBLE


def find_phone(text: str, region: str) -> str | None:
    """A phone number inside a longer message; at least 10 digits unless fully valid."""
    matcher = phonenumbers.PhoneNumberMatcher(text or "", region, phonenumbers.Leniency.POSSIBLE)
    for match in matcher:
        digits = re.sub(r"\D", "", match.raw_string)
        if phonenumbers.is_valid_number(match.number) or (
            len(digits) >= 10 and usable(match.number)
        ):
            return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    return None


def find_phone_text(text: str, region: str) -> str | None:
    """The phone number as written inside a message (to take it out of the text)."""
    matcher = phonenumbers.PhoneNumberMatcher(text or "", region, phonenumbers.Leniency.POSSIBLE)
    for match in matcher:
        if find_phone(match.raw_string, region):
            return match.raw_string
    return None


def phone_from_sender(sender_id: str, region: str) -> str | None:
    """The number an SMS/WhatsApp patient writes from (their conversation id).

    Used so the patient is not asked for a number we already have; the
    booking summary and the escalation still show it for confirmation.
    """
    sender = re.sub(r"^(whatsapp|sms|tel):", "", sender_id or "")
    if not re.fullmatch(r"\+?\d[\d\s\-]{6,}", sender):
        return None
    try:
        return parse_phone(sender, region)
    except FieldProblem:
        return None


def format_phone(e164: str) -> str:
    """A number as people read it, for the summary."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# --- email ----------------------------------------------------------------

NO_EMAIL = re.compile(
    r"^\s*(no|nope|none|nah|skip|n/?a|no thanks?|no email|i don'?t have (one|an? e-?mail)|"
    r"rather not|prefer not)\b",
    re.IGNORECASE,
)
EMAIL_IN_TEXT = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+\.[A-Za-z]{2,}")


def parse_email(text: str) -> str | None:
    """A valid e-mail address, or None when the patient prefers not to give one."""
    candidate = (text or "").strip()
    if NO_EMAIL.match(candidate):
        return None
    found = EMAIL_IN_TEXT.search(candidate)
    try:
        return validate_email(
            found.group(0) if found else candidate, check_deliverability=False
        ).normalized
    except EmailNotValidError:
        raise FieldProblem(
            "That e-mail address doesn't look right. Could you check it (for example "
            "ana.diaz@example.com)? Or say 'skip' if you'd rather not give one."
        ) from None


def find_email(text: str) -> str | None:
    found = EMAIL_IN_TEXT.search(text or "")
    if not found:
        return None
    try:
        return validate_email(found.group(0), check_deliverability=False).normalized
    except EmailNotValidError:
        return None


# --- name -----------------------------------------------------------------

NAME_INTRO = re.compile(
    r"\b(?:my name is|my name's|name is|i am|i'm|im|this is|it's|call me)\s+"
    r"([A-Za-zÀ-ÖØ-öø-ÿ'’\-]+(?:\s+[A-Za-zÀ-ÖØ-öø-ÿ'’\-]+){0,3})",
    re.IGNORECASE,
)
# Words that follow "I'm" without being a name ("I'm new", "I'm looking to book").
NOT_NAMES = {
    "a",
    "an",
    "the",
    "new",
    "looking",
    "interested",
    "wondering",
    "here",
    "just",
    "not",
    "so",
    "very",
    "really",
    "trying",
    "going",
    "having",
    "after",
    "from",
    "in",
    "on",
    "at",
    "calling",
    "writing",
    "hoping",
    "thinking",
    "sorry",
    "fine",
    "good",
    "ok",
    "okay",
    "back",
    "returning",
    "available",
    "free",
    "booking",
    "asking",
    "still",
    "also",
    "currently",
    "pregnant",
    "worried",
    "concerned",
    "scared",
    "nervous",
}
NAME_CHARACTERS = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿ'’.\- ]+$")
STOP_WORDS = {
    "and",
    "can",
    "could",
    "would",
    "i",
    "i'd",
    "id",
    "want",
    "please",
    "pls",
    "to",
    "for",
    "book",
    "my",
    "number",
    "phone",
    "is",
    "on",
    "at",
    "next",
    "with",
}


# Words that make a message a sentence rather than a name ("my eyelid is
# drooping", "rather not", "i dont want to say"); names that are also
# English words (Will, May, Grace, Rose) are not listed.
NOT_IN_NAMES = {
    "i", "i'm", "im", "my", "me", "is", "am", "are", "was", "were", "have", "has", "had",
    "got", "it", "it's", "its", "the", "a", "an", "this", "that", "not", "no", "yes",
    "rather", "don't", "dont", "want", "feel", "feels", "hurts", "since", "after", "botox",
    "please", "thanks", "thank", "you", "your", "skip", "why", "what", "how", "when",
    "where", "which", "who", "can", "could", "would", "should", "do", "does", "did",
    "of", "to", "in", "on", "at", "for", "with", "and", "or", "but", "so", "very",
}  # fmt: skip


def parse_name(text: str) -> str:
    """A full name as the patient wrote it (first and last name)."""
    candidate = re.sub(r"\s+", " ", (text or "").strip()).strip(" .,!")
    intro = NAME_INTRO.search(candidate)
    if intro:
        candidate = _trim_name(intro.group(1))
    if NO.match(candidate) or any(w in NOT_IN_NAMES for w in candidate.lower().split()):
        raise FieldProblem(
            "That doesn't look like a name. The clinic needs a first and last name to "
            "know who to ask for, for example: Ana Diaz."
        )
    if not candidate or len(candidate) > MAX_NAME_CHARS or not NAME_CHARACTERS.match(candidate):
        raise FieldProblem(
            "Could you tell me your full name, using letters only? For example: Ana Diaz."
        )
    if len(candidate.split()) < 2:
        raise FieldProblem(
            "Could you give me your first and last name, so the clinic knows who to "
            "ask for? For example: Ana Diaz."
        )
    return " ".join(part[:1].upper() + part[1:] for part in candidate.split())


def find_name(text: str) -> str | None:
    """A name introduced as such ("I'm Ana Diaz", "my name is ...")."""
    intro = NAME_INTRO.search(text or "")
    if not intro or intro.group(1).split()[0].lower() in NOT_NAMES:
        return None
    try:
        return parse_name(_trim_name(intro.group(1)))
    except FieldProblem:
        return None


def _trim_name(words: str) -> str:
    kept = []
    for word in words.split():
        if word.lower() in STOP_WORDS:
            break
        kept.append(word)
    return " ".join(kept)


# --- when: what a date or a time looks like ----------------------------------

# So that a symptom report typed at a "when" question is not taken for an answer.
WHEN_WORDS = re.compile(
    r"\d|\b(ago|yesterday|today|tonight|tomorrow|last|this|next|week|weeks|month|months|day|"
    r"days|mon|tue|wed|thu|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday|jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|"
    r"april|june|july|august|september|october|november|december|morning|afternoon|evening|"
    r"night|noon|am|pm|any ?time|whenever|now|asap|soon|weekday|weekend|"
    r"(?:don'?t|do not|can'?t) (?:know|remember)|not sure|no idea|skip)\b",
    re.IGNORECASE,
)


def looks_like_when(text: str) -> bool:
    return bool(WHEN_WORDS.search(text or ""))


# --- treatment area -------------------------------------------------------

AREAS = {
    "forehead lines": r"forehead|brow lines|horizontal lines",
    "frown lines": r"frown|11s|elevens|between (?:my |the )?(?:eye)?brows|glabell",
    "crow's feet": r"crow|around (?:my |the )?eyes|eye area|laughter lines|smile lines by",
}


def parse_area_choice(text: str) -> str | None:
    """One of the offered areas (or "other"), when that is all the message says."""
    candidate = re.sub(r"\s+", " ", (text or "").strip())
    if re.fullmatch(r"(?i)other|something else", candidate):
        return "other: not sure yet"
    found = [area for area, pattern in AREAS.items() if re.search(pattern, candidate, re.I)]
    return ", ".join(found) if found else None


def parse_area(text: str) -> str:
    """One of the usual areas, or "other: <the patient's words>"."""
    candidate = re.sub(r"\s+", " ", (text or "").strip())
    if not re.search(r"[^\W_]", candidate):
        raise FieldProblem(
            "Which area would you like treated? For example: forehead lines, frown lines, "
            "crow's feet, or tell me another area."
        )
    if len(candidate) > 200:
        raise FieldProblem("Could you describe the area in a few words, for example 'forehead'?")
    found = [area for area, pattern in AREAS.items() if re.search(pattern, candidate, re.I)]
    if found:
        return ", ".join(found)
    if re.fullmatch(r"(?i)other|something else|not sure|don'?t know", candidate):
        return "other: not sure yet"
    return f"other: {candidate}"


# --- yes / no questions -----------------------------------------------------

YES = re.compile(
    r"^\W*(y|ya|yes+|yeah|yea|yep|yup|sure|ok|okay|k|of course|correct|please do|go ahead|"
    r"i do|i agree|agreed|that'?s fine|fine|absolutely|definitely|certainly|alright|all right|"
    r"si|sí)\b|^\s*(👍|👌|✅|✔️?|🙏|😊|🙂)",
    re.IGNORECASE,
)
NO = re.compile(
    r"^\W*(n|no|nope|nah|naw|not really|i don'?t|never|no thanks?|no thank you|"
    r"rather not|i'?d rather not|prefer not|i'?d prefer not|don'?t)\b|^\s*(👎|❌|🚫|🙅)",
    re.IGNORECASE,
)


def yes_or_no(text: str, intent: str | None) -> bool | None:
    """The patient's yes/no, from the classifier's affirm/deny or the words."""
    if intent == "affirm" or YES.match(text or ""):
        return True
    if intent == "deny" or NO.match(text or ""):
        return False
    return None


NEW_WORDS = re.compile(r"\b(new|first|never been|not been|haven'?t been)\b", re.I)
RETURNING_WORDS = re.compile(
    r"\b(returning|been before|been there|existing|again|"
    r"came before|had it (?:done )?(?:there|with you)|back)\b",
    re.I,
)


def parse_new_patient(text: str, intent: str | None) -> bool:
    """True for a first visit.  The question is "Is this your first visit?"."""
    if NEW_WORDS.search(text or ""):
        return True
    if RETURNING_WORDS.search(text or ""):
        return False
    answer = yes_or_no(text, intent)
    if answer is None:
        raise FieldProblem(
            "Sorry, I didn't catch that. Is this your first visit to the clinic? "
            "Please answer yes or no."
        )
    return answer

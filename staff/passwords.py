"""Which staff passwords are too easy to guess, beyond their length.

Attackers try the passwords people use most first, and the words they are
built from with a year or a "!" added.  A password is refused when, ignoring
case, spaces and the digits and symbols around it, it is in the list shipped
with the project (`staff/data/common-passwords.txt`, meant to be extended
with a clinic's own obvious words), when its letters are one or two listed
words ("Botox2026botox"), when it is one character or a short
chunk repeated, a run like "123456789012" or "abcdefghijkl", or when it
contains the account's login.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

LIST_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt"
# Digits and symbols people put around a word ("!Welcome2024#").
_AROUND = re.compile(r"^[\W\d_]*(.*?)[\W\d_]*$")
_RUNS = ("0123456789012345678901234567890", "abcdefghijklmnopqrstuvwxyz")


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = LIST_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(_plain(line) for line in lines if line.strip() and not line.startswith("#"))


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).casefold())


def _repeated(text: str) -> bool:
    """One chunk of at most four characters, repeated ("aaaa...", "abcabcabc...")."""
    return any(
        len(text) % size == 0 and text == text[:size] * (len(text) // size)
        for size in range(1, min(4, len(text) // 2) + 1)
    )


def _run(text: str) -> bool:
    return any(text in run or text in run[::-1] for run in _RUNS)


def _listed_words(letters: str, listed: frozenset[str]) -> bool:
    """The letters are one listed word, or two ("botox2026botox", "Welcome!Summer1")."""
    if not letters or len(letters) > 64:
        return False
    return letters in listed or any(
        letters[:cut] in listed and letters[cut:] in listed for cut in range(3, len(letters) - 2)
    )


def weakness(password: str, login: str = "") -> str | None:
    """Why the password is easy to guess, or None."""
    plain = _plain(password)
    core = _AROUND.match(plain).group(1) if plain else ""
    listed = common_passwords()
    letters = re.sub(r"[\W\d_]", "", plain)
    if plain in listed or (core and core in listed) or _listed_words(letters, listed):
        return "it is one of the most common passwords"
    if _repeated(plain) or _run(plain):
        return "it is a repeated or running sequence"
    if login and len(login) >= 3 and _plain(login) in plain:
        return "it contains the login"
    return None

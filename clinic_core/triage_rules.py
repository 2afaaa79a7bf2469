"""The clinic's triage vocabulary: loading, checking and compiling `clinic/triage-rules.yml`.

Why a module of its own: the file is the clinic's, edited by people who
are not programmers, so loading it is a contract of its own. Every rule,
word list and cue the reader (`clinic_core/triage.py`) uses is checked
here, a broken edit keeps the last good version triaging, and a file that
never loaded fails loudly at start-up. The reader imports this; this
imports nothing of the reader.
"""

from __future__ import annotations

import collections
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from re import Pattern
from typing import Any

import yaml

from clinic_core.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

SEVERITIES = ("emergency", "urgent", "expected", "unclear")

DEFAULT_RULES_PATH = PROJECT_ROOT / "clinic" / "triage-rules.yml"

# What a space in a pattern stands for: spaces, quotes, slashes, emoji...
# between two words, but never a comma or a sentence end (" ?" = optional).
SEPARATOR = r"[^\w.!?;:,\n]+"

_MACRO = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_RULE_ID = re.compile(r"[a-z][a-z0-9_]*")

CUE_NAMES = (
    "negation",
    "pseudo_negation",
    "function_wrong",
    "negation_after",
    "scope_end",
    "contrast",
    "clause_start",
    "hypothetical",
    "not_hypothetical",
    "third_party",
    "named_other",
    "other_now",
    "other_needs_help",
    "other_not_now",
    "other_past",
    "other_habit",
    "other_eligibility",
    "other_state",
    "other_treated",
    "other_episode",
    "first_person",
    "this_symptom",
    "not_first_person",
    "question_start",
    "question_strong",
    "question_weak",
    "report",
    "asks_what_to_do",
    "sign_lead",
    "run_on_not_after",
    "run_on_lead",
    "run_on_my_clause",
    "run_on_my_not_after",
    "run_on_my_after",
    "run_on_bare_lead",
    "run_on_bare_after",
    "run_on_bare_chain_not_after",
    "run_on_bare_adverbs",
    "sign_lead_verb",
    "people_in_general",
    "chance_asked",
    "told_not_now_after",
    "comma_clause_not_told",
    "comma_clause_supposes",
    "felt_as_if",
    "eligibility_frame",
    "told_since",
    "clause_ends_before_past",
    "run_on_ends_frame",
    "run_on_past",
    "cause_of_its_own",
    "sign_asked_about",
    "passed_on",
    "sign_said_generally",
    "ends_opening",
    "sign_ends",
    "ending_before_sign",
    "duration_opening",
    "when_opening",
    "duration_not_sign",
    "sign_ends_not_now",
    "duration_not_now",
    "asks_remedy",
    "remedy_condition",
    "history",
    "confirms_own",
    "hearsay",
    "present_state",
    "negates_something_else",
    "fine",
    "question_tag",
    "closing_interrogative",
)
# Cues that must match at the very start of the text they are tried on.
_ANCHORED_CUES = frozenset({"negation_after", "question_start", "sign_ends"})


class RulesError(ValueError):
    """The rules file is missing or malformed (a deployment error, raised loudly)."""


@dataclass(frozen=True)
class Rule:
    """One named rule: a severity level and the patterns that recognise it."""

    id: str
    level: str  # a severity, or "worsening" / "lasting"
    description: str
    patterns: tuple[Pattern[str], ...]
    overrides: frozenset[str] = frozenset()
    alone: tuple[Pattern[str], ...] = ()  # worsening cues that are a report by themselves


@dataclass(frozen=True)
class TriageRules:
    """The whole compiled rules file."""

    symptoms: tuple[Rule, ...]  # emergency, urgent, expected, unclear rules in file order
    worsening: Rule | None
    lasting: Rule | None
    cues: Mapping[str, Pattern[str]]
    language: str = "en"
    # Other languages' red flags (`languages:` in the file), tried when the
    # main rules find no report: code -> (rules, replies)
    languages: Mapping[str, tuple[TriageRules, Mapping[str, str]]] = field(default_factory=dict)

    @property
    def cue_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in (self.worsening, self.lasting) if r is not None)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.symptoms) + tuple(r.id for r in self.cue_rules)

    def by_level(self, level: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.symptoms if r.level == level)


def _expand(pattern: str, words: Mapping[str, str], where: str) -> str:
    """Insert the `{name}` word lists, then let spaces match any separator."""

    def word_list(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in words:
            raise RulesError(f"{where}: unknown word list {{{name}}}")
        return f"(?:{words[name]})"

    expanded = _MACRO.sub(word_list, pattern)
    optional_space = f"(?:{SEPARATOR})?"
    return expanded.replace(" ?", optional_space).replace(" ", SEPARATOR)


def _compile(
    patterns: Iterable[str], words: Mapping[str, str], where: str, *, anchored: bool = False
) -> Pattern[str]:
    """One case-insensitive whole-word regex for a list of alternatives."""
    parts = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern.strip():
            raise RulesError(f"{where}: every pattern must be a non-empty string")
        parts.append(f"(?:{_expand(pattern.strip(), words, where)})")
    if not parts:
        raise RulesError(f"{where}: needs at least one pattern")
    body = "|".join(parts)
    # Anchored cues are used with .match(text, pos, endpos): they must start at pos.
    # A match starts at a word's start, or at punctuation the pattern names
    # itself (clause_start's ", my": a comma right after a word).
    prefix = r"[^\w.!?;\n]*" if anchored else r"(?:(?<!\w)|(?=[,;:]))"
    try:
        return re.compile(f"{prefix}(?:{body})(?!\\w)", re.IGNORECASE)
    except re.error as exc:
        raise RulesError(f"{where}: invalid pattern: {exc}") from exc


def _compile_each(patterns: Any, words: Mapping[str, str], where: str) -> tuple[Pattern[str], ...]:
    """Compile patterns one by one, so every hit of every pattern is seen."""
    if not isinstance(patterns, list) or not patterns:
        raise RulesError(f"{where}: `patterns` must be a non-empty list")
    return tuple(_compile([p], words, f"{where} pattern {i + 1}") for i, p in enumerate(patterns))


def _parse_rule(raw: Any, level: str, words: Mapping[str, str]) -> Rule:
    if not isinstance(raw, dict):
        raise RulesError(f"{level}: every rule must be a mapping with id, description, patterns")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
        raise RulesError(f"{level}: rule id {rule_id!r} must be lower_snake_case")
    description = raw.get("description")
    if not isinstance(description, str) or not description.strip():
        raise RulesError(f"{level}.{rule_id}: needs a plain description")
    overrides = raw.get("overrides", [])
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise RulesError(f"{level}.{rule_id}: `overrides` must be a list of rule ids")
    alone = raw.get("alone")
    return Rule(
        id=rule_id,
        level=level,
        description=description.strip(),
        patterns=_compile_each(raw.get("patterns"), words, f"{level}.{rule_id}"),
        overrides=frozenset(overrides),
        alone=_compile_each(alone, words, f"{level}.{rule_id}.alone") if alone else (),
    )


def _parse_words(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise RulesError("`words` must map names to regular expressions")
    for name, value in raw.items():
        if _MACRO.search(value):
            raise RulesError(f"words.{name}: word lists cannot use other word lists")
    return dict(raw)


# What a language section must say to patients (placeholders from the clinic file).
LANGUAGE_REPLIES = ("call_now", "clinic_alerted", "not_saved")


def parse_rules(raw: Any, source: str = "<rules>", language: str = "en") -> TriageRules:
    """Validate and compile a loaded rules document (raises RulesError).

    The main document (English) needs every section. A section under
    `languages:` needs at least the emergency rules, its own cues and the
    replies in `LANGUAGE_REPLIES`: red flags in that language are recognised
    and the emergency reply is given in it.
    """
    if not isinstance(raw, dict):
        raise RulesError(f"{source}: expected a YAML mapping at the top level")
    main = language == "en"
    words = _parse_words(raw.get("words", {}))
    symptoms: list[Rule] = []
    for level in SEVERITIES:
        section = raw.get(level)
        if not main and section is None and level != "emergency":
            continue
        if not isinstance(section, list) or not section:
            raise RulesError(f"{source}: section `{level}` must be a non-empty list of rules")
        symptoms.extend(_parse_rule(item, level, words) for item in section)
    worsening = lasting = None
    if main or raw.get("worsening") is not None:
        worsening = _parse_rule(raw.get("worsening"), "worsening", words)
    if main or raw.get("lasting") is not None:
        lasting = _parse_rule(raw.get("lasting"), "lasting", words)

    raw_cues = raw.get("cues")
    if not isinstance(raw_cues, dict):
        raise RulesError(f"{source}: section `cues` is missing")
    cues = {}
    for name in CUE_NAMES:
        if not isinstance(raw_cues.get(name), list):
            raise RulesError(f"{source}: cues.{name} must be a list of patterns")
        cues[name] = _compile(
            raw_cues[name], words, f"cues.{name}", anchored=name in _ANCHORED_CUES
        )

    languages = _parse_languages(raw.get("languages"), source) if main else {}
    rules = TriageRules(tuple(symptoms), worsening, lasting, cues, language, languages)
    _check_ids(rules)
    return rules


def _parse_languages(raw: Any, source: str) -> dict[str, tuple[TriageRules, Mapping[str, str]]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RulesError(f"{source}: `languages` must map language codes to rule sections")
    parsed = {}
    for code, section in raw.items():
        if not isinstance(code, str) or not re.fullmatch(r"[a-z]{2}", code) or code == "en":
            raise RulesError(f"{source}: language code {code!r} must be two letters, not en")
        where = f"{source} languages.{code}"
        replies = (section or {}).get("replies") if isinstance(section, dict) else None
        if not isinstance(replies, dict) or any(
            not isinstance(replies.get(k), str) or not replies[k].strip() for k in LANGUAGE_REPLIES
        ):
            raise RulesError(f"{where}: `replies` needs {', '.join(LANGUAGE_REPLIES)}")
        rules = parse_rules(section, where, code)
        texts = {k: " ".join(replies[k].split()) for k in LANGUAGE_REPLIES}
        for key, template in texts.items():
            try:  # a typo in a placeholder must fail at load, not in an emergency reply
                template.format_map(collections.defaultdict(str))
            except (ValueError, IndexError) as exc:
                raise RulesError(f"{where}: replies.{key} is not a valid template: {exc}") from exc
        parsed[code] = (rules, texts)
    return parsed


def _check_ids(rules: TriageRules) -> None:
    """Ids are unique; overrides name real rules and never silence an emergency."""
    seen: set[str] = set()
    for rule_id in rules.ids:
        if rule_id in seen:
            raise RulesError(f"duplicate rule id {rule_id!r}")
        seen.add(rule_id)
    levels = {r.id: r.level for r in rules.symptoms}
    for rule in rules.symptoms:
        for target in rule.overrides:
            if target not in levels:
                raise RulesError(f"{rule.id}: overrides unknown rule {target!r}")
            if levels[target] == "emergency":
                raise RulesError(f"{rule.id}: emergency rules cannot be overridden ({target})")


_cache: dict[Path, tuple[float, TriageRules]] = {}
_cache_lock = threading.Lock()


def load_rules(path: Path | str | None = None) -> TriageRules:
    """The compiled rules from `path` (default clinic/triage-rules.yml), cached until it changes.

    If an edit breaks a file that loaded before, the last good version keeps
    triaging (and the error is logged): a typo in the vocabulary must not
    switch triage off mid-conversation. A file that never loaded raises.
    """
    path = Path(path) if path is not None else DEFAULT_RULES_PATH
    with _cache_lock:
        cached = _cache.get(path)
    try:
        mtime = path.stat().st_mtime
        if cached and cached[0] == mtime:
            return cached[1]
        rules = _read_rules(path)
    except RulesError:
        if cached is None:
            raise
        log.exception("triage rules %s are broken; still using the last good version", path)
        return cached[1]
    except OSError as exc:
        if cached is None:
            raise RulesError(f"cannot read triage rules {path}: {exc}") from exc
        log.exception("triage rules %s unreadable; still using the last good version", path)
        return cached[1]
    with _cache_lock:
        _cache[path] = (mtime, rules)
    return rules


def _read_rules(path: Path) -> TriageRules:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RulesError(f"cannot parse triage rules {path}: {exc}") from exc
    return parse_rules(raw, str(path))

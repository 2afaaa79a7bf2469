"""Every FAQ answer is grounded in the clinic's article and says where from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.test_nlu_data import FAQ_TOPICS

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "clinic" / "botox-article.txt"
RESPONSES = yaml.safe_load((ROOT / "data" / "responses" / "faq.yml").read_text())["responses"]


def plain(text: str) -> str:
    """Typographic quotes and spacing do not make a quote differ."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"')
    return re.sub(r"\s+", " ", text.replace("\u201d", '"')).strip()


ARTICLE_TEXT = plain(ARTICLE.read_text(encoding="utf-8"))
HEADINGS = {
    plain(line)
    for line in ARTICLE.read_text(encoding="utf-8").splitlines()
    if line.strip().endswith("?") and len(line.split()) <= 10
}


def variations(topic: str) -> list[dict]:
    return RESPONSES[f"utter_faq/{topic}"]


def test_article_headings_were_found() -> None:
    assert "How Does Botox Work?" in HEADINGS
    assert "How Long Can Botox Last?" in HEADINGS


def test_every_topic_has_an_answer_and_no_answer_lacks_a_topic() -> None:
    assert {name.split("/", 1)[1] for name in RESPONSES} == FAQ_TOPICS


@pytest.mark.parametrize("topic", sorted(FAQ_TOPICS))
def test_answer_names_its_article_sections(topic: str) -> None:
    for variation in variations(topic):
        sources = (variation.get("metadata") or {}).get("source")
        assert sources, f"utter_faq/{topic} has no source section"
        assert set(map(plain, sources)) <= HEADINGS, f"unknown section in {sources}"


@pytest.mark.parametrize("topic", sorted(FAQ_TOPICS))
def test_answer_evidence_is_quoted_verbatim_from_the_article(topic: str) -> None:
    for variation in variations(topic):
        evidence = (variation.get("metadata") or {}).get("evidence")
        assert evidence, f"utter_faq/{topic} quotes no evidence"
        for quote in evidence:
            assert plain(quote) in ARTICLE_TEXT, f"not in the article: {quote!r}"


@pytest.mark.parametrize("topic", sorted(FAQ_TOPICS))
def test_answer_is_short(topic: str) -> None:
    for variation in variations(topic):
        sentences = [s for s in re.split(r"(?<=[.?!])\s+", variation["text"]) if s]
        assert 2 <= len(sentences) <= 5, variation["text"]


@pytest.mark.parametrize("topic", sorted(FAQ_TOPICS))
def test_follow_up_offers_something_that_exists(topic: str) -> None:
    for variation in variations(topic):
        follow_up = (variation.get("metadata") or {}).get("follow_up")
        if follow_up is None:
            assert not variation.get("buttons"), "buttons offer a follow-up that is not declared"
            continue
        assert follow_up == "book" or follow_up.removeprefix("faq/") in FAQ_TOPICS
        assert variation["text"].rstrip().endswith("?"), "the offer should end the answer"

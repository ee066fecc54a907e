"""Conditions in words: every kind of the closed vocabulary has its phrase, built from the pack's labels."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter

import triage
from triage.core.vocabulary import Condition
from triage.present.describe import mermaid
from triage.present.words import PLAIN, Style, asked_when_words, citations_in_words, to_words

PACKS = Path(__file__).parent / "data" / "packs"
CONDITION: TypeAdapter[Condition] = TypeAdapter(Condition)


@pytest.fixture(scope="module")
def mini() -> triage.RulePack:
    return triage.load_rulepack(PACKS / "valid")


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ({"always": True}, "always (any answers)"),
        ({"term": "paralysis"}, "paralysis"),
        ({"question": "cause", "in": ["paralysis"]}, 'cause is "A facial paralysis"'),
        (
            {"question": "cause", "in": ["paralysis", "other"]},
            'cause is "A facial paralysis" or "Something else"',
        ),
        ({"not": {"question": "cause", "in": ["other"]}}, 'cause is not "Something else"'),
        ({"question": "red_flags", "includes": "stroke_signs"}, 'red_flags includes "Signs of a stroke"'),
        (
            {"not": {"question": "red_flags", "includes": "stroke_signs"}},
            'red_flags does not include "Signs of a stroke"',
        ),
        ({"question": "red_flags", "empty": True}, 'red_flags is "None of these"'),
        ({"question": "red_flags", "empty": False}, "red_flags has at least one answer"),
        ({"not": {"question": "red_flags", "empty": True}}, "red_flags has at least one answer"),
        ({"question": "months", "at_least": 3}, "months is 3 months or more"),
        ({"question": "months", "below": 3}, "months is less than 3 months"),
        ({"not": {"question": "months", "below": 3}}, "months is 3 months or more"),
        (
            {"question": "months", "at_least": {"param": "long_months"}},
            "months is 6 months (long_months) or more",
        ),
        (
            {"not": {"question": "months", "at_least": {"param": "long_months"}}},
            "months is less than 6 months (long_months)",
        ),
        (
            {"all": [{"term": "paralysis"}, {"not": {"term": "long_standing"}}]},
            "paralysis and not long_standing",
        ),
        (
            {
                "all": [
                    {"term": "paralysis"},
                    {"any": [{"term": "long_standing"}, {"question": "severity", "in": ["severe"]}]},
                ]
            },
            'paralysis and (long_standing or severity is "Severe")',
        ),
        (
            {"not": {"all": [{"term": "paralysis"}, {"term": "long_standing"}]}},
            "not (paralysis and long_standing)",
        ),
        ({"any": [{"all": [{"term": "red_flag"}]}]}, "red_flag"),
    ],
)
def test_condition_in_words(mini: triage.RulePack, condition: object, words: str) -> None:
    """Each condition reads as a fixed phrase, with option labels, units and parameter names."""
    assert to_words(CONDITION.validate_python(condition), mini) == words


def test_markdown_marks_names_and_questions(mini: triage.RulePack) -> None:
    """In Markdown, terms and parameters are italic and question ids are code."""
    condition = CONDITION.validate_python(
        {"all": [{"term": "paralysis"}, {"question": "months", "at_least": {"param": "long_months"}}]}
    )
    assert (
        to_words(condition, mini, Style(markdown=True))
        == "*paralysis* and `months` is 6 months (*long_months*) or more"
    )


def test_asked_when_in_words(mini: triage.RulePack) -> None:
    """A question without a condition is always asked; the others say when."""
    questions = {q.id: q for q in mini.document.questions}
    assert asked_when_words(questions["red_flags"], mini) == "always"
    assert (
        asked_when_words(questions["months"], mini, PLAIN) == 'when paralysis: cause is "A facial paralysis"'
    )


def test_citations_in_words(pack: triage.RulePack) -> None:
    """Article citations show paragraph and quote; external ones their basis."""
    urgent = pack.levels["urgent"]
    text = citations_in_words(urgent.citations)
    assert text.startswith('external: NHS, "Bell\'s palsy"')
    assert '; ¶3 "related to delayed treatment or prolonged symptoms"; external: ' in text


def test_mermaid_labels_escape_quotes(mini: triage.RulePack) -> None:
    """Quotes inside labels are escaped so the flowchart stays valid Mermaid."""
    out = mermaid(mini)
    assert "#quot;Signs of a stroke#quot;" in out
    for line in out.splitlines()[1:]:
        assert line.count('"') % 2 == 0

"""Rendering a result: text for a terminal, Markdown and JSON."""

from __future__ import annotations

import json
import re

import pytest

import triage
from triage.core.answerspace import answer_space
from triage.core.models import Result
from triage.core.pack import RulePack
from triage.present.render import citation_text, render_json, render_markdown, render_text

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _results(pack: RulePack) -> list[Result]:
    unique: dict[str, Result] = {}
    for values in answer_space(pack):
        result = triage.evaluate(triage.Answers(values=values), rulepack=pack)
        unique.setdefault(result.model_dump_json(), result)
    return list(unique.values())


def _flat(text: str) -> str:
    return " ".join(text.split())


def _texts(result: Result) -> list[str]:
    texts = [result.urgency_advice.text, result.prognosis.text, result.disclaimer]
    texts += [result.urgency_advice.safety_net] if result.urgency_advice.safety_net else []
    texts += [e.text for e in result.explanation]
    texts += [s.text for s in result.suggestions]
    texts += [citation_text(c) for s in result.suggestions for c in s.citations]
    return texts


@pytest.mark.parametrize("width", [80, 60, 40, 20])
def test_text_fits_the_width_and_loses_nothing(pack: RulePack, width: int) -> None:
    """Every line fits the width, and every text and citation is there in full (wrapped, not cut)."""
    for result in _results(pack):
        text = render_text(result, width=width)
        assert max(len(line) for line in text.splitlines()) <= width
        # A word longer than a narrow line is split, so compare without any spacing.
        packed = "".join(text.split())
        for part in _texts(result):
            assert "".join(part.split()) in packed


def test_text_order_urgency_first_disclaimer_last(pack: RulePack) -> None:
    """The urgency comes first and the disclaimer last, for every result."""
    for result in _results(pack):
        lines = render_text(result, width=80).splitlines()
        assert result.urgency_advice.label.lower() in _flat(" ".join(lines[:3])).lower()
        assert _flat("\n".join(lines)).endswith(_flat(result.disclaimer))


@pytest.mark.parametrize("flags", [["stroke_signs"], ["sudden_onset"]])
def test_an_emergency_is_unmistakable_without_colour(flags: list[str]) -> None:
    """A red-flag result opens with a banner of "!" and its label in capitals, no colour needed."""
    result = triage.evaluate({"red_flags": flags})
    lines = render_text(result, width=80, color=False).splitlines()
    assert lines[0] == "!" * 80
    assert lines[1].startswith("!! ")
    assert lines[1][3:] == result.urgency_advice.label.upper()
    assert not ANSI.search("\n".join(lines))


def test_colour_only_when_asked() -> None:
    """Colour codes appear only with color=True, and the text is otherwise the same."""
    result = triage.evaluate({"red_flags": ["stroke_signs"]})
    coloured = render_text(result, color=True)
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured) == render_text(result, color=False)


def test_routine_has_no_alarm_banner() -> None:
    """A routine result is not dressed as an alarm."""
    result = triage.evaluate({"red_flags": [], "cause": "fshd", "severity": "mild"})
    text = render_text(result)
    assert "!!" not in text
    assert text.splitlines()[1] == result.urgency_advice.label


def test_short_why_explains_urgency_and_outlook_only() -> None:
    """The short why names the urgency and prognosis rules; the full one also each suggestion."""
    result = triage.evaluate(
        {"red_flags": [], "cause": "other", "severity": "mild", "worsening": "yes", "related_findings": []}
    )
    short = render_text(result, why="short")
    full = render_text(result)
    why_short = short[short.index("Why:") :]
    why_full = full[full.index("Why:") :]
    urgency, prognosis, *suggested = result.explanation
    for shown in (urgency, prognosis):
        assert f"[rule {shown.rule}]" in why_short
        assert _flat(shown.text) in _flat(why_short)
    assert suggested
    for item in suggested:
        assert f"[rule {item.rule}]" not in why_short
        assert _flat(f"{item.text} [rule {item.rule}]") in _flat(why_full)
    assert short.count("\n") < full.count("\n")


def test_markdown_and_json_carry_everything(pack: RulePack) -> None:
    """Markdown holds every text with the disclaimer last; JSON is the result model exactly."""
    for result in _results(pack):
        markdown = render_markdown(result)
        flat = _flat(markdown.replace("\\_", "_").replace("\\*", "*"))
        for part in _texts(result):
            assert _flat(part) in flat
        assert markdown.rstrip().splitlines()[-1] == f"> **Important:** {result.disclaimer}"
        assert Result.model_validate(json.loads(render_json(result))) == result


def test_every_level_below_emergency_shows_its_safety_net(pack: RulePack) -> None:
    """Below emergency, text, Markdown and JSON say when to get help sooner, right after the advice;
    an emergency result has no safety net (nothing is sooner)."""
    levels = set()
    for result in _results(pack):
        advice = result.urgency_advice
        levels.add(result.urgency)
        if result.urgency == "emergency":
            assert advice.safety_net is None
            assert "Get help sooner" not in render_text(result)
            continue
        assert advice.safety_net
        assert "emergency number at once" in advice.safety_net
        text = _flat(render_text(result, width=80))
        assert f"{_flat(advice.text)} Get help sooner: {_flat(advice.safety_net)}" in text
        markdown = render_markdown(result)
        assert f"{advice.text}\n\n**Get help sooner:** {advice.safety_net}\n" in markdown
        assert json.loads(render_json(result))["urgency_advice"]["safety_net"] == advice.safety_net
    assert levels == {"emergency", "urgent", "soon", "routine"}


def test_why_shows_words_and_keeps_the_rule_id_aside(pack: RulePack) -> None:
    """The why section shows each explanation in words, its rule id after it; no question id is shown."""
    result = triage.evaluate(
        {
            "red_flags": [],
            "cause": "peripheral_facial_paralysis",
            "severity": "mild",
            "months_since_paralysis": 0,
            "treated_early": "no",
            "eye_problems": ["cannot_close"],
        }
    )
    text = render_text(result, width=100)
    why = _flat(text[text.index("Why:") :])
    assert "the cause: after a facial paralysis such as Bell's palsy" in why
    assert "the eye on the weak side: the eye does not close fully" in why
    for question in pack.questions:
        if "_" in question:  # "cause", "severity" and "worsening" are words as well as ids
            assert question not in why
    for item in result.explanation:
        assert _flat(f"{item.text} [rule {item.rule}]") in why
    markdown = render_markdown(result)
    assert "- A recent paralysis of the face that was not treated early needs a doctor today." in markdown
    assert "*(rule U4)*" in markdown

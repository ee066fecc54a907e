"""What each page shows, from the rule pack and the flow: plain data for the templates.

Every text on a page comes from the pack (questions, options, urgency levels,
prognoses, suggestions, the disclaimer) or from the library (`answer_text`,
the result's explanation); the templates only lay it out. Jinja2 escapes every
value (autoescape), so a pack's text or a value from a request is never markup.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from triage.apps.web.state import carried_fields
from triage.core.flow import Flow, check_choices
from triage.core.models import ArticleCitation, Citation, Result
from triage.core.pack import NONE, Question, RulePack
from triage.core.vocabulary import AnswerValue

TEMPLATES = Path(__file__).parent / "templates"

CareVariant = Literal["emergency", "urgent", "non-urgent", "plain"]
HIDDEN_URGENCY: dict[CareVariant, str] = {
    "emergency": "Immediate action required",
    "urgent": "Urgent advice",
    "non-urgent": "Non-urgent advice",
    "plain": "Non-urgent advice",
}
"""What a screen reader hears before a care card's heading (the NHS care card's words)."""


def environment() -> Environment:
    """The templates, every value escaped and every missing name an error."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


@dataclass(frozen=True)
class Page:
    """A page to render: its template, what it shows, and its HTTP status."""

    template: str
    context: dict[str, object]
    status: int = 200


@dataclass(frozen=True)
class Back:
    """The back link: a plain link to the start page, or a form that posts the answers back."""

    to_start: bool
    action: str = ""
    question: str = ""


@dataclass(frozen=True)
class Choice:
    """One radio or checkbox: its value, words, and whether it is ticked."""

    id: str
    value: str
    label: str
    hint: str
    checked: bool
    exclusive: bool = False


@dataclass(frozen=True)
class Row:
    """One answer on Check your answers or the result page."""

    question: str
    prompt: str
    answer: str


@dataclass(frozen=True)
class Source:
    """A citation in words: from the article (paragraph and quote), or its external basis."""

    paragraph: int | None
    text: str


@dataclass
class Shown:
    """What a question page shows ticked or typed: the earlier answer, or what was just sent."""

    chosen: set[str] = field(default_factory=set)
    typed: str = ""


def site(pack: RulePack) -> dict[str, object]:
    """What every page shows: the service's name, the pack and the language."""
    return {
        "service": pack.document.title,
        "pack": pack.info,
        "lang": getattr(pack.document, "language", None) or "en",
        "error": None,
    }


def start_page(pack: RulePack) -> Page:
    """The start page: what the questionnaire is, what it is not, and "Start now"."""
    questions = pack.document.questions
    return Page(
        "start.html",
        {
            **site(pack),
            "title": pack.document.title,
            "disclaimer": pack.document.disclaimer,
            "question_count": len(questions),
            "first": questions[0],
        },
    )


def shown_answer(question: Question, value: AnswerValue | None) -> Shown:
    """An answer as its page shows it pre-filled."""
    if value is None:
        return Shown()
    if isinstance(value, frozenset):
        return Shown(chosen=set(value) or {NONE})
    if isinstance(value, int):
        return Shown(typed=str(value))
    return Shown(chosen={value})


def question_page(
    pack: RulePack, flow: Flow, question: Question, back: Back, *, shown: Shown, error: str | None = None
) -> Page:
    """One question: its prompt as the heading, its choices (or a number box), Continue and Back."""
    choices = [
        Choice(
            id=_input_id(index),
            value=option.id,
            label=option.label,
            hint=option.description,
            checked=option.id in shown.chosen,
        )
        for index, option in enumerate(question.options)
    ]
    if question.type == "multi":
        choices.append(
            Choice(
                id=_input_id(len(choices)),
                value=NONE,
                label=question.none_label or NONE,
                hint="",
                checked=NONE in shown.chosen,
                exclusive=True,
            )
        )
    return Page(
        "question.html",
        {
            **site(pack),
            "title": question.prompt,
            "error": error,
            "question": question,
            "choices": choices,
            "typed": shown.typed,
            "described": " ".join(
                name for name, shows in (("answer-hint", question.help), ("answer-error", error)) if shows
            ),
            "carried": carried_fields(flow),
            "back": back,
        },
        status=422 if error else 200,
    )


def _input_id(index: int) -> str:
    # The first input is "answer", so that the error summary can link to it.
    return "answer" if index == 0 else f"answer-{index + 1}"


def rows(flow: Flow) -> list[Row]:
    """Every current answer, in words."""
    return [Row(item.question.id, item.question.prompt, item.text) for item in flow.review_items()]


def check_page(pack: RulePack, flow: Flow, back: Back) -> Page:
    """Check your answers: each answer in words, with a Change button, then "See my result"."""
    return Page(
        "check.html",
        {
            **site(pack),
            "title": "Check your answers",
            "rows": rows(flow),
            "carried": carried_fields(flow),
            "back": back,
        },
    )


def care_variant(pack: RulePack, urgency: str) -> CareVariant:
    """The care card for a level: the pack's most urgent alarm level is the emergency card."""
    level = pack.levels[urgency]
    if level.display == "alarm":
        first_alarm = next(lv for lv in pack.levels.values() if lv.display == "alarm")
        return "emergency" if first_alarm.id == urgency else "urgent"
    return "non-urgent" if level.display == "notice" else "plain"


def sources(citations: Sequence[Citation]) -> list[Source]:
    """Citations in words."""
    return [
        Source(c.paragraph, c.quote) if isinstance(c, ArticleCitation) else Source(None, c.external)
        for c in citations
    ]


def result_page(pack: RulePack, flow: Flow, result: Result, back: Back) -> Page:
    """The result: the care card first, then what to expect, what to do, why, and the disclaimer."""
    variant = care_variant(pack, result.urgency)
    return Page(
        "result.html",
        {
            **site(pack),
            "title": "Your result",
            "result": result,
            "variant": variant,
            "hidden_urgency": HIDDEN_URGENCY[variant],
            "safety_net": result.urgency_advice.safety_net,
            "urgency_sources": sources(result.urgency_advice.citations),
            "prognosis_sources": sources(result.prognosis.citations),
            "suggestions": [(s, sources(s.citations)) for s in result.suggestions],
            "article": pack.document.source.title,
            "rows": rows(flow),
            "carried": carried_fields(flow),
            "back": back,
        },
    )


def error_page(pack: RulePack, status: int, title: str, message: str, *, restart: bool = True) -> Page:
    """A page for a request that cannot be served: what happened, and a way on."""
    return Page(
        "error.html", {**site(pack), "title": title, "message": message, "restart": restart}, status=status
    )


def choices_error(question: Question, chosen: Collection[str]) -> str | None:
    """Why the ticked or chosen values cannot be taken, in words; None when they can."""
    if question.type == "single":
        if len(chosen) != 1 or next(iter(chosen)) not in question.option_ids():
            return "Choose one of the answers."
        return None
    unknown = set(chosen) - {*question.option_ids(), NONE}
    if unknown:
        return "Choose from the answers shown."
    return check_choices(question, chosen)

"""A rule pack in words, for the people who review it: conditions, tables, flow.

Every sentence is generated from the pack's condition trees and its own labels
(the closed vocabulary of `triage.core.vocabulary` maps to fixed phrases), so what a
clinician reviews is exactly what the engine runs. Nothing here is clinical.

* `to_words(condition, pack)` — one condition as a phrase.
* `show(pack, markdown=False)` — the whole pack: questions with when they are
  asked, terms, parameters, the urgency, prognosis and suggestion tables with
  their outcomes, safety nets and citations, and the disclaimer.
* `mermaid(pack)` — the questionnaire flow and the decisions as a Mermaid flowchart.

`--rules` loads any pack, so every id and text of a pack is escaped
(`triage.present.escape`) where it is put into a phrase, a line or a label: by the
`Style` in words and `show`, by `escape.mermaid_label` in `mermaid`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from triage.core.models import ArticleCitation, Citation
from triage.core.pack import Question, RulePack
from triage.core.vocabulary import (
    All,
    Always,
    AtLeast,
    Below,
    Condition,
    Empty,
    In,
    Includes,
    Not,
    Number,
    ParamRef,
    Term,
    Test,
)
from triage.core.vocabulary import Any as AnyOf
from triage.present import escape


@dataclass(frozen=True)
class Style:
    """How a pack's names and texts are marked and escaped: terminal text or Markdown.

    `escaped=False` leaves plain text as it is, for a caller that escapes the
    whole phrase itself (a Mermaid label, a line printed by the command line).
    """

    markdown: bool
    escaped: bool = True

    def text(self, text: str) -> str:
        """Any text of the pack, safe where the style's output goes."""
        if self.markdown:
            return escape.markdown(text)
        return escape.text(text) if self.escaped else text

    def name(self, text: str) -> str:
        """A term's or parameter's name."""
        return f"*{self.text(text)}*" if self.markdown else self.text(text)

    def question(self, text: str) -> str:
        """A question's or an option's id."""
        return escape.markdown_code(text) if self.markdown else self.text(text)

    def label(self, text: str) -> str:
        """An option's label, as a person sees it in the questionnaire."""
        return f'"{self.text(text)}"'


PLAIN = Style(markdown=False)
"""Text for a terminal."""
RAW = Style(markdown=False, escaped=False)
"""Text for a caller that escapes it whole."""
MARKDOWN = Style(markdown=True)


def to_words(condition: Condition, pack: RulePack, style: Style = PLAIN) -> str:
    """Say a condition in words, using the pack's option labels and term names.

    `all` is joined with "and", `any` with "or"; a nested group is bracketed so
    that the reading is never ambiguous.
    """
    return _words(condition, pack, style, top=True)


def _words(condition: Condition, pack: RulePack, style: Style, top: bool = False) -> str:
    if isinstance(condition, Always):
        return "always (any answers)"
    if isinstance(condition, Term):
        return style.name(condition.term)
    if isinstance(condition, Not):
        inner = condition.not_
        if isinstance(inner, Test):
            return _test_words(inner, pack, style, negated=True)
        return f"not {_words(inner, pack, style)}"
    if isinstance(condition, (All, AnyOf)):
        joiner = " and " if isinstance(condition, All) else " or "
        text = joiner.join(_words(c, pack, style) for c in condition.children())
        return text if top or len(condition.children()) == 1 else f"({text})"
    if isinstance(condition, Test):
        return _test_words(condition, pack, style, negated=False)
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover - the vocabulary is closed


def _test_words(test: Test, pack: RulePack, style: Style, *, negated: bool) -> str:
    question = pack.questions.get(test.question)
    who = style.question(test.question)
    if isinstance(test, In):
        labels = " or ".join(style.label(_option_label(question, o)) for o in test.in_)
        return f"{who} is {'not ' if negated else ''}{labels}"
    if isinstance(test, Includes):
        verb = "does not include" if negated else "includes"
        return f"{who} {verb} {style.label(_option_label(question, test.includes))}"
    if isinstance(test, Empty):
        none = style.label(question.none_label) if question and question.none_label else "none"
        if test.empty != negated:
            return f"{who} is {none}"
        return f"{who} has at least one answer"
    if isinstance(test, (AtLeast, Below)):
        unit = f" {style.text(question.unit)}" if question and question.unit else ""
        at_least = isinstance(test, AtLeast) != negated
        bound = test.at_least if isinstance(test, AtLeast) else test.below
        amount = _number(bound, pack, unit, style)
        return f"{who} is {amount} or more" if at_least else f"{who} is less than {amount}"
    raise TypeError(f"unknown test {test!r}")  # pragma: no cover - the vocabulary is closed


def _number(value: Number, pack: RulePack, unit: str, style: Style) -> str:
    if isinstance(value, ParamRef):
        return f"{pack.param(value.param)}{unit} ({style.name(value.param)})"
    return f"{value}{unit}"


def _option_label(question: Question | None, option: str) -> str:
    if question is not None:
        for o in question.options:
            if o.id == option:
                return o.label
    return option


def citations_in_words(citations: Sequence[Citation]) -> str:
    """Citations as a reader sees them: ¶3 "quote"; or the external basis."""
    parts = []
    for c in citations:
        if isinstance(c, ArticleCitation):
            parts.append(f'¶{c.paragraph} "{c.quote}"')
        else:
            parts.append(f"external: {c.external}")
    return "; ".join(parts)


def asked_when_words(question: Question, pack: RulePack, style: Style = PLAIN) -> str:
    """When a question is asked, in words."""
    condition = question.asked_when
    if condition is None:
        return "always"
    words = f"when {to_words(condition, pack, style)}"
    if isinstance(condition, Term) and condition.term in pack.document.terms:
        words += f": {to_words(pack.term(condition.term), pack, style)}"
    return words


# -- the whole pack ---------------------------------------------------------------------------------


def show(pack: RulePack, *, markdown: bool = False) -> str:
    """The whole decision logic of a pack, for review without reading YAML."""
    style = MARKDOWN if markdown else PLAIN
    lines = list(_show(pack, style))
    return "\n".join(lines).rstrip() + "\n"


def _show(pack: RulePack, style: Style) -> Iterator[str]:
    doc = pack.document
    md = style.markdown
    t = style.text  # every text of the pack goes through it (or another method of the style)

    def heading(level: int, text: str) -> Iterator[str]:
        if md:
            yield f"{'#' * level} {text}"
        else:
            yield text
            yield ("=" if level == 1 else "-") * len(text)
        yield ""

    def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> Iterator[str]:
        if md:
            yield "| " + " | ".join(header) + " |"
            yield "|" + "---|" * len(header)
            for row in rows:
                yield "| " + " | ".join(row) + " |"
        else:
            for row in rows:
                yield f"{row[0]}"
                for name, cell in zip(header[1:], row[1:], strict=True):
                    yield f"    {name}: {cell}"
                yield ""
        if md:
            yield ""

    yield from heading(1, f"{t(doc.title)} (rule pack {t(doc.name)} {t(doc.version)})")
    yield f"sha256 {pack.info.sha256}"
    yield ""
    yield f'Source: "{t(doc.source.title)}" ({t(doc.source.file)}); ¶ numbers refer to its paragraphs.'
    yield ""
    yield f"Disclaimer, shown with every result: {t(doc.disclaimer)}"
    yield ""

    yield from heading(2, "Questions")
    yield "Asked in this order; a question is asked only when its condition holds."
    yield ""
    for number, q in enumerate(doc.questions, 1):
        yield f"{number}. {style.question(q.id)} ({q.type}): {t(q.prompt)}"
        if md:
            yield ""
        yield f"   - asked: {asked_when_words(q, pack, style)}"
        if q.name:
            yield f"   - named in explanations: {style.label(q.name)}"
        if q.help:
            yield f"   - help: {t(q.help)}"
        if q.type == "number":
            yield f"   - a whole number from {q.min} to {q.max}{' ' + t(q.unit) if q.unit else ''}"
        for o in q.options:
            yield f"   - {style.question(o.id)}: {style.label(o.label)} — {t(o.description)}"
        if q.none_label:
            yield f"   - several may be chosen, or {style.label(q.none_label)}"
        yield ""

    if doc.parameters:
        yield from heading(2, "Parameters")
        yield from table(
            ["parameter", "value", "basis"],
            [[style.name(k), str(p.value), t(p.basis)] for k, p in doc.parameters.items()],
        )
    if doc.terms:
        yield from heading(2, "Terms")
        yield "Named conditions used by the questions and the rules."
        yield ""
        yield from table(
            ["term", "means"],
            [[style.name(k), to_words(term, pack, style)] for k, term in doc.terms.items()],
        )

    yield from heading(2, "Urgency — the first rule that matches wins")
    yield from table(
        ["rule", "when", "urgency", "why"],
        [[t(r.id), to_words(r.when, pack, style), t(r.then), t(r.reason)] for r in doc.urgency.rules],
    )
    yield from heading(3, "Urgency levels")
    yield from table(
        ["level", "label", "text", "safety net", "sources"],
        [
            [t(o.id), t(o.label), t(o.text), t(o.safety_net or "—"), t(citations_in_words(o.citations))]
            for o in doc.urgency.levels
        ],
    )

    yield from heading(2, "Prognosis — exactly one rule matches every answer set")
    yield from table(
        ["rule", "when", "category", "why"],
        [[t(r.id), to_words(r.when, pack, style), t(r.then), t(r.reason)] for r in doc.prognosis.rules],
    )
    yield from heading(3, "Prognosis categories")
    yield from table(
        ["category", "text", "sources"],
        [[t(o.id), t(o.text), t(citations_in_words(o.citations))] for o in doc.prognosis.categories],
    )

    yield from heading(2, "Suggestions — every one that matches, in this order")
    yield from table(
        ["suggestion", "when", "text", "sources"],
        [
            [t(s.id), to_words(s.when, pack, style), t(s.text), t(citations_in_words(s.citations))]
            for s in doc.suggestions
        ],
    )

    if doc.examples:
        yield from heading(2, "Examples — answers and the results they must give")
        rows = []
        for e in doc.examples:
            answers = "; ".join(f"{k}: {_answer(v)}" for k, v in e.answers.items())
            expect = e.expect
            row = [e.name, answers, expect.urgency, expect.prognosis, ", ".join(expect.suggestions)]
            rows.append([t(cell) for cell in row])
        yield from table(["example", "answers", "urgency", "prognosis", "suggestions"], rows)


def _answer(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "none"
    return str(value)


# -- Mermaid ----------------------------------------------------------------------------------------


def mermaid(pack: RulePack) -> str:
    """The questionnaire flow and the three decision tables as a Mermaid flowchart.

    Every label is escaped whole (`_label`), so its phrases are built unescaped (`RAW`).
    """
    doc = pack.document
    out = ["flowchart TD", '  start(["Start"])']
    previous = "start"
    pending_skip: list[str] = []  # "no" branches that jump to the next question
    for q in doc.questions:
        node = _id("q", q.id)
        out.append(f'  {node}[/"{_label(q.id + ": " + q.prompt)}"/]')
        if q.asked_when is None:
            entry = node
        else:
            entry = _id("ask", q.id)
            out.append(f'  {entry}{{"{_label(to_words(q.asked_when, pack, RAW))}?"}}')
            out.append(f"  {entry} -- yes --> {node}")
        out.append(f"  {previous} --> {entry}")
        for skip in pending_skip:
            out.append(f"  {skip} -- no --> {entry}")
        pending_skip = [entry] if q.asked_when is not None else []
        previous = node
    out.append('  decide[["Evaluate the rules"]]')
    out.append(f"  {previous} --> decide")
    for skip in pending_skip:
        out.append(f"  {skip} -- no --> decide")

    out.append('  subgraph urgency["Urgency: first match wins"]')
    rules = doc.urgency.rules
    for i, rule in enumerate(rules):
        node = _id("u", rule.id)
        out.append(f'    {node}{{"{_label(rule.id + ": " + to_words(rule.when, pack, RAW))}"}}')
        out.append(f'    {node} -- yes --> {_id("level", rule.then)}(["{_label(rule.then)}"])')
        if i + 1 < len(rules):
            out.append(f"    {node} -- no --> {_id('u', rules[i + 1].id)}")
    out.append("  end")
    out.append(f"  decide --> {_id('u', rules[0].id)}")

    out.append('  subgraph prognosis["Prognosis: the one matching rule"]')
    for rule in doc.prognosis.rules:
        node = _id("p", rule.id)
        out.append(f'    {node}["{_label(rule.id + ": " + to_words(rule.when, pack, RAW))}"]')
        out.append(f'    {node} --> {_id("category", rule.then)}(["{_label(rule.then)}"])')
    out.append("  end")
    for rule in doc.prognosis.rules:
        out.append(f"  decide --> {_id('p', rule.id)}")

    out.append('  subgraph suggestions["Suggestions: every match, in order"]')
    for s in doc.suggestions:
        node = _id("s", s.id)
        out.append(f'    {node}["{_label(to_words(s.when, pack, RAW))}"]')
        out.append(f'    {node} --> {_id("suggestion", s.id)}(["{_label(s.id)}"])')
    out.append("  end")
    for s in doc.suggestions:
        out.append(f"  decide --> {_id('s', s.id)}")
    return "\n".join(out) + "\n"


def _id(prefix: str, name: str) -> str:
    return prefix + "_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _label(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return escape.mermaid_label(text)

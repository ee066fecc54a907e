"""A rule pack in words, for the people who review it, and for those who write answers to it.

* `show(pack, markdown=False)` — the whole pack: questions with when they are
  asked, terms, parameters, the urgency, prognosis and suggestion tables with
  their outcomes, safety nets and citations, and the disclaimer (`rules show`).
* `questions(pack, style, review=...)` — the questions with the answers each
  takes: for review in `show`, or for writing answer files (`triage questions`).
* `mermaid(pack)` — the questionnaire flow and the decisions as a Mermaid
  flowchart (`rules graph`).

Every phrase comes from `triage.present.words`. `--rules` loads any pack, so
every id and text of a pack is escaped (`triage.present.escape`) where it is put
into a line or a label: by the `Style` in `show` and `questions`, by
`escape.mermaid_label` in `mermaid`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from triage.core.pack import Rule, RulePack, whole_numbers
from triage.present import escape
from triage.present.words import MARKDOWN, PLAIN, RAW, Style, asked_when_words, citations_in_words, to_words

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
    yield from questions(pack, style, review=True)

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

    def rules(gives: str, rules: Sequence[Rule]) -> Iterator[str]:
        rows = [[t(r.id), to_words(r.when, pack, style), t(r.then), t(r.reason)] for r in rules]
        yield from table(["rule", "when", gives, "why"], rows)

    yield from heading(2, "Urgency — the first rule that matches wins")
    yield from rules("urgency", doc.urgency.rules)
    yield from heading(3, "Urgency levels")
    yield from table(
        ["level", "label", "text", "safety net", "sources"],
        [
            [t(o.id), t(o.label), t(o.text), t(o.safety_net or "—"), t(citations_in_words(o.citations))]
            for o in doc.urgency.levels
        ],
    )

    yield from heading(2, "Prognosis — exactly one rule matches every answer set")
    yield from rules("category", doc.prognosis.rules)
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


def questions(pack: RulePack, style: Style = PLAIN, *, review: bool = False) -> Iterator[str]:
    """Every question, in order, with when it is asked and the answers it takes, a line at a time.

    For review (`rules show`): numbered, with the name and help a question has, and
    each option's label and description. Otherwise (`triage questions`): as someone
    writing an answer file needs it, the option ids to write and how to write "none".
    """
    for number, q in enumerate(pack.document.questions, 1):
        if review:
            yield f"{number}. {style.question(q.id)} ({q.type}): {style.text(q.prompt)}"
            if style.markdown:
                yield ""
            fact = choice = "   - "
        else:
            yield f"{style.question(q.id)}  ({q.type})"
            yield f"  {style.text(q.prompt)}"
            fact, choice = "  ", "  - "
        yield f"{fact}asked: {asked_when_words(q, pack, style)}"
        if review and q.name:
            yield f"{fact}named in explanations: {style.label(q.name)}"
        if review and q.help:
            yield f"{fact}help: {style.text(q.help)}"
        if q.type == "number":
            yield f"{fact}{whole_numbers(*q.bounds)}{' ' + style.text(q.unit) if q.unit else ''}"
        for o in q.options:
            said = f"{style.label(o.label)} — {style.text(o.description)}" if review else style.text(o.label)
            yield f"{choice}{style.question(o.id)}: {said}"
        if q.none_label and review:
            yield f"{choice}several may be chosen, or {style.label(q.none_label)}"
        elif q.none_label:
            yield f'{choice}none: write "none" (or []) when none applies; separate several with ";"'
        yield ""


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

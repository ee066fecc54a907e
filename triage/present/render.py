"""Results as text for a terminal, Markdown, or JSON. Pure: strings in, strings out.

The order is fixed by what matters most: the urgency first, impossible to miss
even without colour, with when to get help sooner; then the prognosis, the
suggestions with their sources, why (in the person's words, each rule's id
after it for whoever checks the rules); and the disclaimer last, always.

Every text of a result comes from answers or a rule pack, and any pack can be
loaded: each one is escaped (`triage.present.escape`) where it is put into the layout,
so that no text can hide the banner, forge a line or a heading, or make HTML.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Literal

from triage.core.models import ArticleCitation, Citation, Result
from triage.present import escape

_BOLD, _RED, _YELLOW, _RESET = "\033[1m", "\033[31m", "\033[33m", "\033[0m"
_COLOURS = {"alarm": _BOLD + _RED, "notice": _BOLD + _YELLOW}
_BANNER_MARKS = {"alarm": "!"}
SAFETY_NET = "Get help sooner"
"""The heading of an urgency's safety net: when to get help sooner than it advises."""


def citation_text(citation: Citation) -> str:
    """One citation in words: `paragraph 3: "…quote…"` or the external basis."""
    if isinstance(citation, ArticleCitation):
        return f'paragraph {citation.paragraph}: "{citation.quote}"'
    return f"external: {citation.external}"


def render_json(result: Result) -> str:
    """The result as indented JSON (the shape of SPEC §6)."""
    return result.model_dump_json(indent=2)


def render_text(
    result: Result, *, width: int = 80, color: bool = False, why: Literal["full", "short"] = "full"
) -> str:
    """The result for a terminal, wrapped to `width` columns (never cut off).

    `color` adds ANSI colours to the urgency banner, which is unmistakable
    without them too. `why="short"` explains only the urgency and the outlook;
    `"full"` also says why each suggestion was given.
    """
    width = max(width, 20)
    out: list[str] = []

    def para(text: str, indent: str = "", first: str | None = None) -> None:
        out.extend(
            textwrap.wrap(
                escape.text(text),
                width=width,
                initial_indent=indent if first is None else first,
                subsequent_indent=indent,
                break_long_words=True,
                break_on_hyphens=False,
            )
            or [indent]
        )

    display = result.urgency_advice.display  # how loud the pack says this level is
    mark = _BANNER_MARKS.get(display)
    label = escape.text(result.urgency_advice.label.upper() if mark else result.urgency_advice.label)
    rule = (mark or "=") * width
    start, end = (_COLOURS[display], _RESET) if color and display in _COLOURS else ("", "")
    out.append(start + rule)
    heading_lines = textwrap.wrap(label, width=width - 4) if mark else textwrap.wrap(label, width=width)
    for line in heading_lines:
        out.append(f"{mark}{mark} {line}" if mark else line)
    out.append(rule + end)
    para(result.urgency_advice.text)
    if result.urgency_advice.safety_net:
        para(f"{SAFETY_NET}: {result.urgency_advice.safety_net}")
    _sources(para, result.urgency_advice.citations)

    out.append("")
    para(f"Outlook: {result.prognosis.label}")
    para(result.prognosis.text, "  ")
    _sources(para, result.prognosis.citations, "  ")

    out.append("")
    para("What you can do:")
    for number, suggestion in enumerate(result.suggestions, 1):
        para(suggestion.text, "      ", f"  {number:>2}. ")
        _sources(para, suggestion.citations, "      ")

    if result.warnings:
        out.append("")
        para("Notes on your answers:")
        for warning in result.warnings:
            para(f"{warning.field}: {warning.message}", "    ", "  - ")

    out.append("")
    para("Why:")
    suggested = {s.id for s in result.suggestions}
    for item in result.explanation:
        if why == "short" and item.rule in suggested:
            continue
        para(f"{item.text} [rule {item.rule}]", "    ", "  - ")

    out.append("")
    para(f"IMPORTANT: {result.disclaimer}")
    return "\n".join(out) + "\n"


def _sources(
    para: Callable[[str, str, str], None], citations: tuple[Citation, ...], indent: str = ""
) -> None:
    for citation in citations:
        para(f"Source: {citation_text(citation)}", indent + "  ", indent)


def render_markdown(result: Result) -> str:
    """The result as Markdown, for a report or a web page; every text in it is shown literally."""
    md = escape.markdown
    urgency, prognosis = result.urgency_advice, result.prognosis
    lines = [f"## {md(urgency.label)}", "", md(urgency.text), ""]
    if urgency.safety_net:
        lines += [f"**{SAFETY_NET}:** {md(urgency.safety_net)}", ""]
    lines += [f"- Source: {md(citation_text(c))}" for c in urgency.citations]
    lines += ["", f"### Outlook: {md(prognosis.label)}", "", md(prognosis.text), ""]
    lines += [f"- Source: {md(citation_text(c))}" for c in prognosis.citations]
    lines += ["", "### What you can do", ""]
    for number, suggestion in enumerate(result.suggestions, 1):
        lines.append(f"{number}. {md(suggestion.text)}")
        lines += [f"   - Source: {md(citation_text(c))}" for c in suggestion.citations]
    if result.warnings:
        lines += ["", "### Notes on your answers", ""]
        lines += [f"- {escape.markdown_code(w.field)}: {md(w.message)}" for w in result.warnings]
    lines += ["", "### Why", ""]
    lines += [f"- {md(e.text)} *(rule {md(e.rule)})*" for e in result.explanation]
    lines += ["", f"> **Important:** {md(result.disclaimer)}", ""]
    return "\n".join(lines)

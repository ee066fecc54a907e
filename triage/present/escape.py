"""Untrusted text made safe to show: on a terminal, in Markdown, in a CSV cell, in a Mermaid label.

Anything the product prints may carry hostile data: record ids, unknown keys,
FHIR linkIds, file names, and every text of a rule pack (`--rules` loads any
pack). One function per target, each applied where such text meets our own
layout, so that the layout (our newlines, headings, banners, table bars) is
always ours:

* `text` — a terminal or plain text. A character that a terminal obeys or does
  not show (C0 and C1 controls, DEL; bidi overrides, isolates and marks, and
  every other format character, Unicode category Cf; line and paragraph
  separators; lone surrogates, unassigned and private-use code points) is
  written as a visible escape, as Python writes it: `\\x1b`, `\\n`, `\\u202e`.
  A backslash that would read as the start of such an escape is doubled, so
  the escaped form tells every input apart (the tests decode it back).
* `markdown` — inline Markdown (CommonMark, with GitHub's tables): the text
  escaped as above, then every character that could start markup or HTML
  backslash-escaped, so a renderer shows it literally and makes no HTML of it.
* `markdown_code` — the same text as an inline code span.
* `csv_cell` — a CSV cell: the text escaped as above (a cell is one line), and
  a cell that a spreadsheet would run as a formula prefixed with `'`.
* `mermaid_label` — text inside a quoted Mermaid label.
* `line` — one of our own lines with untrusted fields put into it, each escaped.

JSON and JSON Lines output are data, not text for a person: they are written
as they are. JSON escapes every control character itself; a program that shows
a JSON value to a person escapes it for its own display.

Each function returns its input unchanged, after one quick check, when there
is nothing to escape (the common case, on every record of a batch). Markdown
and CSV cells also remember the texts they have seen lately: a batch puts the
same texts (a result's, the disclaimer) into every record's entry.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

_SUSPECT = re.compile(r"[\x00-\x1f\x7f\\]|[^\x00-\x7f]+")
"""What `text` looks at: backslashes, ASCII controls, and runs of non-ASCII characters."""
_ESCAPE_LETTERS = frozenset("\\xuUnrt")
"""What follows the backslash of an escape `text` writes."""
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _hidden(char: str) -> bool:
    """Whether a terminal would obey or hide this character: whatever Python would not print, but spaces."""
    return not char.isprintable() and unicodedata.category(char) != "Zs"


def _code(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    point = ord(char)
    if point < 0x100:
        return f"\\x{point:02x}"
    if point < 0x10000:
        return f"\\u{point:04x}"
    return f"\\U{point:08x}"


def _escaped(match: re.Match[str]) -> str:
    found = match.group()
    if found == "\\":
        following = match.string[match.end() : match.end() + 1]
        if following and (following in _ESCAPE_LETTERS or _hidden(following)):
            return "\\\\"
        return "\\"
    if len(found) > 1 and found.isprintable():
        return found  # a run of letters, accents, punctuation…: the usual case beyond ASCII
    return "".join(_code(char) if _hidden(char) else char for char in found)


def text(value: str) -> str:
    """`value` for a terminal or plain text: no character that a terminal obeys or does not show.

    Such characters become visible escapes (`\\x1b`, `\\n`, `\\u202e`); the result
    is one line, and distinct values stay distinct.
    """
    if value.isprintable() and "\\" not in value:
        return value
    return _SUSPECT.sub(_escaped, value)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def unicode_text(value: str) -> str:
    """`value` as valid Unicode text, for JSON: each lone surrogate written as `text` writes it.

    A file name that is not UTF-8 reaches Python with its bad bytes as lone
    surrogates (byte 0xff as U+DCFF), which no UTF-8 output can hold. JSON gets
    the six characters `\\udcff` in its place: the same characters text,
    Markdown and CSV show for it, so a name reads alike in every format.
    Everything else is kept as it is.
    """
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub(lambda match: _code(match.group()), value)
    return value


def unicode_data(data: object) -> object:
    """JSON data with every text in it made valid Unicode (`unicode_text`), keys too."""
    if isinstance(data, str):
        return unicode_text(data)
    if isinstance(data, dict):
        return {unicode_data(key): unicode_data(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [unicode_data(item) for item in data]
    return data


def line(template: str, *fields: object) -> str:
    """Our own `template` with each `{}` filled by a field shown as `text` (fields are untrusted)."""
    return template.format(*(text(str(field)) for field in fields))


# -- Markdown -------------------------------------------------------------------------------------

_MARKUP = re.compile(r"[\\`*\[\]<>&|~$#]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
"""Characters that can start markup anywhere in a line. An underscore between two letters or digits
never starts emphasis in CommonMark, so `prompt_treatment` stays as it is."""
_LINE_START = re.compile(r"[\s+=>-]|\d{1,9}[.)]")
"""What could start a block (a list, quote, heading underline, code block) at the start of a line."""
_MAYBE_MARKUP = re.compile(r"[\\`*\[\]<>&|~$#_]")
"""A quick look for what `_MARKUP` escapes (any underscore)."""


def _remembered(function: Callable[[str], str]) -> Callable[[str], str]:
    """`function`, remembering its results for recent texts up to `REMEMBERED_CHARS` long: a batch puts
    the same texts into every entry, but a long text of the data is never held."""
    cached = functools.lru_cache(maxsize=4096)(function)

    @functools.wraps(function)
    def remembered(value: str) -> str:
        return cached(value) if len(value) <= REMEMBERED_CHARS else function(value)

    return remembered


REMEMBERED_CHARS = 4096
"""The longest text whose escaped form is remembered (4,096 of them at most)."""


@_remembered
def markdown(value: str) -> str:
    """`value` as inline Markdown that a renderer shows literally: no markup, no HTML.

    The text is escaped as by `text` (so it is one line). Then a backslash, a
    backtick, `* [ ] < > & | ~ $ #` and an underscore that could start emphasis
    are backslash-escaped, and so is anything that would start a block at the
    start of a line (`-`, `+`, `=`, `>`, `1.`), wherever the text is placed. A
    leading or trailing space becomes a character reference (`&#32;`): kept as
    it is, and never keeping emphasis around the text from opening or closing.
    """
    shown = text(value)
    if not _MAYBE_MARKUP.search(shown) and not _LINE_START.match(shown) and not shown[-1:].isspace():
        return shown
    shown = _MARKUP.sub(r"\\\g<0>", shown)
    start = _LINE_START.match(shown)
    if start is not None:
        found = start.group()
        escaped = f"&#{ord(found)};" if found.isspace() else found[:-1] + "\\" + found[-1]
        shown = escaped + shown[start.end() :]
    if shown[-1:].isspace():  # kept, and so that `**text**` closes after it
        shown = f"{shown[:-1]}&#{ord(shown[-1])};"
    return shown


def markdown_code(value: str) -> str:
    """`value` as a Markdown code span, shown literally (escaped as by `text`).

    A value a code span cannot hold exactly, one with a `|` (which would split a
    table cell) or an empty one, is given as `markdown` text instead.
    """
    shown = text(value)
    if not shown or "|" in shown:
        return markdown(value)
    longest = max((len(run) for run in re.findall("`+", shown)), default=0)
    fence = "`" * (longest + 1)
    padded = shown.startswith("`") or shown.endswith("`")
    padded = padded or (shown.startswith(" ") and shown.endswith(" ") and bool(shown.strip(" ")))
    pad = " " if padded else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


# -- CSV ------------------------------------------------------------------------------------------

_FORMULA = frozenset("=+-@\t\r'\uff1d\uff0b\uff0d\uff20")
"""First characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection"), their
full-width forms, and the quote itself, so that one leading quote always means one was added."""


@_remembered
def csv_cell(value: str) -> str:
    """`value` as a CSV cell that no spreadsheet runs as a formula.

    The text is escaped as by `text`; a value starting with `=`, `+`, `-`, `@`
    (or their full-width forms), a tab or a carriage return, any of these also
    after leading white space, or a quote `'`, is prefixed with `'`. A reader
    who wants the value strips one leading `'`.
    """
    cell = text(value)
    first = value[:1]  # a tab or CR that starts a value is escaped in the cell, but still marked
    if first in _FORMULA or (first.isspace() and value.lstrip()[:1] in _FORMULA):
        return "'" + cell
    return cell


# -- Mermaid --------------------------------------------------------------------------------------

_MERMAID = {"#": "#35;", "&": "#amp;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "`": "#96;"}
_MERMAID_SPECIAL = re.compile('[#&"<>`]')


def mermaid_label(value: str) -> str:
    """`value` inside a quoted Mermaid label: escaped as by `text`, then Mermaid's entity codes for
    the characters that would end the label, start markup or HTML, or read as an entity code."""
    return _MERMAID_SPECIAL.sub(lambda match: _MERMAID[match.group()], text(value))

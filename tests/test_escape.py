"""Escaping untrusted text for a terminal, Markdown, CSV and Mermaid (`triage.present.escape`).

Each target is checked the way its reader sees it: terminal text has no
character a terminal obeys or hides, and decodes back to the very input (so
distinct inputs stay distinct); Markdown is rendered by a CommonMark renderer
and must show the text literally, with no HTML of its making; a CSV cell is
read back by the `csv` module and never starts a formula.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from html.parser import HTMLParser

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from triage.present import escape

PROPERTY = settings(derandomize=True, max_examples=400, deadline=None)

HOSTILE_CHARS = [
    "\x1b", "\x1b[2K", "\x1b]0;x\x07", "\x9b", "\x85", "\x7f", "\x00", "\n", "\r", "\t", "\x0b", "\x0c",
    "\u202e", "\u202d", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c", "\u200b", "\u200d", "\ufeff",
    "\u00ad", "\u2028", "\u2029", "\U000e0041", "\udcff", "\ue000", "\U000effff",
    "\\", "\\x1b", "\\n", "\\u202e", "x", "u", "U", "n", "\u00a0", "é", "¶",
    "<", ">", "&", "&amp;", "`", "*", "_", "[", "]", "(", ")", "!", "#", "|", "~", "$", "-", "+", "=",
    ">", "1.", "2)", " ", "    ", "<img src=x onerror=alert(1)>", "<script>", "http://x.org", "@", "'",
    '"', ";", "\uff1d", "a", "Z", "0",
]  # fmt: skip
hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE_CHARS), st.characters(codec=None)), max_size=12
).map("".join)

HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
"""Controls, format characters (bidi among them), surrogates, private use, unassigned, line breaks."""


def hidden(shown: str) -> list[str]:
    return [c for c in shown if unicodedata.category(c) in HIDDEN_CATEGORIES]


_ESCAPE = re.compile(r"\\(?:\\|n|r|t|x([0-9a-f]{2})|u([0-9a-f]{4})|U([0-9a-f]{8}))|\\")


def decode(shown: str) -> str:
    """The inverse of `escape.text`: Python's escapes read back, and a lone backslash kept as it is."""

    def one(match: re.Match[str]) -> str:
        found = match.group()
        if found in ("\\", "\\\\"):
            return "\\"
        if found[1] in "nrt":
            return {"n": "\n", "r": "\r", "t": "\t"}[found[1]]
        return chr(int(next(g for g in match.groups() if g is not None), 16))

    return _ESCAPE.sub(one, shown)


# --- text ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("resp-17", "resp-17"),
        ("Müller ¶3 “quoted” — 名前 😀", "Müller ¶3 “quoted” — 名前 😀"),
        ("a\u00a0b", "a\u00a0b"),
        ("\x1b[2K\x1b[1A", "\\x1b[2K\\x1b[1A"),
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("\x9b2J", "\\x9b2J"),
        ("x\n# EMERGENCY", "x\\n# EMERGENCY"),
        ("a\rb\tc", "a\\rb\\tc"),
        ("\u202eevil\u202c", "\\u202eevil\\u202c"),
        ("\u2066\u2069\u200e\u200f\u061c", "\\u2066\\u2069\\u200e\\u200f\\u061c"),
        ("\x85\u2028\u2029", "\\x85\\u2028\\u2029"),
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("bad\udcffname", "bad\\udcffname"),
        ("C:\\data\\file.json", "C:\\data\\file.json"),
        ("\\x1b", "\\\\x1b"),
        ("\\\x1b", "\\\\\\x1b"),
        ("end\\", "end\\"),
    ],
)
def test_text_examples(raw: str, shown: str) -> None:
    """Controls, bidi and format characters become Python's visible escapes; printable text is kept."""
    assert escape.text(raw) == shown
    assert decode(shown) == raw


@PROPERTY
@given(hostile_text)
@example("\\\x1b")
@example("\\\\x")
def test_text_hides_nothing_and_tells_every_input_apart(raw: str) -> None:
    """For any string: no hidden character and no line break in the escaped form, which decodes back."""
    shown = escape.text(raw)
    assert not hidden(shown)
    assert len(shown.splitlines()) <= 1
    assert decode(shown) == raw  # so distinct inputs never look alike


@PROPERTY
@given(hostile_text)
@example("bad\udcffname")
@example("\ud800\\udcff\U0001f600")
def test_unicode_text_is_valid_and_shows_a_lone_surrogate_as_text_does(raw: str) -> None:
    """For JSON: any string becomes valid Unicode, each lone surrogate written as `text` shows it, the
    rest kept as it is (valid text is returned unchanged)."""
    made = escape.unicode_text(raw)
    made.encode("utf-8")
    parts = re.split("([\ud800-\udfff])", raw)
    assert made == "".join(escape.text(p) if len(p) == 1 and "\ud800" <= p <= "\udfff" else p for p in parts)
    data = {raw: [raw, (raw,), {"k": raw}, 1]}
    assert escape.unicode_data(data) == {made: [made, [made], {"k": made}, 1]}


@PROPERTY
@given(hostile_text, hostile_text)
def test_line_escapes_the_fields_not_the_template(first: str, second: str) -> None:
    """`line` keeps our own text and puts in each field as `text` shows it."""
    assert escape.line("{}: {}\n", first, second) == f"{escape.text(first)}: {escape.text(second)}\n"


# --- Markdown --------------------------------------------------------------------------------------

RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


class _Visible(HTMLParser):
    """The text a browser shows, and the tags it is shown in."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def rendered(markdown: str) -> tuple[str, list[str]]:
    parser = _Visible()
    parser.feed(RENDERER.render(markdown))
    return "".join(parser.text).strip("\n"), parser.tags


@PROPERTY
@given(hostile_text)
@example("<img src=x onerror=alert(1)>")
@example("x\n# EMERGENCY")
@example("    indented")
@example("1. list")
@example("## heading ##")
def test_markdown_shows_the_text_literally_wherever_it_stands(raw: str) -> None:
    """Mid-line, at a line start, in a heading, in a table cell: the renderer shows the text, no markup."""
    md, shown = escape.markdown(raw), escape.text(raw)
    assert "\n" not in md
    assert rendered(f"a {md} z") == (f"a {shown} z", ["p"])
    alone = f"{shown} z" if shown else "z"  # leading spaces are kept; an empty text leaves " z", trimmed
    assert rendered(f"{md} z") == (alone, ["p"])
    assert rendered(f"## {md} z") == (alone, ["h2"])
    if shown:
        assert rendered(f"- **{md}**: z") == (f"{shown}: z", ["ul", "li", "strong"])
        assert rendered(f"a *{md}* z") == (f"a {shown} z", ["p", "em"])
    text, tags = rendered(f"| h | i |\n|---|---|\n| {md} z | y |\n")
    assert tags == ["table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td"]
    assert text.split("\n")[-2] == alone


def test_markdown_leaves_plain_text_and_identifiers_alone() -> None:
    """Words, sentences and ids such as prompt_treatment need no escape (underscores inside a word)."""
    for plain in ("prompt_treatment", "See a doctor today.", "Bell's palsy (a facial paralysis)"):
        assert escape.markdown(plain) == plain
    assert escape.markdown("<img src=x onerror=alert(1)>") == "\\<img src=x onerror=alert(1)\\>"


@PROPERTY
@given(hostile_text)
@example("`")
@example(" ` ")
@example("a|b")
def test_markdown_code_shows_the_text_literally(raw: str) -> None:
    """A code span of any text renders as exactly that text (or as literal text where a span cannot)."""
    code, shown = escape.markdown_code(raw), escape.text(raw)
    assert "\n" not in code
    text, tags = rendered(f"a {code} z")
    assert text == f"a {shown} z"
    assert set(tags) <= {"p", "code"}
    table_text, _ = rendered(f"| h |\n|---|\n| {code} z |\n")
    assert table_text.split("\n")[-1] == (f"{shown} z" if shown else "z")


# --- CSV -------------------------------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", " =", "  +", "\uff1d", "'"])
def test_csv_cell_neutralises_each_formula_start(start: str) -> None:
    """A cell starting with a formula character (also after spaces) gets a leading quote."""
    cell = escape.csv_cell(start + 'HYPERLINK("http://x","y")')
    assert cell.startswith("'")


@PROPERTY
@given(hostile_text)
def test_csv_cell_never_starts_a_formula_and_reads_back(raw: str) -> None:
    """Written with the csv module and read back: one line, no formula start, the value after one `'`."""
    cell = escape.csv_cell(raw)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([cell, "x"])
    assert out.getvalue().count("\n") == 1
    (read,) = csv.reader(io.StringIO(out.getvalue()))
    assert read == [cell, "x"]
    if not cell.startswith("'"):
        for start in (raw, cell):
            assert start.lstrip()[:1] not in FORMULA_STARTS
    value = cell[1:] if cell.startswith("'") else cell
    assert decode(value) == raw


# --- Mermaid ---------------------------------------------------------------------------------------

_MERMAID_CODES = {"#35;": "#", "#amp;": "&", "#quot;": '"', "#lt;": "<", "#gt;": ">", "#96;": "`"}


@PROPERTY
@given(hostile_text)
def test_mermaid_label_cannot_end_the_label_or_make_html(raw: str) -> None:
    """No quote, angle bracket, backtick or bare `&` in a label; Mermaid's codes read back to the text."""
    label = escape.mermaid_label(raw)
    assert not set(label) & set('"<>`&\n')
    assert not hidden(label)
    codes = re.sub(r"#(?:35|amp|quot|lt|gt|96);", lambda m: _MERMAID_CODES[m.group()], label)
    assert decode(codes) == raw

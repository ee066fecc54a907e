"""Hostile text in everything printed, as a person meets it.

Ids, unknown keys, FHIR linkIds, file names, option values and every text of a
rule pack (`--rules` loads any pack) may hold terminal escapes, bidi overrides,
line breaks, HTML, Markdown or spreadsheet formulas. The real command runs on
them (a subprocess, or the questionnaire in a pseudo-terminal), and each test
looks at what reaches the person: the screen of a terminal emulator (pyte),
Markdown as a CommonMark renderer shows it, CSV as a spreadsheet reads it, and
standard error. The answer files are fixtures of tests/data/hostile-answers/;
the hostile pack is the small valid pack with every id and text made hostile.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pyte
import pytest
import yaml
from markdown_it import MarkdownIt
from terminal import ENTER, Terminal
from test_escape import FORMULA_STARTS, decode

from triage.present import escape

HOSTILE_ANSWERS = Path(__file__).parent / "data" / "hostile-answers"
ANSWER_FILES = ("terminal-escapes.jsonl", "fhir-linkid-controls.json", "formula-cells.jsonl")
MINI_PACK = Path(__file__).parent / "data" / "packs" / "valid"
TRIAGE = Path(__file__).parent.parent / "triage"

HOSTILE = "\x1b[2J\x1b]0;owned\x07<script>alert(1)</script>\u202e|*_[x](javascript:y)\n# EMERGENCY"
"""Put after every text of the hostile pack: clear the screen, set the window title, a script, a
right-to-left override, a table bar, Markdown, and a forged heading on a line of its own."""
RAW_SEQUENCES = ("\x1b[2J", "\x1b]0;owned", "\x1b[8m", "\x1b[99A", "\x1b[1A", "\x9b", "\u202e", "<script>")
"""Sequences of the hostile data that must never reach a terminal as they are."""

ALLOWED_TAGS = {
    "h1", "h2", "h3", "p", "ul", "ol", "li", "strong", "em", "code", "blockquote",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def run(*args: str | bytes | Path, cwd: Path = HOSTILE_ANSWERS) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "triage", *args], cwd=cwd, capture_output=True, timeout=120, check=False
    )


def hidden(text: str) -> list[str]:
    """The characters a terminal would obey or not show (our own line ends aside)."""
    categories = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
    return [c for c in text if c != "\n" and unicodedata.category(c) in categories]


def printed(data: bytes) -> str:
    """Output as text: it must be UTF-8 and hold nothing hidden."""
    text = data.decode("utf-8")
    assert not hidden(text), sorted(set(hidden(text)))
    for sequence in RAW_SEQUENCES:
        if sequence != "<script>":
            assert sequence not in text
    return text


def screen(text: str, columns: int = 200) -> list[str]:
    """What a terminal shows after the text is written to it."""
    display = pyte.Screen(columns, text.count("\n") + 5)
    pyte.Stream(display).feed(text.replace("\n", "\r\n"))
    assert display.title == ""  # no window title was set
    return [line.rstrip() for line in display.display]


class Html(HTMLParser):
    """A rendered Markdown document: its tags, and the text of each element of interest."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.texts: dict[str, list[str]] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("h1", "h2", "td", "li"):
            self.texts.setdefault(tag, []).append("")
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for tag in self._open:
            self.texts[tag][-1] += data


def rendered(markdown: str) -> Html:
    html = Html()
    html.feed(RENDERER.render(markdown))
    assert set(html.tags) <= ALLOWED_TAGS, set(html.tags) - ALLOWED_TAGS
    return html


def entries(*files: str) -> list[dict[str, object]]:
    """The entries of the answer files, from JSON Lines (the data as it is)."""
    done = run("evaluate", *files, "--format", "jsonl")
    return [json.loads(line) for line in done.stdout.splitlines()]


# --- triage evaluate on hostile answer files ---------------------------------------------------------


def test_text_output_escapes_ids_keys_and_linkids_and_the_banner_stays() -> None:
    """On a terminal, hostile ids cannot clear lines, hide the EMERGENCY banner or forge a heading."""
    done = run("evaluate", *ANSWER_FILES, "--format", "text")
    assert done.returncode == 1
    text = printed(done.stdout)
    shown = screen(text)
    expected = entries(*ANSWER_FILES)
    headings = [
        escape.text(str(e["source"])) + (f"  (id {escape.text(str(e['id']))})" if e["id"] is not None else "")
        for e in expected
    ]
    assert [line for line in shown if line in headings] == headings  # each record's heading, in order
    banner = shown.index("!! EMERGENCY: CALL YOUR LOCAL EMERGENCY NUMBER NOW")
    assert shown[banner - 1] == shown[banner + 1] == "!" * 80
    assert shown[banner - 2] == headings[0]
    assert not any(line.startswith("# EMERGENCY") for line in shown)
    assert "  - <img src=x onerror=alert(1)>: unknown question id." in text
    assert "  - \\x9b2J\\x1b[8m\\u2028\\x85: unknown question id." in text
    assert "  - \\x1b[2J\\u202e<img src=x onerror=alert(1)>\\n# EMERGENCY: unknown linkId" in text
    assert "(id \\u202eevil\\u202c\\u2066x\\u2069\\u200f\\u061c\\u200b)" in text


def test_markdown_output_renders_hostile_text_literally() -> None:
    """Rendered, the Markdown has one heading per record, each showing its id as written; no HTML of ours."""
    done = run("evaluate", *ANSWER_FILES, "--format", "markdown")
    assert done.returncode == 1
    html = rendered(printed(done.stdout))
    expected = entries(*ANSWER_FILES)
    headings = [
        escape.text(str(e["source"])) + (f" (id {escape.text(str(e['id']))})" if e["id"] is not None else "")
        for e in expected
    ]
    assert html.texts["h1"] == headings
    assert "img" not in html.tags
    assert "script" not in html.tags
    notes = html.texts["li"]
    assert "<img src=x onerror=alert(1)>: unknown question id." in " ".join(notes)
    assert any(
        note.startswith("\\x1b[2J\\u202e<img src=x onerror=alert(1)>\\n# EMERGENCY: ") for note in notes
    )


def test_csv_output_neutralises_formulas_and_keeps_each_row_on_one_line() -> None:
    """No cell starts a formula (one leading `'` marks a neutralised one), no cell holds a line break,
    and every id reads back exactly; JSON gives the same ids as they are."""
    done = run("evaluate", *ANSWER_FILES, "--format", "csv")
    assert done.returncode == 1
    text = printed(done.stdout)
    rows = list(csv.reader(io.StringIO(text)))
    expected = entries(*ANSWER_FILES)
    assert len(text.splitlines()) == len(rows) == len(expected) + 1
    for row in rows:
        for cell in row:
            assert cell.startswith("'") or cell.lstrip()[:1] not in FORMULA_STARTS, cell
    ids = [row[0] for row in rows[1:]]
    assert [decode(cell[1:] if cell.startswith("'") else cell) for cell in ids] == [e["id"] for e in expected]
    formulas = dict(zip([e["id"] for e in expected], ids, strict=True))
    for raw in ("=1+2", "+1", "-1", "@SUM(A1)", " =1", "'quoted", "\uff1d1"):
        assert formulas[raw] == "'" + raw
    assert formulas["\t=1"] == "'\\t=1"
    assert formulas["\r=1"] == "'\\r=1"
    assert formulas["plain"] == "plain"
    errors = {row[1]: row[6] for row in rows[1:]}
    assert errors["terminal-escapes.jsonl:7"].startswith("'=cmd|' /C calc'!A0: unknown question id.")


def test_file_names_with_controls_are_escaped_in_every_format(tmp_path: Path) -> None:
    """A file name with an escape sequence, a line break or bytes that are not UTF-8 is shown escaped."""
    record = b'{"id": "r", "red_flags": "none", "cause": "fshd", "severity": "mild"}\n'
    folder = tmp_path / "in"
    folder.mkdir()
    names = [b"a\x1b[2Jb.jsonl", b"new\n# EMERGENCY.jsonl", b"rtl\xe2\x80\xaetxt.jsonl", b"bad\xffname.jsonl"]
    for name in names:
        (folder / os.fsdecode(name)).write_bytes(record)
    sources = [escape.text("in/" + name) + ":1" for name in sorted(map(os.fsdecode, names))]
    done = run("evaluate", "in", "--format", "text", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shown = screen(printed(done.stdout))
    assert [line for line in shown if line.startswith("in/")] == [f"{s}  (id r)" for s in sources]
    done = run("evaluate", "in", "--format", "markdown", cwd=tmp_path)
    assert rendered(printed(done.stdout)).texts["h1"] == [f"{s} (id r)" for s in sources]
    done = run("evaluate", "in", "--format", "csv", cwd=tmp_path)
    assert [row[1] for row in csv.reader(io.StringIO(printed(done.stdout)))][1:] == sources


@pytest.mark.parametrize(
    "options",
    [
        ["--format", "jsonl"],
        ["--format", "json"],
        ["--format", "jsonl", "--compact"],
        ["--format", "json", "--compact"],
        ["-o", "out.jsonl"],
        ["--format", "jsonl", "--jobs", "2"],
        ["--format", "text"],
        ["--format", "markdown"],
        ["--format", "csv"],
    ],
    ids=lambda options: "-".join(o.lstrip("-") for o in options),
)
def test_a_file_name_that_is_not_utf8_reads_alike_in_every_format(tmp_path: Path, options: list[str]) -> None:
    """Bytes of a file name that are not UTF-8 are shown as text shows them (`\\udcff` for 0xff) in every
    format, JSON too, which stays valid Unicode: every record has its entry, the alarm included, and
    the error entries of a broken link and a pipe whose names are not UTF-8 name them alike."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / os.fsdecode(b"bad\xffname.jsonl")).write_bytes(
        b'{"id": "r", "red_flags": "none", "cause": "fshd", "severity": "mild"}\n'
    )
    (folder / os.fsdecode(b"st\xfe\x80roke.json")).write_bytes(b'{"red_flags": ["stroke_signs"]}')
    (folder / os.fsdecode(b"gone\xc3.json")).symlink_to(os.fsdecode(b"nowhere\xff"))
    os.mkfifo(folder / os.fsdecode(b"pipe\xff.jsonl"))
    names = sorted(os.listdir(folder))  # the walk's order: by name
    shown = [escape.text(f"in/{name}") + (":1" if name.startswith("bad") else "") for name in names]
    done = run("evaluate", "in", *options, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert b"Traceback" not in done.stderr
    data = (tmp_path / "out.jsonl").read_bytes() if "-o" in options else done.stdout
    fmt = options[1] if options[0] == "--format" else "jsonl"
    if fmt in ("json", "jsonl"):
        found = orjson.loads(data) if fmt == "json" else [orjson.loads(line) for line in data.splitlines()]
        assert [entry["source"] for entry in found] == shown
        assert found[3]["urgency"] == "emergency"
        assert "nowhere\\udcff" in found[1]["errors"][0]["message"]
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(printed(data))))[1:]
        assert [row[1] for row in rows] == shown
        assert rows[3][2] == "emergency"
    elif fmt == "text":
        lines = screen(printed(data))
        assert [line for line in lines if line.startswith("in/")] == [shown[0] + "  (id r)", *shown[1:]]
    else:
        assert rendered(printed(data)).texts["h1"] == [shown[0] + " (id r)", *shown[1:]]


def test_rules_check_json_names_a_pack_path_that_is_not_utf8_as_text(tmp_path: Path) -> None:
    """`rules check --format json` of a pack in a folder whose name is not UTF-8 is valid Unicode JSON."""
    folder = tmp_path / os.fsdecode(b"pack\xff")
    shutil.copytree(MINI_PACK, folder)
    for broken in (False, True):
        if broken:
            (folder / "pack.yaml").write_text("questions: [\n", encoding="utf-8")
        done = run("rules", "check", folder, "--format", "json", cwd=tmp_path)
        assert done.returncode == (2 if broken else 0)
        report = orjson.loads(done.stdout)
        assert report["pack"].startswith(escape.text(str(folder)))


def test_messages_on_standard_error_escape_paths_and_options(tmp_path: Path) -> None:
    """Usage problems, the summary and `triage: …` errors echo paths and typed options escaped."""
    good = tmp_path / "good.jsonl"
    good.write_text('{"red_flags": "none", "cause": "fshd", "severity": "mild"}\n', encoding="utf-8")
    missing = "missing\x1b[2J\u202e.jsonl"
    done = run("evaluate", "good.jsonl", missing, "--format", "csv", cwd=tmp_path)
    assert done.returncode == 2
    err = printed(done.stderr)
    assert "triage: missing\\x1b[2J\\u202e.jsonl: no such file or folder." in err
    assert "1 file, 1 record: 1 valid, 0 invalid." in err

    output = "out\x1b[31m\n.csv"
    done = run("evaluate", "good.jsonl", "-o", output, cwd=tmp_path)
    assert done.returncode == 0
    assert "written to out\\x1b[31m\\n.csv" in printed(done.stderr)
    assert (tmp_path / output).exists()

    done = run("evaluate", "good.jsonl", "-o", "no\x1b[2Jdir/out.csv", cwd=tmp_path)
    assert done.returncode == 2
    assert "no\\x1b[2Jdir/out.csv" in printed(done.stderr)

    done = run("evaluate", "good.jsonl", "--\x1b]0;owned\x07bogus", cwd=tmp_path)
    assert done.returncode == 2
    assert "unrecognized arguments: --\\x1b]0;owned\\x07bogus" in printed(done.stderr)

    done = run("--rules", "nowhere\x1b[2J", "questions", cwd=tmp_path)
    assert done.returncode == 2
    assert "nowhere\\x1b[2J" in printed(done.stderr)


# --- a hostile rule pack -----------------------------------------------------------------------------


def make_hostile_pack(folder: Path) -> dict[str, str]:
    """The small valid pack with HOSTILE after every text and hostile marks in every id; the new ids."""
    data = yaml.safe_load((MINI_PACK / "pack.yaml").read_text(encoding="utf-8"))
    for question in data["questions"]:
        question["help"] = "Think of today."
    ids: dict[str, str] = {}
    for question in data["questions"]:
        ids[question["id"]] = question["id"] + "<img src=x onerror=alert(1)>\x1b[8m"
        for option in question.get("options", []):
            ids[option["id"]] = option["id"] + "\u202e\x1b[1A<b>"
    for name in (*data["terms"], *data["parameters"]):
        ids.setdefault(name, name + "\x1b[99A<i>")
    for table in ("urgency", "prognosis"):
        for rule in data[table]["rules"]:
            ids[rule["id"]] = rule["id"] + "\n# X<u>"
    for outcome in (*data["urgency"]["levels"], *data["prognosis"]["categories"]):
        ids[outcome["id"]] = outcome["id"] + "\x9b<s>"
    for suggestion in data["suggestions"]:
        ids[suggestion["id"]] = suggestion["id"] + "\x1b]8;;http://x\x07`|"
    texts = {"prompt", "label", "description", "help", "none_label", "unit", "basis", "text", "reason"}
    texts |= {"title", "disclaimer", "name", "version", "external"}

    def hostile(node: object, key: object = None) -> object:
        if isinstance(node, dict):
            named = key in ("terms", "parameters", "answers")
            return {
                (ids.get(k, k) if named else k): (f"{v} {HOSTILE}" if k in texts else hostile(v, k))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [hostile(v, key) for v in node]
        if isinstance(node, str) and key not in ("quote", "file", "type"):
            return ids.get(node, node)
        return node

    folder.mkdir(parents=True)
    shutil.copy(MINI_PACK / "source.txt", folder / "source.txt")
    (folder / "pack.yaml").write_text(yaml.safe_dump(hostile(data), sort_keys=False), encoding="utf-8")
    return ids


@pytest.fixture(scope="module")
def hostile_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("packs") / "pack\x1b[2J\u202e"
    make_hostile_pack(folder)
    done = run("rules", "check", folder)
    assert done.returncode == 0, done.stdout + done.stderr  # a valid pack: every command takes it
    return folder


def test_rules_show_text_escapes_every_text_of_the_pack(hostile_pack: Path) -> None:
    """`rules show` prints each hostile text escaped, and its own layout (headings, indents) intact."""
    done = run("rules", "show", hostile_pack)
    assert done.returncode == 0, done.stderr
    lines = printed(done.stdout).splitlines()
    title = (
        f"Mini triage {escape.text(HOSTILE)} (rule pack mini {escape.text(HOSTILE)} 1 {escape.text(HOSTILE)})"
    )
    assert lines[:2] == [title, "=" * len(title)]
    assert not any(line.startswith("# ") for line in lines)
    assert f'   - several may be chosen, or "None of these {escape.text(HOSTILE)}"' in lines
    assert f"    basis: A test cut-off. {escape.text(HOSTILE)}" in lines


def test_rules_show_markdown_renders_every_text_literally(hostile_pack: Path) -> None:
    """Rendered, `rules show --format markdown` has only its own headings and cells, each text as written."""
    done = run("rules", "show", hostile_pack, "--format", "markdown")
    assert done.returncode == 0, done.stderr
    html = rendered(printed(done.stdout))
    assert len(html.texts["h1"]) == 1
    assert html.texts["h1"][0].startswith(f"Mini triage {escape.text(HOSTILE)} (rule pack")
    assert html.texts["h2"][:4] == [
        "Questions",
        "Parameters",
        "Terms",
        "Urgency — the first rule that matches wins",
    ]
    cells = html.texts["td"]
    assert f"A test cut-off. {escape.text(HOSTILE)}" in cells  # a parameter's basis, one cell
    assert escape.text("U1\n# X<u>") in cells
    months = escape.text("months<img src=x onerror=alert(1)>\x1b[8m")
    assert f"{months} is 6 months {escape.text(HOSTILE)} (long_months\\x1b[99A<i>) or more" in cells


def test_rules_graph_labels_cannot_break_out(hostile_pack: Path) -> None:
    """Mermaid labels hold no quote, angle bracket, backtick or line break of the pack's: one node a line."""
    done = run("rules", "graph", hostile_pack)
    assert done.returncode == 0, done.stderr
    lines = printed(done.stdout).splitlines()
    assert lines[0] == "flowchart TD"
    for line in lines[1:]:
        assert line.startswith("  ")
        assert line.count('"') in (0, 2), line
        outside_arrows = line.replace("-->", "")
        assert not set(outside_arrows) & set("<>`"), line
    assert any("#lt;script#gt;alert(1)#lt;/script#gt;" in line for line in lines)


def test_rules_test_check_and_questions_escape_the_pack(hostile_pack: Path) -> None:
    """`rules test`, `rules check` and `questions` print the pack's names and texts escaped."""
    done = run("rules", "test", hostile_pack)
    assert done.returncode == 0, done.stderr
    assert f"ok   stroke {escape.text(HOSTILE)}" in printed(done.stdout).splitlines()
    done = run("rules", "check", hostile_pack)
    assert printed(done.stdout).startswith(
        escape.text(f"{hostile_pack}/pack.yaml: mini {HOSTILE} 1 {HOSTILE}")
    )
    done = run("--rules", hostile_pack, "questions")
    out = printed(done.stdout).splitlines()
    assert out[:2] == [
        escape.text("red_flags<img src=x onerror=alert(1)>\x1b[8m") + "  (multi)",
        f"  Any warning signs? {escape.text(HOSTILE)}",
    ]


def test_rules_check_of_a_broken_pack_escapes_its_path(hostile_pack: Path, tmp_path: Path) -> None:
    """A problem line names the pack's file escaped (the folder's name holds an escape and an override)."""
    broken = tmp_path / "broken\x1b]0;owned\x07"
    shutil.copytree(hostile_pack, broken)
    pack_file = broken / "pack.yaml"
    pack_file.write_text(pack_file.read_text(encoding="utf-8") + "unknown_field: 1\n", encoding="utf-8")
    done = run("rules", "check", broken)
    assert done.returncode == 1
    out = printed(done.stdout)
    assert out.startswith(escape.text(str(pack_file)) + ":")
    assert "unknown_field: unknown field [schema]" in out
    assert "1 problem(s) found." in printed(done.stderr)


def test_evaluate_with_a_hostile_pack_escapes_results_and_summary(hostile_pack: Path, tmp_path: Path) -> None:
    """Results and the summary on standard error name the pack's levels and texts escaped."""
    answers = tmp_path / "a.jsonl"
    red_flags = "red_flags<img src=x onerror=alert(1)>\x1b[8m"
    answers.write_text(json.dumps({red_flags: ["stroke_signs\u202e\x1b[1A<b>"]}) + "\n", encoding="utf-8")
    done = run("--rules", hostile_pack, "evaluate", "a.jsonl", "--format", "text", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shown = screen(printed(done.stdout))
    assert shown[1] == "=" * 80
    end = shown.index("=" * 80, 2)
    assert " ".join(shown[2:end]) == f"Emergency {escape.text(HOSTILE)}"  # the banner's label, wrapped
    err = printed(done.stderr)
    assert f"  urgency:   {escape.text('emergency' + chr(0x9B) + '<s>')} 1," in err
    done = run("--rules", hostile_pack, "evaluate", "a.jsonl", "--format", "markdown", cwd=tmp_path)
    html = rendered(printed(done.stdout))
    assert html.texts["h2"] == [f"Emergency {escape.text(HOSTILE)}"]


# --- the questionnaire ---------------------------------------------------------------------------------


def packed(text: str) -> str:
    """Text without any spacing: how it reads however a terminal's width wrapped it."""
    return "".join(text.split())


def test_the_questionnaire_shows_a_hostile_pack_escaped(hostile_pack: Path, tmp_path: Path) -> None:
    """Prompts, labels, descriptions, help, errors, the review, the result and the saved file's name: all
    shown escaped, on a screen that no text of the pack cleared, retitled or reordered."""
    saved = "answers\x1b[2J\u202e.json"
    shown = escape.text(HOSTILE)
    term = Terminal("--rules", str(hostile_pack), "--save", saved, cwd=tmp_path, rows=80)
    term.wait_prompt("Any warning signs?")
    screen_now = packed("".join(term.lines))
    assert screen_now.startswith(packed(f"Mini triage {shown}: a few questions"))
    for text in (
        f"? Any warning signs? {shown}",
        f"Think of today. {shown} (Arrow keys",
        f"Signs of a stroke {shown}",
        f"None of these {shown}",
        f"Description: Arm weakness or trouble speaking. {shown}",
    ):
        assert packed(text) in screen_now, text
    term.tick("Any warning signs?", ["None of these"])
    term.choose("What is the cause?", "A facial paralysis")
    term.choose("How severe is it?", "Mild")
    term.type_line("How many months ago", "x")
    term.wait_for("Not a whole number. Type a whole number of months")  # the unit's text may be cut off
    term.send("\x7f" + "2" + ENTER)
    term.wait_prompt("Are these answers right?")
    review = packed("".join(term.lines))
    for text in (f"1. Any warning signs? {shown}", f"> None of these {shown}", f"> 2 months {shown}"):
        assert packed(text) in review, text
    term.choose("Are these answers right?", "These are right: show my result")
    assert term.finish() == 0
    out = term.output()
    assert f"Your answers are saved in {escape.text(saved)}." in out
    assert packed(f"IMPORTANT: Not a diagnosis; see a doctor. {shown}") in packed(out)
    for sequence in RAW_SEQUENCES:
        if sequence != "<script>":
            assert sequence not in term.raw, repr(sequence)
    assert term.screen.title == ""
    assert (tmp_path / saved).exists()


# --- no line printed unescaped -------------------------------------------------------------------------


def _calls(path: Path) -> Iterator[tuple[str, str]]:
    """(function the call is in, what is called) for each print() and .write() call of a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.Call):
                    called = ast.unparse(node.func)
                    if called == "print" or called.endswith(("stdout.write", "stderr.write")):
                        yield function.name, called


def test_the_command_line_prints_only_through_its_escaping_helpers() -> None:
    """In cli.py a line is printed only by `say`/`warn` (which escape every field) and a rendered document
    only by `put`; the questionnaire prints only through `say` (which escapes and wraps)."""
    assert {function for function, _ in _calls(TRIAGE / "apps" / "cli.py")} == {"say", "put"}
    assert {function for function, _ in _calls(TRIAGE / "apps" / "terminal.py")} == {"say"}

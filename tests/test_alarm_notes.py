"""A refused record that states a red flag says what the red flag calls for, in every format and path.

An error entry is not a result, but a person reading it must not have to fix
the record to learn that it states signs of a stroke. The options that call for
an alarm whatever else is answered are computed from the pack's answer space
(`triage.core.answers.alarm_options`); these tests check that computation against the
answer space, then the note on every shape of refused record: a near-miss key
beside the real one, a mistyped option or "none" beside a red flag, a key given
twice, a FHIR response's items, in JSON, JSON Lines, YAML, CSV and FHIR, through
the library, one process and `--jobs 2`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import triage
from triage.batch.run import evaluate_files
from triage.core.answers import URGENCY, alarm_options
from triage.core.answerspace import answer_space
from triage.core.engine import decide
from triage.fhir import response_from_record
from triage.io.formats import EXTENSIONS
from triage.io.inputs import InputFile
from triage.io.writers import make_writer

PACK = triage.load_rulepack()
RED_FLAGS = next(q for q in PACK.document.questions if q.type == "multi")
"""The red-flag screen: the first question, a multi-select (SPEC §3)."""
LEVELS = list(PACK.levels)
ALARMS = {level for level, spec in PACK.levels.items() if spec.display == "alarm"}
STROKE = "stroke_signs"
DROOP = "sudden_face_droop"
SUDDEN = "sudden_onset"
EYE = "eye_problems"
CALM = {"cause": "fshd", "severity": "mild"}
"""Answers that call for nothing urgent on their own."""


def note(record: object) -> str | None:
    """The `(urgency)` message of a record refused by the library, None if it has none (or is valid)."""
    (outcome,) = triage.evaluate_many([record], rulepack=PACK)
    if isinstance(outcome, triage.Result):
        return None
    notes = [p.message for p in outcome.errors if p.field == URGENCY]
    assert len(notes) <= 1
    return notes[0] if notes else None


def label(option: str) -> str:
    """The urgency label that an option alone calls for, as the pack says it."""
    return PACK.levels[alarm_options(PACK).by_question[RED_FLAGS.id][option].level].label


def test_the_alarm_options_are_exactly_those_that_alarm_in_every_answer_set() -> None:
    """An option calls for an alarm alone exactly when every complete answer set holding it alarms,
    and the level it names is the least urgent of those sets'."""
    levels: dict[tuple[str, str], set[str]] = {}
    for values in answer_space(PACK):
        urgency = decide(PACK, values).urgency
        for question, value in values.items():
            for option in value if isinstance(value, frozenset) else [value]:
                levels.setdefault((question, str(option)), set()).add(urgency)
    found = {
        (o.question, o.option): o.level
        for table in alarm_options(PACK).by_question.values()
        for o in table.values()
    }
    expected = {
        key: max(seen, key=LEVELS.index)
        for key, seen in levels.items()
        if seen <= ALARMS and key[1] in {o.id for q in PACK.document.questions for o in q.options}
    }
    assert found == expected
    assert found == {
        (RED_FLAGS.id, STROKE): LEVELS[0],
        (RED_FLAGS.id, DROOP): LEVELS[0],
        (RED_FLAGS.id, SUDDEN): LEVELS[1],
        (EYE, "painful_or_red"): LEVELS[1],
    }


@pytest.mark.parametrize(
    ("record", "option"),
    [
        pytest.param({RED_FLAGS.id: "none", "Red_Flags": [STROKE], **CALM}, STROKE, id="near-miss-key-after"),
        pytest.param(
            {"Red_Flags": "none", RED_FLAGS.id: [STROKE, "strok_sign"], **CALM}, STROKE, id="both-wrong"
        ),
        pytest.param({RED_FLAGS.id: [STROKE, "strok_sign"]}, STROKE, id="mistyped-option"),
        pytest.param({RED_FLAGS.id: [STROKE, "none"]}, STROKE, id="with-none"),
        pytest.param({RED_FLAGS.id: f"{STROKE}; none"}, STROKE, id="with-none-as-text"),
        pytest.param({RED_FLAGS.id: [SUDDEN, STROKE.upper()]}, STROKE, id="case-changed"),
        pytest.param({RED_FLAGS.id: [SUDDEN, "none"], **CALM}, SUDDEN, id="sudden-with-none"),
        pytest.param({RED_FLAGS.id: [SUDDEN], "flags": STROKE}, STROKE, id="worse-in-an-unknown-key"),
        pytest.param({RED_FLAGS.id: "none", STROKE: "yes", **CALM}, STROKE, id="a-column-per-option"),
        pytest.param(
            {RED_FLAGS.id: "none", "notes": {"seen": [f"x, {STROKE}"]}, **CALM}, STROKE, id="nested"
        ),
        pytest.param({RED_FLAGS.id: [STROKE, 3]}, STROKE, id="beside-a-number"),
        pytest.param({RED_FLAGS.id: [STROKE], "id": ["not", "text"]}, STROKE, id="bad-id"),
        pytest.param(STROKE, STROKE, id="not-a-mapping-but-the-option"),
        pytest.param([STROKE, "fshd", "mild"], STROKE, id="a-list-of-cells"),
        pytest.param([{RED_FLAGS.id: [STROKE], **CALM}], STROKE, id="a-record-in-a-list"),
    ],
)
def test_a_refused_record_that_states_a_red_flag_says_what_it_calls_for(record: object, option: str) -> None:
    """Whatever else is wrong with a record, a red-flag id it states anywhere gives an (urgency) note with its level."""
    said = note(record)
    assert said is not None
    assert label(option) in said
    assert "whatever else is wrong" in said


def test_a_value_shared_by_two_questions_is_looked_at_under_each() -> None:
    """A list that two answers share (as a YAML alias makes them) states under each question what that
    question's options say: the eye's alarm under `eye_problems`, though `red_flags` was looked at first."""
    (option,) = alarm_options(PACK).by_question[EYE]
    shared = [option]
    record = {
        RED_FLAGS.id: shared,
        "cause": "peripheral_facial_paralysis",
        "severity": "mild",
        "months_since_paralysis": 1,
        "treated_early": "no",
        EYE: shared,
    }
    said = note(record)
    assert said is not None
    assert PACK.levels[alarm_options(PACK).by_question[EYE][option].level].label in said


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(
            {RED_FLAGS.id: "none", STROKE: False, **CALM, "x": 1}, id="a-column-per-option-saying-no"
        ),
        pytest.param(
            {RED_FLAGS.id: "none", STROKE: "no", **CALM}, id="a-column-per-option-saying-no-as-text"
        ),
        pytest.param({RED_FLAGS.id: "stroke", **CALM}, id="not-an-option-id"),
        pytest.param({RED_FLAGS.id: "none", **CALM, "id": STROKE, "x": 1}, id="only-the-id"),
        pytest.param({RED_FLAGS.id: "none", **CALM, "x": 1}, id="nothing-stated"),
    ],
)
def test_a_refused_record_that_states_no_red_flag_has_no_note(record: dict[str, Any]) -> None:
    """A record refused without stating a red flag (its id aside, a per-option field saying no) has no note."""
    assert note(record) is None


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


DISGUISES: dict[str, Any] = {
    "full-width": _full_width,
    "zero-width-inside": lambda o: o.replace("_", "_\u200b"),
    "zero-width-after": lambda o: [o + "\u200b"],
    "bidi-marks": lambda o: f"\u202d{o}\u202c",
    "hyphens": lambda o: o.replace("_", "-"),
    "pipe-separated": lambda o: f"none|{o}",
    "newline-separated": lambda o: f"none\n{o}",
    "quoted": lambda o: f"'{o}'",
    "json-in-text": lambda o: json.dumps([o]),
    "sentence": lambda o: f"{o}.",
    "binary": lambda o: o.encode(),
    "binary-in-a-list": lambda o: [o.encode()],
    "accented": lambda o: o.replace("o", "\u00f6"),
}
"""Ways an option id can be written that read as no option but that a person reads as the id."""


@pytest.mark.parametrize("disguise", DISGUISES.values(), ids=DISGUISES.keys())
@pytest.mark.parametrize("key", [RED_FLAGS.id, "Red_Flags"])
def test_a_red_flag_written_in_another_form_still_gives_its_note(key: str, disguise: Any) -> None:
    """A red-flag id written full-width, with zero-width or bidi characters, hyphens for its underscores,
    among other text (after a pipe, a newline, in quotes, as JSON text), as bytes or with accents is
    refused, and its error entry carries the note of what the id calls for."""
    record = {RED_FLAGS.id: "none", **CALM, key: disguise(STROKE)}
    said = note(record)
    assert said is not None
    assert label(STROKE) in said


def test_an_option_written_with_spaces_is_stated_only_as_an_answer_to_its_question() -> None:
    """`stroke signs` answering the red-flag question states the option; in free text elsewhere, words
    that happen to spell an id with spaces ("painful or red") state nothing."""
    said = note({RED_FLAGS.id: ["stroke signs"]})
    assert said is not None
    assert label(STROKE) in said
    assert note({RED_FLAGS.id: "none", **CALM, "comment": "the eye is not painful or red"}) is None


FILLER = st.one_of(
    st.text(max_size=8),
    st.integers(-5, 5),
    st.sampled_from(["none", "strok_sign", "sudden", None, True, [], {}]),
)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(
    option=st.sampled_from([STROKE, DROOP, SUDDEN]),
    key=st.sampled_from([RED_FLAGS.id, "Red_Flags", "red_flag", "flags", "x"]),
    shape=st.sampled_from(["text", "list", "separated", "spaced", "upper", "nested", *DISGUISES]),
    junk=st.dictionaries(st.sampled_from([*PACK.questions, "extra", "Cause"]), FILLER, max_size=4),
    others=st.lists(FILLER, max_size=3),
)
def test_a_stated_red_flag_is_never_silent_in_a_refused_record(
    option: str, key: str, shape: str, junk: dict[str, Any], others: list[Any]
) -> None:
    """Any refused record with a red-flag id in its red-flag key or an unknown key, in any form and with
    any other answers, carries a note at least as urgent as the option calls for."""
    value: Any = {
        "text": option,
        "list": [*others, option],
        "separated": ";".join([*map(str, others), option]),
        "spaced": f" {option} ",
        "upper": [option.upper()],
        "nested": {"answer": [{"code": option}]},
        **{name: disguise(option) for name, disguise in DISGUISES.items()},
    }[shape]
    record = {**junk, key: value}
    said = note(record)
    if said is None:  # not refused: then it was read, and the result must be at least as urgent
        result = triage.evaluate(record, rulepack=PACK)
        assert LEVELS.index(result.urgency) <= LEVELS.index(
            alarm_options(PACK).by_question[RED_FLAGS.id][option].level
        )
        return
    level = next(lv for lv in LEVELS if PACK.levels[lv].label in said)
    assert LEVELS.index(level) <= LEVELS.index(alarm_options(PACK).by_question[RED_FLAGS.id][option].level)


# -- every input format, every path ---------------------------------------------------------------------


def fhir(record: dict[str, Any], **change: Any) -> dict[str, Any]:
    response = response_from_record(record, PACK)
    response.update(change)
    return response


NEAR_MISS = {RED_FLAGS.id: "none", "Red_Flags": [STROKE], **CALM}
MISTYPED = {RED_FLAGS.id: [STROKE, "strok_sign"]}
WITH_NONE = {RED_FLAGS.id: [STROKE, "none"]}
UNKNOWN_CODE = fhir({RED_FLAGS.id: [STROKE]})
UNKNOWN_CODE["item"][0]["answer"].append({"valueCoding": {"code": "strok_sign"}})
MISSPELT_LINK = fhir({RED_FLAGS.id: "none", **CALM})
MISSPELT_LINK["item"].append({"linkId": "Red_Flags", "answer": [{"valueCoding": {"code": STROKE}}]})

FILES: dict[str, bytes] = {
    "near-miss.json": json.dumps(NEAR_MISS).encode(),
    "list.json": json.dumps([NEAR_MISS, MISTYPED, WITH_NONE]).encode(),
    "lines.jsonl": b"".join(
        orjson.dumps({"id": f"r{n}", **r}) + b"\n" for n, r in enumerate([NEAR_MISS, MISTYPED, WITH_NONE])
    ),
    "repeated.jsonl": f'{{"{RED_FLAGS.id}":"{STROKE}","{RED_FLAGS.id}":"none","cause":"fshd","severity":"mild"}}\n'.encode(),
    "list.yaml": (
        f"- {{{RED_FLAGS.id}: none, Red_Flags: [{STROKE}], cause: fshd, severity: mild}}\n"
        f"- {{{RED_FLAGS.id}: [{STROKE}, strok_sign]}}\n"
        f"- {{{RED_FLAGS.id}: [{STROKE}, none]}}\n"
    ).encode(),
    "rows.csv": (
        f"id,{RED_FLAGS.id},Red_Flags,cause,severity\n"
        f"a,none,{STROKE},fshd,mild\n"
        f'b,"{STROKE};strok_sign",,,\n'
        f"c,{STROKE};none,,,\n"
    ).encode(),
    "entered-in-error.json": json.dumps(fhir({RED_FLAGS.id: [STROKE]}, status="entered-in-error")).encode(),
    "unknown-code.json": json.dumps(UNKNOWN_CODE).encode(),
    "misspelt-link.json": json.dumps(MISSPELT_LINK).encode(),
    "bundle.json": json.dumps(
        {"resourceType": "Bundle", "entry": [{"resource": UNKNOWN_CODE}, {"resource": MISSPELT_LINK}]}
    ).encode(),
}


def test_every_format_and_path_notes_a_stated_red_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JSON, JSON Lines, YAML, CSV and FHIR error entries that state stroke signs say they call for an
    emergency, through the command; `--jobs 2` (JSON Lines cut into ranges) writes the same bytes."""
    import triage.batch.parallel

    for name, data in FILES.items():
        (tmp_path / name).write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-m", "triage", "evaluate", *sorted(FILES), "--format", "jsonl"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert b"Traceback" not in done.stderr
    entries = [json.loads(line) for line in done.stdout.splitlines()]
    counts = {"list.json": 3, "lines.jsonl": 3, "list.yaml": 3, "rows.csv": 3, "bundle.json": 2}
    assert [e["source"].split(":")[0].split("#")[0] for e in entries] == [
        name for name in sorted(FILES) for _ in range(counts.get(name, 1))
    ]
    for entry in entries:
        assert "urgency" not in entry, entry["source"]
        notes = [p["message"] for p in entry["errors"] if p["field"] == URGENCY]
        assert len(notes) == 1, entry
        assert label(STROKE) in notes[0], entry["source"]

    monkeypatch.setattr(triage.batch.parallel, "CHUNK_BYTES", 64)
    files = [
        InputFile(str(tmp_path / n), n, EXTENSIONS[Path(n).suffix], len(FILES[n])) for n in sorted(FILES)
    ]
    outputs = []
    for jobs in (1, 2):
        with (tmp_path / "out").open("w+b") as out:
            evaluate_files(files, PACK, make_writer("jsonl", PACK), out, jobs=jobs)
            out.seek(0)
            outputs.append(out.read())
    assert outputs[0] == outputs[1] == done.stdout


# -- what cannot be read still says the red flags it names --------------------------------------------

RECORD_TEXTS = {
    "jsonl": '{"id": "s", "red_flags": ["stroke_signs"], "cause": "fshd", "severity": "mild"}\n',
    "json": '[{"id": "s", "red_flags": ["stroke_signs"], "cause": "fshd", "severity": "mild"}]\n',
    "yaml": "- id: s\n  red_flags: [stroke_signs]\n  cause: fshd\n  severity: mild\n",
    "csv": "id,red_flags,cause,severity\ns,stroke_signs,fshd,mild\n",
}
CALM_LINES = {
    "jsonl": '{"id": "c", "red_flags": "none", "cause": "fshd", "severity": "mild"}\n',
    "csv": "c,none,fshd,mild\n",
}
MANGLES = [
    b"\xff",  # a byte that is not UTF-8 (Latin-1 text)
    b"\x00",  # a NUL (UTF-16 text)
    b"\xef\xbb\xbf",  # a byte order mark where none belongs
    b",",  # a stray comma
    b'"',  # a stray quote
    b"\r",  # an old Mac line end
    b"[" * 1100,  # deeper than the parsers read
    b"\n}",  # a line cut short
]


def _entries(tmp_path: Path, name: str, data: bytes, jobs: int = 1) -> list[dict[str, Any]]:
    path = tmp_path / name
    path.write_bytes(data)
    files = [InputFile(str(path), name, EXTENSIONS[path.suffix], len(data))]
    with (tmp_path / "out").open("w+b") as out:
        evaluate_files(files, PACK, make_writer("jsonl", PACK), out, jobs=jobs)
        out.seek(0)
        return [json.loads(line) for line in out.read().splitlines()]


def _alarmed(entries: list[dict[str, Any]]) -> bool:
    """Whether the output still says stroke signs call for an emergency: a result, or a note."""
    emergency = PACK.levels["emergency"].label
    return any(
        entry.get("urgency") == "emergency"
        or any(p["field"] == URGENCY and emergency in p["message"] for p in entry.get("errors", []))
        for entry in entries
    )


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    fmt=st.sampled_from(sorted(RECORD_TEXTS)),
    mangle=st.sampled_from(MANGLES),
    where=st.integers(0, 10_000),
    calm_before=st.booleans(),
    utf16=st.booleans(),
)
def test_a_red_flag_in_text_that_cannot_be_read_is_never_lost(
    tmp_path_factory: pytest.TempPathFactory,
    fmt: str,
    mangle: bytes,
    where: int,
    calm_before: bool,
    utf16: bool,
) -> None:
    """A record that states stroke signs, its file damaged anywhere but inside the option's id (a byte
    that is not UTF-8, a NUL, a BOM, a comma, a quote, a carriage return, deep nesting, a line cut
    short; or the whole file saved as UTF-16): whatever the damage makes of it (an error entry for the
    line, the row or the whole file), the output still says that stroke signs call for an emergency."""
    text = RECORD_TEXTS[fmt]
    if fmt in CALM_LINES:
        calm = CALM_LINES[fmt]
        text = (
            (text.replace("\n", "\n" + calm, 1) if fmt == "csv" else calm + text)
            if calm_before
            else text + calm
        )
    data = text.encode()
    word = data.index(STROKE.encode())
    spots = [i for i in range(len(data) + 1) if not word < i < word + len(STROKE)]
    at = spots[where % len(spots)]
    data = data[:at] + mangle + data[at:]
    if utf16:
        data = data.decode("utf-8", "replace").encode("utf-16")
    entries = _entries(tmp_path_factory.mktemp("mangled"), f"damaged.{fmt}", data)
    assert _alarmed(entries), (data, entries)


def test_a_line_too_long_to_read_still_says_the_red_flags_it_names(tmp_path: Path) -> None:
    """A line over the longest record is skipped unread, but the red flags it names are still said, in
    JSON Lines and CSV, in one process and with --jobs 2 (each the same bytes); a word cut across two of
    the pieces it is skipped in is found too."""
    from triage.io.readers import MAX_RECORD_BYTES

    pad = "x" * (MAX_RECORD_BYTES - 15)  # the id across the end of the first piece read
    line = f'{{"pad": "{pad} {STROKE} {"y" * MAX_RECORD_BYTES}"}}\n'
    assert line.index(STROKE) < MAX_RECORD_BYTES + 1 < line.index(STROKE) + len(STROKE)
    calm = CALM_LINES["jsonl"] * 3000
    for name, data in (
        ("long.jsonl", calm + line + calm),
        ("long.csv", "id,red_flags,cause,severity\n" + f"a,{STROKE},fshd,{pad}{'m' * MAX_RECORD_BYTES}\n"),
    ):
        outputs = []
        for jobs in (1, 2):
            entries = _entries(tmp_path, name, data.encode(), jobs)
            (noted,) = [e for e in entries if "errors" in e]
            assert "longer than the longest record allowed" in noted["errors"][0]["message"]
            assert label(STROKE) in noted["errors"][-1]["message"]
            outputs.append(entries)
        assert outputs[0] == outputs[1]


@pytest.mark.parametrize(
    "record",
    [
        pytest.param({RED_FLAGS.id: True}, id="true"),
        pytest.param({RED_FLAGS.id: "yes", **CALM}, id="yes-as-text"),
        pytest.param({RED_FLAGS.id: " TRUE "}, id="true-as-text"),
        pytest.param({RED_FLAGS.id: 1, **CALM}, id="one"),
    ],
)
def test_yes_to_a_question_whose_every_choice_alarms_gives_the_least_of_their_notes(record: object) -> None:
    """`red_flags: yes` (YAML reads an unquoted yes as true) names no option, but every option of the question
    alarms: the error entry says what the least urgent of them calls for."""
    said = note(record)
    assert said is not None
    least = max((alarm_options(PACK).by_question[RED_FLAGS.id][o.id].level for o in RED_FLAGS.options), key=LEVELS.index)
    assert PACK.levels[least].label in said
    assert note({RED_FLAGS.id: False}) is None


@pytest.mark.parametrize("question", ["cause", "severity", EYE])
def test_a_red_flag_given_as_the_answer_to_another_question_gives_its_note(question: str) -> None:
    """`cause: stroke_signs` beside `red_flags: none` is refused (not a cause) and says what stroke signs call
    for: a red-flag id is stated wherever it is written."""
    record = {**CALM, RED_FLAGS.id: "none", question: [STROKE] if question == EYE else STROKE}
    said = note(record)
    assert said is not None
    assert label(STROKE) in said

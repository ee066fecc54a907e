"""A record whose keys are unclear as written is refused, in every file format: parsers would keep one
value silently. A key given twice at any depth (also inside a FHIR resource), a YAML merge key, and
a repeat too deeply nested to be checked each refuse their record."""

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
from triage.io.readers import Rejected, exact_record

STROKE_THEN_NONE = '"red_flags":"stroke_signs","red_flags":"none","cause":"fshd","severity":"mild"'
FILES = {
    "one.json": "{" + STROKE_THEN_NONE + "}",
    "list.json": '[{"id":"ok","red_flags":"none","cause":"fshd","severity":"mild"},{"id":"r",'
    + STROKE_THEN_NONE
    + "}]",
    "tight.jsonl": '{"id":"ok","red_flags":"none","cause":"fshd","severity":"mild"}\n{"id":"r",'
    + STROKE_THEN_NONE
    + "}\n",
    "no-id.jsonl": '{"red_flags":"none","cause":"fshd","severity":"mild"}\n{' + STROKE_THEN_NONE + "}\n",
    "spaced.jsonl": '{"id": "ok", "red_flags": "none", "cause": "fshd", "severity": "mild"}\n'
    '{"id": "r", "red_flags" : "stroke_signs", "red_flags":\t"none", "cause": "fshd", "severity": "mild"}\n',
    "one.yaml": "red_flags: stroke_signs\nred_flags: none\ncause: fshd\nseverity: mild\n",
    "list.yaml": "- {id: ok, red_flags: none, cause: fshd, severity: mild}\n"
    "- {id: r, red_flags: stroke_signs, red_flags: none, cause: fshd, severity: mild}\n",
}


def evaluate(path: Path, *extra: str) -> tuple[int, list[dict[str, Any]]]:
    out = subprocess.run(
        [sys.executable, "-m", "triage", "evaluate", str(path), "--format", "jsonl", *extra],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert b"Traceback" not in out.stderr
    return out.returncode, [json.loads(line) for line in out.stdout.splitlines()]


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_repeated_red_flag_key_is_never_read_as_either_answer(tmp_path: Path, name: str) -> None:
    """`red_flags` given as stroke signs and then as none is an error entry naming red_flags, not a result,
    and it says that the stroke signs it states call for an emergency."""
    path = tmp_path / name
    path.write_text(FILES[name], encoding="utf-8")
    code, entries = evaluate(path)
    assert code == 1
    repeated = entries[-1]
    assert "urgency" not in repeated
    assert [e["field"] for e in repeated["errors"]] == ["red_flags", "(urgency)"]
    assert "more than once" in repeated["errors"][0]["message"]
    assert "states stroke_signs" in repeated["errors"][1]["message"]
    assert "EMERGENCY" in repeated["errors"][1]["message"]
    if len(entries) == 2:
        assert entries[0]["urgency"] == "routine"
    if '"id":"r"' in FILES[name].replace(" ", "") or "id: r," in FILES[name]:
        assert repeated["id"] == "r"


def test_a_repeated_key_in_many_jsonl_lines_is_caught_on_every_path(tmp_path: Path) -> None:
    """Among many ordinary lines (the fast paths), each line repeating a key is refused, and only those."""
    good = '{"id":"g%d","red_flags":"none","cause":"fshd","severity":"mild"}'
    bad = '{"id":"b%d",' + STROKE_THEN_NONE + "}"
    bare = "{" + STROKE_THEN_NONE + "}"
    lines = [good % n if n % 7 else (bad % n if n % 2 else bare) for n in range(5000)]
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for jobs in ("1", "2"):
        code, entries = evaluate(path, "--compact", "--jobs", jobs)
        assert code == 1
        assert len(entries) == 5000
        refused = [n for n, e in enumerate(entries) if "errors" in e]
        assert refused == [n for n in range(5000) if n % 7 == 0]


# -- YAML merge keys ------------------------------------------------------------------------------------

MERGES = {
    "merge-over.yaml": "- &a {red_flags: [stroke_signs], cause: fshd, severity: mild}\n"
    "- <<: *a\n  red_flags: none\n",
    "merge-under.yaml": "- {<<: {red_flags: [stroke_signs]}, red_flags: none, cause: fshd, severity: mild}\n",
    "merge-only.yaml": "- {<<: {red_flags: none}, cause: fshd, severity: mild}\n",
    "merge-list.yaml": "- {<<: [{red_flags: none}, {cause: fshd}], severity: mild}\n",
    "merge-nested.yaml": "- red_flags: none\n  cause: fshd\n  severity: mild\n  worsening: {<<: {x: 1}}\n",
    "merge-not-a-mapping.yaml": "- {<<: 5, red_flags: none, cause: fshd, severity: mild}\n",
    "merge-one.yaml": "<<: {red_flags: [stroke_signs]}\nred_flags: none\ncause: fshd\nseverity: mild\n",
}


@pytest.mark.parametrize("name", sorted(MERGES))
def test_a_yaml_merge_key_anywhere_refuses_its_record(tmp_path: Path, name: str) -> None:
    """A merge key (<<) at any depth refuses its record, naming the key; the record before it is read."""
    path = tmp_path / name
    path.write_text(MERGES[name])
    code, entries = evaluate(path)
    assert code == 1
    merged = entries[-1]
    assert "urgency" not in merged
    fields = [e["field"] for e in merged["errors"]]
    assert fields[0] in ("<<", "worsening.<<")
    assert "merge key (<<)" in merged["errors"][0]["message"]
    if "stroke_signs" in MERGES[name]:
        assert fields[-1] == "(urgency)"
    if name == "merge-over.yaml":
        assert entries[0]["urgency"] == "emergency"  # an anchor alone is no merge


# -- a repeated key that the exact reading cannot check -------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
@pytest.mark.parametrize("depth", [900, 990, 1020])
def test_a_record_too_deep_to_check_for_repeated_keys_is_refused(
    tmp_path: Path, suffix: str, depth: int
) -> None:
    """A repeated key beside a value nested deeper than the exact reading can go is refused, never read
    as its last value; the depth at which it happens does not matter."""
    deep = "[" * depth + "]" * depth
    path = tmp_path / f"deep{suffix}"
    path.write_text(
        '{"red_flags":"stroke_signs","months_since_paralysis":' + deep + ',"red_flags":"none",'
        '"cause":"fshd","severity":"mild"}\n'
    )
    code, (entry,) = evaluate(path)
    assert code == 1
    assert "urgency" not in entry
    message = entry["errors"][0]["message"]
    assert "more than once" in message or "nested too deeply" in message, message


KEYISH = st.text(alphabet='ab"\\:, {}[]\t', max_size=6)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-9, 9), KEYISH),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYISH, inner, max_size=3),
    max_leaves=12,
)


def _with_repeat(value: Any, path: list[int], key: str, first: Any, second: Any) -> str:
    """`value` as JSON text, with an object that gives `key` twice put in at `path`."""
    repeated = "{" + f"{json.dumps(key)}: {json.dumps(first)}, {json.dumps(key)}: {json.dumps(second)}" + "}"
    if not path:
        return repeated
    if isinstance(value, dict) and value:
        items = list(value.items())
        index = path[0] % len(items)
        parts = [
            f"{json.dumps(k)}: {_with_repeat(v, path[1:], key, first, second) if n == index else json.dumps(v)}"
            for n, (k, v) in enumerate(items)
        ]
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list) and value:
        index = path[0] % len(value)
        return (
            "["
            + ", ".join(
                _with_repeat(v, path[1:], key, first, second) if n == index else json.dumps(v)
                for n, v in enumerate(value)
            )
            + "]"
        )
    return repeated


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    record=st.dictionaries(KEYISH, JSON_VALUES, max_size=4),
    path=st.lists(st.integers(0, 5), max_size=4),
    key=KEYISH,
    values=st.tuples(JSON_VALUES, JSON_VALUES),
)
def test_a_repeated_key_is_always_found_whatever_the_text_around_it(
    record: dict[str, Any], path: list[int], key: str, values: tuple[Any, Any]
) -> None:
    """Keys and values full of quotes, backslashes, colons and brackets never hide a key given twice, at any
    depth: the record is refused; the same record without the repeat is never refused for one."""
    text = "{" + f'"wrapper": {_with_repeat(record, path, key, *values)}' + "}"
    pack = triage.load_rulepack()
    line = text.encode()
    exact = exact_record(line, orjson.loads(line), "a.jsonl:1", pack)
    assert isinstance(exact, Rejected)
    assert any("more than once" in p.message for p in exact.problems)
    clean = json.dumps({"wrapper": record}).encode()
    assert not isinstance(exact_record(clean, orjson.loads(clean), "a.jsonl:1", pack), Rejected)


# -- repeated keys inside FHIR resources ----------------------------------------------------------------


def _response(red_flags: str = "none") -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [
            {"linkId": "red_flags", "answer": [{"valueCoding": {"code": red_flags}}]},
            {"linkId": "cause", "answer": [{"valueCoding": {"code": "fshd"}}]},
            {"linkId": "severity", "answer": [{"valueCoding": {"code": "mild"}}]},
        ],
    }


NESTED = {
    "code": (
        '{"code": "none"}',
        '{"code": "stroke_signs", "code": "none"}',
        "item[0].answer[0].valueCoding.code",
    ),
    "answer": (
        '"answer": [{"valueCoding": {"code": "none"}}]',
        '"answer": [{"valueCoding": {"code": "stroke_signs"}}], "answer": [{"valueCoding": {"code": "none"}}]',
        "item[0].answer",
    ),
    "linkId": (
        '"linkId": "red_flags"',
        '"linkId": "red_flags", "linkId": "cause"',
        "item[0].linkId",
    ),
    "valueCoding": (
        '"valueCoding": {"code": "none"}',
        '"valueCoding": {"code": "stroke_signs"}, "valueCoding": {"code": "none"}',
        "item[0].answer[0].valueCoding",
    ),
}


@pytest.mark.parametrize("where", sorted(NESTED))
def test_a_repeated_key_inside_a_fhir_response_refuses_it(tmp_path: Path, where: str) -> None:
    """A key given twice anywhere in a QuestionnaireResponse (an answer, a coding's code, an item) refuses it,
    naming where; in a Bundle, only the entry that holds it, the other entries being read."""
    clean, repeated, field = NESTED[where]
    response = json.dumps(_response())
    assert clean in response
    alone = response.replace(clean, repeated, 1)
    (tmp_path / "one.json").write_text(alone)
    bundle = (
        '{"resourceType": "Bundle", "entry": [{"resource": ' + response + '}, {"resource": ' + alone + "}]}"
    )
    (tmp_path / "bundle.json").write_text(bundle)
    for name, expected in (("one.json", field), ("bundle.json", f"resource.{field}")):
        code, entries = evaluate(tmp_path / name)
        assert code == 1
        refused = entries[-1]
        assert "urgency" not in refused
        assert refused["errors"][0]["field"] == expected
        assert "more than once" in refused["errors"][0]["message"]
        if "stroke_signs" in repeated:
            assert refused["errors"][-1]["field"] == "(urgency)"
        if name == "bundle.json":
            assert [Path(e["source"]).name for e in entries] == [
                "bundle.json#entry[0]",
                "bundle.json#entry[1]",
            ]
            assert entries[0]["urgency"] == "routine"


def test_a_repeated_key_outside_the_entries_refuses_the_whole_bundle(tmp_path: Path) -> None:
    """A key given twice in a Bundle itself (not inside an entry) leaves it unclear which entries it holds."""
    entry = '{"resource": ' + json.dumps(_response()) + "}"
    path = tmp_path / "bundle.json"
    path.write_text('{"resourceType": "Bundle", "entry": [' + entry + '], "entry": [' + entry + "]}")
    code, (refused,) = evaluate(path)
    assert code == 1
    assert refused["source"] == str(path)
    assert refused["errors"][0]["field"] == "entry"
    assert "this key is given more than once in the same place" in refused["errors"][0]["message"]


def test_a_repeated_key_nested_in_a_yaml_record_refuses_it(tmp_path: Path) -> None:
    """A mapping that repeats a key at any depth of a YAML record refuses the record, naming where."""
    path = tmp_path / "nested.yaml"
    path.write_text(
        "- {red_flags: none, cause: fshd, severity: mild}\n"
        "- red_flags: none\n  cause: fshd\n  severity: mild\n  months_since_paralysis: {x: 1, x: 2}\n"
        "- red_flags: [{code: stroke_signs, code: none}]\n"
    )
    code, entries = evaluate(path)
    assert code == 1
    assert entries[0]["urgency"] == "routine"
    assert entries[1]["errors"][0]["field"] == "months_since_paralysis.x"
    assert entries[2]["errors"][0]["field"] == "red_flags[0].code"
    assert entries[2]["errors"][-1]["field"] == "(urgency)"

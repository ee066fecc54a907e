"""The engine's safety properties (docs/SAFETY.md), over the whole answer space and random records.

Where the answer space is small enough, a property is checked for every answer set
(`triage.core.answerspace`), which checks it for every possible record; hypothesis adds
random records in every accepted form, and hostile values that no form accepts.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import triage
from triage.core.answers import alarm_options
from triage.core.answerspace import answer_space
from triage.core.engine import decide
from triage.core.vocabulary import AnswerValue
from triage.packs.loading import default_pack_path

PACK = triage.load_rulepack()
QUESTIONS = PACK.questions
SPACE: list[dict[str, AnswerValue]] = list(answer_space(PACK))
LEVELS = [level.id for level in PACK.document.urgency.levels]
"""Urgency levels, most urgent first: the order is the pack's, not the engine's."""
RED_FLAG_SUGGESTIONS = {"emergency_call", "same_day_care"}
"""SPEC §4: with a red flag, only these are given."""
EMERGENCY_FLAGS = {"stroke_signs", "sudden_face_droop"}
"""SPEC §4 v2: the red flags that mean the emergency number (FAST: a face that drooped all at once)."""
RED_FLAGS = list(QUESTIONS["red_flags"].option_ids())
NONE_FORMS: list[object] = [[], "none", ["none"], "None", " NONE ", [" none "]]
"""Every way SPEC §5 lets a record say "none of these" (the reading is case-insensitive)."""
MISSING_FORMS: list[object] = [None, "", "   ", ";", " ; ", ";;", [""], [" "], [None], {}, 0, False]
"""Answers that say nothing: none of them may be read as "none of these"."""

PROPERTY = settings(derandomize=True, max_examples=150, deadline=None)
FEW = settings(derandomize=True, max_examples=60, deadline=None)


def rank(level: str) -> int:
    """0 for the most urgent level; a larger number is less urgent."""
    return LEVELS.index(level)


def as_record(values: Mapping[str, AnswerValue]) -> dict[str, object]:
    """The plain answer record for a normalised answer set (multi-selects as sorted lists)."""
    return {k: sorted(v) if isinstance(v, frozenset) else v for k, v in values.items()}


def urgency_of(values: Mapping[str, AnswerValue]) -> str:
    return triage.evaluate(as_record(values)).urgency


def red_flagged(values: Mapping[str, AnswerValue]) -> bool:
    return bool(values["red_flags"])


def canonical(result: triage.Result | triage.RecordError) -> str:
    return result.model_dump_json()


# --- strategies -----------------------------------------------------------------------------------

OPTION_IDS = sorted({o for q in QUESTIONS.values() for o in q.option_ids()})
KNOWN_KEYS = ["id", *QUESTIONS]
LONE_SURROGATES = ["\ud800", "\udfff", "a\udc80b"]

huge_ints = st.builds(
    lambda digits, sign: sign * (10**digits + 7), st.integers(4_000, 6_000), st.sampled_from([1, -1])
)
numbers = st.integers() | huge_ints | st.floats(allow_nan=True, allow_infinity=True)
texts = (
    st.text(max_size=30)
    | st.sampled_from([*OPTION_IDS, "none", "", " ", ";", " ; ", "yes;no", *LONE_SURROGATES])
    | st.sampled_from(OPTION_IDS).map(lambda s: s.upper())
    | st.just("x" * 100_000)
)
scalars = st.none() | st.booleans() | numbers | texts


def near_keys(key: str) -> list[str]:
    """Keys a person or a program might write for `key`: close, but not the key."""
    return [
        key.upper(),
        key.title(),
        f" {key}",
        f"{key} ",
        key.replace("_", "-"),
        key.replace("_", " "),
        f"{key}\u200b",
        "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in key),  # full-width letters
        f"{key}s",
    ]


NEAR_KEYS = sorted({n for k in KNOWN_KEYS for n in near_keys(k)})
keys = (
    st.sampled_from(KNOWN_KEYS)
    | st.sampled_from(NEAR_KEYS)
    | st.text(max_size=12)
    | st.sampled_from(LONE_SURROGATES)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=25,
)


@st.composite
def answer_sets(draw: st.DrawFn, flagged: bool | None = None) -> dict[str, AnswerValue]:
    """One answer set of the whole space, optionally with or without a red flag."""
    pool = SPACE if flagged is None else [v for v in SPACE if red_flagged(v) == flagged]
    return dict(draw(st.sampled_from(pool)))


@st.composite
def written(draw: st.DrawFn, values: Mapping[str, AnswerValue]) -> dict[str, object]:
    """A record for `values` in one of the equivalent forms SPEC §5 accepts, keys in any order."""
    record: dict[str, object] = {}
    for key, value in values.items():
        question = QUESTIONS[key]
        if question.type == "multi":
            assert isinstance(value, frozenset)
            if not value:
                record[key] = draw(st.sampled_from(NONE_FORMS))
            else:
                ids = draw(st.permutations(sorted(value)))
                record[key] = draw(
                    st.sampled_from([list(ids), ";".join(ids), " ; ".join(ids), [f" {i} " for i in ids]])
                )
        elif question.type == "number":
            assert isinstance(value, int)
            record[key] = draw(st.sampled_from([value, str(value), float(value), f" {value} ", f"{value}.0"]))
        else:
            assert isinstance(value, str)
            forms: list[object] = [value, f" {value}", f"{value}\t"]
            if value in ("yes", "no"):
                forms.append(value == "yes")
            record[key] = draw(st.sampled_from(forms))
    order = draw(st.permutations(list(record)))
    return {k: record[k] for k in order}


@st.composite
def valid_records(
    draw: st.DrawFn, flagged: bool | None = None
) -> tuple[dict[str, AnswerValue], dict[str, object]]:
    values = draw(answer_sets(flagged))
    return values, draw(written(values))


# --- nothing raises -------------------------------------------------------------------------------


def check_entry(entry: object) -> None:
    """An entry of evaluate_many: a result or an error, that serialises to JSON and back."""
    assert isinstance(entry, (triage.Result, triage.RecordError))
    assert json.loads(entry.model_dump_json())
    if isinstance(entry, triage.Result):
        assert entry.disclaimer == PACK.document.disclaimer
        assert entry.suggestions
    else:
        assert entry.errors
        assert all(p.message for p in entry.errors)


@PROPERTY
@given(st.lists(json_values | st.dictionaries(keys, json_values, max_size=9), max_size=4))
def test_arbitrary_json_records_never_raise(records: list[object]) -> None:
    """Any JSON values as records: one entry each, in order, a result or an error, never an exception."""
    out = list(triage.evaluate_many(records))
    assert len(out) == len(records)
    for entry in out:
        check_entry(entry)


def _nested(depth: int) -> object:
    value: object = "stroke_signs"
    for _ in range(depth):
        value = [value]
    return value


HOSTILE_VALUES = {
    "nested-100000-deep": _nested(100_000),
    "nested-mapping": {"red_flags": {"red_flags": []}},
    "huge-int": 10**100_000,
    "negative-huge-int": -(10**5_000),
    "nan": math.nan,
    "inf": math.inf,
    "ten-megabytes": "stroke_signs" * 900_000,
    "many-separators": ";" * 1_000_000,
    "many-choices": ";".join(["stroke_signs"] * 200_000),
    "lone-surrogate": "\ud800",
    "nul": "stroke\x00signs",
    "bytes": b"stroke_signs",
    "set": {"stroke_signs"},
    "tuple-with-huge-int": ("stroke_signs", 10**5_000),
}


@pytest.mark.parametrize("value", list(HOSTILE_VALUES.values()), ids=list(HOSTILE_VALUES))
@pytest.mark.parametrize("key", [*QUESTIONS, "id", "hostile-key"])
def test_hostile_value_in_any_field_gives_an_entry(key: str, value: object) -> None:
    """A hostile value in any field (or as a key) gives a result or a clear error, never an exception."""
    base: dict[object, object] = {"red_flags": [], "cause": "other", "severity": "mild"}
    base.update({"worsening": "no", "related_findings": []})
    record = {**base, key: value} if key != "hostile-key" else {**base, _as_key(value): 1}
    (entry,) = triage.evaluate_many([record])
    check_entry(entry)
    if isinstance(entry, triage.RecordError):
        assert all(len(p.message) < 2_000 for p in entry.errors)
        assert all(len(p.field) < 200 for p in entry.errors)


def _as_key(value: object) -> object:
    try:
        hash(value)
    except TypeError:
        return repr(type(value))
    return value


# --- every valid record ---------------------------------------------------------------------------


def test_every_answer_set_gets_the_disclaimer_and_cited_suggestions() -> None:
    """For every answer set: the pack's disclaimer, at least one suggestion, and every text cited."""
    assert "doctor" in PACK.document.disclaimer
    for values in SPACE:
        result = triage.evaluate(as_record(values))
        assert result.disclaimer == PACK.document.disclaimer
        assert result.suggestions, values
        for cited in (*result.suggestions, result.prognosis, result.urgency_advice):
            assert cited.citations, (values, cited)
        assert result.rulepack == PACK.info


@PROPERTY
@given(valid_records())
def test_every_valid_record_gets_the_disclaimer_and_a_suggestion(
    case: tuple[dict[str, AnswerValue], dict[str, object]],
) -> None:
    """A valid record in any accepted form gives a result with the disclaimer and a suggestion."""
    _, record = case
    (entry,) = triage.evaluate_many([record])
    assert isinstance(entry, triage.Result), entry
    check_entry(entry)
    assert not entry.warnings


# --- red flags ------------------------------------------------------------------------------------


def test_the_packs_urgency_order_is_the_specs() -> None:
    """The pack lists its levels most urgent first, as SPEC §4 ranks them; the red-flag levels lead."""
    assert LEVELS == ["emergency", "urgent", "soon", "routine"]


def check_red_flag_result(result: triage.Result, flags: frozenset[str]) -> None:
    assert rank(result.urgency) <= rank("urgent")
    if flags & EMERGENCY_FLAGS:
        assert result.urgency == "emergency"
        assert [s.id for s in result.suggestions] == ["emergency_call"]
    assert result.prognosis.category == "not_assessed"
    ids = {s.id for s in result.suggestions}
    assert ids
    assert ids <= RED_FLAG_SUGGESTIONS


def test_every_red_flag_label_says_how_recent() -> None:
    """The questionnaire shows a description only beside the highlighted choice, so each red flag's label
    says how recent it must be: an old palsy or a past stroke is not ticked as a warning sign."""
    for option in QUESTIONS["red_flags"].options:
        assert re.search(r"\bin the last (few hours|\d+ days)\b", option.label), option.label


def test_every_safety_net_follows_fast() -> None:
    """Each safety net sends a new stroke sign to the emergency number at once, even if it passes: a face
    that already droops from a palsy is not itself the sign, a new droop is."""
    for level in PACK.document.urgency.levels[1:]:
        net = " ".join((level.safety_net or "").split())
        assert "emergency number at once if you get a new sign of a stroke" in net, level.id
        assert "even if it passes" in net, level.id
        for sign in ("face droops", "arm or leg", "speaking"):
            assert sign in net, (level.id, sign)


def test_every_red_flag_answer_set_is_emergency_or_urgent() -> None:
    """For every answer set with a red flag: emergency or urgent, not assessed, only red-flag suggestions."""
    flagged = [v for v in SPACE if red_flagged(v)]
    assert len(flagged) == 2 ** len(RED_FLAGS) - 1 == 7
    for values in flagged:
        flags = values["red_flags"]
        assert isinstance(flags, frozenset)
        check_red_flag_result(triage.evaluate(as_record(values)), flags)


@PROPERTY
@given(
    st.sets(st.sampled_from(RED_FLAGS), min_size=1),
    st.dictionaries(st.sampled_from(list(QUESTIONS)[1:]), json_values, max_size=6),
)
def test_a_red_flag_wins_whatever_else_the_record_says(flags: set[str], rest: dict[str, object]) -> None:
    """With a red flag, any other answers (even nonsense) are ignored with warnings: the flag decides. But
    one that names a more urgent red flag (`cause: stroke_signs` beside `sudden_onset`) is never ignored:
    the record is refused, and its note calls for at least what that red flag does."""
    record = {**rest, "red_flags": sorted(flags)}
    (entry,) = triage.evaluate_many([record])
    if isinstance(entry, triage.RecordError):
        flagged = triage.evaluate({"red_flags": sorted(flags)}).urgency
        named = [o for o in alarm_options(PACK).found(rest.items()) if o.question == "red_flags"]
        assert any(LEVELS.index(o.level) < LEVELS.index(flagged) for o in named), entry
        (note,) = [p.message for p in entry.errors if p.field == "(urgency)"]
        most = min((o.level for o in named), key=LEVELS.index)
        assert PACK.levels[most].label in note
        return
    assert isinstance(entry, triage.Result), entry
    check_red_flag_result(entry, frozenset(flags))
    given_others = {k for k, v in rest.items() if v is not None}
    assert {w.field for w in entry.warnings} == given_others


red_flag_answers = (
    st.sampled_from([*NONE_FORMS, *MISSING_FORMS])
    | st.text(alphabet=" ;,\t\nnoeNOE", max_size=8)
    | st.lists(st.text(alphabet=" ;noe", max_size=5), max_size=3)
    | json_values
)


@PROPERTY
@given(valid_records(flagged=False), red_flag_answers)
def test_a_red_flag_screen_is_none_only_when_it_says_none(
    case: tuple[dict[str, AnswerValue], dict[str, object]], red_flags: object
) -> None:
    """Whatever red_flags holds, a result without a red flag comes only from an explicit "none"."""
    _, record = case
    (entry,) = triage.evaluate_many([{**record, "red_flags": red_flags}])
    if isinstance(entry, triage.Result) and entry.prognosis.category != "not_assessed":
        assert red_flags in NONE_FORMS or _says_none(red_flags), red_flags


def _says_none(value: object) -> bool:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return isinstance(value, str) and value.strip().lower() == "none"


@pytest.mark.parametrize("form", ["absent", *MISSING_FORMS], ids=repr)
def test_a_missing_red_flag_answer_is_never_read_as_none(form: object) -> None:
    """Every answer set without its red-flag answer (absent, empty, blank) gives an error on red_flags."""
    for values in SPACE:
        if red_flagged(values):
            continue
        record = as_record(values)
        if form == "absent":
            del record["red_flags"]
        else:
            record["red_flags"] = form
        (entry,) = triage.evaluate_many([record])
        assert isinstance(entry, triage.RecordError), (form, values)
        assert "red_flags" in {p.field for p in entry.errors}


# --- prognosis no stronger than the source ------------------------------------------------------

SOURCE_PARAGRAPHS = PACK.paragraphs


def test_recovery_is_promised_only_where_the_source_says_so() -> None:
    """'recoverable' only for mild atrophy with no warning sign, no sign of worsening and no long paralysis."""
    long_standing = PACK.param("long_standing_months")
    assert "Patients with mild symptoms can be cured" in SOURCE_PARAGRAPHS[0]
    given = 0
    for values in SPACE:
        result = triage.evaluate(as_record(values))
        if result.prognosis.category != "recoverable":
            continue
        given += 1
        assert values["severity"] == "mild", values
        assert not red_flagged(values)
        assert values.get("worsening", "no") == "no"
        assert not values.get("related_findings")
        months = values.get("months_since_paralysis", 0)
        assert isinstance(months, int)
        assert months < long_standing
        assert result.prognosis.citations[0] == triage.ArticleCitation(
            paragraph=1, quote="Patients with mild symptoms can be cured"
        )
    assert given > 0


def test_a_warning_sign_is_never_met_with_a_hopeful_prognosis() -> None:
    """With a red flag, worsening, or a related finding, the prognosis is never recoverable; with a red
    flag it is not assessed at all."""
    for values in SPACE:
        worrying = red_flagged(values) or values.get("worsening") in ("yes", "not_sure")
        worrying = worrying or bool(values.get("related_findings"))
        category = triage.evaluate(as_record(values)).prognosis.category
        if worrying:
            assert category != "recoverable", values
        if red_flagged(values):
            assert category == "not_assessed", values


# --- near-valid records ---------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn) -> tuple[dict[str, object], str, str]:
    """A valid record with one field deleted, replaced by any JSON value, or joined by a near-key."""
    _, record = draw(valid_records())
    how = draw(st.sampled_from(["delete", "replace", "near-key"]))
    if how == "near-key":
        key = draw(st.sampled_from(NEAR_KEYS))
        record[key] = draw(json_values)
    else:
        key = draw(st.sampled_from(sorted(record)))
        if how == "delete":
            del record[key]
        else:
            record[key] = draw(json_values)
    return record, key, how


@PROPERTY
@given(mutated())
def test_a_near_valid_record_is_evaluated_or_its_error_names_the_field(
    case: tuple[dict[str, object], str, str],
) -> None:
    """One field deleted, replaced or doubled by a near-key: a result, or an error naming that field."""
    record, key, how = case
    (entry,) = triage.evaluate_many([record])
    check_entry(entry)
    if how == "near-key":
        assert isinstance(entry, triage.RecordError)  # never silently ignored
    if key == "red_flags" and how == "delete":
        assert isinstance(entry, triage.RecordError)
    if isinstance(entry, triage.RecordError):
        fields = {p.field for p in entry.errors}
        assert key in fields or (how == "near-key" and any(key.strip() in f for f in fields)), (key, entry)


# --- monotonic safety -----------------------------------------------------------------------------


def changed(values: Mapping[str, AnswerValue], **changes: AnswerValue) -> dict[str, AnswerValue]:
    return {**values, **changes}


def worsened_sets() -> Iterator[tuple[str, dict[str, AnswerValue], dict[str, AnswerValue]]]:
    """Every answer set with each one-step change that makes things look worse, no better."""
    for values in SPACE:
        flags = values["red_flags"]
        assert isinstance(flags, frozenset)
        for flag in sorted(set(QUESTIONS["red_flags"].option_ids()) - flags):
            yield f"add red flag {flag}", values, changed(values, red_flags=flags | {flag})
        findings = values.get("related_findings")
        if isinstance(findings, frozenset):
            for finding in sorted(set(QUESTIONS["related_findings"].option_ids()) - findings):
                yield f"add finding {finding}", values, changed(values, related_findings=findings | {finding})
        if values.get("worsening") in ("no", "not_sure"):
            yield "worsening to yes", values, changed(values, worsening="yes")
        if values.get("treated_early") == "yes":
            for answer in ("no", "not_sure"):
                yield f"treated_early to {answer}", values, changed(values, treated_early=answer)
        eyes = values.get("eye_problems")
        if isinstance(eyes, frozenset):
            for eye in sorted(set(QUESTIONS["eye_problems"].option_ids()) - eyes):
                yield f"add eye-problem {eye}", values, changed(values, eye_problems=eyes | {eye})


def test_worse_answers_never_lower_the_urgency() -> None:
    """Adding a red flag, a finding or an eye problem, worsening yes, or treated_early no/not_sure
    never lowers the urgency."""
    seen: set[str] = set()
    for change, before, after in worsened_sets():
        seen.add(change.split()[0] + " " + change.split()[1])
        assert rank(urgency_of(after)) <= rank(urgency_of(before)), (change, before)
    assert seen == {"add red", "add finding", "worsening to", "treated_early to", "add eye-problem"}


def test_an_eye_problem_after_a_paralysis_is_never_routine() -> None:
    """An eye that does not close is seen within two weeks at most; a painful or red one the same day."""
    checked = 0
    for values in SPACE:
        eyes = values.get("eye_problems")
        if not eyes:
            continue
        assert isinstance(eyes, frozenset)
        checked += 1
        result = triage.evaluate(as_record(values))
        assert rank(result.urgency) <= rank("soon"), values
        if "painful_or_red" in eyes:
            assert rank(result.urgency) <= rank("urgent"), values
        assert "eye_care" in {s.id for s in result.suggestions}
    assert checked > 0


def test_a_more_recent_paralysis_is_never_less_urgent() -> None:
    """For every paralysis answer set, urgency never drops as months_since_paralysis shrinks, 1200 to 0."""
    question = QUESTIONS["months_since_paralysis"]
    assert question.min == 0
    assert question.max == 1200
    combos = {
        tuple(sorted((k, v) for k, v in s.items() if k != "months_since_paralysis"))
        for s in SPACE
        if "months_since_paralysis" in s
    }
    assert len(combos) == 2 * 3 * 3 * 4
    pack = triage.load_rulepack(default_pack_path())  # its own decision cache, dropped afterwards
    for combo in combos:
        ranks = []
        for months in range(question.min, question.max + 1):
            values = {**dict(combo), "months_since_paralysis": months}
            ranks.append(rank(decide(pack, values).urgency))  # the engine's pure decision
        assert ranks == sorted(ranks), combo  # less urgent (larger rank) only as months grow


def test_monotonic_checks_can_fail() -> None:
    """The urgency order is used the right way round: a stroke is more urgent than a routine case."""
    routine = next(v for v in SPACE if urgency_of(v) == "routine")
    stroke = changed(routine, red_flags=frozenset({"stroke_signs"}))
    assert rank(urgency_of(stroke)) < rank(urgency_of(routine))


# --- determinism ----------------------------------------------------------------------------------


@PROPERTY
@given(st.data())
def test_equivalent_records_give_byte_identical_results(data: st.DataObject) -> None:
    """Two records of the same answers, in different accepted forms and key orders, give identical JSON."""
    values = data.draw(answer_sets())
    first = data.draw(written(values))
    second = data.draw(written(values))
    assert canonical(triage.evaluate(first)) == canonical(triage.evaluate(second))
    assert canonical(triage.evaluate(first)) == canonical(triage.evaluate(as_record(values)))


def test_a_fresh_pack_gives_byte_identical_results() -> None:
    """A pack loaded anew (cold decision cache) gives the same bytes as the shared one, for every answer set."""
    fresh = triage.load_rulepack(default_pack_path())
    assert fresh is not PACK
    for values in SPACE:
        record = as_record(values)
        assert canonical(triage.evaluate(record, rulepack=fresh)) == canonical(triage.evaluate(record))


DIGEST_SCRIPT = """
import hashlib, triage
from triage.core.answerspace import answer_space
pack = triage.load_rulepack()
digest = hashlib.sha256()
for values in answer_space(pack):
    record = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in values.items()}
    digest.update(triage.evaluate(record).model_dump_json().encode())
print(digest.hexdigest())
"""


def test_results_do_not_depend_on_the_hash_seed() -> None:
    """Processes with different hash seeds give byte-identical results for the whole answer space."""
    digest = hashlib.sha256()
    for values in SPACE:
        digest.update(canonical(triage.evaluate(as_record(values))).encode())
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", DIGEST_SCRIPT],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert out.stdout.strip() == digest.hexdigest()


@FEW
@given(st.lists(st.one_of(valid_records().map(lambda c: c[1]), json_values), max_size=6))
def test_evaluate_many_gives_each_record_its_own_result(records: list[object]) -> None:
    """Each entry of evaluate_many is exactly what evaluating its record alone gives, in order."""
    alone: list[str] = []
    for record in records:
        try:
            alone.append(canonical(triage.evaluate(record)))  # type: ignore[arg-type]
        except triage.InvalidAnswers as exc:
            alone.append(canonical(triage.RecordError(id=exc.record_id, errors=exc.problems)))
    assert [canonical(e) for e in triage.evaluate_many(records)] == alone


# --- the safety case itself -----------------------------------------------------------------------

SAFETY_CASE = Path(__file__).parent.parent / "docs" / "SAFETY.md"


def test_safety_case_names_only_tests_that_exist() -> None:
    """Every test that docs/SAFETY.md names exists, and every hazard names at least one."""
    text = SAFETY_CASE.read_text(encoding="utf-8")
    hazards = re.split(r"^### ", text, flags=re.MULTILINE)[1:]
    assert len(hazards) >= 10
    root = SAFETY_CASE.parent.parent
    for hazard in hazards:
        named = re.findall(r"`(tests/\w+\.py)::(\w+)`", hazard)
        assert named, hazard.splitlines()[0]
        for file, name in named:
            source = (root / file).read_text(encoding="utf-8")
            assert re.search(rf"^def {name}\(", source, flags=re.MULTILINE), f"{file}::{name}"

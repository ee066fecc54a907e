"""Pack verification: every kind of problem is caught, located, and shown on a real answer set."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import triage
from triage.core.answers import read_answers
from triage.core.answerspace import answer_space
from triage.core.errors import DuplicateKey, PackProblem, UnreadablePack, answers_record
from triage.core.pack import Rule
from triage.packs.loading import default_pack_path, read_pack
from triage.packs.verify import PROBLEM_KINDS, AnswerSpace, check_tables, verify

PACKS = Path(__file__).parent / "data" / "packs"

# (fixture, kind, where, message): the problem each broken pack must report.
BROKEN = [
    ("unreadable-yaml", "unreadable", "line 78", "expected ',' or ']'"),
    ("missing-source", "unreadable", "source.file", "cannot read"),
    ("unknown-field", "schema", "urgency.rules[U4].priority", "unknown field"),
    ("wrong-type", "schema", "questions[months].max", "valid integer"),
    ("duplicate-key", "duplicate-key", "line 86", "duplicate key 'then' (first at line 85)"),
    ("duplicate-id", "duplicate-id", "rules", "'U2' is defined 2 times"),
    ("undefined-term", "undefined", "prognosis.rules[P1].when", "term 'inherited' is not defined"),
    ("undefined-option", "undefined", "prognosis.rules[P2].when", "'critical' is not an option of severity"),
    ("wrong-question-type", "wrong-question-type", "terms.paralysis", "cause is a single question"),
    ("term-cycle", "term-cycle", "terms.long_standing", "long_standing -> still_recent -> long_standing"),
    (
        "asked-out-of-order",
        "asked-out-of-order",
        "questions[severity].asked_when",
        "reads months, which is not asked before",
    ),
    (
        "citation-quote",
        "citation",
        "prognosis.categories[progressive].citations[0].quote",
        "'gradually improve' does not occur verbatim in paragraph 5",
    ),
    (
        "citation-paragraph",
        "citation",
        "prognosis.categories[difficult].citations[0].paragraph",
        "paragraph 9 does not exist (1 to 7)",
    ),
    ("unused", "unused", "terms.inherited", "term inherited is never used"),
    ("unused", "unused", "parameters.unused_months", "parameter unused_months is never used"),
    (
        "unused",
        "unused",
        "prognosis.categories[unused_category]",
        "no rule gives the prognosis category unused_category",
    ),
    (
        "indistinguishable-options",
        "indistinguishable-options",
        "questions[cause].options",
        "no condition names other, unknown",
    ),
    ("unguarded", "unguarded", "suggestions[daily_care].when", "holds only because months was not asked"),
    ("prognosis-gap", "gap", "prognosis.rules", "no rule matches 1 answer set"),
    ("prognosis-overlap", "overlap", "prognosis.rules[P2]", "rules P2, P3 all match 2 answer sets"),
    ("urgency-gap", "gap", "urgency.rules", "no rule matches 6 answer sets"),
    ("shadowed", "shadowed", "urgency.rules[U1b].when", "whenever it matches, U1 matched first"),
    ("never-fires", "never-fires", "prognosis.rules[P6].when", "rule P6 matches no possible answers"),
    (
        "no-effect",
        "no-effect",
        "questions[months]",
        "no answer to months changes the urgency, prognosis or suggestions",
    ),
    ("example-mismatch", "example", "examples[severe-other].expect.urgency", "expected urgent, got routine"),
    (
        "missing-safety-net",
        "safety-net",
        "urgency.levels[routine]",
        "routine is below the most urgent level (emergency), so it needs a safety_net",
    ),
]


def _problems(name: str) -> tuple[PackProblem, ...]:
    with pytest.raises(triage.RulePackError) as caught:
        triage.load_rulepack(PACKS / name)
    return caught.value.problems


def _find(problems: tuple[PackProblem, ...], kind: str, where: str, message: str) -> PackProblem:
    found = [p for p in problems if p.kind == kind and p.where.startswith(where) and message in p.message]
    assert found, [str(p) for p in problems]
    return found[0]


def test_the_base_of_the_broken_packs_is_clean() -> None:
    """The small pack the fixtures are made from verifies without a problem."""
    pack = triage.load_rulepack(PACKS / "valid")
    assert verify(pack) == []


@pytest.mark.parametrize(("name", "kind", "where", "message"), BROKEN, ids=[f"{b[0]}:{b[2]}" for b in BROKEN])
def test_broken_pack_reports_its_problem(name: str, kind: str, where: str, message: str) -> None:
    """Loading a broken pack is refused with the specific problem, its kind and its location."""
    _find(_problems(name), kind, where, message)


def test_every_kind_of_problem_has_a_fixture() -> None:
    """Each kind of problem verification reports is exercised by a broken pack on disk."""
    covered = {kind for _, kind, _, _ in BROKEN}
    assert {k.kind for k in PROBLEM_KINDS} <= covered
    fixtures = {p.name for p in PACKS.iterdir() if p.is_dir()} - {"valid"}
    assert fixtures == {name for name, *_ in BROKEN}


@pytest.mark.parametrize("kind", PROBLEM_KINDS, ids=lambda k: k.kind)
def test_problem_kinds_have_fixed_descriptions(kind: type[PackProblem]) -> None:
    """Each problem kind has its own name and a one-line description, distinct from the others."""
    assert kind.kind != PackProblem.kind
    assert kind.description
    assert "\n" not in kind.description
    assert len({k.description for k in PROBLEM_KINDS}) == len(PROBLEM_KINDS)


def test_the_pack_format_doc_lists_every_kind_with_its_description() -> None:
    """docs/RULEPACK.md has a row for each problem kind, with the description the code reports."""
    doc = (Path(__file__).parent.parent / "docs" / "RULEPACK.md").read_text(encoding="utf-8")
    for kind in (UnreadablePack, PackProblem, DuplicateKey, *PROBLEM_KINDS):
        assert f"| `{kind.kind}` | {kind.description} |" in doc


def test_problems_carry_the_line_of_pack_yaml() -> None:
    """A problem's line points at the offending part of pack.yaml."""
    problem = _find(_problems("unknown-field"), "schema", "urgency.rules[U4].priority", "unknown field")
    assert problem.line is not None
    lines = (PACKS / "unknown-field" / "pack.yaml").read_text().splitlines()
    assert lines[problem.line - 1].strip() == "priority: 1"
    problem = _find(_problems("citation-quote"), "citation", "prognosis.categories[progressive]", "improve")
    assert problem.line is not None
    assert "gradually improve" in lines_of("citation-quote")[problem.line - 1]


def lines_of(name: str) -> list[str]:
    return (PACKS / name / "pack.yaml").read_text().splitlines()


def _counterexample(
    name: str, kind: str, where: str, message: str
) -> tuple[triage.RulePack, dict[str, object]]:
    problem = _find(_problems(name), kind, where, message)
    assert problem.counterexample is not None
    pack = read_pack(PACKS / name)
    # The counter-example is a complete answer set a person could really give.
    record = answers_record(problem.counterexample)
    assert dict(read_answers(record, pack).values) == dict(problem.counterexample)
    return pack, dict(problem.counterexample)


def test_prognosis_gap_counterexample_matches_no_rule() -> None:
    """On the gap's counter-example, no prognosis rule holds."""
    pack, values = _counterexample("prognosis-gap", "gap", "prognosis.rules", "no rule matches")
    assert not [r.id for r in pack.document.prognosis.rules if r.when.holds(values, pack)]


def test_urgency_gap_counterexample_matches_no_rule() -> None:
    """On the gap's counter-example, no urgency rule holds, so the engine could give no urgency."""
    pack, values = _counterexample("urgency-gap", "gap", "urgency.rules", "no rule matches")
    assert not [r.id for r in pack.document.urgency.rules if r.when.holds(values, pack)]
    with pytest.raises(triage.TriageError, match="no urgency rule"):
        triage.evaluate(answers_record(values), rulepack=pack)


def test_prognosis_overlap_counterexample_matches_both_rules() -> None:
    """On the overlap's counter-example, exactly the reported rules hold at once."""
    pack, values = _counterexample(
        "prognosis-overlap", "overlap", "prognosis.rules", "rules P2, P3 all match"
    )
    matching = [r.id for r in pack.document.prognosis.rules if r.when.holds(values, pack)]
    assert matching == ["P2", "P3"]


def test_shadowed_counterexample_is_decided_by_an_earlier_rule() -> None:
    """The shadowed rule holds on its counter-example, but U1 comes first and decides."""
    pack, values = _counterexample("shadowed", "shadowed", "urgency.rules[U1b]", "U1 matched first")
    holding = [r.id for r in pack.document.urgency.rules if r.when.holds(values, pack)]
    assert holding[:2] == ["U1", "U1b"]
    assert triage.evaluate(answers_record(values), rulepack=pack).urgency == "emergency"


def test_unguarded_counterexample_fires_on_a_missing_answer() -> None:
    """The unguarded suggestion fires on an answer set where months was never asked."""
    pack, values = _counterexample(
        "unguarded", "unguarded", "suggestions[daily_care]", "months was not asked"
    )
    assert "months" not in values
    rule = next(s for s in pack.document.suggestions if s.id == "daily_care")
    assert rule.when.holds(values, pack)
    # With any months answer at or past the cut-off, it would not hold: it hinges on the missing answer.
    assert not rule.when.holds({**values, "months": 6}, pack)


def test_a_guarded_negation_is_not_reported() -> None:
    """`not long_standing` behind a paralysis test is fine: the bundled and base packs check clean."""
    for path in (PACKS / "valid", default_pack_path()):
        assert verify(read_pack(path)) == []


def test_duplicate_keys_are_all_reported(tmp_path: Path) -> None:
    """Every duplicate YAML key is reported at once, each with its line."""
    text = (PACKS / "valid" / "pack.yaml").read_text()
    text = text.replace("format: 1\n", "format: 1\nformat: 1\n").replace(
        "name: mini\n", "name: mini\nname: x\n"
    )
    (tmp_path / "source.txt").write_bytes((PACKS / "valid" / "source.txt").read_bytes())
    (tmp_path / "pack.yaml").write_text(text.replace("../source.txt", "source.txt"))
    with pytest.raises(triage.RulePackError) as caught:
        triage.load_rulepack(tmp_path)
    messages = [p.message for p in caught.value.problems]
    assert len(messages) == 2
    assert "duplicate key 'format'" in messages[0]
    assert "duplicate key 'name'" in messages[1]
    assert all(p.line for p in caught.value.problems)


def test_checking_the_bundled_pack_takes_well_under_a_second() -> None:
    """Full verification of the bundled pack (every check, whole answer space) is fast."""
    pack = read_pack(default_pack_path())
    start = time.perf_counter()
    assert verify(pack) == []
    assert time.perf_counter() - start < 0.5


def _dense_answer_sets(pack: triage.RulePack) -> list[dict[str, object]]:
    """The answer space with number answers at many more values than the thresholds need."""
    months = [*range(13), 100, 1199, 1200]
    dense: list[dict[str, object]] = []
    for values in answer_space(pack):
        if "months_since_paralysis" in values:
            dense.extend({**values, "months_since_paralysis": m} for m in months)
        else:
            dense.append(dict(values))
    return dense


def _with_rules(pack: triage.RulePack, table: str, rules: tuple[Rule, ...]) -> triage.RulePack:
    doc = pack.document
    changed = getattr(doc, table).model_copy(update={"rules": rules})
    return triage.RulePack(doc.model_copy(update={table: changed}), pack.paragraphs, "test", pack.path)


RULE_IDS = [("urgency", r.id) for r in triage.load_rulepack().document.urgency.rules] + [
    ("prognosis", r.id) for r in triage.load_rulepack().document.prognosis.rules
]


@pytest.mark.parametrize(("table", "removed"), RULE_IDS, ids=[f"{t}-{r}" for t, r in RULE_IDS])
def test_a_gap_is_reported_exactly_when_some_answers_match_no_rule(
    pack: triage.RulePack, table: str, removed: str
) -> None:
    """Removing a rule gives a gap report if and only if a dense enumeration finds answers no rule matches."""
    rules = tuple(r for r in getattr(pack.document, table).rules if r.id != removed)
    broken = _with_rules(pack, table, rules)
    gaps = [
        p
        for p in check_tables(broken, AnswerSpace.of(broken))
        if p.kind == "gap" and p.where == f"{table}.rules"
    ]
    unmatched = [a for a in _dense_answer_sets(broken) if not any(r.when.holds(a, broken) for r in rules)]
    assert bool(gaps) == bool(unmatched)
    if gaps:
        example = gaps[0].counterexample
        assert example is not None
        assert not any(r.when.holds(example, broken) for r in rules)


@pytest.mark.parametrize("copied", [r.id for r in triage.load_rulepack().document.prognosis.rules])
def test_a_copied_prognosis_rule_overlaps_its_original(pack: triage.RulePack, copied: str) -> None:
    """A second rule with the same condition is reported as overlapping, on answers both really match."""
    original = next(r for r in pack.document.prognosis.rules if r.id == copied)
    rules = (*pack.document.prognosis.rules, original.model_copy(update={"id": "COPY"}))
    broken = _with_rules(pack, "prognosis", rules)
    overlaps = [p for p in check_tables(broken, AnswerSpace.of(broken)) if p.kind == "overlap"]
    assert len(overlaps) == 1
    assert f"rules {copied}, COPY all match" in overlaps[0].message
    example = overlaps[0].counterexample
    assert example is not None
    assert [r.id for r in rules if r.when.holds(example, broken)] == [copied, "COPY"]


def test_answers_without_any_suggestion_are_a_gap(tmp_path: Path) -> None:
    """A pack leaving some answer sets with no suggestion is refused, with such an answer set."""
    import re
    import shutil

    from triage.packs.loading import default_pack_path

    text = (default_pack_path() / "pack.yaml").read_text(encoding="utf-8")
    for dropped in ("hereditary_management", "daily_face_care"):
        text = re.sub(rf"(?ms)^  - id: {dropped}\n.*?(?=^  - id: |^# )", "", text)
    text = text[: text.index("\nexamples:")] + "\n"  # the examples name the dropped suggestions
    (tmp_path / "pack.yaml").write_text(text, encoding="utf-8")
    shutil.copy(default_pack_path() / "source.txt", tmp_path / "source.txt")
    with pytest.raises(triage.RulePackError) as caught:
        triage.load_rulepack(tmp_path)
    [gap] = [p for p in caught.value.problems if p.where == "suggestions"]
    assert "no suggestion matches" in gap.message
    assert gap.counterexample is not None
    assert gap.counterexample["cause"] in {"fshd", "opmd"}

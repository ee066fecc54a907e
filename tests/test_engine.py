"""The engine against SPEC §4: every table row, the boundaries, and the whole answer space."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pytest
from spec_oracle import prognosis, suggestions, urgency

import triage
from triage.answerspace import answer_space

PARALYSES = ["peripheral_facial_paralysis", "central_facial_paralysis"]
OTHERS = ["other", "unknown"]


def paralysis(months: int, treated: str, severity: str = "mild", cause: str = PARALYSES[0]) -> dict[str, Any]:
    return {
        "red_flags": [],
        "cause": cause,
        "severity": severity,
        "months_since_paralysis": months,
        "treated_early": treated,
    }


def other(
    worsening: str, findings: list[str], severity: str = "mild", cause: str = "other"
) -> dict[str, Any]:
    return {
        "red_flags": [],
        "cause": cause,
        "severity": severity,
        "worsening": worsening,
        "related_findings": findings,
    }


URGENCY_ROWS = [
    ("U1", "emergency", {"red_flags": ["stroke_signs"]}),
    ("U1", "emergency", {"red_flags": ["stroke_signs", "sudden_onset"]}),
    ("U2", "urgent", {"red_flags": ["sudden_onset"]}),
    ("U3", "urgent", paralysis(0, "no")),
    ("U3", "urgent", paralysis(0, "not_sure", cause=PARALYSES[1])),
    ("U4", "soon", paralysis(1, "no")),  # one month is no longer recent
    ("U4", "soon", paralysis(6, "not_sure")),
    ("U4", "soon", paralysis(1200, "no", "severe")),
    ("U5", "soon", other("yes", [])),
    ("U5", "soon", other("not_sure", [])),
    ("U5", "soon", other("no", ["family_history"], cause="unknown")),
    ("U6", "routine", paralysis(0, "yes")),
    ("U6", "routine", other("no", [])),
    ("U6", "routine", {"red_flags": "none", "cause": "fshd", "severity": "severe"}),
]


@pytest.mark.parametrize(
    ("rule", "level", "answers"), URGENCY_ROWS, ids=[f"{r[0]}-{i}" for i, r in enumerate(URGENCY_ROWS)]
)
def test_urgency_table_row(rule: str, level: str, answers: dict[str, Any]) -> None:
    """Each row of the urgency table gives its level, explained by that rule."""
    result = triage.evaluate(answers)
    assert result.urgency == level
    assert result.explanation[0].rule == rule


PROGNOSIS_ROWS = [
    ("P0", "not_assessed", {"red_flags": ["sudden_onset"]}),
    ("P1", "progressive", {"red_flags": [], "cause": "fshd", "severity": "mild"}),
    ("P1", "progressive", {"red_flags": [], "cause": "opmd", "severity": "severe"}),
    ("P2", "difficult", paralysis(6, "yes")),  # long-standing starts at 6 months
    ("P2", "difficult", paralysis(0, "yes", "severe")),
    ("P3", "recoverable", paralysis(5, "yes")),
    ("P4", "uncertain", paralysis(5, "yes", "moderate")),
    ("P5", "uncertain", other("yes", [], "severe")),
    ("P5", "uncertain", other("no", ["eyelid_or_swallowing"], "mild", "unknown")),
    ("P6", "recoverable", other("no", [], "mild")),
    ("P7", "uncertain", other("no", [], "moderate", "unknown")),
    ("P8", "may_not_fully_recover", other("no", [], "severe")),
]


@pytest.mark.parametrize(
    ("rule", "category", "answers"), PROGNOSIS_ROWS, ids=[f"{r[0]}-{i}" for i, r in enumerate(PROGNOSIS_ROWS)]
)
def test_prognosis_table_row(rule: str, category: str, answers: dict[str, Any]) -> None:
    """Each row of the prognosis table gives its category, explained by that rule."""
    result = triage.evaluate(answers)
    assert result.prognosis.category == category
    assert result.explanation[1].rule == rule


@pytest.mark.parametrize("months", [0, 1, 5, 6, 1200])
@pytest.mark.parametrize("treated", ["yes", "no", "not_sure"])
def test_month_boundaries(months: int, treated: str) -> None:
    """Recent means under 1 month and long-standing 6 months or more; not_sure counts as untreated."""
    result = triage.evaluate(paralysis(months, treated, "moderate"))
    untreated = treated != "yes"
    expected = "urgent" if untreated and months < 1 else "soon" if untreated else "routine"
    assert result.urgency == expected
    assert result.prognosis.category == ("difficult" if months >= 6 else "uncertain")


def test_red_flag_dominates_other_answers() -> None:
    """With a red flag, later answers are ignored (with warnings) and only red-flag suggestions are given."""
    answers = paralysis(0, "no") | {"red_flags": ["sudden_onset"]}
    result = triage.evaluate(answers)
    assert result.urgency == "urgent"
    assert result.prognosis.category == "not_assessed"
    assert [s.id for s in result.suggestions] == ["same_day_care"]
    assert {w.field for w in result.warnings} == {
        "cause",
        "severity",
        "months_since_paralysis",
        "treated_early",
    }


def _every_answer_set() -> list[dict[str, Any]]:
    """The whole answer space by brute force, independent of triage.answerspace."""
    flags = ["stroke_signs", "sudden_onset"]
    findings = ["shoulder_arm_weakness", "eyelid_or_swallowing", "family_history"]
    subsets = lambda ids: [frozenset(c) for n in range(len(ids) + 1) for c in combinations(ids, n)]  # noqa: E731
    out: list[dict[str, Any]] = [{"red_flags": f} for f in subsets(flags) if f]
    for severity in ["mild", "moderate", "severe"]:
        base = {"red_flags": frozenset(), "severity": severity}
        for cause in ["fshd", "opmd"]:
            out.append(base | {"cause": cause})
        for cause in PARALYSES:
            for months in [0, 1, 5, 6, 1200]:
                for treated in ["yes", "no", "not_sure"]:
                    out.append(
                        base | {"cause": cause, "months_since_paralysis": months, "treated_early": treated}
                    )
        for cause in OTHERS:
            for worsening in ["yes", "no", "not_sure"]:
                for found in subsets(findings):
                    out.append(base | {"cause": cause, "worsening": worsening, "related_findings": found})
    return out


EVERY_ANSWER_SET = _every_answer_set()


def test_whole_answer_space_matches_the_spec(pack: triage.RulePack) -> None:
    """For every complete answer set: the spec's urgency, prognosis and suggestions, a disclaimer."""
    assert len(EVERY_ANSWER_SET) == 3 + 3 * (2 + 2 * 5 * 3 + 2 * 3 * 8)
    for answers in EVERY_ANSWER_SET:
        record = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in answers.items()}
        result = triage.evaluate(record, rulepack=pack)
        assert (result.explanation[0].rule, result.urgency) == urgency(answers), answers
        assert result.prognosis.category == prognosis(answers), answers
        assert [s.id for s in result.suggestions] == suggestions(answers), answers
        assert result.suggestions
        assert "doctor" in result.disclaimer
        assert not result.warnings


def test_exactly_one_prognosis_rule_matches_everywhere(pack: triage.RulePack) -> None:
    """Over the pack's own enumeration of the answer space, one prognosis rule matches each set."""
    space = list(answer_space(pack))
    assert {frozenset(a.items()) for a in space} == {frozenset(a.items()) for a in EVERY_ANSWER_SET}
    for values in space:
        matching = [r.id for r in pack.document.prognosis.rules if r.when.holds(values, pack)]
        assert len(matching) == 1, (values, matching)


def test_explanation_names_the_answers_that_fired() -> None:
    """The explanation of a rule says which answers made it fire, numbers with their threshold."""
    result = triage.evaluate(paralysis(0, "not_sure", cause=PARALYSES[1]))
    u3 = result.explanation[0]
    assert u3.rule == "U3"
    assert "cause is central_facial_paralysis" in u3.text
    assert "months_since_paralysis is 0 (less than 1)" in u3.text
    assert "treated_early is not_sure" in u3.text
    p3 = result.explanation[1]
    assert p3.rule == "P3"
    assert "months_since_paralysis is 0 (less than 6)" in p3.text
    assert [e.rule for e in result.explanation[2:]] == [s.id for s in result.suggestions]


def test_results_are_deterministic() -> None:
    """The same answers give byte-identical JSON, whatever form the answers were written in."""
    a = triage.evaluate(
        {
            "red_flags": "none",
            "cause": "other",
            "severity": "mild",
            "worsening": True,
            "related_findings": "family_history;eyelid_or_swallowing",
        }
    )
    b = triage.evaluate(
        {
            "severity": "mild",
            "related_findings": ["eyelid_or_swallowing", "family_history"],
            "worsening": "yes",
            "cause": "other",
            "red_flags": [],
        }
    )
    assert a.model_dump_json() == b.model_dump_json()


def test_result_carries_pack_identity(pack: triage.RulePack) -> None:
    """Every result names the pack and the sha256 of its content."""
    result = triage.evaluate({"red_flags": ["stroke_signs"]})
    assert result.rulepack == pack.info
    assert len(result.rulepack.sha256) == 64
    assert result.rulepack.name == "facial-atrophy"

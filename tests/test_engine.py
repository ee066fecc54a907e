"""The engine against SPEC §4: every table row, the boundaries, and the whole answer space."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pytest
from spec_oracle import prognosis, suggestions, urgency

import triage
from triage.core.answerspace import answer_space

PARALYSES = ["peripheral_facial_paralysis", "central_facial_paralysis"]
OTHERS = ["other", "unknown"]


def paralysis(
    months: int, treated: str, severity: str = "mild", cause: str = PARALYSES[0], eyes: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "red_flags": [],
        "cause": cause,
        "severity": severity,
        "months_since_paralysis": months,
        "treated_early": treated,
        "eye_problems": list(eyes),
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
    ("U1", "emergency", {"red_flags": ["sudden_face_droop"]}),  # FAST: a face that drooped all at once
    ("U1", "emergency", {"red_flags": ["stroke_signs", "sudden_onset"]}),
    ("U1", "emergency", {"red_flags": ["sudden_face_droop", "sudden_onset"]}),
    ("U2", "urgent", {"red_flags": ["sudden_onset"]}),
    ("U3", "urgent", paralysis(1200, "yes", eyes=("painful_or_red",))),  # an eye at risk, whatever the time
    ("U3", "urgent", paralysis(3, "no", cause=PARALYSES[1], eyes=("cannot_close", "painful_or_red"))),
    ("U4", "urgent", paralysis(0, "no")),
    ("U4", "urgent", paralysis(0, "not_sure", cause=PARALYSES[1], eyes=("cannot_close",))),
    ("U5", "soon", paralysis(1, "no")),  # one month is no longer recent
    ("U5", "soon", paralysis(6, "not_sure", eyes=("cannot_close",))),
    ("U5", "soon", paralysis(1200, "no", "severe")),
    ("U6", "soon", paralysis(0, "yes", eyes=("cannot_close",))),
    ("U6", "soon", paralysis(1200, "yes", "severe", PARALYSES[1], ("cannot_close",))),
    ("U7", "soon", other("yes", [])),
    ("U7", "soon", other("not_sure", [])),
    ("U7", "soon", other("no", ["family_history"], cause="unknown")),
    ("U8", "routine", paralysis(0, "yes")),
    ("U8", "routine", other("no", [])),
    ("U8", "routine", {"red_flags": "none", "cause": "fshd", "severity": "severe"}),
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
    ("P0", "not_assessed", {"red_flags": ["sudden_face_droop"]}),
    ("P1", "progressive", {"red_flags": [], "cause": "fshd", "severity": "mild"}),
    ("P1", "progressive", {"red_flags": [], "cause": "opmd", "severity": "severe"}),
    ("P2", "difficult", paralysis(6, "yes")),  # long-standing starts at 6 months
    ("P2", "difficult", paralysis(1200, "no", "severe", eyes=("cannot_close",))),
    # v2: severe wasting soon after a paralysis is not "hard to reverse" (paragraph 1, not 4).
    ("P3", "may_not_fully_recover", paralysis(0, "yes", "severe")),
    ("P3", "may_not_fully_recover", paralysis(5, "no", "severe", PARALYSES[1])),
    ("P4", "recoverable", paralysis(5, "yes")),
    ("P5", "uncertain", paralysis(5, "yes", "moderate")),
    ("P6", "uncertain", other("yes", [], "severe")),
    ("P6", "uncertain", other("no", ["eyelid_or_swallowing"], "mild", "unknown")),
    ("P7", "recoverable", other("no", [], "mild")),
    ("P8", "uncertain", other("no", [], "moderate", "unknown")),
    ("P9", "may_not_fully_recover", other("no", [], "severe")),
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
    ids = [s.id for s in result.suggestions]
    assert ("gentle_start" in ids) == (months < 1)
    assert ("expression_training" in ids) == (months >= 1)
    assert ("prompt_treatment" in ids) == (untreated and months < 6)


def test_red_flag_dominates_other_answers() -> None:
    """With a red flag, later answers are ignored (with warnings) and only red-flag suggestions are given."""
    answers = paralysis(0, "no", eyes=("painful_or_red",)) | {"red_flags": ["sudden_onset"]}
    result = triage.evaluate(answers)
    assert result.urgency == "urgent"
    assert result.prognosis.category == "not_assessed"
    assert [s.id for s in result.suggestions] == ["same_day_care"]
    assert {w.field for w in result.warnings} == {
        "cause",
        "severity",
        "months_since_paralysis",
        "treated_early",
        "eye_problems",
    }


def _every_answer_set() -> list[dict[str, Any]]:
    """The whole answer space by brute force, independent of triage.core.answerspace."""
    flags = ["stroke_signs", "sudden_face_droop", "sudden_onset"]
    eyes = ["cannot_close", "painful_or_red"]
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
                    for eye in subsets(eyes):
                        out.append(
                            base
                            | {
                                "cause": cause,
                                "months_since_paralysis": months,
                                "treated_early": treated,
                                "eye_problems": eye,
                            }
                        )
        for cause in OTHERS:
            for worsening in ["yes", "no", "not_sure"]:
                for found in subsets(findings):
                    out.append(base | {"cause": cause, "worsening": worsening, "related_findings": found})
    return out


EVERY_ANSWER_SET = _every_answer_set()


def test_whole_answer_space_matches_the_spec(pack: triage.RulePack) -> None:
    """For every complete answer set: the spec's urgency, prognosis and suggestions, a disclaimer."""
    assert len(EVERY_ANSWER_SET) == 7 + 3 * (2 + 2 * 5 * 3 * 4 + 2 * 3 * 8)
    for answers in EVERY_ANSWER_SET:
        record = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in answers.items()}
        result = triage.evaluate(record, rulepack=pack)
        assert (result.explanation[0].rule, result.urgency) == urgency(answers), answers
        assert (result.explanation[1].rule, result.prognosis.category) == prognosis(answers), answers
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


def test_explanation_names_the_answers_that_fired(pack: triage.RulePack) -> None:
    """The explanation of a rule says in words which answers made it fire, numbers with their threshold."""
    result = triage.evaluate(paralysis(0, "not_sure", "moderate", PARALYSES[1], ("cannot_close",)))
    u4 = result.explanation[0]
    assert u4.rule == "U4"
    assert "the cause: after a paralysis from the brain, such as a stroke" in u4.text
    assert "time since the paralysis began: 0 months (less than 1)" in u4.text
    assert "treated by a doctor in the first week: not sure" in u4.text
    p5 = result.explanation[1]
    assert p5.rule == "P5"
    assert "time since the paralysis began: 0 months (less than 6)" in p5.text
    assert "how much fullness is lost: moderate" in p5.text
    assert [e.rule for e in result.explanation[2:]] == [s.id for s in result.suggestions]
    eye_care = next(e for e in result.explanation if e.rule == "eye_care")
    assert "the eye on the weak side: the eye does not close fully" in eye_care.text


def test_explanations_are_in_the_patients_words(pack: triage.RulePack) -> None:
    """No explanation names a question or option id: words come from the pack's names and labels."""
    ids = {q.id for q in pack.document.questions} | {o.id for q in pack.document.questions for o in q.options}
    ids = {i for i in ids if "_" in i}  # the others ("cause", "mild", "yes") are words too
    for answers in EVERY_ANSWER_SET:
        record = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in answers.items()}
        for item in triage.evaluate(record, rulepack=pack).explanation:
            assert not [i for i in ids if i in item.text], (item.rule, item.text)
            assert item.text[:1].isupper(), item.text
    emergency = triage.evaluate({"red_flags": ["stroke_signs", "sudden_face_droop"]}).explanation[0]
    assert (
        "warning signs: signs of a stroke now or in the last few hours and face drooped all at once in the"
        " last few hours" in emergency.text
    )
    fshd = triage.evaluate({"red_flags": "none", "cause": "fshd", "severity": "mild"}).explanation[1]
    assert "the cause: facioscapulohumeral muscular dystrophy (FSHD)" in fshd.text
    unsure = triage.evaluate(other("no", [], cause="unknown")).explanation[1]
    assert "the cause: I don't know" in unsure.text


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

"""The questionnaire's flow, driven with scripted answers (no terminal)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

import triage
from triage.core.answerspace import answer_space
from triage.core.flow import (
    Flow,
    ReviewItem,
    answer_text,
    check_choices,
    interview,
    parse_number,
    selection_value,
)
from triage.core.pack import NONE, Question, RulePack
from triage.core.vocabulary import AnswerValue

PARALYSIS = {
    "red_flags": frozenset(),
    "cause": "peripheral_facial_paralysis",
    "severity": "moderate",
    "months_since_paralysis": 2,
    "treated_early": "no",
    "eye_problems": frozenset({"cannot_close"}),
}


class Scripted:
    """A prompter that answers from a script and records what it was asked.

    `answers` maps a question id to its answers, used in turn (the last one
    repeats); `reviews` are the review decisions, in turn (None confirms).
    """

    def __init__(
        self, answers: Mapping[str, AnswerValue | list[AnswerValue]], reviews: Sequence[str | None] = ()
    ) -> None:
        self.answers = {k: v if isinstance(v, list) else [v] for k, v in answers.items()}
        self.reviews = list(reviews)
        self.asked: list[tuple[str, AnswerValue | None]] = []
        self.reviewed: list[list[str]] = []

    def ask(self, question: Question, default: AnswerValue | None) -> AnswerValue:
        self.asked.append((question.id, default))
        queue = self.answers[question.id]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def review(self, items: Sequence[ReviewItem]) -> str | None:
        self.reviewed.append([item.question.id for item in items])
        return self.reviews.pop(0) if self.reviews else None

    @property
    def asked_ids(self) -> list[str]:
        return [q for q, _ in self.asked]


def _space(pack: RulePack) -> list[dict[str, AnswerValue]]:
    return list(answer_space(pack))


def test_every_answer_set_is_asked_exactly_its_questions_in_order(pack: RulePack) -> None:
    """For every complete answer set, the flow asks exactly its questions, in the pack's order."""
    order = list(pack.questions)
    space = _space(pack)
    assert len(space) > 50
    for values in space:
        prompter = Scripted(dict(values))
        flow = interview(pack, prompter)
        assert prompter.asked_ids == sorted(values, key=order.index)
        assert dict(flow.answers) == values


def test_every_record_reads_back_and_evaluates_the_same(pack: RulePack) -> None:
    """The record the flow builds is a valid answer record with the answers given."""
    for values in _space(pack):
        record = interview(pack, Scripted(dict(values))).record()
        read = triage.read_answers(record, pack)
        assert dict(read.values) == values
        assert read.warnings == ()
        assert triage.evaluate(record, rulepack=pack) == triage.evaluate(read, rulepack=pack)


@pytest.mark.parametrize("example", triage.load_rulepack().document.examples, ids=lambda e: e.name)
def test_pack_examples_through_the_flow(pack: RulePack, example: object) -> None:
    """Each of the pack's examples, answered through the flow, gives its expected result."""
    values = triage.read_answers(example.answers, pack).values  # type: ignore[attr-defined]
    result = triage.evaluate(interview(pack, Scripted(dict(values))).record(), rulepack=pack)
    expect = example.expect  # type: ignore[attr-defined]
    assert (result.urgency, result.prognosis.category) == (expect.urgency, expect.prognosis)
    assert [s.id for s in result.suggestions] == list(expect.suggestions)


@pytest.mark.parametrize(
    "flags",
    [{"stroke_signs"}, {"sudden_face_droop"}, {"sudden_onset"}, {"stroke_signs", "sudden_onset"}],
)
def test_a_red_flag_ends_at_once_without_review(pack: RulePack, flags: set[str]) -> None:
    """A red flag is the only question asked, and the result comes without a review."""
    prompter = Scripted({"red_flags": frozenset(flags)})
    flow = interview(pack, prompter)
    assert prompter.asked_ids == ["red_flags"]
    assert prompter.reviewed == []
    assert flow.ended_at_first_answer
    assert flow.record() == {"red_flags": sorted(flags, key=pack.questions["red_flags"].option_ids().index)}


def test_no_red_flag_goes_to_review(pack: RulePack) -> None:
    """Without a red flag, every answer is reviewed before the result."""
    prompter = Scripted(PARALYSIS)
    interview(pack, prompter)
    assert prompter.reviewed == [list(PARALYSIS)]


def test_changing_the_cause_drops_answers_that_no_longer_apply(pack: RulePack) -> None:
    """Changing a paralysis to another cause drops its questions and asks the new ones only."""
    answers: dict[str, AnswerValue | list[AnswerValue]] = {
        **PARALYSIS,
        "cause": ["peripheral_facial_paralysis", "other"],
        "worsening": "no",
        "related_findings": frozenset({"family_history"}),
    }
    prompter = Scripted(answers, reviews=["cause", None])
    flow = interview(pack, prompter)
    after_review = prompter.asked_ids[6:]
    assert after_review == ["cause", "worsening", "related_findings"]
    assert prompter.asked[6] == ("cause", "peripheral_facial_paralysis")
    assert "months_since_paralysis" not in flow.answers
    assert "treated_early" not in flow.answers
    assert "eye_problems" not in flow.answers
    assert prompter.reviewed[-1] == ["red_flags", "cause", "severity", "worsening", "related_findings"]
    assert flow.record() == {
        "red_flags": [],
        "cause": "other",
        "severity": "moderate",
        "worsening": "no",
        "related_findings": ["family_history"],
    }


def test_changing_between_paralyses_reasks_dependents_with_earlier_answers(pack: RulePack) -> None:
    """Its dependent questions are asked again, offering the earlier answers; others are kept."""
    answers = {**PARALYSIS, "cause": ["peripheral_facial_paralysis", "central_facial_paralysis"]}
    prompter = Scripted(answers, reviews=["cause", None])
    flow = interview(pack, prompter)
    assert prompter.asked[6:] == [
        ("cause", "peripheral_facial_paralysis"),
        ("months_since_paralysis", 2),
        ("treated_early", "no"),
        ("eye_problems", frozenset({"cannot_close"})),
    ]
    assert flow.answers["severity"] == "moderate"
    assert flow.answers["cause"] == "central_facial_paralysis"


def test_changing_an_answer_nothing_depends_on_asks_only_it(pack: RulePack) -> None:
    """Changing the severity re-asks the severity alone and keeps every other answer."""
    prompter = Scripted({**PARALYSIS, "severity": ["moderate", "severe"]}, reviews=["severity", None])
    flow = interview(pack, prompter)
    assert prompter.asked_ids[6:] == ["severity"]
    assert dict(flow.answers) == {**PARALYSIS, "severity": "severe"}


def test_choosing_the_same_answer_again_asks_nothing_more(pack: RulePack) -> None:
    """Re-answering the cause with the same cause re-asks nothing that depends on it."""
    prompter = Scripted(PARALYSIS, reviews=["cause", None])
    flow = interview(pack, prompter)
    assert prompter.asked_ids[6:] == ["cause"]
    assert dict(flow.answers) == PARALYSIS


def test_a_red_flag_set_in_review_ends_at_once(pack: RulePack) -> None:
    """Adding a red flag in the review drops every other answer and ends without another review."""
    flags: list[AnswerValue] = [frozenset(), frozenset({"stroke_signs"})]
    prompter = Scripted({**PARALYSIS, "red_flags": flags}, reviews=["red_flags"])
    flow = interview(pack, prompter)
    assert len(prompter.reviewed) == 1
    assert flow.record() == {"red_flags": ["stroke_signs"]}
    assert triage.evaluate(flow.record(), rulepack=pack).urgency == "emergency"


def test_several_changes_in_a_row(pack: RulePack) -> None:
    """Each change is reviewed again; the record holds the last answers only."""
    answers: dict[str, AnswerValue | list[AnswerValue]] = {
        **PARALYSIS,
        "cause": ["peripheral_facial_paralysis", "fshd", "unknown"],
        "worsening": "not_sure",
        "related_findings": frozenset(),
    }
    prompter = Scripted(answers, reviews=["cause", "cause", None])
    flow = interview(pack, prompter)
    assert len(prompter.reviewed) == 3
    assert prompter.reviewed[1] == ["red_flags", "cause", "severity"]
    assert flow.record() == {
        "red_flags": [],
        "cause": "unknown",
        "severity": "moderate",
        "worsening": "not_sure",
        "related_findings": [],
    }


def test_flow_next_question_follows_asked_when(pack: RulePack) -> None:
    """The next question is the first one asked and unanswered; None when complete."""
    flow = Flow(pack)
    assert flow.next_question() is pack.questions["red_flags"]
    flow.answer("red_flags", frozenset())
    flow.answer("cause", "fshd")
    assert flow.next_question() is pack.questions["severity"]
    assert not flow.complete
    flow.answer("severity", "mild")
    assert flow.next_question() is None
    assert flow.complete
    assert not flow.ended_at_first_answer


def test_flow_refuses_an_unknown_question(pack: RulePack) -> None:
    """Answering a question the pack does not have is a programming error, said plainly."""
    with pytest.raises(KeyError, match="severty"):
        Flow(pack).answer("severty", "mild")


def test_dependents_are_transitive(pack: RulePack) -> None:
    """The red-flag screen decides, through the cause, every later question."""
    flow = Flow(pack)
    assert flow.dependents("red_flags") == set(pack.questions) - {"red_flags"}
    assert flow.dependents("cause") == {
        "months_since_paralysis",
        "treated_early",
        "eye_problems",
        "worsening",
        "related_findings",
    }
    assert flow.dependents("severity") == frozenset()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("0", 0), ("6", 6), (" 12 ", 12), ("1200", 1200), ("+3", 3), ("007", 7), ("0" * 5000 + "7", 7)],
)
def test_parse_number_accepts_whole_numbers_in_range(pack: RulePack, typed: str, expected: int) -> None:
    """Whole numbers within the range are read as they are typed."""
    assert parse_number(pack.questions["months_since_paralysis"], typed) == expected


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "Please answer"),
        ("   ", "Please answer"),
        ("2.5", "Not a whole number"),
        ("six", "Not a whole number"),
        ("6 months", "Not a whole number"),
        ("-1", "Too small"),
        ("1201", "Too large"),
        ("9" * 5000, "Too large"),
        ("-" + "9" * 5000, "Too small"),
    ],
)
def test_parse_number_says_what_is_allowed(pack: RulePack, typed: str, problem: str) -> None:
    """A wrong number gets a short message naming the unit and the range."""
    with pytest.raises(ValueError, match=problem) as caught:
        parse_number(pack.questions["months_since_paralysis"], typed)
    message = str(caught.value)
    assert "whole number of months, from 0 to 1200" in message
    assert len(message) < 76, "the error line does not wrap, so it must fit 80 columns"


def test_check_choices(pack: RulePack) -> None:
    """A multi-select needs a choice, and "none of these" stands alone."""
    question = pack.questions["red_flags"]
    assert check_choices(question, []) == 'Choose at least one, or "None of these".'
    assert check_choices(question, [NONE, "stroke_signs"]) == (
        '"None of these" cannot be combined with other choices.'
    )
    assert check_choices(question, [NONE]) is None
    assert check_choices(question, ["stroke_signs", "sudden_onset"]) is None
    assert selection_value([NONE]) == frozenset()
    assert selection_value(["sudden_onset"]) == {"sudden_onset"}


def test_answer_text_uses_the_packs_words(pack: RulePack) -> None:
    """Answers are shown by their labels, none by the none label, numbers with their unit."""
    questions = pack.questions
    assert answer_text(questions["red_flags"], frozenset()) == "None of these"
    assert answer_text(questions["red_flags"], frozenset({"sudden_onset", "stroke_signs"})) == (
        "Signs of a stroke now or in the last few hours; New weakness of the face in the last 3 days"
    )
    assert answer_text(questions["eye_problems"], frozenset({"painful_or_red", "cannot_close"})) == (
        "The eye does not close fully; The eye is painful or red, or sight has changed"
    )
    assert answer_text(questions["cause"], "fshd") == "Facioscapulohumeral muscular dystrophy (FSHD)"
    assert answer_text(questions["months_since_paralysis"], 3) == "3 months"


def test_a_dropped_answer_is_forgotten(pack: RulePack) -> None:
    """An answer dropped by a change is not offered again when its question comes back."""
    answers: dict[str, AnswerValue | list[AnswerValue]] = {
        **PARALYSIS,
        "cause": ["peripheral_facial_paralysis", "other", "central_facial_paralysis"],
        "months_since_paralysis": [2, 30],
        "worsening": "no",
        "related_findings": frozenset(),
    }
    prompter = Scripted(answers, reviews=["cause", "cause", None])
    flow = interview(pack, prompter)
    assert prompter.asked[-3:] == [
        ("months_since_paralysis", None),
        ("treated_early", None),
        ("eye_problems", None),
    ]
    assert flow.answers["months_since_paralysis"] == 30
    assert "worsening" not in flow.answers


def test_a_resumed_flow_carries_on_like_the_one_it_was_taken_from(pack: RulePack) -> None:
    """A flow rebuilt from its answers and reopened answers asks, offers and drops the same."""
    flow = Flow(pack)
    for question_id, value in PARALYSIS.items():
        flow.answer(question_id, value)
    flow.answer("cause", "central_facial_paralysis")
    assert dict(flow.reopened) == {
        "months_since_paralysis": 2,
        "treated_early": "no",
        "eye_problems": frozenset({"cannot_close"}),
    }
    resumed = Flow.resume(pack, flow.answers, flow.reopened)
    assert dict(resumed.answers) == dict(flow.answers)
    assert dict(resumed.reopened) == dict(flow.reopened)
    assert resumed.next_question() is pack.questions["months_since_paralysis"]
    assert resumed.default("months_since_paralysis") == 2
    resumed.answer("months_since_paralysis", 2)
    resumed.answer("treated_early", "no")
    assert resumed.default("eye_problems") == frozenset({"cannot_close"})
    resumed.answer("eye_problems", frozenset({"cannot_close"}))
    assert resumed.complete
    assert resumed.record() == {
        **PARALYSIS,
        "cause": "central_facial_paralysis",
        "red_flags": [],
        "eye_problems": ["cannot_close"],
    }


def test_a_resumed_flow_drops_answers_to_questions_not_asked(pack: RulePack) -> None:
    """Answers carried for questions their answers do not ask are dropped, as a change drops them."""
    carried: dict[str, AnswerValue] = {**PARALYSIS, "red_flags": frozenset({"sudden_onset"})}
    resumed = Flow.resume(pack, carried, {"worsening": "yes"})
    assert dict(resumed.answers) == {"red_flags": frozenset({"sudden_onset"})}
    assert dict(resumed.reopened) == {}
    assert resumed.ended_at_first_answer


def test_resume_refuses_an_unknown_question(pack: RulePack) -> None:
    """A carried answer to a question the pack does not have is refused by name."""
    with pytest.raises(KeyError, match="severty"):
        Flow.resume(pack, {"red_flags": frozenset()}, {"severty": "mild"})

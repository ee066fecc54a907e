"""The engine: (rule pack, answers) -> result. Pure: no I/O, no printing, no clock.

Urgency is the first matching rule of its table; prognosis is the one matching
rule of its table (the pack's verification proves there is exactly one); the
suggestions are every matching suggestion rule, in the pack's order. Each rule
that decided something is explained with the answers that made it fire.

The answer space is finite, so the decision for a given set of normalised
answers is computed once per pack and then shared: evaluating a record costs a
dictionary look-up once its answers are read.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from triage.core.answers import ID_FIELD, read_answers, read_id
from triage.core.errors import InvalidAnswers, TriageError
from triage.core.models import (
    Answers,
    Explanation,
    Problem,
    Prognosis,
    RecordError,
    Result,
    Suggestion,
    UrgencyAdvice,
)
from triage.core.pack import Rule, RulePack, load_rulepack
from triage.core.vocabulary import AnswerMap, Condition


@dataclass(frozen=True)
class Decision:
    """Everything in a result that depends only on the answers' values."""

    urgency: str
    urgency_advice: UrgencyAdvice
    prognosis: Prognosis
    suggestions: tuple[Suggestion, ...]
    explanation: tuple[Explanation, ...]

    def result(
        self,
        pack: RulePack,
        record_id: str | None,
        *,
        source: str | None = None,
        warnings: tuple[Problem, ...] = (),
    ) -> Result:
        """The result of one record with this decision: its id, source and warnings added."""
        return Result(
            id=record_id,
            source=source,
            urgency=self.urgency,
            urgency_advice=self.urgency_advice,
            prognosis=self.prognosis,
            suggestions=self.suggestions,
            explanation=self.explanation,
            warnings=warnings,
            disclaimer=pack.document.disclaimer,
            rulepack=pack.info,
        )


_decisions: weakref.WeakKeyDictionary[RulePack, dict[tuple[object, ...], Decision]] = (
    weakref.WeakKeyDictionary()
)


def evaluate(answers: Mapping[str, object] | Answers, *, rulepack: RulePack | None = None) -> Result:
    """Evaluate one answer record (a mapping as in an answer file, or `Answers`).

    Raises `InvalidAnswers` listing every problem of an invalid record.
    """
    pack = rulepack or load_rulepack()
    read = read_answers(answers, pack)
    return decide(pack, read.values).result(pack, read.id, warnings=read.warnings)


def evaluate_many(
    records: Iterable[object], *, rulepack: RulePack | None = None
) -> Iterator[Result | RecordError]:
    """Evaluate records one by one, yielding a result or a `RecordError` for each, in order.

    Any value may be a record: one that is not a valid answer record gives a
    `RecordError` naming every problem, and the stream goes on.
    """
    # outcomes builds on this module; each distinct raw record is read and decided once.
    from triage.core.outcomes import OutcomeMemo

    pack = rulepack or load_rulepack()
    memo = OutcomeMemo(pack)
    for record in records:
        if isinstance(record, Answers) or not isinstance(record, Mapping):
            try:
                yield evaluate(record, rulepack=pack)  # type: ignore[arg-type]
            except InvalidAnswers as exc:
                yield RecordError(id=exc.record_id, errors=exc.problems)
            continue
        record_id = read_id(record.get(ID_FIELD))
        outcome = memo.outcome(record)
        if isinstance(record_id, Problem):
            yield RecordError(id=None, errors=outcome.refused_for_id(record_id, pack))
        else:
            yield outcome.shared(pack, record_id)


def decide(pack: RulePack, values: AnswerMap) -> Decision:
    """The decision for normalised answer values (as `Answers.values` holds them)."""
    memo = _decisions.setdefault(pack, {})
    key = tuple(values.get(q) for q in pack.questions)
    decision = memo.get(key)
    if decision is None:
        decision = memo[key] = _decide(pack, values)
    return decision


def _decide(pack: RulePack, values: AnswerMap) -> Decision:
    document = pack.document
    urgency_rule = _first_match(pack, document.urgency.rules, values, "urgency")
    prognosis_rule = _first_match(pack, document.prognosis.rules, values, "prognosis")
    level = pack.levels[urgency_rule.then]
    category = pack.categories[prognosis_rule.then]
    explanation = [
        _explain(pack, urgency_rule.id, urgency_rule.reason, urgency_rule.when, values),
        _explain(pack, prognosis_rule.id, prognosis_rule.reason, prognosis_rule.when, values),
    ]
    suggestions = []
    for rule in document.suggestions:
        if rule.when.holds(values, pack):
            suggestions.append(Suggestion(id=rule.id, text=rule.text, citations=rule.citations))
            explanation.append(_explain(pack, rule.id, rule.reason, rule.when, values))
    if not suggestions:
        # Verification proves every answer set gets a suggestion; this is a bug.
        raise TriageError(f"no suggestion of pack {pack.info.name} matches the answers {dict(values)}")
    return Decision(
        urgency=level.id,
        urgency_advice=UrgencyAdvice(
            label=level.label,
            display=level.display,
            text=level.text,
            safety_net=level.safety_net,
            citations=level.citations,
        ),
        prognosis=Prognosis(
            category=category.id, label=category.label, text=category.text, citations=category.citations
        ),
        suggestions=tuple(suggestions),
        explanation=tuple(explanation),
    )


def _first_match(pack: RulePack, rules: tuple[Rule, ...], values: AnswerMap, table: str) -> Rule:
    for rule in rules:
        if rule.when.holds(values, pack):
            return rule
    # Verification proves every table covers the whole answer space; this is a bug.
    raise TriageError(f"no {table} rule of pack {pack.info.name} matches the answers {dict(values)}")


def _explain(pack: RulePack, rule_id: str, reason: str, when: Condition, values: AnswerMap) -> Explanation:
    """The rule's reason and the answers that made it fire, all in the pack's words; the id stays in
    `rule` for whoever checks the rules."""
    facts = list(dict.fromkeys(when.reasons(values, pack, True)))
    text = reason
    if facts:
        text += f" (Your answers: {'; '.join(facts)}.)"
    return Explanation(rule=rule_id, text=text)

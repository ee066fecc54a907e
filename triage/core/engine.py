"""The engine: (rule pack, answers) -> result. Pure: no I/O, no printing, no clock.

The pack is always given: choosing the bundled one when none is, which means
reading it from disk, is `triage.evaluate`'s part (`triage.packs`).

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
from collections.abc import Mapping
from dataclasses import dataclass

from triage.core.answers import read_answers
from triage.core.errors import TriageError
from triage.core.models import (
    Answers,
    Explanation,
    Problem,
    Prognosis,
    Result,
    Suggestion,
    UrgencyAdvice,
)
from triage.core.pack import Rule, RulePack, matching_rule
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


def evaluate(answers: Mapping[str, object] | Answers, pack: RulePack) -> Result:
    """Evaluate one answer record (a mapping as in an answer file, or `Answers`) with `pack`.

    Raises `InvalidAnswers` listing every problem of an invalid record.
    """
    read = read_answers(answers, pack)
    return decide(pack, read.values).result(pack, read.id, warnings=read.warnings)


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
    urgency_rule = _decided(pack, document.urgency.rules, values, "urgency")
    prognosis_rule = _decided(pack, document.prognosis.rules, values, "prognosis")
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


def _decided(pack: RulePack, rules: tuple[Rule, ...], values: AnswerMap, table: str) -> Rule:
    rule = matching_rule(rules, values, pack)
    if rule is None:
        # Verification proves every table covers the whole answer space; this is a bug.
        raise TriageError(f"no {table} rule of pack {pack.info.name} matches the answers {dict(values)}")
    return rule


def _explain(pack: RulePack, rule_id: str, reason: str, when: Condition, values: AnswerMap) -> Explanation:
    """The rule's reason and the answers that made it fire, all in the pack's words; the id stays in
    `rule` for whoever checks the rules."""
    facts = list(dict.fromkeys(when.reasons(values, pack, True)))
    text = reason
    if facts:
        text += f" (Your answers: {'; '.join(facts)}.)"
    return Explanation(rule=rule_id, text=text)

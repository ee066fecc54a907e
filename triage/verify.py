"""Whole-pack verification: everything a schema cannot say about a rule pack.

`verify(pack)` returns every problem found, each with where it is, so that a
rule author sees them all at once. A pack with problems is never used: loading
raises `RulePackError` with this list.

Checks, in order (later checks need the earlier ones to pass):

1. references: unique ids; every question, option, term, parameter, urgency
   level, prognosis category named by a condition or rule exists, and fits the
   question's type; terms do not refer to themselves; a question's asked_when
   reads only questions asked before it; paragraphs exist and every quote
   occurs verbatim in its paragraph.
2. tables over the whole answer space: the urgency table covers every answer
   set, and exactly one prognosis rule matches each one.
3. examples: the pack's own examples give their expected results.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping

from triage.conditions import AtLeast, Below, Condition, ParamRef, Term, Test, walk
from triage.errors import InvalidAnswers, PackProblem
from triage.models import ArticleCitation, Citation
from triage.rulepack import NONE, RulePack


def verify(pack: RulePack) -> list[PackProblem]:
    """Every problem of a loaded pack; an empty list means the pack may be used."""
    problems = list(check_references(pack))
    if problems:
        return problems
    problems = list(check_tables(pack))
    if problems:
        return problems
    return list(check_examples(pack))


def check_references(pack: RulePack) -> Iterator[PackProblem]:
    doc = pack.document
    yield from _unique("questions", [q.id for q in doc.questions])
    for q in doc.questions:
        yield from _unique(f"questions[{q.id}].options", [o.id for o in q.options])
        if NONE in q.option_ids():
            yield PackProblem(f"questions[{q.id}].options", f'"{NONE}" is reserved for "none of these"')
    yield from _unique("urgency.levels", [o.id for o in doc.urgency.levels])
    yield from _unique("prognosis.categories", [o.id for o in doc.prognosis.categories])
    rule_ids = [r.id for r in (*doc.urgency.rules, *doc.prognosis.rules)]
    yield from _unique("rules", rule_ids + [s.id for s in doc.suggestions])
    yield from _unique("examples", [e.name for e in doc.examples])

    for where, condition in pack.conditions():
        yield from _check_condition(pack, where, condition)
    yield from _check_terms_acyclic(pack)
    asked_before: set[str] = set()
    for q in doc.questions:
        if q.asked_when is not None:
            later = pack.questions_read(q.asked_when) - asked_before
            if later:
                yield PackProblem(
                    f"questions[{q.id}].asked_when",
                    f"reads {', '.join(sorted(later))}, which is not asked before this question",
                )
        asked_before.add(q.id)

    for table, outcomes in (("urgency", pack.levels), ("prognosis", pack.categories)):
        for rule in getattr(doc, table).rules:
            if rule.then not in outcomes:
                yield PackProblem(
                    f"{table}.rules[{rule.id}].then",
                    f"{rule.then!r} is not defined; defined: {', '.join(outcomes)}",
                )

    for where, citations in _citations(pack):
        for i, citation in enumerate(citations):
            if isinstance(citation, ArticleCitation):
                yield from _check_quote(pack, f"{where}.citations[{i}]", citation)


def check_tables(pack: RulePack) -> Iterator[PackProblem]:
    from triage.answerspace import answer_space

    doc = pack.document
    for values in answer_space(pack):
        if not any(r.when.holds(values, pack) for r in doc.urgency.rules):
            yield PackProblem("urgency.rules", f"no rule matches the answers {_show(values)}")
        matching = [r.id for r in doc.prognosis.rules if r.when.holds(values, pack)]
        if len(matching) != 1:
            what = "no rule matches" if not matching else f"rules {', '.join(matching)} all match"
            yield PackProblem("prognosis.rules", f"{what} the answers {_show(values)}")


def check_examples(pack: RulePack) -> Iterator[PackProblem]:
    from triage.engine import evaluate

    for example in pack.document.examples:
        where = f"examples[{example.name}]"
        try:
            result = evaluate(example.answers, rulepack=pack)
        except InvalidAnswers as exc:
            for p in exc.problems:
                yield PackProblem(f"{where}.answers.{p.field}", p.message)
            continue
        actual = (result.urgency, result.prognosis.category, tuple(s.id for s in result.suggestions))
        expected = (example.expect.urgency, example.expect.prognosis, example.expect.suggestions)
        for field, want, got in zip(("urgency", "prognosis", "suggestions"), expected, actual, strict=True):
            if want != got:
                yield PackProblem(f"{where}.expect.{field}", f"expected {_plain(want)}, got {_plain(got)}")


def _check_condition(pack: RulePack, where: str, condition: Condition) -> Iterator[PackProblem]:
    for node in walk(condition):
        if isinstance(node, Term) and node.term not in pack.document.terms:
            yield PackProblem(
                where, f"term {node.term!r} is not defined; defined: {', '.join(pack.document.terms)}"
            )
        if isinstance(node, (AtLeast, Below)):
            bound = node.at_least if isinstance(node, AtLeast) else node.below
            if isinstance(bound, ParamRef) and bound.param not in pack.document.parameters:
                yield PackProblem(where, f"parameter {bound.param!r} is not defined")
        if not isinstance(node, Test):
            continue
        question = pack.questions.get(node.question)
        if question is None:
            yield PackProblem(where, f"question {node.question!r} is not defined")
            continue
        wanted = node.question_type
        if question.type != wanted:
            yield PackProblem(
                where, f"{node.question} is a {question.type} question; this test needs a {wanted} one"
            )
            continue
        for option in node.options_used():
            if option not in question.option_ids():
                yield PackProblem(
                    where,
                    f"{option!r} is not an option of {node.question}; "
                    f"options: {', '.join(question.option_ids())}",
                )


def _check_terms_acyclic(pack: RulePack) -> Iterator[PackProblem]:
    terms = pack.document.terms

    def refers(name: str, seen: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        for node in walk(terms[name]):
            if isinstance(node, Term) and node.term in terms:
                if node.term in seen:
                    yield (*seen, node.term)
                else:
                    yield from refers(node.term, (*seen, node.term))

    for name in terms:
        for cycle in refers(name, (name,)):
            if cycle[-1] == name:
                yield PackProblem(f"terms.{name}", f"refers to itself: {' -> '.join(cycle)}")
                break


def _check_quote(pack: RulePack, where: str, citation: ArticleCitation) -> Iterator[PackProblem]:
    count = len(pack.paragraphs)
    if not 1 <= citation.paragraph <= count:
        yield PackProblem(
            f"{where}.paragraph", f"paragraph {citation.paragraph} does not exist (1 to {count})"
        )
    elif citation.quote not in pack.paragraphs[citation.paragraph - 1]:
        yield PackProblem(
            f"{where}.quote", f"{citation.quote!r} does not occur verbatim in paragraph {citation.paragraph}"
        )


def _citations(pack: RulePack) -> Iterator[tuple[str, tuple[Citation, ...]]]:
    doc = pack.document
    for level in doc.urgency.levels:
        yield f"urgency.levels[{level.id}]", level.citations
    for category in doc.prognosis.categories:
        yield f"prognosis.categories[{category.id}]", category.citations
    for suggestion in doc.suggestions:
        yield f"suggestions[{suggestion.id}]", suggestion.citations


def _unique(where: str, ids: Iterable[str]) -> Iterator[PackProblem]:
    for name, count in Counter(ids).items():
        if count > 1:
            yield PackProblem(where, f"{name!r} is defined {count} times")


def _show(values: Mapping[str, object]) -> str:
    return "{" + ", ".join(f"{k}: {_plain(v)}" for k, v in values.items()) + "}"


def _plain(value: object) -> str:
    if isinstance(value, (frozenset, tuple)):
        return "[" + ", ".join(sorted(value) if isinstance(value, frozenset) else value) + "]"
    return str(value)

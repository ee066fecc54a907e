"""Whole-pack verification: everything a schema cannot say about a rule pack.

`verify(pack)` returns every problem found, each a small typed `PackProblem`
with a fixed kind and description, where it is, what is wrong and, for table
problems, a concrete answer set on which it happens. A pack with problems is
never used: loading raises `RulePackError` with this list.

Checks, in two stages (the second needs every name to resolve):

1. references: unique ids; every question, option, term, parameter, urgency
   level, prognosis category and suggestion named by a condition, rule or
   example exists, and fits the question's type; terms do not refer to
   themselves; a question's asked_when reads only questions asked before it;
   paragraphs exist and every quote occurs verbatim in its paragraph; every
   defined question, term, parameter, level and category is used; every
   urgency level below the first (the most urgent) has a safety net.
2. over the whole answer space (`triage.core.answerspace`): no condition holds
   only because a question it reads was not asked; the urgency table covers every answer set
   and exactly one prognosis rule matches each one; every rule and suggestion
   can fire (and no urgency rule is shadowed by earlier ones); every question
   changes some result; options are told apart; the pack's examples give
   their expected results.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from triage.core import vocabulary as vocab
from triage.core.answers import read_answers
from triage.core.answerspace import answer_space, domain
from triage.core.engine import evaluate
from triage.core.errors import InvalidAnswers, PackProblem, TriageError
from triage.core.models import ArticleCitation, Citation
from triage.core.pack import NONE, Question, Rule, RulePack, first_match
from triage.core.vocabulary import AnswerValue, Condition, ConditionVisitor, ParamRef, parts, walk

# -- the kinds of problem ---------------------------------------------------------------------------


class DuplicateId(PackProblem):
    kind = "duplicate-id"
    description = "an id is defined more than once"


class UndefinedName(PackProblem):
    kind = "undefined"
    description = "a name is used but not defined"


class WrongQuestionType(PackProblem):
    kind = "wrong-question-type"
    description = "a test does not fit the type of its question"


class TermCycle(PackProblem):
    kind = "term-cycle"
    description = "a term refers to itself"


class AskedOutOfOrder(PackProblem):
    kind = "asked-out-of-order"
    description = "a question's asked_when reads a question that is not asked before it"


class BadCitation(PackProblem):
    kind = "citation"
    description = "a citation is not found in the pack's source text"


class Unused(PackProblem):
    kind = "unused"
    description = "something defined in the pack is never used"


class IndistinguishableOptions(PackProblem):
    kind = "indistinguishable-options"
    description = "options of a question that no condition can tell apart"


class UnguardedRead(PackProblem):
    kind = "unguarded"
    description = "a condition holds only because a question it reads was not asked"


class TableGap(PackProblem):
    kind = "gap"
    description = "answers for which no rule of a table (or no suggestion) matches"


class TableOverlap(PackProblem):
    kind = "overlap"
    description = "answers for which more than one prognosis rule matches"


class NeverFires(PackProblem):
    kind = "never-fires"
    description = "a rule that matches no possible answers"


class Shadowed(PackProblem):
    kind = "shadowed"
    description = "an urgency rule that earlier rules always pre-empt"


class NoEffect(PackProblem):
    kind = "no-effect"
    description = "a question whose answer never changes any result"


class ExampleMismatch(PackProblem):
    kind = "example"
    description = "an example of the pack does not give its expected result"


class MissingSafetyNet(PackProblem):
    kind = "safety-net"
    description = "an urgency level below the most urgent says nothing of when to get help sooner"


PROBLEM_KINDS: tuple[type[PackProblem], ...] = (
    DuplicateId,
    UndefinedName,
    WrongQuestionType,
    TermCycle,
    AskedOutOfOrder,
    BadCitation,
    MissingSafetyNet,
    Unused,
    IndistinguishableOptions,
    UnguardedRead,
    TableGap,
    TableOverlap,
    NeverFires,
    Shadowed,
    NoEffect,
    ExampleMismatch,
)
"""Every kind of problem verification reports (schema and YAML problems come from loading)."""


def verify(pack: RulePack) -> list[PackProblem]:
    """Every problem of a loaded pack; an empty list means the pack may be used."""
    problems = list(check_references(pack))
    if problems:
        return problems
    problems = list(check_usage(pack))
    problems += check_safety_nets(pack)
    space = AnswerSpace.of(pack)
    problems += check_guards(pack, space)
    problems += check_tables(pack, space)
    problems += check_reachability(pack, space)
    problems += check_effect(pack, space)
    problems += check_examples(pack)
    return problems


# -- stage 1: names ---------------------------------------------------------------------------------


def check_references(pack: RulePack) -> Iterator[PackProblem]:
    """Ids are unique and every name used resolves to a definition of the right kind."""
    doc = pack.document
    yield from _unique("questions", [q.id for q in doc.questions])
    for q in doc.questions:
        yield from _unique(f"questions[{q.id}].options", [o.id for o in q.options])
        if NONE in q.option_ids():
            yield DuplicateId(f"questions[{q.id}].options", f'"{NONE}" is reserved for "none of these"')
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
                yield AskedOutOfOrder(
                    f"questions[{q.id}].asked_when",
                    f"reads {', '.join(sorted(later))}, which is not asked before this question",
                )
        asked_before.add(q.id)

    for table, outcomes in (("urgency", pack.levels), ("prognosis", pack.categories)):
        for rule in getattr(doc, table).rules:
            if rule.then not in outcomes:
                yield UndefinedName(
                    f"{table}.rules[{rule.id}].then",
                    f"{rule.then!r} is not defined; defined: {', '.join(outcomes)}",
                )

    suggestion_ids = [s.id for s in doc.suggestions]
    for example in doc.examples:
        where = f"examples[{example.name}].expect"
        if example.expect.urgency not in pack.levels:
            yield UndefinedName(f"{where}.urgency", f"urgency {example.expect.urgency!r} is not defined")
        if example.expect.prognosis not in pack.categories:
            yield UndefinedName(
                f"{where}.prognosis", f"prognosis category {example.expect.prognosis!r} is not defined"
            )
        for sid in example.expect.suggestions:
            if sid not in suggestion_ids:
                yield UndefinedName(f"{where}.suggestions", f"suggestion {sid!r} is not defined")

    for where, citations in _citations(pack):
        for i, citation in enumerate(citations):
            if isinstance(citation, ArticleCitation):
                yield from _check_quote(pack, f"{where}.citations[{i}]", citation)


def check_safety_nets(pack: RulePack) -> Iterator[PackProblem]:
    """Every urgency level but the first has a safety net.

    Levels are listed most urgent first. The first is the alarm (call the emergency
    number now): nothing is sooner. Every other level tells a person they may wait,
    so it must say when not to: the signs that mean getting help sooner.
    """
    first, *below = pack.document.urgency.levels
    for level in below:
        if level.safety_net is None:
            yield MissingSafetyNet(
                f"urgency.levels[{level.id}]",
                f"{level.id} is below the most urgent level ({first.id}), so it needs a safety_net: "
                "when to get help sooner than it advises",
            )


def check_usage(pack: RulePack) -> Iterator[PackProblem]:
    """Every defined question, term, parameter, level and category is used somewhere."""
    doc = pack.document
    read: set[str] = set()
    terms_used: set[str] = set()
    params_used: set[str] = set()
    for _, condition in pack.conditions():
        for node in walk(condition):
            named = parts(node)
            if named.question is not None:
                read.add(named.question)
            if named.term is not None:
                terms_used.add(named.term)
            if isinstance(named.bound, ParamRef):
                params_used.add(named.bound.param)
    for q in doc.questions:
        if q.id not in read:
            yield Unused(f"questions[{q.id}]", f"question {q.id} is never read by any condition")
    for name in doc.terms:
        if name not in terms_used:
            yield Unused(f"terms.{name}", f"term {name} is never used")
    for name in doc.parameters:
        if name not in params_used:
            yield Unused(f"parameters.{name}", f"parameter {name} is never used")
    for table, outcomes, noun in (
        ("urgency", doc.urgency.levels, "urgency level"),
        ("prognosis", doc.prognosis.categories, "prognosis category"),
    ):
        used = {r.then for r in getattr(doc, table).rules}
        field = "levels" if table == "urgency" else "categories"
        for outcome in outcomes:
            if outcome.id not in used:
                yield Unused(f"{table}.{field}[{outcome.id}]", f"no rule gives the {noun} {outcome.id}")
    yield from _check_options_told_apart(pack)


def _check_options_told_apart(pack: RulePack) -> Iterator[PackProblem]:
    """Options are only worth asking if some condition can tell them apart.

    A single-choice option is told apart when a condition names it, or when it
    is the one option no condition names (the "anything else" answer). A
    multi-select read through an `empty` test counts every option; otherwise
    each option must be named by an `includes` test.
    """
    named: dict[str, set[str]] = {q.id: set() for q in pack.document.questions}
    emptiness: set[str] = set()
    for _, condition in pack.conditions():
        for node in walk(condition):
            test = parts(node)
            if test.question in named:
                named[test.question].update(test.options)
                if test.emptiness:
                    emptiness.add(test.question)
    for q in pack.document.questions:
        unnamed = [o for o in q.option_ids() if o not in named[q.id]]
        if q.type == "single" and len(unnamed) > 1:
            yield IndistinguishableOptions(
                f"questions[{q.id}].options",
                f"no condition names {', '.join(unnamed)}, so no rule can tell them apart",
            )
        if q.type == "multi" and q.id not in emptiness and unnamed and named[q.id]:
            yield Unused(
                f"questions[{q.id}].options",
                f"no condition tests {', '.join(unnamed)}, so choosing it changes nothing",
            )


# -- stage 2: the answer space ----------------------------------------------------------------------


Key = tuple[AnswerValue | None, ...]


@dataclass(frozen=True)
class Matches:
    """Which rules of each table match one answer set."""

    urgency: tuple[bool, ...]
    prognosis: tuple[bool, ...]
    suggestions: tuple[bool, ...]

    def urgency_rule(self, pack: RulePack) -> Rule | None:
        """The urgency rule that decides: the first that matches."""
        return first_match(pack.document.urgency.rules, self.urgency)

    def result(self, pack: RulePack) -> tuple[object, ...]:
        """What a person would be told: urgency, matching categories, suggestions."""
        decides = self.urgency_rule(pack)
        prognosis = pack.document.prognosis.rules
        categories = tuple(r.then for r, hit in zip(prognosis, self.prognosis, strict=True) if hit)
        return (decides.then if decides is not None else None, categories, self.suggestions)


@dataclass(frozen=True)
class AnswerSpace:
    """Every complete answer set of a pack, with which rules match it."""

    sets: tuple[dict[str, AnswerValue], ...]
    matches: tuple[Matches, ...]
    by_key: Mapping[Key, int]

    @classmethod
    def of(cls, pack: RulePack) -> AnswerSpace:
        doc = pack.document
        sets = tuple(answer_space(pack))
        matches = tuple(
            Matches(
                urgency=tuple(r.when.holds(a, pack) for r in doc.urgency.rules),
                prognosis=tuple(r.when.holds(a, pack) for r in doc.prognosis.rules),
                suggestions=tuple(s.when.holds(a, pack) for s in doc.suggestions),
            )
            for a in sets
        )
        by_key = {_key(pack, a): i for i, a in enumerate(sets)}
        return cls(sets, matches, by_key)


def _key(pack: RulePack, values: Mapping[str, AnswerValue]) -> Key:
    return tuple(values.get(q) for q in pack.questions)


def check_guards(pack: RulePack, space: AnswerSpace) -> list[PackProblem]:
    """No condition holds merely because a question it reads was not asked.

    A test of an unasked question is false: the rule stays silent, which is the
    safe reading. The danger is the other way round, as in `not: {term:
    long_standing}` for an answer set that never reached the months question:
    the condition holds only because the answer is missing. For every answer
    set on which a condition holds, and every question it reads that was not
    asked, the condition is evaluated again in three-valued logic with that
    question's tests unknown; if the outcome is then unknown, the condition
    fired on a missing answer. This is sound: a definite outcome holds whatever
    the answer would have been. For the first-match urgency table only the
    answer sets that reach a rule count.
    """
    doc = pack.document
    found: dict[tuple[str, str], PackProblem] = {}

    def check(where: str, condition: Condition, values: dict[str, AnswerValue]) -> None:
        for question in sorted(pack.questions_read(condition) - values.keys()):
            if (where, question) in found:
                continue
            if condition.accept(_Kleene(values, pack, question)) is None:
                found[(where, question)] = UnguardedRead(
                    where,
                    f"holds only because {question} was not asked; "
                    f"test it behind a condition under which {question} is asked",
                    counterexample=values,
                )

    for values, matches in zip(space.sets, space.matches, strict=True):
        for q in doc.questions:
            if q.asked_when is not None and q.asked_when.holds(values, pack):
                check(f"questions[{q.id}].asked_when", q.asked_when, values)
        urgency_rule = matches.urgency_rule(pack)
        if urgency_rule is not None:
            check(f"urgency.rules[{urgency_rule.id}].when", urgency_rule.when, values)
        for rule, hit in zip(doc.prognosis.rules, matches.prognosis, strict=True):
            if hit:
                check(f"prognosis.rules[{rule.id}].when", rule.when, values)
        for suggestion, hit in zip(doc.suggestions, matches.suggestions, strict=True):
            if hit:
                check(f"suggestions[{suggestion.id}].when", suggestion.when, values)
    return list(found.values())


class _Kleene(ConditionVisitor["bool | None"]):
    """A condition in three-valued logic, every test of `unknown` neither true nor false: None
    means "depends on it"."""

    def __init__(self, values: Mapping[str, AnswerValue], pack: RulePack, unknown: str) -> None:
        self.values = values
        self.pack = pack
        self.unknown = unknown

    def visit_all(self, condition: vocab.All) -> bool | None:
        return self._settled(condition.all, decisive=False)

    def visit_any(self, condition: vocab.Any) -> bool | None:
        return self._settled(condition.any, decisive=True)

    def visit_not(self, condition: vocab.Not) -> bool | None:
        inner = condition.not_.accept(self)
        return None if inner is None else not inner

    def visit_term(self, condition: vocab.Term) -> bool | None:
        return self.pack.term(condition.term).accept(self)

    def visit_always(self, condition: vocab.Always) -> bool | None:
        return True

    def visit_in(self, condition: vocab.In) -> bool | None:
        return self._test(condition)

    def visit_includes(self, condition: vocab.Includes) -> bool | None:
        return self._test(condition)

    def visit_empty(self, condition: vocab.Empty) -> bool | None:
        return self._test(condition)

    def visit_at_least(self, condition: vocab.AtLeast) -> bool | None:
        return self._test(condition)

    def visit_below(self, condition: vocab.Below) -> bool | None:
        return self._test(condition)

    def _settled(self, children: tuple[Condition, ...], decisive: bool) -> bool | None:
        """`all` (settled by a False) or `any` (settled by a True)."""
        results = [c.accept(self) for c in children]
        if decisive in results:
            return decisive
        return None if None in results else not decisive

    def _test(self, test: vocab.Test) -> bool | None:
        return None if test.question == self.unknown else test.holds(self.values, self.pack)


def check_tables(pack: RulePack, space: AnswerSpace) -> list[PackProblem]:
    """The urgency table covers every answer set; exactly one prognosis rule and at least one
    suggestion match each."""
    doc = pack.document
    urgency_gaps: list[dict[str, AnswerValue]] = []
    prognosis_gaps: list[dict[str, AnswerValue]] = []
    overlaps: dict[tuple[str, ...], list[dict[str, AnswerValue]]] = {}
    for values, matches in zip(space.sets, space.matches, strict=True):
        if not any(matches.urgency):
            urgency_gaps.append(values)
        matching = tuple(r.id for r, hit in zip(doc.prognosis.rules, matches.prognosis, strict=True) if hit)
        if not matching:
            prognosis_gaps.append(values)
        elif len(matching) > 1:
            overlaps.setdefault(matching, []).append(values)
    problems: list[PackProblem] = []
    for table, gaps in (("urgency", urgency_gaps), ("prognosis", prognosis_gaps)):
        if gaps:
            problems.append(
                TableGap(f"{table}.rules", f"no rule matches {_count(gaps)}", counterexample=gaps[0])
            )
    bare = [
        values
        for values, matches in zip(space.sets, space.matches, strict=True)
        if not any(matches.suggestions)
    ]
    if bare:
        problems.append(
            TableGap(
                "suggestions",
                f"no suggestion matches {_count(bare)}; every result needs at least one",
                counterexample=bare[0],
            )
        )
    for rules, sets in overlaps.items():
        problems.append(
            TableOverlap(
                f"prognosis.rules[{rules[0]}]",
                f"rules {', '.join(rules)} all match {_count(sets)}",
                counterexample=sets[0],
            )
        )
    return problems


def check_reachability(pack: RulePack, space: AnswerSpace) -> list[PackProblem]:
    """Every rule can fire: it matches some answers, and (urgency) is not always pre-empted."""
    doc = pack.document
    problems: list[PackProblem] = []
    for i, rule in enumerate(doc.urgency.rules):
        where = f"urgency.rules[{rule.id}].when"
        holding = [m for m in space.matches if m.urgency[i]]
        if not holding:
            problems.append(NeverFires(where, f"rule {rule.id} matches no possible answers"))
            continue
        deciding = [m.urgency_rule(pack) for m in holding]
        if any(r is rule for r in deciding):
            continue
        order = [r.id for r in doc.urgency.rules]
        earlier = sorted({r.id for r in deciding if r is not None}, key=order.index)
        example = space.sets[space.matches.index(holding[0])]
        problems.append(
            Shadowed(
                where,
                f"rule {rule.id} never decides: whenever it matches, {', '.join(earlier)} matched first",
                counterexample=example,
            )
        )
    for i, prognosis_rule in enumerate(doc.prognosis.rules):
        if not any(m.prognosis[i] for m in space.matches):
            problems.append(
                NeverFires(
                    f"prognosis.rules[{prognosis_rule.id}].when",
                    f"rule {prognosis_rule.id} matches no possible answers",
                )
            )
    for i, suggestion in enumerate(doc.suggestions):
        if not any(m.suggestions[i] for m in space.matches):
            problems.append(
                NeverFires(
                    f"suggestions[{suggestion.id}].when",
                    f"suggestion {suggestion.id} matches no possible answers",
                )
            )
    return problems


def check_effect(pack: RulePack, space: AnswerSpace) -> list[PackProblem]:
    """Every question read by the rules changes some result.

    A question matters when two answer sets that differ in its answer, and agree
    on every other question asked in both, give different results (urgency,
    prognosis or suggestions).
    """
    problems: list[PackProblem] = []
    read = set().union(*(pack.questions_read(c) for _, c in pack.conditions()))
    results = [m.result(pack) for m in space.matches]
    for question in pack.document.questions:
        if question.id not in read:
            continue  # reported as unused
        if not _matters(pack, space, results, question):
            problems.append(
                NoEffect(
                    f"questions[{question.id}]",
                    f"no answer to {question.id} changes the urgency, prognosis or suggestions",
                )
            )
    return problems


def _matters(pack: RulePack, space: AnswerSpace, results: Sequence[object], question: Question) -> bool:
    choices = domain(pack, question)
    for values, result in zip(space.sets, results, strict=True):
        if question.id not in values:
            continue
        for choice in choices:
            if choice == values[question.id]:
                continue
            changed = {**values, question.id: choice}
            for other in answer_space(pack, given=changed):
                if results[space.by_key[_key(pack, other)]] != result:
                    return True
    return False


def check_examples(pack: RulePack) -> Iterator[PackProblem]:
    """The pack's own examples give their expected urgency, prognosis and suggestions."""
    for failure in run_examples(pack):
        yield from failure.problems


@dataclass(frozen=True)
class ExampleRun:
    """One example of a pack, run: what it expected and what the rules gave."""

    name: str
    expected: Mapping[str, object]
    actual: Mapping[str, object] | None
    problems: tuple[PackProblem, ...]

    @property
    def passed(self) -> bool:
        return not self.problems


def run_examples(pack: RulePack) -> Iterator[ExampleRun]:
    """Run each example of the pack through the engine, in order."""
    for example in pack.document.examples:
        where = f"examples[{example.name}]"
        expected = {
            "urgency": example.expect.urgency,
            "prognosis": example.expect.prognosis,
            "suggestions": list(example.expect.suggestions),
        }
        try:
            result = evaluate(example.answers, pack)
        except InvalidAnswers as exc:
            problems = tuple(
                ExampleMismatch(f"{where}.answers.{p.field}", f"invalid answer: {p.message}")
                for p in exc.problems
            )
            yield ExampleRun(example.name, expected, None, problems)
            continue
        except TriageError:
            # The engine found no matching rule in a table: name the table, show the answers.
            values = read_answers(example.answers, pack).values
            tables = [
                f"{table} rule"
                for table in ("urgency", "prognosis")
                if not any(r.when.holds(values, pack) for r in getattr(pack.document, table).rules)
            ]
            if not any(s.when.holds(values, pack) for s in pack.document.suggestions):
                tables.append("suggestion")
            problem = ExampleMismatch(
                where, f"no {' and no '.join(tables)} matches its answers", counterexample=values
            )
            yield ExampleRun(example.name, expected, None, (problem,))
            continue
        actual = {
            "urgency": result.urgency,
            "prognosis": result.prognosis.category,
            "suggestions": [s.id for s in result.suggestions],
        }
        problems = tuple(
            ExampleMismatch(
                f"{where}.expect.{field}", f"expected {_plain(expected[field])}, got {_plain(actual[field])}"
            )
            for field in expected
            if expected[field] != actual[field]
        )
        yield ExampleRun(example.name, expected, actual, problems)


# -- helpers ----------------------------------------------------------------------------------------


def _check_condition(pack: RulePack, where: str, condition: Condition) -> Iterator[PackProblem]:
    for node in walk(condition):
        named = parts(node)
        if named.term is not None and named.term not in pack.document.terms:
            yield UndefinedName(
                where, f"term {named.term!r} is not defined; defined: {', '.join(pack.document.terms)}"
            )
        if isinstance(named.bound, ParamRef) and named.bound.param not in pack.document.parameters:
            yield UndefinedName(where, f"parameter {named.bound.param!r} is not defined")
        if named.question is None:
            continue
        question = pack.questions.get(named.question)
        if question is None:
            yield UndefinedName(where, f"question {named.question!r} is not defined")
            continue
        wanted = named.question_type
        if question.type != wanted:
            yield WrongQuestionType(
                where, f"{named.question} is a {question.type} question; this test needs a {wanted} one"
            )
            continue
        for option in named.options:
            if option not in question.option_ids():
                yield UndefinedName(
                    where,
                    f"{option!r} is not an option of {named.question}; "
                    f"options: {', '.join(question.option_ids())}",
                )


def _check_terms_acyclic(pack: RulePack) -> Iterator[PackProblem]:
    terms = pack.document.terms

    def refers(name: str, seen: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        for node in walk(terms[name]):
            term = parts(node).term
            if term is not None and term in terms:
                if term in seen:
                    yield (*seen, term)
                else:
                    yield from refers(term, (*seen, term))

    for name in terms:
        for cycle in refers(name, (name,)):
            if cycle[-1] == name:
                yield TermCycle(f"terms.{name}", f"refers to itself: {' -> '.join(cycle)}")
                break


def _check_quote(pack: RulePack, where: str, citation: ArticleCitation) -> Iterator[PackProblem]:
    count = len(pack.paragraphs)
    if not 1 <= citation.paragraph <= count:
        yield BadCitation(
            f"{where}.paragraph", f"paragraph {citation.paragraph} does not exist (1 to {count})"
        )
    elif citation.quote not in pack.paragraphs[citation.paragraph - 1]:
        yield BadCitation(
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
            yield DuplicateId(where, f"{name!r} is defined {count} times")


def _count(sets: Sequence[object]) -> str:
    return "1 answer set" if len(sets) == 1 else f"{len(sets)} answer sets"


def _plain(value: object) -> str:
    if isinstance(value, (frozenset, tuple, list)):
        items = sorted(value) if isinstance(value, frozenset) else list(value)
        return "[" + ", ".join(str(v) for v in items) + "]"
    return str(value)


__all__ = [
    "PROBLEM_KINDS",
    "AnswerSpace",
    "ExampleRun",
    "run_examples",
    "verify",
]

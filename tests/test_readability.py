"""Every patient-facing text of the bundled pack reads at grade 8 or below (SPEC §4, texts v2).

Graded with the Flesch-Kincaid formula, syllables counted by pyphen (see
tests/readability.py for how, and for the disease names counted one syllable a word).
Texts shorter than eight words are not graded.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from readability import MAX_GRADE, MIN_WORDS, NAMES, Grade, grade, syllables, words

import triage
from triage.core.pack import RulePack


def patient_texts(pack: RulePack) -> Iterator[tuple[str, str]]:
    """Every text of a pack that a person answering reads, with where it is."""
    doc = pack.document
    yield "disclaimer", doc.disclaimer
    for q in doc.questions:
        yield f"questions[{q.id}].prompt", q.prompt
        for field in ("name", "help", "none_label"):
            value = getattr(q, field)
            if value:
                yield f"questions[{q.id}].{field}", value
        for o in q.options:
            yield f"questions[{q.id}].options[{o.id}].label", o.label
            yield f"questions[{q.id}].options[{o.id}].description", o.description
    for level in doc.urgency.levels:
        yield f"urgency.levels[{level.id}].label", level.label
        yield f"urgency.levels[{level.id}].text", level.text
        if level.safety_net:
            yield f"urgency.levels[{level.id}].safety_net", level.safety_net
    for category in doc.prognosis.categories:
        yield f"prognosis.categories[{category.id}].label", category.label
        yield f"prognosis.categories[{category.id}].text", category.text
    for rule in (*doc.urgency.rules, *doc.prognosis.rules):
        yield f"rules[{rule.id}].reason", rule.reason
    for suggestion in doc.suggestions:
        yield f"suggestions[{suggestion.id}].text", suggestion.text
        yield f"suggestions[{suggestion.id}].reason", suggestion.reason


def graded(pack: RulePack) -> list[tuple[Grade, str, str]]:
    """The texts of eight words or more with their grades, hardest first."""
    found = [(grade(text), where, text) for where, text in patient_texts(pack) if len(words(text)) >= MIN_WORDS]
    return sorted(found, key=lambda item: -item[0].grade)


def worst(found: list[tuple[Grade, str, str]], count: int = 5) -> str:
    return "\n".join(f"  grade {g.grade:4.1f}  {where}: {' '.join(text.split())}" for g, where, text in found[:count])


def test_every_patient_text_reads_at_grade_8_or_below(pack: RulePack) -> None:
    """No text of eight words or more that a patient reads is above Flesch-Kincaid grade 8."""
    found = graded(pack)
    assert len(found) >= 60, "the texts to grade were not all found"
    over = [item for item in found if item[0].grade > MAX_GRADE]
    assert not over, (
        f"{len(over)} of {len(found)} patient texts read above grade {MAX_GRADE:g}; the worst five:\n"
        + worst(found)
    )


def test_explanations_shown_to_patients_read_at_grade_8_or_below(pack: RulePack) -> None:
    """The reason of every rule that can fire, as a result's explanation shows it, is at grade 8 or below."""
    from triage.core.answerspace import answer_space

    reasons = {}
    for values in answer_space(pack):
        for item in triage.evaluate(triage.Answers(values=values), rulepack=pack).explanation:
            reasons[item.rule] = item.text.split(" (Your answers:")[0]
    rules = {r.id for r in (*pack.document.urgency.rules, *pack.document.prognosis.rules)}
    assert rules | {s.id for s in pack.document.suggestions} == set(reasons)
    over = {rule: grade(text).grade for rule, text in reasons.items() if len(words(text)) >= MIN_WORDS}
    assert all(value <= MAX_GRADE for value in over.values()), over


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The cat sat on the mat. It was a good cat.", (11, 2, 11)),
        ("Facial atrophy is wasting of the muscles of the face.", (10, 1, None)),
    ],
)
def test_the_counts_are_those_of_the_formula(text: str, expected: tuple[int, int, int | None]) -> None:
    """Words, sentences and syllables are counted as the formula needs, and the grade follows from them."""
    result = grade(text)
    count, sentences, total = expected
    assert (result.words, result.sentences) == (count, sentences)
    if total is not None:
        assert result.syllables == total
    assert result.grade == round(0.39 * result.words / result.sentences + 11.8 * result.syllables / result.words - 15.59, 1)


def test_a_hard_text_fails_the_bar() -> None:
    """The grade can fail: a long sentence of long words is far above grade 8."""
    hard = (
        "Idiopathic peripheral facial nerve paralysis necessitates expeditious corticosteroid "
        "administration, notwithstanding considerable interindividual heterogeneity regarding prognosis."
    )
    assert grade(hard).grade > 2 * MAX_GRADE
    assert syllables("administration") >= 4


def test_names_count_one_syllable_a_word_and_still_count_as_words() -> None:
    """A disease name of the documented list counts one syllable a word; the words around it as usual."""
    assert "facioscapulohumeral" in NAMES
    with_name = grade("I have facioscapulohumeral muscular dystrophy.")
    assert with_name.words == 5
    assert with_name.syllables == 1 + 1 + 1 + 1 + 1
    assert grade("I have a facial paralysis.").syllables == sum(
        syllables(w) for w in ["I", "have", "a", "facial", "paralysis"]
    )


def test_the_failure_message_shows_the_worst_five_with_their_grades() -> None:
    """A failure names the five hardest texts, hardest first, each with its grade and where it is."""
    texts = [f"text {n}: " + "word " * 8 + "." for n in range(7)]
    found = sorted(((grade(t), f"where[{n}]", t) for n, t in enumerate(texts)), key=lambda i: -i[0].grade)
    message = worst(found)
    assert len(message.splitlines()) == 5
    assert message.splitlines()[0].startswith(f"  grade {found[0][0].grade:4.1f}  where[")

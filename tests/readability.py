"""Flesch-Kincaid grade of a text, with syllables counted by pyphen (no download, no network).

The standard formula: 0.39 * words/sentences + 11.8 * syllables/words - 15.59.
Syllables are counted as the `textstat` releases that used pyphen counted them:
the hyphenation points pyphen's en_US dictionary finds in a word, plus one.

Disease names are kept in texts, each with a plain explanation beside it (SPEC §4),
and a reader with that disease knows its name; the formula would still count
"facioscapulohumeral" as a word of eight syllables. So every word of a name in
`NAMES` counts as one syllable. It still counts as a word, and the sentence
around it is graded as usual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyphen

NAMES = ("Bell's palsy", "facioscapulohumeral", "oculopharyngeal", "muscular dystrophy", "FSHD", "OPMD")
"""Disease names counted one syllable a word: the names a person with the disease knows."""

MAX_GRADE = 8.0
"""The highest grade allowed (NIH and AMA advise grade 6 to 8 for patient texts)."""
MIN_WORDS = 8
"""Shorter texts (labels, names) are not graded: the formula means little for a few words."""

_DICTIONARY = pyphen.Pyphen(lang="en_US")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
_NAME = re.compile("|".join(rf"\b{re.escape(name)}\b" for name in NAMES), re.IGNORECASE)


@dataclass(frozen=True)
class Grade:
    """A text's Flesch-Kincaid grade and the counts it comes from."""

    grade: float
    words: int
    sentences: int
    syllables: int


def syllables(word: str) -> int:
    """Syllables in one word: pyphen's hyphenation points, plus one."""
    return len(_DICTIONARY.positions(word.lower())) + 1


def words(text: str) -> list[str]:
    """The words of a text (numbers count as words; "don't" is one word)."""
    return _WORD.findall(text)


def grade(text: str) -> Grade:
    """The Flesch-Kincaid grade of a text; a text without a full stop is one sentence."""
    names = sum(len(words(match)) for match in _NAME.findall(text))
    plain = _NAME.sub(" ", text)
    count = len(words(text))
    if count == 0:
        raise ValueError("no words to grade")
    parts = [part for part in _SENTENCE_END.split(text) if words(part)]
    sentences = max(1, len(parts))
    total = names + sum(syllables(w) for w in words(plain))
    value = 0.39 * count / sentences + 11.8 * total / count - 15.59
    return Grade(round(value, 1), count, sentences, total)

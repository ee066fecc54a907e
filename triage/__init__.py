"""triage: a rule-based symptom-triage questionnaire for facial atrophy.

    >>> import triage
    >>> result = triage.evaluate({"red_flags": [], "cause": "fshd", "severity": "mild"})
    >>> result.prognosis.category
    'progressive'

Every result carries a "see a doctor" disclaimer; this is not a diagnosis.
"""

from collections.abc import Iterable as _Iterable
from collections.abc import Iterator as _Iterator
from collections.abc import Mapping as _Mapping
from typing import TYPE_CHECKING as _TYPE_CHECKING

from triage.core import engine as _engine
from triage.core import outcomes as _outcomes
from triage.core.answers import read_answers
from triage.core.errors import InvalidAnswers, RulePackError, TriageError
from triage.core.models import (
    Answers,
    ArticleCitation,
    Citation,
    Explanation,
    ExternalCitation,
    PackInfo,
    Problem,
    Prognosis,
    RecordError,
    Result,
    Suggestion,
    UrgencyAdvice,
)
from triage.core.pack import RulePack
from triage.packs.loading import load_rulepack

if _TYPE_CHECKING:
    import pyarrow

__version__ = "0.2.0"


def evaluate(answers: _Mapping[str, object] | Answers, *, rulepack: RulePack | None = None) -> Result:
    """Evaluate one answer record (a mapping as in an answer file, or `Answers`); with no `rulepack`,
    by the bundled pack.

    Raises `InvalidAnswers` listing every problem of an invalid record.
    """
    return _engine.evaluate(answers, rulepack or load_rulepack())


def evaluate_many(
    records: _Iterable[object], *, rulepack: RulePack | None = None
) -> _Iterator[Result | RecordError]:
    """Evaluate records one by one, yielding a result or a `RecordError` for each, in order; with no
    `rulepack`, by the bundled pack.

    Any value may be a record: one that is not a valid answer record gives a
    `RecordError` naming every problem, and the stream goes on.
    """
    yield from _outcomes.evaluate_many(records, rulepack or load_rulepack())


def evaluate_table(
    table: object, *, rulepack: RulePack | None = None, texts: bool = False
) -> "pyarrow.Table":
    """Evaluate every row of a table of answer records (pyarrow, polars, pandas): a pyarrow Table of
    results, one row per input row, in order. Needs `pip install 'triage[arrow]'`; see
    `triage.batch.columnar.evaluate_table` for the columns and how a row is read."""
    # The library's one import inside a function (besides the command line's dispatch): the columnar
    # batch needs pyarrow, which is optional, and `import triage` must not load it. A module
    # `__getattr__` (PEP 562) would keep the name out of the package's namespace, which `__all__`,
    # `help(triage)` and the tests read: so the name is this function, and the import is made here.
    try:
        from triage.batch.columnar import evaluate_table as columnar_evaluate_table
    except ModuleNotFoundError as exc:
        if exc.name != "pyarrow":
            raise
        raise ModuleNotFoundError(
            "triage.evaluate_table needs pyarrow: pip install 'triage[arrow]'", name="pyarrow"
        ) from exc
    return columnar_evaluate_table(table, rulepack=rulepack, texts=texts)


__all__ = [
    "Answers",
    "ArticleCitation",
    "Citation",
    "Explanation",
    "ExternalCitation",
    "InvalidAnswers",
    "PackInfo",
    "Problem",
    "Prognosis",
    "RecordError",
    "Result",
    "RulePack",
    "RulePackError",
    "Suggestion",
    "TriageError",
    "UrgencyAdvice",
    "__version__",
    "evaluate",
    "evaluate_many",
    "evaluate_table",
    "load_rulepack",
    "read_answers",
]

"""triage: a rule-based symptom-triage questionnaire for facial atrophy.

    >>> import triage
    >>> result = triage.evaluate({"red_flags": [], "cause": "fshd", "severity": "mild"})
    >>> result.prognosis.category
    'progressive'

Every result carries a "see a doctor" disclaimer; this is not a diagnosis.
"""

import typing as _typing

from triage.core.answers import read_answers
from triage.core.engine import evaluate, evaluate_many
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
from triage.core.pack import RulePack, load_rulepack

if _typing.TYPE_CHECKING:
    import pyarrow

__version__ = "0.2.0"


def evaluate_table(
    table: object, *, rulepack: RulePack | None = None, texts: bool = False
) -> "pyarrow.Table":
    """Evaluate every row of a table of answer records (pyarrow, polars, pandas): a pyarrow Table of
    results, one row per input row, in order. Needs `pip install 'triage[arrow]'`; see
    `triage.batch.columnar.evaluate_table` for the columns and how a row is read."""
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

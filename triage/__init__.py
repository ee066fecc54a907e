"""triage: a rule-based symptom-triage questionnaire for facial atrophy.

    >>> import triage
    >>> result = triage.evaluate({"red_flags": [], "cause": "fshd", "severity": "mild"})
    >>> result.prognosis.category
    'progressive'

Every result carries a "see a doctor" disclaimer; this is not a diagnosis.
"""

from triage.answers import read_answers
from triage.engine import evaluate, evaluate_many
from triage.errors import InvalidAnswers, RulePackError, TriageError
from triage.models import (
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
from triage.rulepack import RulePack, load_rulepack

__version__ = "0.2.0"

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
    "load_rulepack",
    "read_answers",
]

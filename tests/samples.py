"""Valid answer records shared by the tests: one for each branch of the questionnaire."""

from __future__ import annotations

FSHD = {"red_flags": [], "cause": "fshd", "severity": "mild"}
PARALYSIS = {
    "red_flags": [],
    "cause": "peripheral_facial_paralysis",
    "severity": "mild",
    "months_since_paralysis": 3,
    "treated_early": "yes",
    "eye_problems": [],
}
OTHER = {"red_flags": [], "cause": "other", "severity": "mild", "worsening": "no", "related_findings": []}

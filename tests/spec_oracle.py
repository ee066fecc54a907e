"""SPEC §4 written out by hand, independently of the rule pack: the tests' oracle.

The engine reads its decisions from rules/; this module reads them from the
specification's tables, so a slip in either shows up as a disagreement.
"""

from __future__ import annotations

from collections.abc import Mapping

PARALYSIS = {"peripheral_facial_paralysis", "central_facial_paralysis"}
HEREDITARY = {"fshd", "opmd"}
OTHER = {"other", "unknown"}
LONG_STANDING_MONTHS = 6
RECENT_MONTHS = 1


def _terms(a: Mapping[str, object]) -> dict[str, bool]:
    cause = a.get("cause")
    months = a.get("months_since_paralysis")
    findings = a.get("related_findings") or frozenset()
    paralysis = cause in PARALYSIS
    return {
        "paralysis": paralysis,
        "long_standing": paralysis and isinstance(months, int) and months >= LONG_STANDING_MONTHS,
        "recent": paralysis and isinstance(months, int) and months < RECENT_MONTHS,
        "untreated": paralysis and a.get("treated_early") in {"no", "not_sure"},
        "flagged": cause in OTHER and (a.get("worsening") in {"yes", "not_sure"} or bool(findings)),
    }


def urgency(a: Mapping[str, object]) -> tuple[str, str]:
    flags = a["red_flags"]
    assert isinstance(flags, frozenset)
    t = _terms(a)
    if "stroke_signs" in flags:
        return "U1", "emergency"
    if "sudden_onset" in flags:
        return "U2", "urgent"
    if t["paralysis"] and t["recent"] and t["untreated"]:
        return "U3", "urgent"
    if t["paralysis"] and t["untreated"]:
        return "U4", "soon"
    if t["flagged"]:
        return "U5", "soon"
    return "U6", "routine"


def prognosis(a: Mapping[str, object]) -> str:
    if a["red_flags"]:
        return "not_assessed"
    t = _terms(a)
    cause, severity = a["cause"], a["severity"]
    if cause in HEREDITARY:
        return "progressive"
    if t["paralysis"]:
        if t["long_standing"] or severity == "severe":
            return "difficult"
        return {"mild": "recoverable", "moderate": "uncertain"}[str(severity)]
    if t["flagged"]:
        return "uncertain"
    return {"mild": "recoverable", "moderate": "uncertain", "severe": "may_not_fully_recover"}[str(severity)]


def suggestions(a: Mapping[str, object]) -> list[str]:
    flags = a["red_flags"]
    assert isinstance(flags, frozenset)
    t = _terms(a)
    cause = a.get("cause")
    out = []
    if "stroke_signs" in flags:
        out.append("emergency_call")
    if "sudden_onset" in flags and "stroke_signs" not in flags:
        out.append("same_day_care")
    if flags:
        return out
    if t["paralysis"] and t["untreated"]:
        out.append("prompt_treatment")
    if t["paralysis"]:
        out.append("rehabilitation")
    if t["paralysis"] or cause in OTHER:
        out.append("expression_training")
    if t["paralysis"]:
        out.append("eating_care")
    if cause in HEREDITARY:
        out.append("hereditary_management")
    if cause in OTHER:
        out.append("acupuncture_tcm_surgery")
    if t["flagged"]:
        out.append("doctor_evaluation")
    out.append("daily_face_care")
    return out

"""SPEC §4 (v2, rule pack 2.x) written out by hand, independently of the rule pack: the tests' oracle.

The engine reads its decisions from rules/; this module reads them from the
specification's tables, so a slip in either shows up as a disagreement.
"""

from __future__ import annotations

from collections.abc import Mapping

PARALYSIS = {"peripheral_facial_paralysis", "central_facial_paralysis"}
HEREDITARY = {"fshd", "opmd"}
OTHER = {"other", "unknown"}
EMERGENCY_FLAGS = {"stroke_signs", "sudden_face_droop"}
LONG_STANDING_MONTHS = 6
RECENT_MONTHS = 1


def _terms(a: Mapping[str, object]) -> dict[str, bool]:
    cause = a.get("cause")
    months = a.get("months_since_paralysis")
    findings = a.get("related_findings") or frozenset()
    eyes = a.get("eye_problems") or frozenset()
    flags = a["red_flags"]
    assert isinstance(flags, frozenset)
    assert isinstance(eyes, frozenset)
    paralysis = cause in PARALYSIS
    return {
        "emergency_flag": bool(flags & EMERGENCY_FLAGS),
        "paralysis": paralysis,
        "long_standing": paralysis and isinstance(months, int) and months >= LONG_STANDING_MONTHS,
        "recent": paralysis and isinstance(months, int) and months < RECENT_MONTHS,
        "untreated": paralysis and a.get("treated_early") in {"no", "not_sure"},
        "cannot_close": paralysis and "cannot_close" in eyes,
        "painful_or_red": paralysis and "painful_or_red" in eyes,
        "eye_problem": paralysis and bool(eyes),
        "flagged": cause in OTHER and (a.get("worsening") in {"yes", "not_sure"} or bool(findings)),
    }


def urgency(a: Mapping[str, object]) -> tuple[str, str]:
    flags = a["red_flags"]
    assert isinstance(flags, frozenset)
    t = _terms(a)
    if t["emergency_flag"]:
        return "U1", "emergency"
    if "sudden_onset" in flags:
        return "U2", "urgent"
    if t["paralysis"] and t["painful_or_red"]:
        return "U3", "urgent"
    if t["paralysis"] and t["recent"] and t["untreated"]:
        return "U4", "urgent"
    if t["paralysis"] and t["untreated"]:
        return "U5", "soon"
    if t["paralysis"] and t["cannot_close"]:
        return "U6", "soon"
    if t["flagged"]:
        return "U7", "soon"
    return "U8", "routine"


def prognosis(a: Mapping[str, object]) -> tuple[str, str]:
    if a["red_flags"]:
        return "P0", "not_assessed"
    t = _terms(a)
    cause, severity = a["cause"], a["severity"]
    if cause in HEREDITARY:
        return "P1", "progressive"
    if t["paralysis"]:
        if t["long_standing"]:
            return "P2", "difficult"
        return {
            "severe": ("P3", "may_not_fully_recover"),
            "mild": ("P4", "recoverable"),
            "moderate": ("P5", "uncertain"),
        }[str(severity)]
    if t["flagged"]:
        return "P6", "uncertain"
    return {
        "mild": ("P7", "recoverable"),
        "moderate": ("P8", "uncertain"),
        "severe": ("P9", "may_not_fully_recover"),
    }[str(severity)]


def suggestions(a: Mapping[str, object]) -> list[str]:
    flags = a["red_flags"]
    assert isinstance(flags, frozenset)
    t = _terms(a)
    cause = a.get("cause")
    out = []
    if t["emergency_flag"]:
        out.append("emergency_call")
    if "sudden_onset" in flags and not t["emergency_flag"]:
        out.append("same_day_care")
    if flags:
        return out
    if t["paralysis"] and t["eye_problem"]:
        out.append("eye_care")
    if t["paralysis"] and t["untreated"] and not t["long_standing"]:
        out.append("prompt_treatment")
    if t["paralysis"]:
        out.append("rehabilitation")
    if t["paralysis"] and t["recent"]:
        out.append("gentle_start")
    if (t["paralysis"] and not t["recent"]) or cause in OTHER:
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

"""SPEC §4 (v2, rule pack 2.x) written out by hand, independently of the rule pack: the tests' oracle.

The engine reads its decisions from rules/; this module reads them from the
specification's tables, so a slip in either shows up as a disagreement. Each
table is copied row by row, every "when" cell in full (a comma is AND), so a
row reads as the spec's row does: urgency takes the first row that matches,
prognosis checks that exactly one of P1 to P9 matches, and suggestions keep every
row that matches, in the spec's order.
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
    """The terms of SPEC §4, each as the spec defines it."""
    cause = a.get("cause")
    months = a.get("months_since_paralysis")
    findings = a.get("related_findings") or frozenset()
    eyes = a.get("eye_problems") or frozenset()
    flags = a["red_flags"]
    assert isinstance(flags, frozenset)
    assert isinstance(eyes, frozenset)
    return {
        "red_flag": bool(flags),
        "emergency_flag": bool(flags & EMERGENCY_FLAGS),
        "sudden_onset": "sudden_onset" in flags,
        "paralysis": cause in PARALYSIS,
        "hereditary": cause in HEREDITARY,
        "other": cause in OTHER,
        "long_standing": isinstance(months, int) and months >= LONG_STANDING_MONTHS,
        "recent": isinstance(months, int) and months < RECENT_MONTHS,
        "untreated": a.get("treated_early") in {"no", "not_sure"},
        "cannot_close": "cannot_close" in eyes,
        "painful_or_red": "painful_or_red" in eyes,
        "eye_problem": bool(eyes),
        "flagged": cause in OTHER and (a.get("worsening") in {"yes", "not_sure"} or bool(findings)),
    }


def urgency(a: Mapping[str, object]) -> tuple[str, str]:
    """The urgency table: the first rule that matches wins."""
    t = _terms(a)
    rows = [
        ("U1", "emergency", t["emergency_flag"]),
        ("U2", "urgent", t["sudden_onset"]),
        ("U3", "urgent", t["paralysis"] and t["painful_or_red"]),
        ("U4", "urgent", t["paralysis"] and t["recent"] and t["untreated"]),
        ("U5", "soon", t["paralysis"] and t["untreated"]),
        ("U6", "soon", t["paralysis"] and t["cannot_close"]),
        ("U7", "soon", t["flagged"]),
        ("U8", "routine", True),
    ]
    return next((rule, level) for rule, level, when in rows if when)


def prognosis(a: Mapping[str, object]) -> tuple[str, str]:
    """The prognosis table: P0 with any red flag; otherwise the one row of P1 to P9 that matches."""
    t = _terms(a)
    if t["red_flag"]:
        return "P0", "not_assessed"
    severity = a["severity"]
    paralysis, lasting, other, flagged = t["paralysis"], t["long_standing"], t["other"], t["flagged"]
    rows = [
        ("P1", "progressive", t["hereditary"]),
        ("P2", "difficult", paralysis and lasting),
        ("P3", "may_not_fully_recover", paralysis and not lasting and severity == "severe"),
        ("P4", "recoverable", paralysis and not lasting and severity == "mild"),
        ("P5", "uncertain", paralysis and not lasting and severity == "moderate"),
        ("P6", "uncertain", flagged),
        ("P7", "recoverable", other and not flagged and severity == "mild"),
        ("P8", "uncertain", other and not flagged and severity == "moderate"),
        ("P9", "may_not_fully_recover", other and not flagged and severity == "severe"),
    ]
    matching = [(rule, category) for rule, category, when in rows if when]
    assert len(matching) == 1, f"SPEC §4 says exactly one prognosis row matches; {matching} match {dict(a)}"
    return matching[0]


def suggestions(a: Mapping[str, object]) -> list[str]:
    """The suggestions table: every row that matches, in the spec's order."""
    t = _terms(a)
    calm = not t["red_flag"]  # "no red flag"
    paralysis = t["paralysis"]
    rows = [
        ("emergency_call", t["emergency_flag"]),
        ("same_day_care", t["sudden_onset"] and not t["emergency_flag"]),
        ("eye_care", calm and paralysis and t["eye_problem"]),
        ("prompt_treatment", calm and paralysis and t["untreated"] and not t["long_standing"]),
        ("rehabilitation", calm and paralysis),
        ("gentle_start", calm and paralysis and t["recent"]),
        ("expression_training", calm and ((paralysis and not t["recent"]) or t["other"])),
        ("eating_care", calm and paralysis),
        ("hereditary_management", calm and t["hereditary"]),
        ("acupuncture_tcm_surgery", calm and t["other"]),
        ("doctor_evaluation", calm and t["flagged"]),
        ("daily_face_care", calm),
    ]
    return [suggestion for suggestion, when in rows if when]

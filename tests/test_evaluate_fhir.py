"""`triage evaluate` reads FHIR QuestionnaireResponses like the answer records they hold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import triage
from triage.fhir import response_from_record

OTHER = {
    "id": "r-1",
    "red_flags": "none",
    "cause": "unknown",
    "severity": "moderate",
    "worsening": "yes",
    "related_findings": ["eyelid_or_swallowing"],
}
STROKE = {"id": "r-2", "red_flags": ["stroke_signs"]}


def evaluate(*paths: Path) -> tuple[int, list[dict[str, Any]]]:
    out = subprocess.run(
        [sys.executable, "-m", "triage", "evaluate", *map(str, paths), "--format", "jsonl"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert b"Traceback" not in out.stderr
    return out.returncode, [json.loads(line) for line in out.stdout.splitlines()]


@pytest.fixture(scope="module")
def pack() -> triage.RulePack:
    return triage.load_rulepack()


def test_a_response_evaluates_like_its_record(tmp_path: Path, pack: triage.RulePack) -> None:
    """A QuestionnaireResponse file gives the result of the equivalent JSON record, id included."""
    (tmp_path / "r.fhir.json").write_text(json.dumps(response_from_record(OTHER, pack)))
    (tmp_path / "r.json").write_text(json.dumps(OTHER))
    code, (from_fhir, from_json) = evaluate(tmp_path / "r.fhir.json", tmp_path / "r.json")
    assert code == 0
    assert from_fhir["source"].endswith("r.fhir.json")
    assert {k: v for k, v in from_fhir.items() if k != "source"} == {
        k: v for k, v in from_json.items() if k != "source"
    }
    assert from_fhir["id"] == "r-1"
    assert from_fhir["urgency"] == "soon"


def test_a_response_written_as_yaml_is_read_as_in_json(tmp_path: Path, pack: triage.RulePack) -> None:
    """The same QuestionnaireResponse, and Bundle, written as YAML give the entries JSON gives (they
    were read as answer records with unknown keys); a key given twice in YAML refuses its entry."""
    bundle = {
        "resourceType": "Bundle",
        "entry": [{"resource": response_from_record(r, pack)} for r in (OTHER, STROKE)],
    }
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(bundle))
    _, from_json = evaluate(tmp_path / "b.json")
    code, from_yaml = evaluate(tmp_path / "b.yaml")
    assert code == 0
    assert [e["urgency"] for e in from_yaml] == [from_json[0]["urgency"], "emergency"]
    assert [{**e, "source": e["source"].replace(".yaml", ".json")} for e in from_yaml] == from_json
    lines = yaml.safe_dump(bundle).splitlines(keepends=True)
    (at,) = [n for n, line in enumerate(lines) if line.strip() == "code: stroke_signs"]
    text = "".join([*lines[: at + 1], lines[at].replace("stroke_signs", "none"), *lines[at + 1 :]])
    (tmp_path / "twice.yaml").write_text(text)
    code, entries = evaluate(tmp_path / "twice.yaml")
    assert code == 1
    assert entries[0]["urgency"] == from_json[0]["urgency"]
    assert entries[1]["errors"][0]["field"].endswith("valueCoding.code")


def test_a_bundle_gives_one_entry_per_response(tmp_path: Path, pack: triage.RulePack) -> None:
    """Each response in a Bundle is one record, sourced by its entry index, in order."""
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": response_from_record(r, pack)} for r in (STROKE, OTHER)],
    }
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    code, entries = evaluate(tmp_path / "b.json")
    assert code == 0
    assert [e["source"].rsplit("/", 1)[-1] for e in entries] == ["b.json#entry[0]", "b.json#entry[1]"]
    assert [e["urgency"] for e in entries] == ["emergency", "soon"]


def test_an_unknown_link_id_is_an_error_entry_and_the_rest_go_on(
    tmp_path: Path, pack: triage.RulePack
) -> None:
    """A response with an unknown linkId gives an error entry naming it; other records are still evaluated."""
    response = response_from_record(OTHER, pack)
    response["item"][1]["linkId"] = "cuase"
    (tmp_path / "bad.json").write_text(json.dumps(response))
    (tmp_path / "good.json").write_text(json.dumps(STROKE))
    code, (bad, good) = evaluate(tmp_path / "bad.json", tmp_path / "good.json")
    assert code == 1
    assert "urgency" not in bad
    assert bad["id"] == "r-1"
    assert any("cuase" in e["field"] + e["message"] for e in bad["errors"])
    assert good["urgency"] == "emergency"

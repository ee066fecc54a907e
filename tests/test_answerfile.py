"""Saving the questionnaire's answers as an answer record (JSON or YAML)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import triage
from triage.answerfile import SaveError, check_target, dump_record, write_record
from triage.answerspace import answer_space
from triage.flow import Flow
from triage.rulepack import RulePack


def _records(pack: RulePack) -> list[dict[str, object]]:
    out = []
    for values in answer_space(pack):
        flow = Flow(pack)
        for question, value in values.items():
            flow.answer(question, value)
        out.append(flow.record())
    return out


def _load(path: Path) -> object:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


@pytest.mark.parametrize("kind", ["json", "yaml"])
def test_every_record_round_trips_and_evaluates_the_same(pack: RulePack, kind: str) -> None:
    """Every record the questionnaire can make reads back exactly, and gives the same result."""
    for record in _records(pack):
        text = dump_record(record, kind)
        loaded = json.loads(text) if kind == "json" else yaml.safe_load(text)
        assert loaded == record
        assert triage.evaluate(loaded, rulepack=pack) == triage.evaluate(record, rulepack=pack)


@pytest.mark.parametrize("name", ["answers.json", "answers.yaml", "answers.YML"])
def test_write_record_picks_the_format_by_extension(pack: RulePack, tmp_path: Path, name: str) -> None:
    """The saved file is JSON or YAML as its name says, and holds the record exactly."""
    record = _records(pack)[-1]
    path = tmp_path / name
    write_record(path, record, overwrite=False)
    assert _load(path) == record
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_yaml_keeps_yes_and_no_as_text() -> None:
    """YAML quotes yes and no, which it would otherwise read as booleans."""
    text = dump_record({"treated_early": "yes", "worsening": "no"}, "yaml")
    assert "yes" in text
    assert yaml.safe_load(text) == {"treated_early": "yes", "worsening": "no"}


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    """An existing file is kept unless overwriting is asked for."""
    path = tmp_path / "answers.json"
    path.write_text("precious", encoding="utf-8")
    with pytest.raises(SaveError, match="already exists; use --force"):
        write_record(path, {"red_flags": []}, overwrite=False)
    assert path.read_text(encoding="utf-8") == "precious"
    write_record(path, {"red_flags": []}, overwrite=True)
    assert json.loads(path.read_text(encoding="utf-8")) == {"red_flags": []}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.json"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("answers.txt", "must end in .json, .yaml, .yml or .fhir.json"),
        ("answers", "must end in .json, .yaml, .yml or .fhir.json"),
        ("missing/answers.json", "does not exist"),
    ],
)
def test_check_target_says_what_is_wrong(tmp_path: Path, name: str, problem: str) -> None:
    """A file name that cannot take the answers is refused before anything is asked."""
    with pytest.raises(SaveError, match=problem):
        check_target(tmp_path / name, overwrite=False)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    """A folder named like an answer file is not replaced, even with force."""
    (tmp_path / "x.json").mkdir()
    with pytest.raises(SaveError, match="is a folder"):
        check_target(tmp_path / "x.json", overwrite=True)


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    """A record that cannot be written leaves neither the file nor a temporary file."""
    path = tmp_path / "answers.json"
    with pytest.raises(TypeError):
        write_record(path, {"red_flags": object()}, overwrite=False)
    assert list(tmp_path.iterdir()) == []


def test_saved_file_is_private(tmp_path: Path) -> None:
    """The saved answers can be read by their owner only."""
    path = tmp_path / "answers.json"
    write_record(path, {"red_flags": []}, overwrite=False)
    assert path.stat().st_mode & 0o777 == 0o600


def test_fhir_name_saves_a_questionnaire_response(pack: RulePack, tmp_path: Path) -> None:
    """A name ending in .fhir.json saves a QuestionnaireResponse that reads back to the same answers."""
    from triage.fhir import records_from_fhir

    record = {
        "red_flags": [],
        "cause": "other",
        "severity": "severe",
        "worsening": "not_sure",
        "related_findings": ["family_history"],
    }
    path = tmp_path / "answers.fhir.json"
    write_record(path, record, overwrite=False, pack=pack)
    response = json.loads(path.read_text(encoding="utf-8"))
    assert response["resourceType"] == "QuestionnaireResponse"
    [(where, read_back)] = records_from_fhir(response, pack)
    assert where == ""
    assert isinstance(read_back, dict)
    assert triage.evaluate(read_back, rulepack=pack) == triage.evaluate(record, rulepack=pack)

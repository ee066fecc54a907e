"""Saving the questionnaire's answers as an answer record (JSON or YAML)."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import triage
from triage.core.answerspace import answer_space
from triage.core.flow import Flow
from triage.core.pack import RulePack
from triage.io.answerfile import SaveError, check_target, dump_record, write_record


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


@pytest.fixture
def refusing_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[int], Path]:
    """A folder in which creating a file fails with the given error, as the kernel refuses it for a
    read-only file system or a folder without write permission (the tests may run as root, who could
    write in it whatever its permissions)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    error = [0]
    real_open = os.open

    def guarded(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        if flags & os.O_CREAT and Path(path).parent == folder:
            raise OSError(error[0], os.strerror(error[0]), str(path))
        return real_open(path, flags, mode, **kwargs)

    def refusing(code: int) -> Path:
        error[0] = code
        return folder

    monkeypatch.setattr(os, "open", guarded)
    return refusing


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        (errno.EROFS, "{folder} is on a read-only file system."),
        (errno.EACCES, "no permission to write in {folder}."),
    ],
    ids=["read-only", "no-permission"],
)
def test_a_folder_that_takes_no_file_is_refused_before_asking(
    refusing_folder: Callable[[int], Path], code: int, problem: str
) -> None:
    """The check made before the first question creates (and removes) a file in the folder, so a folder
    that cannot take the answers is known then, not after every answer."""
    folder = refusing_folder(code)
    with pytest.raises(SaveError) as refused:
        check_target(folder / "a.json", overwrite=False)
    assert (
        str(refused.value) == f"cannot save answers to {folder / 'a.json'}: {problem.format(folder=folder)}"
    )
    assert list(folder.iterdir()) == []


def test_a_path_through_a_file_is_refused(tmp_path: Path) -> None:
    """A path that goes through a file (`notes.txt/answers.json`) names the file in the way."""
    (tmp_path / "notes.txt").write_text("notes")
    with pytest.raises(SaveError, match=r"notes\.txt is a file, not a folder"):
        check_target(tmp_path / "notes.txt" / "answers.json", overwrite=False)


def test_the_check_leaves_nothing_behind(tmp_path: Path) -> None:
    """Checking the folder leaves it as it was."""
    assert check_target(tmp_path / "answers.yaml", overwrite=False) == "yaml"
    assert list(tmp_path.iterdir()) == []


def test_a_replaced_answer_file_is_private(tmp_path: Path) -> None:
    """Saved answers replacing a file anyone could read are readable by their owner only."""
    path = tmp_path / "answers.json"
    path.write_text("old")
    path.chmod(0o644)
    write_record(path, {"red_flags": []}, overwrite=True)
    assert path.stat().st_mode & 0o777 == 0o600


def test_saving_through_a_link_writes_the_file_it_leads_to(tmp_path: Path) -> None:
    """Saved through a symbolic link, the answers go to the file it leads to; the link stays."""
    (tmp_path / "kept").mkdir()
    (tmp_path / "answers.json").symlink_to("kept/mine.json")
    write_record(tmp_path / "answers.json", {"red_flags": []}, overwrite=False)
    assert (tmp_path / "answers.json").is_symlink()
    assert json.loads((tmp_path / "kept" / "mine.json").read_text()) == {"red_flags": []}
    assert (tmp_path / "kept" / "mine.json").stat().st_mode & 0o777 == 0o600

"""Writing one answer record to a file (JSON, YAML or FHIR, by the file's extension).

A name ending in `.fhir.json` is written as a FHIR QuestionnaireResponse, which
`triage evaluate` reads back like a plain answer file.

The file is written whole or not at all (`triage.fs.files.atomic_write`): to a
temporary file beside it, then renamed into place; through a symbolic link, the
file it leads to. An existing file is never replaced unless asked to. The file
is readable by its owner only: it holds answers about someone's health. Before
any question is asked, `check_target` makes sure the file can be written there
(by creating and removing a file in its folder), so no one answers for nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import yaml

from triage.core.pack import RulePack
from triage.fs.files import OutputError, check_can_create, output_target, write_bytes
from triage.interop.fhir import response_from_record
from triage.io.formats import format_named
from triage.packs.loading import load_rulepack


class SaveError(OutputError):
    """The answers cannot be saved there; the message says why and what to do."""


SAVE = "save answers to"


def check_target(path: Path, *, overwrite: bool) -> str:
    """Check that answers can be saved at `path`: a name that tells the format, no file there unless
    `overwrite`, and a folder that takes a new file (one is created and removed). Return the format.
    Raises `SaveError`."""
    kind = format_named(path, "saved")
    if kind is None:
        raise SaveError(
            f"cannot save answers to {path}: the name must end in .json, .yaml, .yml or "
            ".fhir.json (a FHIR QuestionnaireResponse); that decides the format."
        )
    try:
        target = output_target(path, action=SAVE)
        if target.existing is not None and not overwrite:
            raise SaveError(f"{path} already exists; use --force to replace it.")
        check_can_create(target, action=SAVE)
    except OutputError as exc:
        raise SaveError(str(exc)) from None
    return kind


def dump_record(record: Mapping[str, object], kind: str, pack: RulePack | None = None) -> str:
    """The record as JSON, YAML (which quotes `yes` and `no`, so they stay text) or FHIR text."""
    if kind == "fhir":
        response = response_from_record(record, pack or load_rulepack())
        return json.dumps(response, indent=2, ensure_ascii=False) + "\n"
    if kind == "json":
        return json.dumps(dict(record), indent=2, ensure_ascii=False) + "\n"
    return str(yaml.safe_dump(dict(record), sort_keys=False, allow_unicode=True, default_flow_style=False))


def write_record(
    path: Path, record: Mapping[str, object], *, overwrite: bool, pack: RulePack | None = None
) -> None:
    """Write the record to `path` atomically, readable by its owner only. Raises `SaveError` (or
    `OSError` on a disk error)."""
    kind = check_target(path, overwrite=overwrite)
    text = dump_record(record, kind, pack)
    try:
        write_bytes(output_target(path, action=SAVE), text.encode("utf-8"), private=True, replace=overwrite)
    except OutputError as exc:
        raise SaveError(str(exc)) from None

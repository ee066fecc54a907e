"""Writing one answer record to a file (JSON, YAML or FHIR, by the file's extension).

A name ending in `.fhir.json` is written as a FHIR QuestionnaireResponse, which
`triage evaluate` reads back like a plain answer file.

The file is written whole or not at all: to a temporary file beside it, then
renamed into place. An existing file is never replaced unless asked to. The
file is readable by its owner only: it holds answers about someone's health.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import yaml

from triage.rulepack import RulePack, load_rulepack

FORMATS = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}
FHIR_SUFFIX = ".fhir.json"


class SaveError(Exception):
    """The answers cannot be saved there; the message says why and what to do."""


def check_target(path: Path, *, overwrite: bool) -> str:
    """Check that answers can be saved at `path`; return the format. Raises `SaveError`."""
    kind = "fhir" if path.name.lower().endswith(FHIR_SUFFIX) else FORMATS.get(path.suffix.lower())
    if kind is None:
        raise SaveError(
            f"cannot save answers to {path}: the name must end in .json, .yaml, .yml or "
            f"{FHIR_SUFFIX} (a FHIR QuestionnaireResponse); that decides the format."
        )
    if path.is_dir():
        raise SaveError(f"cannot save answers to {path}: it is a folder.")
    if path.exists() and not overwrite:
        raise SaveError(f"{path} already exists; use --force to replace it.")
    if not path.parent.is_dir():
        raise SaveError(f"cannot save answers to {path}: the folder {path.parent} does not exist.")
    return kind


def dump_record(record: Mapping[str, object], kind: str, pack: RulePack | None = None) -> str:
    """The record as JSON, YAML (which quotes `yes` and `no`, so they stay text) or FHIR text."""
    if kind == "fhir":
        from triage.fhir import response_from_record

        response = response_from_record(record, pack or load_rulepack())
        return json.dumps(response, indent=2, ensure_ascii=False) + "\n"
    if kind == "json":
        return json.dumps(dict(record), indent=2, ensure_ascii=False) + "\n"
    return str(yaml.safe_dump(dict(record), sort_keys=False, allow_unicode=True, default_flow_style=False))


def write_record(
    path: Path, record: Mapping[str, object], *, overwrite: bool, pack: RulePack | None = None
) -> None:
    """Write the record to `path` atomically. Raises `SaveError` (or `OSError` on a disk error)."""
    kind = check_target(path, overwrite=overwrite)
    text = dump_record(record, kind, pack)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if not overwrite and path.exists():
            raise SaveError(f"{path} already exists; use --force to replace it.")
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise

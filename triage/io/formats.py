"""The one registry of file formats: each with the extensions that name it and what it can be.

A format may be *read* (an answer file that `triage evaluate` reads, and a
folder walk looks for), *written* (a results format of `triage evaluate`:
`--format`, or told by the `-o` file's name), *saved* (one answer record, as
`triage ask --save` writes it) and *columnar* (read and written by pyarrow,
`triage[arrow]`, a batch of rows at a time). A file's name tells its format
for a use: its extension, or a longer one such as `.fhir.json`.

A new format is one row of `FORMATS`, and its decoder (`triage.io.readers`) or
encoder (`triage.io.writers`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

Use = Literal["read", "written", "saved"]


@dataclass(frozen=True)
class Format:
    """A file format: its name (`--format`, `--input-format`), the extensions that name it, and its uses."""

    name: str
    extensions: tuple[str, ...]
    read: bool = False
    written: bool = False
    saved: bool = False
    columnar: bool = False
    read_extensions: tuple[str, ...] = ()
    """More extensions that name it when it is read, and never when it is written."""

    def names(self, use: Use) -> tuple[str, ...]:
        """The extensions that name this format for `use` (none if it has no such use)."""
        if not getattr(self, use):
            return ()
        return (*self.extensions, *self.read_extensions) if use == "read" else self.extensions


FORMATS = (
    Format("text", (".txt",), written=True),
    Format("json", (".json",), read=True, written=True, saved=True),
    Format("jsonl", (".jsonl", ".ndjson"), read=True, written=True),
    Format("yaml", (".yaml", ".yml"), read=True, saved=True),
    Format("csv", (".csv",), read=True, written=True),
    Format("markdown", (".md",), written=True),
    Format("parquet", (".parquet",), read=True, written=True, columnar=True),
    # .arrows names Arrow's stream format; results are written in Arrow's file format.
    Format(
        "arrow", (".arrow", ".feather"), read=True, written=True, columnar=True, read_extensions=(".arrows",)
    ),
    Format("fhir", (".fhir.json",), saved=True),  # a FHIR QuestionnaireResponse, read back as JSON
)
"""Every format, in the order `--help` lists them."""

INPUT_FORMATS = tuple(f.name for f in FORMATS if f.read)
"""The formats of answer files (`--input-format`)."""
OUTPUT_FORMATS = tuple(f.name for f in FORMATS if f.written and not f.columnar)
"""The results formats written a record at a time."""
COLUMNAR_FORMATS = tuple(f.name for f in FORMATS if f.columnar)
"""The formats read and written by pyarrow (`triage[arrow]`), a batch of rows at a time."""

_EXTENSIONS: dict[Use, dict[str, str]] = {
    use: {extension: f.name for f in FORMATS for extension in f.names(use)}
    for use in ("read", "written", "saved")
}
EXTENSIONS = _EXTENSIONS["read"]
"""The extensions of answer files, each with its format."""


def format_named(path: str | os.PathLike[str], use: Use) -> str | None:
    """The format that a file's name tells for `use`, or None.

    Its extension tells it (case aside), unless the name ends in a longer
    extension of that use (`.fhir.json`), which tells it first.
    """
    name = os.path.basename(os.fspath(path)).lower()
    extensions = _EXTENSIONS[use]
    for extension, fmt in extensions.items():
        if extension.count(".") > 1 and name.endswith(extension):
            return fmt
    return extensions.get(os.path.splitext(name)[1])

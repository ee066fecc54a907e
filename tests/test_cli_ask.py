"""The command line's questionnaire options (the questionnaire itself: test_questionnaire.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.apps.cli import build_parser, run_ask


@pytest.mark.parametrize(
    ("argv", "save", "force", "fmt"),
    [
        ([], None, False, "text"),
        (["ask"], None, False, "text"),
        (["--save", "a.json", "--force", "--format", "json"], Path("a.json"), True, "json"),
        (["ask", "--save", "b.yaml", "--format", "markdown"], Path("b.yaml"), False, "markdown"),
        (["--save", "a.json", "--force", "ask"], Path("a.json"), True, "text"),
        (["--format", "json", "ask", "--format", "markdown"], None, False, "markdown"),
    ],
)
def test_bare_triage_and_ask_take_the_same_options(
    argv: list[str], save: Path | None, force: bool, fmt: str
) -> None:
    """`triage` and `triage ask` both run the questionnaire; options given before `ask` are kept."""
    args = build_parser().parse_args(argv)
    assert args.run is run_ask
    assert (args.save, args.force, args.format) == (save, force, fmt)


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --format is refused with the formats allowed, exit 2."""
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--format", "xml"])
    assert exited.value.code == 2
    assert "choose from 'text', 'json', 'markdown'" in capsys.readouterr().err

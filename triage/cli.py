"""The `triage` command: argument parsing, exit codes and wiring; nothing else.

Library errors are caught in exactly one place (`main`) and printed plainly.
Exit codes: 0 success; 1 some input was invalid (or a pack has problems);
2 usage error (a missing file, an unknown option, a pack that cannot be read);
130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import triage
from triage.answerfile import SaveError, check_target, write_record
from triage.errors import RulePackError, TriageError
from triage.render import render_json, render_markdown, render_text
from triage.rulepack import RulePack, load_rulepack

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
ASK_FORMATS = ("text", "json", "markdown")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except RulePackError as exc:
        print(f"triage: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TriageError as exc:
        print(f"triage: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("\ntriage: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`triage questions | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triage",
        description=(
            "Symptom triage for facial atrophy: a short questionnaire, and the urgency, "
            "prognosis and care suggestions its rules give. Not a diagnosis: see a doctor."
        ),
        epilog="With no command, triage asks the questionnaire (as `triage ask` does).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {triage.__version__}")
    parser.add_argument(
        "--rules", metavar="PATH", type=Path, help="use another rule pack (a folder with pack.yaml)"
    )
    _add_ask_options(parser, suppress=False)
    parser.set_defaults(run=run_ask)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    ask = commands.add_parser(
        "ask", help="take the questionnaire in the terminal (the default when no command is given)"
    )
    _add_ask_options(ask, suppress=True)
    ask.set_defaults(run=run_ask)

    questions = commands.add_parser("questions", help="list the questions and the answers they accept")
    questions.set_defaults(run=run_questions)

    rules = commands.add_parser("rules", help="work with rule packs")
    rules_commands = rules.add_subparsers(title="rules commands", metavar="COMMAND", required=True)
    check = rules_commands.add_parser("check", help="verify a rule pack; exit 1 on any problem")
    check.add_argument("pack", nargs="?", type=Path, help="the pack folder (default: the bundled pack)")
    check.set_defaults(run=run_rules_check)
    return parser


def _add_ask_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # `triage --save F` and `triage ask --save F` both work; the subcommand's
    # options default to SUPPRESS so that they never undo the main parser's.
    unset = argparse.SUPPRESS
    parser.add_argument(
        "--save",
        metavar="FILE",
        type=Path,
        default=unset if suppress else None,
        help="also save the answers as an answer record (.json, .yaml or .yml)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        default=unset if suppress else False,
        help="let --save replace an existing file",
    )
    parser.add_argument(
        "--format",
        choices=ASK_FORMATS,
        default=unset if suppress else "text",
        help="how to show the result (default: text)",
    )


def _pack(args: argparse.Namespace) -> RulePack:
    return load_rulepack(args.rules)


def run_questions(args: argparse.Namespace) -> int:
    """Print every question with its id, when it is asked, and the answers it accepts."""
    pack = _pack(args)
    for question in pack.document.questions:
        print(f"{question.id}  ({question.type})")
        print(f"  {question.prompt}")
        if question.asked_when is not None:
            depends = ", ".join(sorted(pack.asked_depends_on[question.id]))
            print(f"  asked only for some answers to: {depends}")
        if question.type == "number":
            print(f"  a whole number from {question.min} to {question.max} {question.unit or ''}".rstrip())
        for option in question.options:
            print(f"  - {option.id}: {option.label}")
        if question.type == "multi":
            print('  - none: write "none" (or []) when none applies; separate several with ";"')
        print()
    return EXIT_OK


def run_rules_check(args: argparse.Namespace) -> int:
    """Load and verify a pack, printing every problem."""
    path = args.pack or args.rules
    try:
        pack = load_rulepack(path)
    except RulePackError as exc:
        for problem in exc.problems:
            print(f"{exc.path}: {problem}")
        print(f"{len(exc.problems)} problem(s) found.", file=sys.stderr)
        return EXIT_INVALID
    print(f"{pack.path}: {pack.info.name} {pack.info.version} is valid (sha256 {pack.info.sha256}).")
    return EXIT_OK


def run_ask(args: argparse.Namespace) -> int:
    """Take the questionnaire in the terminal, then show (and optionally save) the result."""
    save: Path | None = args.save
    if save is not None:
        try:
            check_target(save, overwrite=args.force)
        except SaveError as exc:
            print(f"triage: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if not sys.stdin.isatty():
        print(
            "triage: the questionnaire needs a terminal, and standard input is not one.\n"
            "To evaluate answers from a file or a pipe, use `triage evaluate FILE`\n"
            "(or `triage evaluate -` to read them from standard input).",
            file=sys.stderr,
        )
        return EXIT_USAGE
    pack = _pack(args)
    from triage import questionnaire  # questionary loads only when it is needed

    screen = sys.stdout if sys.stdout.isatty() else sys.stderr
    record = questionnaire.run(pack, out=screen)
    result = triage.evaluate(record, rulepack=pack)
    status = EXIT_OK
    if save is not None:
        # Saved before the result is shown, so nothing answered is lost afterwards.
        try:
            write_record(save, record, overwrite=args.force)
            print(f"Your answers are saved in {save}.", file=screen)
        except SaveError as exc:  # the file appeared while the questions were asked
            print(f"triage: {exc}", file=sys.stderr)
            status = EXIT_INVALID
        except OSError as exc:
            print(f"triage: could not save your answers to {save}: {exc.strerror or exc}", file=sys.stderr)
            status = EXIT_INVALID
    print(file=screen, flush=True)
    if args.format == "json":
        print(render_json(result))
    elif args.format == "markdown":
        print(render_markdown(result), end="")
    else:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        print(
            render_text(
                result, width=min(shutil.get_terminal_size((80, 24)).columns, 100), color=color, why="short"
            ),
            end="",
        )
    return status

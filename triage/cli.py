"""The `triage` command: argument parsing, exit codes and wiring; nothing else.

Library errors are caught in exactly one place (`main`) and printed plainly.
Exit codes: 0 success; 1 some input was invalid (or a pack has problems);
2 usage error (a missing file, an unknown option, a pack that cannot be read);
130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import triage
from triage.errors import RulePackError, TriageError
from triage.rulepack import RulePack, load_rulepack

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


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
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {triage.__version__}")
    parser.add_argument(
        "--rules", metavar="PATH", type=Path, help="use another rule pack (a folder with pack.yaml)"
    )
    parser.set_defaults(run=lambda args: _help(parser))
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    questions = commands.add_parser("questions", help="list the questions and the answers they accept")
    questions.set_defaults(run=run_questions)

    _add_evaluate(commands)

    rules = commands.add_parser("rules", help="work with rule packs")
    rules_commands = rules.add_subparsers(title="rules commands", metavar="COMMAND", required=True)
    check = rules_commands.add_parser("check", help="verify a rule pack; exit 1 on any problem")
    check.add_argument("pack", nargs="?", type=Path, help="the pack folder (default: the bundled pack)")
    check.set_defaults(run=run_rules_check)
    return parser


_EVALUATE_EPILOG = """\
inputs: files, folders (searched recursively for .json, .jsonl, .ndjson, .yaml, .yml
and .csv files) and - (standard input, with --input-format). A .json or .yaml file
holds one record or a list of them; .jsonl one record per line; .csv a header row of
question ids, one row per record ("none" for no red flags, ";" between choices, an
empty cell for a missing answer).

output: exactly one entry per record, in input order: the result, or the record's
errors. Each names its source: file:line (JSON Lines; CSV, where the header is line 1),
file#index (items of a JSON or YAML list, from 0), or the file (one record).
The format is --format if given; else taken from the -o file's extension (.jsonl,
.json, .csv, .md, .txt; jsonl for any other); else text on a terminal and jsonl
into a pipe or file. A summary goes to standard error.

exit status: 0 every record valid; 1 some records or files invalid (the others are
still evaluated and written); 2 usage error (a missing file, a folder with no answer
files, a format that cannot be told).
"""


def _add_evaluate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from triage.readers import INPUT_FORMATS
    from triage.writers import OUTPUT_FORMATS

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate answer files (JSON, JSON Lines, YAML, CSV): one result per record",
        description="Evaluate every record of answer files; one entry per record, in input order.",
        epilog=_EVALUATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("paths", nargs="+", metavar="PATH", help="answer files, folders, or - for stdin")
    evaluate.add_argument("--format", choices=OUTPUT_FORMATS, help="output format (see below)")
    evaluate.add_argument(
        "--input-format", choices=INPUT_FORMATS, help="read every input as this format (needed for -)"
    )
    evaluate.add_argument(
        "-o", "--output", metavar="FILE", type=Path, help="write here; the file appears only when complete"
    )
    evaluate.add_argument(
        "--compact",
        action="store_true",
        help="JSON/JSON Lines without the texts (ids, categories and the disclaimer), for large runs",
    )
    evaluate.add_argument(
        "--jobs",
        type=_positive,
        default=1,
        metavar="N",
        help="share large inputs out over N processes (default 1)",
    )
    evaluate.set_defaults(run=run_evaluate)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_OK


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


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate answer files: one entry per record, a summary on stderr; exit 0, 1 or 2."""
    import shutil
    import signal

    from triage.batch import Progress, evaluate_files
    from triage.readers import find_inputs
    from triage.writers import SUFFIXES, atomic_output, make_writer

    output: Path | None = args.output
    files, problems = find_inputs(args.paths, args.input_format, exclude=output)
    for problem in problems:
        print(f"triage: {problem}", file=sys.stderr)
    if not files:
        return EXIT_USAGE
    pack = _pack(args)
    # The pack and the modules live as long as the run: keep them out of the collector's passes.
    gc.freeze()
    to_terminal = output is None and sys.stdout.isatty()
    fmt = args.format
    if fmt is None:
        if output is not None:
            fmt = SUFFIXES.get(output.suffix.lower(), "jsonl")
        else:
            fmt = "text" if to_terminal else "jsonl"
    width = shutil.get_terminal_size().columns if to_terminal else 80
    color = to_terminal and not os.environ.get("NO_COLOR")
    writer = make_writer(fmt, pack, compact=args.compact, width=width, color=color)
    progress = None
    if sys.stderr.isatty() and not to_terminal:
        progress = Progress(sum(f.size for f in files))
    # A polite kill (SIGTERM) unwinds like Ctrl-C, so a half-written output file is removed.
    signal.signal(signal.SIGTERM, _interrupted)
    if output is not None:
        try:
            with atomic_output(output) as out:
                summary = evaluate_files(
                    files, pack, writer, out, jobs=args.jobs, progress=progress, scratch=str(output.parent)
                )
        except OSError as exc:
            print(f"triage: cannot write {output}: {exc.strerror or exc}.", file=sys.stderr)
            return EXIT_USAGE
    else:
        summary = evaluate_files(files, pack, writer, sys.stdout.buffer, jobs=args.jobs, progress=progress)
    for line in summary.lines(pack):
        print(line, file=sys.stderr)
    if output is not None:
        print(f"written to {output}", file=sys.stderr)
    if problems:
        return EXIT_USAGE
    return EXIT_INVALID if summary.invalid or summary.unreadable_files else EXIT_OK


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt

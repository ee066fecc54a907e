"""The `triage` command: argument parsing, exit codes and wiring; nothing else.

Library errors are caught in exactly one place (`main`) and printed plainly.
Exit codes: 0 success; 1 some input was invalid (or a pack has problems);
2 usage error (a missing file, an unknown option, a pack that cannot be read);
130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import triage
from triage.allocator import tune_for_batch
from triage.answerfile import SaveError, check_target, write_record
from triage.describe import asked_when_words, mermaid, show
from triage.errors import PackProblem, RulePackError, TriageError, UnreadablePack, answers_record
from triage.fhir import FhirUnavailable, questionnaire_json
from triage.render import render_json, render_markdown, render_text
from triage.rulepack import RulePack, default_pack_path, load_rulepack, read_pack
from triage.verify import add_lines, check_references, run_examples

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
ASK_FORMATS = ("text", "json", "markdown")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (RulePackError, FhirUnavailable) as exc:
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

    _add_evaluate(commands)

    rules = commands.add_parser("rules", help="work with rule packs")
    rules_commands = rules.add_subparsers(title="rules commands", metavar="COMMAND", required=True)
    check = rules_commands.add_parser(
        "check", help="verify a rule pack, reporting every problem; exit 1 on any, 2 if unreadable"
    )
    check.add_argument("pack", nargs="?", type=Path, help="the pack folder (default: the bundled pack)")
    check.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    check.set_defaults(run=run_rules_check)
    show = rules_commands.add_parser("show", help="the questions and decision tables in words, for review")
    show.add_argument("pack", nargs="?", type=Path, help="the pack folder (default: the bundled pack)")
    show.add_argument("--format", choices=["text", "markdown"], default="text", help="output format")
    show.set_defaults(run=run_rules_show)
    graph = rules_commands.add_parser(
        "graph", help="the questionnaire flow and decisions as a Mermaid flowchart"
    )
    graph.add_argument("pack", nargs="?", type=Path, help="the pack folder (default: the bundled pack)")
    graph.set_defaults(run=run_rules_graph)
    test = rules_commands.add_parser("test", help="run the pack's examples; exit 1 if any fails")
    test.add_argument("pack", nargs="?", type=Path, help="the pack folder (default: the bundled pack)")
    test.set_defaults(run=run_rules_test)

    schema = commands.add_parser("schema", help="print the JSON Schema of an answer record or of a result")
    schema.add_argument(
        "kind",
        nargs="?",
        default="answers",
        choices=["answers", "result"],
        help="which schema (default: answers)",
    )
    schema.add_argument("-o", "--output", metavar="FILE", type=Path, help="write it to FILE")
    schema.set_defaults(run=run_schema)

    export = commands.add_parser("export", help="write the questionnaire for other systems")
    export_commands = export.add_subparsers(title="export formats", metavar="FORMAT", required=True)
    fhir = export_commands.add_parser("fhir", help="as an HL7 FHIR R4 Questionnaire (JSON)")
    fhir.add_argument("-o", "--output", metavar="FILE", type=Path, help="write it to FILE")
    fhir.set_defaults(run=run_export_fhir)
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
        help=(
            "also save the answers as an answer record (.json, .yaml or .yml; "
            ".fhir.json for a FHIR QuestionnaireResponse)"
        ),
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


_EVALUATE_EPILOG = """\
inputs: files, folders (searched recursively for .json, .jsonl, .ndjson, .yaml, .yml,
.csv, .parquet, .arrow, .arrows and .feather files) and - (standard input, with
--input-format). A .json or .yaml file holds one record or a list of them; .jsonl one
record per line; .csv a header row of question ids, one row per record ("none" for no
red flags, ";" between choices, an empty cell for a missing answer); .parquet and
Arrow IPC (.arrow, .feather, .arrows) a column per question id, a row per record (a
null is a missing answer; these need pip install 'triage[arrow]').

output: exactly one entry per record, in input order: the result, or the record's
errors. Each names its source: file:line (JSON Lines; CSV, where the header is line 1),
file#index (items of a JSON or YAML list, and rows of Parquet and Arrow files, from 0),
or the file (one record). The format is --format if given; else taken from the -o
file's extension (.jsonl, .json, .csv, .md, .txt, .parquet, .arrow, .feather; jsonl for
any other); else text on a terminal and jsonl into a pipe or file. Parquet and Arrow
output has a row per record: id, source, urgency, prognosis, suggestions (ids),
warnings, errors, disclaimer and the rule pack (--texts adds the texts). A summary goes
to standard error.

exit status: 0 every record valid; 1 some records or files invalid (the others are
still evaluated and written); 2 usage error (a missing file, a folder with no answer
files, a format that cannot be told).
"""


def _add_evaluate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from triage.readers import INPUT_FORMATS
    from triage.writers import COLUMNAR_OUTPUTS, OUTPUT_FORMATS

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate answer files (JSON, JSON Lines, YAML, CSV, Parquet, Arrow): one result per record",
        description="Evaluate every record of answer files; one entry per record, in input order.",
        epilog=_EVALUATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("paths", nargs="+", metavar="PATH", help="answer files, folders, or - for stdin")
    evaluate.add_argument(
        "--format", choices=OUTPUT_FORMATS + COLUMNAR_OUTPUTS, help="output format (see below)"
    )
    evaluate.add_argument(
        "--input-format", choices=INPUT_FORMATS, help="read every input as this format (needed for -)"
    )
    evaluate.add_argument(
        "-o", "--output", metavar="FILE", type=Path, help="write here; the file appears only when complete"
    )
    evaluate.add_argument(
        "--compact",
        action="store_true",
        help=(
            "JSON/JSON Lines without the texts, for large runs: ids and categories, suggestions "
            "and explanation as lists of ids; the disclaimer and rule pack stay"
        ),
    )
    evaluate.add_argument(
        "--texts",
        action="store_true",
        help="Parquet/Arrow output: add the texts (urgency, prognosis, suggestions, explanation)",
    )
    evaluate.add_argument(
        "--jobs",
        type=_positive,
        default=1,
        metavar="N",
        help="share large inputs out over N processes (default 1; not for Parquet/Arrow output)",
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


def _pack(args: argparse.Namespace) -> RulePack:
    return load_rulepack(args.rules)


def run_questions(args: argparse.Namespace) -> int:
    """Print every question with its id, when it is asked, and the answers it accepts."""
    pack = _pack(args)
    for question in pack.document.questions:
        print(f"{question.id}  ({question.type})")
        print(f"  {question.prompt}")
        print(f"  asked: {asked_when_words(question, pack)}")
        if question.type == "number":
            print(f"  a whole number from {question.min} to {question.max} {question.unit or ''}".rstrip())
        for option in question.options:
            print(f"  - {option.id}: {option.label}")
        if question.type == "multi":
            print('  - none: write "none" (or []) when none applies; separate several with ";"')
        print()
    return EXIT_OK


def _pack_path(args: argparse.Namespace) -> Path:
    path: Path | None = args.pack or args.rules
    return path if path is not None else default_pack_path()


def run_rules_check(args: argparse.Namespace) -> int:
    """Verify a pack and print every problem, one a line; the pack's sha256 when it is clean."""
    path = _pack_path(args)
    try:
        pack = load_rulepack(path)
    except RulePackError as exc:
        problems, pack_file = exc.problems, Path(exc.path)
        add_lines(pack_file, problems)
        unreadable = any(isinstance(p, UnreadablePack) for p in problems)
        if args.format == "json":
            report = {
                "pack": str(pack_file),
                "valid": False,
                "problems": [_problem_json(p) for p in problems],
            }
            print(json.dumps(report, indent=2))
        else:
            for problem in problems:
                print(_problem_line(pack_file, problem))
            print(f"{len(problems)} problem(s) found.", file=sys.stderr)
        return EXIT_USAGE if unreadable else EXIT_INVALID
    if args.format == "json":
        info = pack.info.model_dump()
        print(json.dumps({"pack": str(pack.path), "valid": True, **info, "problems": []}, indent=2))
    else:
        print(f"{pack.path}: {pack.info.name} {pack.info.version} is valid (sha256 {pack.info.sha256}).")
    return EXIT_OK


def _problem_line(pack_file: Path, problem: PackProblem) -> str:
    place = f"{pack_file}:{problem.line}" if problem.line is not None else str(pack_file)
    if problem.line is None or not problem.where.startswith("line "):  # else `place` has it
        place += f": {problem.where}"
    return f"{place}: {problem.message} [{problem.kind}]" + (
        f"; counter-example: {json.dumps(answers_record(problem.counterexample))}"
        if problem.counterexample is not None
        else ""
    )


def _problem_json(problem: PackProblem) -> dict[str, object]:
    return {
        "kind": problem.kind,
        "description": problem.description,
        "where": problem.where,
        "line": problem.line,
        "message": problem.message,
        "counterexample": (
            answers_record(problem.counterexample) if problem.counterexample is not None else None
        ),
    }


def run_rules_show(args: argparse.Namespace) -> int:
    """Print the whole decision logic of a pack in words."""
    pack = load_rulepack(_pack_path(args))
    sys.stdout.write(show(pack, markdown=args.format == "markdown"))
    return EXIT_OK


def run_rules_graph(args: argparse.Namespace) -> int:
    """Print the questionnaire flow and the decisions as a Mermaid flowchart."""
    pack = load_rulepack(_pack_path(args))
    sys.stdout.write(mermaid(pack))
    return EXIT_OK


def run_rules_test(args: argparse.Namespace) -> int:
    """Run the pack's examples, reporting each failing one with expected and actual results."""
    pack = read_pack(_pack_path(args))
    problems = list(check_references(pack))
    if problems:
        for problem in problems:
            print(_problem_line(pack.path, problem))
        print("the pack's names do not resolve; fix these first (see `triage rules check`).", file=sys.stderr)
        return EXIT_INVALID
    runs = list(run_examples(pack))
    failed = [run for run in runs if not run.passed]
    for run in runs:
        print(f"{'ok  ' if run.passed else 'FAIL'} {run.name}")
        if run.passed:
            continue
        for problem in run.problems:
            print(f"     {problem.where}: {problem.message}")
        print(f"     expected: {_outcome(run.expected)}")
        print(f"     actual:   {_outcome(run.actual) if run.actual is not None else '(no result)'}")
    print(f"{len(runs) - len(failed)} passed, {len(failed)} failed.")
    return EXIT_INVALID if failed else EXIT_OK


def _outcome(outcome: Mapping[str, object]) -> str:
    suggestions = outcome["suggestions"]
    assert isinstance(suggestions, list)
    return (
        f"urgency {outcome['urgency']}, prognosis {outcome['prognosis']}, "
        f"suggestions [{', '.join(str(s) for s in suggestions)}]"
    )


def run_schema(args: argparse.Namespace) -> int:
    """Print (or write) the JSON Schema of an answer record or of a result for the pack."""
    from triage.schema import answers_schema, result_schema

    pack = _pack(args)
    schema = answers_schema(pack) if args.kind == "answers" else result_schema(pack)
    return _write(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", args.output)


def run_export_fhir(args: argparse.Namespace) -> int:
    """Print (or write) the pack's questionnaire as a FHIR R4 Questionnaire."""
    return _write(questionnaire_json(_pack(args)), args.output)


def _write(text: str, output: Path | None) -> int:
    if output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"triage: cannot write {output}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {output}", file=sys.stderr)
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
            write_record(save, record, overwrite=args.force, pack=pack)
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


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate answer files: one entry per record, a summary on stderr; exit 0, 1 or 2."""
    import signal

    from triage.batch import Progress, Summary, evaluate_files
    from triage.readers import COLUMNAR_FORMATS, find_inputs
    from triage.writers import COLUMNAR_OUTPUTS, SUFFIXES, atomic_output, make_writer

    output: Path | None = args.output
    files, problems = find_inputs(args.paths, args.input_format, exclude=output)
    for problem in problems:
        print(f"triage: {problem}", file=sys.stderr)
    if not files:
        return EXIT_USAGE
    pack = _pack(args)
    # The pack and the modules live as long as the run: keep them out of the collector's passes.
    gc.freeze()
    tune_for_batch()  # whatever malloc settings the environment passed on (triage.allocator)
    to_terminal = output is None and sys.stdout.isatty()
    fmt = args.format
    if fmt is None:
        if output is not None:
            fmt = SUFFIXES.get(output.suffix.lower(), "jsonl")
        else:
            fmt = "text" if to_terminal else "jsonl"
    columnar = fmt in COLUMNAR_OUTPUTS
    usage = _columnar_usage(args, fmt, columnar, any(f.format in COLUMNAR_FORMATS for f in files))
    if usage is not None:
        print(f"triage: {usage}", file=sys.stderr)
        return EXIT_USAGE
    width = shutil.get_terminal_size().columns if to_terminal else 80
    color = to_terminal and not os.environ.get("NO_COLOR")
    writer = None if columnar else make_writer(fmt, pack, compact=args.compact, width=width, color=color)
    progress = None
    if sys.stderr.isatty() and not to_terminal:
        progress = Progress(sum(f.size for f in files))

    def evaluate(out: BinaryIO) -> Summary:
        if writer is None:
            from triage.arrowio import evaluate_columnar

            return evaluate_columnar(files, pack, out, fmt, texts=args.texts, progress=progress)
        return evaluate_files(files, pack, writer, out, jobs=args.jobs, progress=progress)

    # A polite kill (SIGTERM) unwinds like Ctrl-C, so a half-written output file is removed.
    signal.signal(signal.SIGTERM, _interrupted)
    if output is not None:
        try:
            with atomic_output(output) as out:
                summary = evaluate(out)
        except OSError as exc:
            print(f"triage: cannot write {output}: {exc.strerror or exc}.", file=sys.stderr)
            return EXIT_USAGE
    else:
        try:
            summary = evaluate(sys.stdout.buffer)
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):
                raise  # the reader went away: not an error of ours (see `main`)
            print(f"triage: cannot write the output: {exc.strerror or exc}.", file=sys.stderr)
            return EXIT_USAGE
    for line in summary.lines(pack):
        print(line, file=sys.stderr)
    if output is not None:
        print(f"written to {output}", file=sys.stderr)
    if problems:
        return EXIT_USAGE
    return EXIT_INVALID if summary.invalid or summary.unreadable_files else EXIT_OK


def _columnar_usage(args: argparse.Namespace, fmt: str, columnar: bool, columnar_inputs: bool) -> str | None:
    """What is wrong with asking for (or reading) Parquet and Arrow files here, if anything."""
    if args.texts and not columnar:
        return "--texts is for Parquet and Arrow output (the other formats have the texts unless --compact)."
    if args.texts and args.compact:
        return "--texts and --compact ask for opposite things: give one of them."
    if (columnar or columnar_inputs) and importlib.util.find_spec("pyarrow") is None:
        return "Parquet and Arrow files need pyarrow: pip install 'triage[arrow]'."
    if columnar and args.output is None and sys.stdout.isatty():
        return f"--format {fmt} is binary, not for a terminal: write it with -o FILE, or into a pipe."
    return None


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
